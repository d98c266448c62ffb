"""RNIV identity status engine: PROV / RECUP / VALI / QUAL from events. Pure.

Sources (reference §3.1, §3.2): FR Core ``FRCoreCodeSystemIdentityStatus.fsh`` citing RNIV EXI SI 07 (two
criteria: traits retrieved/verified through INSi; coherence checked against a high-trust document);
``FRCorePatientIdentityReliabilityExtension.fsh`` invariants citing RNIV 1 v2.0 §3.2.3 [EXI SI 09] (an identity
with the *douteuse* or *fictive* attribute stays provisional and may not call INSi; DOUT and FICT cannot be
combined); ``FRCoreCodeSystemIdentityMethodCollection.fsh`` citing RNIV 1 v2.0 §4.3.4 (an identity obtained from
the Appli carte Vitale is qualified); Guide d'implémentation INS rules 11/12 (SC.INS/va1.28, .31: never import an
INS whose birth date has a 00 day/month, or with an empty birth name / prénoms / sex).

Marked [recalled] in the reference and decided here: editing a strict trait loses both the INSi and the
document criteria (back to PROV); which documents are high-trust for minors only.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Literal

from app.ins.exceptions import RnivError

STATUSES = ("PROV", "RECUP", "VALI", "QUAL")

# fr-core-cs-mode-validation-identity
DOCUMENTS_ANY_AGE = {"CN", "PA", "CS", "eCN", "IN", "AV"}
DOCUMENTS_MINORS = {"LECV", "AN", "LEP", "CC", "ANCV"}  # [recalled]: family-record / birth-certificate proofs
DOCUMENTS = DOCUMENTS_ANY_AGE | DOCUMENTS_MINORS
ATTRIBUTES = {"HOMD", "HOMA", "DOUT", "FICT"}  # homonymes, douteuse, fictive (fr-core-cs-identity-status-comment)
STRICT_TRAITS = {"NomNaissance", "ListePrenom", "PremierPrenom", "Sexe", "DateNaissance", "LieuNaissance",
                 "matricule", "OID"}

EventKind = Literal["insi_ok", "insi_ko", "document", "attribute_add", "attribute_remove", "strict_trait_edit"]


@dataclass(frozen=True)
class IdentityState:
    insi: bool = False  # traits retrieved / verified through INSi
    document: str | None = None  # high-trust document checked (mode code)
    attributes: frozenset[str] = frozenset()
    minor: bool | None = None

    @property
    def status(self) -> str:
        if self.attributes & {"DOUT", "FICT"}:
            return "PROV"
        if self.insi and self.document:
            return "QUAL"
        if self.insi:
            return "RECUP"
        if self.document:
            return "VALI"
        return "PROV"

    @property
    def shareable(self) -> bool:
        """Only a qualified identity may carry and share the INS matricule (FR Core fr-core-patient-ins)."""
        return self.status == "QUAL"


@dataclass
class Step:
    event: dict
    accepted: bool
    status: str
    rule: str | None = None
    message: str | None = None


@dataclass
class Result:
    state: IdentityState
    steps: list[Step] = field(default_factory=list)


def apply(state: IdentityState, event: dict) -> tuple[Step, IdentityState]:
    """Apply one event: the step and the new state (a refused event leaves the state unchanged)."""
    kind = event.get("type")
    s = state

    def refuse(rule: str, message: str) -> tuple[Step, IdentityState]:
        return Step(event, False, s.status, rule, message), s

    if kind == "insi_ok":
        if s.attributes & {"DOUT", "FICT"}:
            return refuse("RNIV:EXI-SI-09", "an identity marked doubtful or fictitious may not call INSi")
        date = str(event.get("DateNaissance") or "")
        if date[5:7] == "00" or date[8:10] == "00":
            return refuse("INS:rule-11", "an INS whose birth date has a 00 day or month is not imported")
        for trait in ("NomNaissance", "ListePrenom", "Sexe"):
            if trait in event and not event[trait]:
                return refuse("INS:rule-12", f"an INS with an empty {trait} is not imported")
        new = replace(s, insi=True)
    elif kind == "insi_ko":
        new = replace(s, insi=False)
    elif kind == "document":
        mode = event.get("mode")
        if not isinstance(mode, str) or mode not in DOCUMENTS:
            raise RnivError("mode", "RNIV:document",
                            f"document mode {mode!r} is not a high-trust document ({', '.join(sorted(DOCUMENTS))})")
        if mode in DOCUMENTS_MINORS and s.minor is False:
            return refuse("RNIV:document-minor", f"document {mode} proves the identity of a minor only")
        if mode == "AV":
            # Appli carte Vitale: the identity (and its ayants droit) is considered qualified.
            new = replace(s, insi=True, document=mode)
        else:
            new = replace(s, document=mode)
    elif kind in ("attribute_add", "attribute_remove"):
        attr = str(event.get("attribute"))
        if attr not in ATTRIBUTES:
            raise RnivError("attribute", "RNIV:attribute", f"attribute {attr!r} is not one of {sorted(ATTRIBUTES)}")
        if kind == "attribute_add":
            other = {"DOUT": "FICT", "FICT": "DOUT"}.get(attr)
            if other in s.attributes:
                return refuse("RNIV:DOUT-FICT", "the doubtful and fictitious attributes cannot be combined")
            new = replace(s, attributes=s.attributes | {attr})
            if attr in {"DOUT", "FICT"}:
                new = replace(new, insi=False, document=None)
        else:
            new = replace(s, attributes=s.attributes - {attr})
    elif kind == "strict_trait_edit":
        trait = str(event.get("trait"))
        if trait not in STRICT_TRAITS:
            raise RnivError("trait", "RNIV:strict-trait", f"{trait!r} is not a strict trait ({sorted(STRICT_TRAITS)})")
        new = replace(s, insi=False, document=None)
    else:
        raise RnivError("type", "RNIV:event", f"unknown event type {kind!r}")
    return Step(event, True, new.status), new


def run(events: list[dict], *, initial: IdentityState | None = None) -> Result:
    state = initial or IdentityState()
    res = Result(state)
    for ev in events:
        step, state = apply(state, ev)
        res.steps.append(step)
    res.state = state
    return res
