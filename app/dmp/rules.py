"""The DMP's access and visibility rules, without I/O.

Who may consult, feed, update or delete in a patient's DMP, and which documents each caller sees.
Sources (reference/dmp.md): §2.5 access control (authorisation NON_EXISTE / VALIDE / EXPIRE / INTERDIT,
MagicDMP ``TDossierInfo.Autorisation``; "un professionnel que le patient a bloqué ne peut pas accéder",
PDSm4DMP TD02; authorisations govern consultation only; centre de régulation does not check the
authorisation; break-glass and emergency access only when the patient has not objected), §2.4
visibility (TRE_A07 labels; a document masked from professionals stays visible to its author),
§2.3 and PDSm4DMP TD3.3c (deletion by the author only), §2.7 (closure).

Decisions where the sources leave room (docs/dmp.md "Decisions"):
- ``INTERDIT`` is the status of a professional the patient has blocked: it refuses every action, like
  the blocked list (the two are kept separately so a harness can set either).
- Break-glass needs a non-empty reason; centre_15 does not (the reason is optional there).
- Metadata changes (masking, visibility, archiving, deletion) are the author's only (403 otherwise);
  replacement follows the feeding rule (any non-blocked professional).
- ``INVISIBLE_PATIENT`` hides a document from the patient *and* the legal representatives (a
  representative never sees what the patient may not); ``INVISIBLE_REPRESENTANTS_LEGAUX`` only from
  the representatives. A masked document (``MASQUE_PS``) stays hidden in break-glass and centre_15.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from app.dmp.exceptions import XDS_UNKNOWN_PATIENT, DmpError, Kind


class Authorisation(StrEnum):
    """A professional's access authorisation on one DMP (MagicDMP ``TDossierInfo.Autorisation``)."""

    NON_EXISTE = "NON_EXISTE"
    VALIDE = "VALIDE"
    EXPIRE = "EXPIRE"
    INTERDIT = "INTERDIT"


class AccessMode(StrEnum):
    """TRE_R248-ModeAcces, OID 1.2.250.1.213.1.1.4.248."""

    NORMAL = "normal"
    BRIS_DE_GLACE = "bris_de_glace"
    CENTRE_15 = "centre_15"


ACCESS_MODE_SYSTEM = "urn:oid:1.2.250.1.213.1.1.4.248"


class OptOut(StrEnum):
    """What the patient objected to (MagicDMP ``TAutorisations``: ``BrisDeGlace``, ``Urgence``)."""

    BRIS_DE_GLACE = "bris_de_glace"
    CENTRE_15 = "centre_15"


class Role(StrEnum):
    PROFESSIONAL = "professional"
    PATIENT = "patient"
    LEGAL_REPRESENTATIVE = "legal_representative"


class Action(StrEnum):
    CONSULT = "consult"  # ITI-67 search, ITI-66, ITI-68 read
    FEED = "feed"  # ITI-65 / ITI-105 add or replace
    UPDATE = "update"  # metadata PATCH: masking, visibility, archiving, deletion


# TRE_A07-StatutVisibiliteDocument, OID 1.2.250.1.213.1.1.4.13 (reference/dmp.md §2.4)
MASQUE_PS = "MASQUE_PS"
INVISIBLE_PATIENT = "INVISIBLE_PATIENT"
INVISIBLE_REPRESENTANTS_LEGAUX = "INVISIBLE_REPRESENTANTS_LEGAUX"


class Availability(StrEnum):
    """XDS availability status as stored (JDV_J52; reference/dmp.md §2.1)."""

    APPROVED = "Approved"
    DEPRECATED = "Deprecated"
    ARCHIVED = "Archived"  # kept as Approved + is_archived in the store; listed for completeness
    DELETED = "Deleted"


@dataclass(frozen=True)
class DmpState:
    exists: bool = True
    open: bool = True
    opt_outs: frozenset[OptOut] = frozenset()


@dataclass(frozen=True)
class Caller:
    role: Role = Role.PROFESSIONAL
    rpps: str | None = None
    authorisation: Authorisation = Authorisation.NON_EXISTE
    blocked: bool = False


@dataclass(frozen=True)
class Decision:
    """The answer of a rule. A refusal names the rule (``rule``) and says why with the facts, in English
    (``message``: logs, journal, traces) and in French (``french``); an OperationOutcome shows both."""

    allowed: bool
    rule: str
    message: str
    kind: Kind | None = None  # what kind of refusal (None when allowed)
    details_code: str | None = None
    break_glass: bool = False
    french: str | None = None

    def __bool__(self) -> bool:
        return self.allowed

    def refusal(self) -> DmpError:
        """The refusal as the domain's error, for the service to raise."""
        assert self.kind is not None, "an allowed decision refuses nothing"
        return DmpError(self.kind, self.message, rule=self.rule, french=self.french, xds_code=self.details_code)


def _refuse(kind: Kind, rule: str, french: str, english: str, details_code: str | None = None) -> Decision:
    return Decision(False, rule, english, kind, details_code, french=french)


def _who(caller: Caller) -> tuple[str, str]:
    """The caller as the refusal names it (French, English): the caller knows who they are."""
    if caller.rpps:
        return f"le professionnel RPPS {caller.rpps}", f"professional RPPS {caller.rpps}"
    return "ce professionnel", "this professional"


_ACTION_WORDS = {  # (French, English)
    Action.CONSULT: ("consulter ce DMP", "consult this DMP"),
    Action.FEED: ("alimenter ce DMP", "feed this DMP"),
    Action.UPDATE: ("modifier les documents de ce DMP", "update documents of this DMP"),
}


def check_access(
    *,
    action: Action,
    dmp: DmpState,
    caller: Caller,
    mode: AccessMode = AccessMode.NORMAL,
    reason: str | None = None,
) -> Decision:
    """May ``caller`` perform ``action`` on this DMP? The first rule that refuses wins; its refusal names
    the rule, the facts that decided (the caller, the authorisation, the mode, the patient's objection) and
    what would be accepted, and never anything about a document."""
    fr_who, en_who = _who(caller)
    fr_act, en_act = _ACTION_WORDS[action]
    if not dmp.exists:
        return _refuse(Kind.NOT_FOUND, "DMP:exists", "Aucun DMP pour ce patient (TD0.2 : le créer d'abord, TD1.1)",
                       "no DMP exists for this patient (TD0.2: create it first, TD1.1)", XDS_UNKNOWN_PATIENT)
    if not dmp.open:
        return _refuse(Kind.UNPROCESSABLE, "DMP:closed",
                       f"Le DMP de ce patient est fermé : impossible de {fr_act} tant qu'il n'est pas réactivé "
                       "(PDSm4DMP TD02, dmp-fermeture)",
                       f"this patient's DMP is closed: no one may {en_act} until it is reactivated "
                       "(PDSm4DMP TD02, dmp-fermeture)")
    if caller.role is not Role.PROFESSIONAL:
        if action is Action.CONSULT:
            return Decision(True, "DMP:patient-own-record", "the patient and legal representatives consult the DMP")
        return _refuse(Kind.FORBIDDEN, "DMP:role",
                       f"Seuls les professionnels de santé peuvent {fr_act} par cette interface",
                       f"only health professionals may {en_act} through this interface")
    if caller.blocked:
        return _refuse(Kind.FORBIDDEN, "DMP:blocked",
                       f"Le patient a bloqué {fr_who} sur son DMP : tout accès lui est refusé, alimentation et "
                       "bris de glace compris (PDSm4DMP TD02 NB1)",
                       f"the patient has blocked {en_who} on this DMP: every access is refused, feeding and "
                       "break-glass included (PDSm4DMP TD02 NB1)")
    if caller.authorisation is Authorisation.INTERDIT:
        return _refuse(Kind.FORBIDDEN, "DMP:blocked",
                       f"L'autorisation d'accès de {fr_who} à ce DMP est INTERDIT (le patient a interdit "
                       "l'accès) : tout accès lui est refusé, alimentation et bris de glace compris "
                       "(PDSm4DMP TD02 NB1)",
                       f"the access authorisation of {en_who} on this DMP is INTERDIT (the patient forbade "
                       "access): every access is refused, feeding and break-glass included (PDSm4DMP TD02 NB1)")
    if action in (Action.FEED, Action.UPDATE):
        # Feeding (and the author's own metadata changes) needs no authorisation: SC.DMP/CONF.05.
        return Decision(True, "DMP:feed-no-authorisation", "feeding needs no access authorisation")
    if mode is AccessMode.BRIS_DE_GLACE:
        if not (reason and reason.strip()):
            return _refuse(Kind.REQUIRED, "DMP:bris-de-glace-reason",
                           "Le mode bris de glace exige un motif (en-tête X-DMP-Access-Reason)",
                           "break-glass access needs a reason (header X-DMP-Access-Reason)")
        if OptOut.BRIS_DE_GLACE in dmp.opt_outs:
            return _refuse(Kind.FORBIDDEN, "DMP:opt-out-bris-de-glace",
                           f"Le patient s'est opposé à l'accès en bris de glace à son DMP : {fr_who} ne peut "
                           "le consulter qu'avec une autorisation d'accès VALIDE",
                           f"the patient objected to break-glass access to this DMP: {en_who} may consult it "
                           "only with a VALIDE access authorisation")
        return Decision(True, "DMP:bris-de-glace", "break-glass access (traced)", break_glass=True)
    if mode is AccessMode.CENTRE_15:
        if OptOut.CENTRE_15 in dmp.opt_outs:
            return _refuse(Kind.FORBIDDEN, "DMP:opt-out-centre-15",
                           "Le patient s'est opposé à l'accès en urgence par le centre de régulation (centre "
                           f"15) : {fr_who} ne peut consulter ce DMP qu'avec une autorisation d'accès VALIDE",
                           "the patient objected to emergency access by the regulation centre (centre 15): "
                           f"{en_who} may consult this DMP only with a VALIDE access authorisation")
        return Decision(True, "DMP:centre-15", "regulation-centre access: authorisation not checked",
                        break_glass=True)
    if caller.authorisation is Authorisation.VALIDE:
        return Decision(True, "DMP:authorisation-valide", "valid access authorisation")
    if caller.authorisation is Authorisation.EXPIRE:
        return _refuse(Kind.FORBIDDEN, "DMP:authorisation-expire",
                       f"L'autorisation d'accès de {fr_who} à ce DMP a expiré (EXPIRE) : la consultation "
                       "exige une autorisation VALIDE, que le patient peut renouveler (alimenter reste permis)",
                       f"the access authorisation of {en_who} on this DMP has expired (EXPIRE): consultation "
                       "needs a VALIDE authorisation, which the patient may renew (feeding is still allowed)")
    return _refuse(Kind.FORBIDDEN, "DMP:authorisation-non-existe",
                   f"{fr_who[0].upper()}{fr_who[1:]} n'a pas d'autorisation d'accès à ce DMP (NON_EXISTE) : la "
                   "consultation exige une autorisation VALIDE donnée par le patient, ou un accès en bris de "
                   "glace (X-DMP-Access-Mode: bris_de_glace et un motif) ou en centre 15 (alimenter reste permis)",
                   f"{en_who[0].upper()}{en_who[1:]} has no access authorisation on this DMP (NON_EXISTE): "
                   "consultation needs a VALIDE authorisation given by the patient, or break-glass access "
                   "(X-DMP-Access-Mode: bris_de_glace with a reason) or centre 15 access (feeding is still "
                   "allowed)")


@dataclass(frozen=True)
class DocumentView:
    """What visibility depends on."""

    author_rpps: str | None
    labels: frozenset[str] = frozenset()
    availability: Availability = Availability.APPROVED


def is_visible(doc: DocumentView, caller: Caller) -> bool:
    """Does this caller see this document in searches and reads? Deleted documents are never listed."""
    if doc.availability is Availability.DELETED:
        return False
    if caller.role is Role.PATIENT:
        return INVISIBLE_PATIENT not in doc.labels
    if caller.role is Role.LEGAL_REPRESENTATIVE:
        return INVISIBLE_PATIENT not in doc.labels and INVISIBLE_REPRESENTANTS_LEGAUX not in doc.labels
    if MASQUE_PS in doc.labels:
        return caller.rpps is not None and caller.rpps == doc.author_rpps
    return True


def may_update(doc: DocumentView, caller: Caller) -> Decision:
    """Masking, visibility, archiving and deletion: the document's author only (PDSm4DMP TD3.3a-d). The
    refusal names the author, which the caller can read in the document it sees (``author``)."""
    if caller.role is Role.PROFESSIONAL and caller.rpps and caller.rpps == doc.author_rpps:
        return Decision(True, "DMP:author", "the author updates its document")
    author = f"le professionnel RPPS {doc.author_rpps}" if doc.author_rpps else "un autre auteur"
    en_author = f"professional RPPS {doc.author_rpps}" if doc.author_rpps else "another author"
    fr_who, en_who = _who(caller)
    return _refuse(Kind.FORBIDDEN, "PDSm4DMP:TD3.3-author-only",
                   f"Ce document a été déposé par {author} ; seul son auteur peut le masquer, le rendre visible "
                   f"ou invisible, l'archiver ou le supprimer, et {fr_who} ne l'est pas (PDSm4DMP TD3.3a-d)",
                   f"this document was filed by {en_author}; only its author may mask it, change its "
                   f"visibility, archive it or delete it, and {en_who} is not its author (PDSm4DMP TD3.3a-d)")


def visible(docs: Iterable[tuple[DocumentView, object]], caller: Caller) -> list[object]:
    """Filter (view, payload) pairs, keeping the payloads the caller sees."""
    return [payload for view, payload in docs if is_visible(view, caller)]
