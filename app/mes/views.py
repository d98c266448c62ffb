"""What the service answers (both faces render these): plain frozen dataclasses, no I/O."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from app.mes.persons import Person


@dataclass(frozen=True)
class Profile:
    person: Person
    dmp_state: str  # active / closed / none / opposed
    closed_at: datetime | None
    closure_reason: str | None
    opt_out_bris_de_glace: bool
    opt_out_centre_15: bool
    documents: int  # documents the actor sees
    unread_notifications: int
    represented_by_actor: bool  # the actor acts as a legal representative here


@dataclass(frozen=True)
class DocumentSummary:
    id: str
    title: str
    type_code: str
    type_label: str
    class_code: str
    class_label: str
    author_name: str  # "Dr Claire Fontaine", the patient's own name, or "Assurance Maladie"
    author_rpps: str | None
    origin: str  # professional / patient / assurance_maladie
    date: datetime  # creation of the document
    service_date: datetime  # date of the act (period start)
    submitted_at: datetime
    status: str  # current / superseded / deleted
    masked: bool  # masked from professionals (MASQUE_PS)
    hidden_from_representatives: bool  # INVISIBLE_REPRESENTANTS_LEGAUX
    archived: bool
    content_type: str
    size: int
    format_code: str


@dataclass(frozen=True)
class DocumentDetail:
    summary: DocumentSummary
    labels: tuple[tuple[str, str, str], ...]
    facility_code: str
    practice_code: str
    replaces: str | None
    replaced_by: str | None
    is_cda: bool  # the content is a CDA (W renders it with app.dmp.service.cda_to_html)
    may_mask: bool
    may_delete: bool
    may_hide_from_representatives: bool


@dataclass(frozen=True)
class ProfessionalEntry:
    rpps: str
    name: str  # from PSC's professionals, "" when unknown there
    profession: str
    status: str  # VALIDE / EXPIRE / INTERDIT / NON_EXISTE
    medecin_traitant: bool
    blocked: bool


@dataclass(frozen=True)
class AccessSettings:
    authorised: list[ProfessionalEntry]
    blocked: list[ProfessionalEntry]
    medecins_traitants: list[ProfessionalEntry]
    opt_out_bris_de_glace: bool
    opt_out_centre_15: bool


@dataclass(frozen=True)
class Activity:
    id: int
    at: datetime
    who_name: str
    who_rpps: str | None
    client_id: str | None
    transaction: str  # ITI-67, ITI-18, ...
    what: str  # the transaction in French ("Consultation de la liste des documents")
    action: str  # C R U D E
    access_mode: str  # normal / bris_de_glace / centre_15
    access_mode_label: str
    reason: str | None
    outcome: str  # success / refused
    outcome_text: str | None
    document_ids: list[str] = field(default_factory=list)
    document_titles: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Notification:
    id: int
    kind: str  # new_document / bris_de_glace / centre_15 / message
    title: str
    body: str
    occurred_at: datetime
    read: bool
    mailed_to: str | None
    document_ids: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class NotificationSettings:
    email: str | None
