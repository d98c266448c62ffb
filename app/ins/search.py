"""INSi search and verification outcomes, computed from candidate persons. Pure: no I/O.

The store pre-selects candidates on indexed columns (birth name, sex, birth date); the rules below decide
``00`` / ``01`` / ``02``. Result codes and exact labels: padoa/tlsi-ins ``insi-fetch-ins.models.ts`` and
recorded ``REP_CR01.xml`` (reference §1.6). Response shape ``INSACTIF, INSHISTO*, TIQ``: ``INSi_RESULTAT_INS.xsd``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from app.ins import traits
from app.shared.identifiers import IdentifierKind

CR_OK = ("00", "OK")
CR_NOT_FOUND = ("01", "Aucune identite trouvee")
CR_SEVERAL = ("02", "Plusieurs identites trouvees")

FAULT_TECHNICAL = "insi_102"


@dataclass(frozen=True)
class InsRecord:
    """One matricule of a person (``INSACTIF`` or ``INSHISTO``)."""

    number: str  # 13 characters
    key: str  # 2 digits (as recorded, even when it fails mod 97: HERMANN)
    kind: IdentifierKind  # NIR or NIA: only the OID tells them apart
    type_matricule: str | None = None
    date_deb: str | None = None
    date_fin: str | None = None

    @property
    def ins(self) -> str:
        return self.number + self.key


@dataclass(frozen=True)
class PersonRecord:
    nom_naissance: str
    liste_prenom: str
    sexe: str
    date_naissance: str
    lieu_naissance: str | None
    ins_actif: InsRecord | None
    ins_histo: tuple[InsRecord, ...] = ()
    rang_naissance: str | None = None
    fault: str | None = None  # simulate a technical fault (D'AEION / COEUR: insi_102)
    id: int | None = None

    @property
    def first_prenom(self) -> str:
        return traits.first_prenom(self.liste_prenom)


@dataclass
class Outcome:
    code: str
    label: str
    person: PersonRecord | None = None
    fault: str | None = None
    candidates: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def found(self) -> bool:
        return self.code == CR_OK[0] and self.person is not None


def wrong_answer(code: str | None) -> Outcome:
    """The valid answer without an INS that a fault rule injects: ``01`` (none found) or ``02`` (several)."""
    return Outcome(*CR_SEVERAL) if code == CR_SEVERAL[0] else Outcome(*CR_NOT_FOUND)


def matches_traits(query: traits.TraitQuery, person: PersonRecord) -> bool:
    """Exact match on already-normalised traits (INSi expects normalised input; no silent folding)."""
    if person.nom_naissance != query.nom_naissance:
        return False
    if query.sexe and person.sexe != query.sexe:
        return False
    if not traits.prenoms_match(list(query.prenoms), person.liste_prenom):
        return False
    if person.fault:
        # A fault person answers its fault whatever the birth date: the two sources disagree on the
        # D'AEION / COEUR date (1987-01-25 vs 1987-01-01, reference §6.4).
        return True
    if query.date_naissance and person.date_naissance != query.date_naissance:
        return False
    if query.lieu_naissance and person.lieu_naissance != query.lieu_naissance:
        return False
    return True


def search_by_traits(query: traits.TraitQuery, candidates: Iterable[PersonRecord]) -> Outcome:
    matches = [p for p in candidates if matches_traits(query, p)]
    return _decide(matches)


def _decide(matches: Sequence[PersonRecord]) -> Outcome:
    faulty = [p for p in matches if p.fault]
    if faulty:
        return Outcome("", "", None, fault=faulty[0].fault, candidates=len(matches))
    matches = [p for p in matches if p.ins_actif is not None]
    if not matches:
        return Outcome(*CR_NOT_FOUND)
    if len(matches) > 1:
        return Outcome(*CR_SEVERAL, candidates=len(matches))
    return Outcome(*CR_OK, person=matches[0], candidates=1)


@dataclass(frozen=True)
class CardBeneficiary:
    ins: str  # the person's active INS (15 characters): the card is only a key to it
    date_naissance: str
    rang_naissance: str = "1"
    nom_naissance: str | None = None
    matricule_individu: str | None = None  # 13 characters, when the beneficiary has their own number


@dataclass(frozen=True)
class Card:
    matricule_od: str  # ouvrant-droit (insured person), 13 characters
    beneficiaries: tuple[CardBeneficiary, ...]
    numero_serie: str | None = None


@dataclass(frozen=True)
class VitaleQuery:
    matricule_od: str | None
    date_naissance: str | None
    rang_naissance: str | None = None
    nom_naissance: str | None = None
    matricule_individu: str | None = None


def select_beneficiaries(query: VitaleQuery, cards: Iterable[Card]) -> list[CardBeneficiary]:
    """Beneficiaries of the card(s) the query designates (RECVITALE, ``INSi_RECVITALE_INS.xsd``).

    The card is only a key: INSi answers the chosen beneficiary's INS, not the card holder's
    (reference §1.4, GCS Guyasis INSi page).
    """
    found: list[CardBeneficiary] = []
    for card in cards:
        if query.matricule_od and card.matricule_od != query.matricule_od[:13]:
            continue
        for b in card.beneficiaries:
            if query.date_naissance and b.date_naissance != query.date_naissance:
                continue
            if query.rang_naissance and _rank(query.rang_naissance) != _rank(b.rang_naissance or "1"):
                continue
            if query.matricule_individu and b.matricule_individu != query.matricule_individu[:13]:
                continue
            if query.nom_naissance and b.nom_naissance and b.nom_naissance != query.nom_naissance:
                continue
            found.append(b)
    return found


def _rank(value: str) -> str:
    return value.strip().lstrip("0") or "0"


def decide_vitale(persons: Sequence[PersonRecord]) -> Outcome:
    """Outcome once the selected beneficiaries are resolved to persons (several: twins without a rank)."""
    return _decide(persons)


# --------------------------------------------------------------------------- verification (provisional)

VERIFY_OK = "OK"
VERIFY_KO = "KO"


@dataclass
class Verification:
    result: str  # OK / KO
    reasons: list[dict] = field(default_factory=list)
    person: PersonRecord | None = None  # the person the INS designates (even when KO)
    historical: bool = False


def verify(
    ins: str,
    kind: IdentifierKind,
    query: traits.TraitQuery,
    owner: PersonRecord | None,
) -> Verification:
    """Does the national base confirm this matricule + OID + traits triple?

    Provisional shape (reference §1.2: ``IndividuVerifie{INSFourni, TraitsIdentiteIndividu}``, re-connect/
    sesame-ins ``check_ins.xml``; the real operation is not in WSDL 1.5.0). ``owner`` is the person whose
    active or historical INS this is, or ``None``.
    """
    if owner is None or owner.ins_actif is None:
        return Verification(VERIFY_KO, [{"rule": "INSi:verify-unknown", "message": f"INS {ins} is not known"}])
    v = Verification(VERIFY_OK, person=owner)
    active = owner.ins_actif
    if active.ins != ins:
        v.historical = True
        v.result = VERIFY_KO
        v.reasons.append({
            "rule": "INSi:verify-historical",
            "message": f"INS {ins} is a former matricule of this person (INSHISTO); the active INS is {active.ins}",
        })
    elif active.kind != kind:
        v.result = VERIFY_KO
        v.reasons.append({"rule": "INSi:verify-oid",
                          "message": f"INS {ins} is a {active.kind}, not a {kind}: wrong OID"})
    checks = [
        ("NomNaissance", query.nom_naissance, owner.nom_naissance),
        ("Sexe", query.sexe, owner.sexe),
        ("DateNaissance", query.date_naissance, owner.date_naissance),
        ("LieuNaissance", query.lieu_naissance, owner.lieu_naissance),
    ]
    for name, given, ref in checks:
        if given and given != ref:
            v.result = VERIFY_KO
            v.reasons.append({"rule": f"INSi:verify-{name}", "message": f"{name} {given!r} differs from the reference"})
    if query.prenoms and not traits.prenoms_match(list(query.prenoms), owner.liste_prenom):
        v.result = VERIFY_KO
        v.reasons.append({"rule": "INSi:verify-Prenom", "message": "Prenom does not match the reference ListePrenom"})
    return v
