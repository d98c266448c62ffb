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
    allowed: bool
    rule: str
    message: str
    status: int = 200
    details_code: str | None = None
    break_glass: bool = False

    def __bool__(self) -> bool:
        return self.allowed


def _refuse(status: int, rule: str, message: str, details_code: str | None = None) -> Decision:
    return Decision(False, rule, message, status, details_code)


def check_access(
    *,
    action: Action,
    dmp: DmpState,
    caller: Caller,
    mode: AccessMode = AccessMode.NORMAL,
    reason: str | None = None,
) -> Decision:
    """May ``caller`` perform ``action`` on this DMP? The first rule that refuses wins."""
    if not dmp.exists:
        return _refuse(404, "DMP:exists", "Aucun DMP pour ce patient / no DMP exists for this patient.",
                       "XDSUnknownPatientId")
    if not dmp.open:
        return _refuse(422, "DMP:closed", "Le DMP de ce patient est fermé / this patient's DMP is closed: "
                       "no feeding nor consultation until it is reactivated.")
    if caller.role is not Role.PROFESSIONAL:
        if action is Action.CONSULT:
            return Decision(True, "DMP:patient-own-record", "the patient and legal representatives consult the DMP")
        return _refuse(403, "DMP:role", "only professionals feed or update the DMP through this interface")
    if caller.blocked or caller.authorisation is Authorisation.INTERDIT:
        return _refuse(403, "DMP:blocked", "Le patient a bloqué ce professionnel / the patient has blocked "
                       "this professional: every access is refused, break-glass included.")
    if action in (Action.FEED, Action.UPDATE):
        # Feeding (and the author's own metadata changes) needs no authorisation: SC.DMP/CONF.05.
        return Decision(True, "DMP:feed-no-authorisation", "feeding needs no access authorisation")
    if mode is AccessMode.BRIS_DE_GLACE:
        if not (reason and reason.strip()):
            return _refuse(400, "DMP:bris-de-glace-reason",
                           "Le mode bris de glace exige un motif / break-glass access needs a reason "
                           "(header X-DMP-Access-Reason).")
        if OptOut.BRIS_DE_GLACE in dmp.opt_outs:
            return _refuse(403, "DMP:opt-out-bris-de-glace",
                           "Le patient s'est opposé à l'accès en bris de glace / the patient objected to "
                           "break-glass access.")
        return Decision(True, "DMP:bris-de-glace", "break-glass access (traced)", break_glass=True)
    if mode is AccessMode.CENTRE_15:
        if OptOut.CENTRE_15 in dmp.opt_outs:
            return _refuse(403, "DMP:opt-out-centre-15",
                           "Le patient s'est opposé à l'accès en urgence (centre 15) / the patient objected "
                           "to emergency access by the regulation centre.")
        return Decision(True, "DMP:centre-15", "regulation-centre access: authorisation not checked",
                        break_glass=True)
    if caller.authorisation is Authorisation.VALIDE:
        return Decision(True, "DMP:authorisation-valide", "valid access authorisation")
    if caller.authorisation is Authorisation.EXPIRE:
        return _refuse(403, "DMP:authorisation-expire",
                       "L'autorisation d'accès de ce professionnel a expiré / this professional's access "
                       "authorisation has expired.")
    return _refuse(403, "DMP:authorisation-non-existe",
                   "Ce professionnel n'a pas d'autorisation d'accès à ce DMP / this professional has no "
                   "access authorisation on this DMP (NON_EXISTE).")


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
    """Masking, visibility, archiving and deletion: the document's author only (TD3.3a-d)."""
    if caller.role is Role.PROFESSIONAL and caller.rpps and caller.rpps == doc.author_rpps:
        return Decision(True, "DMP:author", "the author updates its document")
    return _refuse(403, "PDSm4DMP:TD3.3-author-only",
                   "Seul l'auteur du document peut modifier ses métadonnées ou le supprimer / only the "
                   "document's author may change its metadata or delete it.")


def visible(docs: Iterable[tuple[DocumentView, object]], caller: Caller) -> list[object]:
    """Filter (view, payload) pairs, keeping the payloads the caller sees."""
    return [payload for view, payload in docs if is_visible(view, caller)]
