"""Pydantic models of the MSSanté HTTP API (/mss/v1) and its control API."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field


class MailboxRead(BaseModel):
    address: str
    type: str = Field(description="PER, CAB, ORG, APP (TRE_R257) or PAT (patient mailbox)")
    display_name: str
    owner_subject: str | None = None
    owners: list[str] = []
    patient_ins: str | None = None
    structure_id: str | None = None
    service: str | None = None
    active: bool = True


class MailboxCreate(BaseModel):
    """Control API: a mailbox (CAB/ORG/APP/PER) on a local domain of the trust space."""

    address: str
    type: Literal["PER", "CAB", "ORG", "APP"]
    display_name: str
    owner_subject: str | None = Field(None, description="SubjectNameID of the PER holder")
    owners: list[str] = []
    structure_id: str | None = None
    service: str | None = None
    description: str | None = None
    password: str | None = Field(None, description="for SMTP AUTH PLAIN/LOGIN; default: the fixture password")
    active: bool = True


Notify = Literal["SUCCESS", "FAILURE", "DELAY", "NEVER"]


class AttachmentIn(BaseModel):
    filename: str
    content_type: str = "application/octet-stream"
    content_base64: str


class MessageCreate(BaseModel):
    """A message to send from one of the caller's mailboxes (or send ``message/rfc822`` instead)."""

    model_config = ConfigDict(json_schema_extra={"example": {
        "to": ["sophie.bernard@hopital-a.mssante.fr"],
        "subject": "XDM/1.0/DDM+Compte rendu ADRUN ZOE 19751231",
        "body": "Veuillez trouver le compte rendu ci-joint.",
        "headers": {"X-MSS-NIL": "NIL-0001"},
        "attachments": [],
        "notify": ["FAILURE"],
        "disposition_notification": True,
    }})

    to: list[str] = Field(min_length=1)
    cc: list[str] = []
    subject: str = ""
    body: str = ""
    headers: dict[str, str] = Field(default_factory=dict, description="extra headers (X-MSS-NIL, X-MSS-MES, ...)")
    attachments: list[AttachmentIn] = []
    xdm_from_cda_base64: str | None = Field(
        None, description="a CDA R2 document: the sandbox wraps it in IHE_XDM.ZIP and sets X-MSS-CODECDA/X-MSS-INS")
    notify: list[Notify] = Field(default_factory=lambda: list[Notify](["FAILURE"]))
    disposition_notification: bool = Field(False, description="ask for a read receipt (Disposition-Notification-To)")


class RecipientResult(BaseModel):
    address: str
    status: str
    reply: str | None = None


class SendResult(BaseModel):
    uid: str
    message_id: str | None
    recipients: list[RecipientResult]
    report: dict[str, Any]


class MessageSummary(BaseModel):
    uid: str
    imap_uid: int = Field(description="the message's UID in its folder over IMAP (RFC 3501 §2.3.1.1): ascending in "
                                      "arrival order, never reused")
    folder: str = Field(description="the folder the message is in (`INBOX`, `Sent`, `Drafts`, `Trash` or one the "
                                    "user created over IMAP; `/` separates levels)")
    kind: str
    sender: str
    from_header: str | None
    subject: str | None
    received_at: datetime
    size: int
    has_xdm: bool
    seen: bool
    conformant: bool | None


class MessageList(BaseModel):
    total: int
    items: list[MessageSummary]


class MessageDetail(MessageSummary):
    message_id: str | None
    envelope_from: str
    recipient: str
    delivery_status: str
    transport: str
    auth_identity: str | None
    headers: list[tuple[str, str]]
    parts: list[dict[str, Any]]
    text: str | None
    xdm: list[dict[str, Any]]
    report: dict[str, Any]
    related_uid: str | None = None


class ReadResult(BaseModel):
    uid: str
    seen: bool
    mdn_uid: str | None = Field(None, description="the MDN sent to Disposition-Notification-To, if any")


class ReadRequest(BaseModel):
    disposition: Literal["displayed", "processed", "deleted", "dispatched"] = "displayed"


class FaultCreate(BaseModel):
    """A scripted SMTP failure for a mailbox (fault injection)."""

    model_config = ConfigDict(json_schema_extra={"example": {
        "stage": "RCPT", "reply": "451 4.3.0 Temporary failure, try again later", "count": 1}})

    stage: Literal["MAIL", "RCPT", "DATA"] = Field(
        description="MAIL: the mailbox sends; RCPT, DATA: the mailbox is a recipient")
    reply: str = Field(pattern=r"^[245][0-9][0-9] [^\r\n]{0,400}$",
                       description="the SMTP reply, e.g. `451 4.3.0 ...` or `421 4.3.2 ...`")
    count: int = Field(1, ge=1, le=1000)
    disconnect: bool = Field(False, description="close the connection after the reply (SC.MSS/CONF.11)")


class FaultRead(FaultCreate):
    id: int
    address: str
    remaining: int


class DispensationCreate(BaseModel):
    """Control API: the pharmacy of an organisational mailbox dispensed to a patient (Mon espace santé's pharmacy
    exception: the patient may then write first to that mailbox for ``SEGUR_MSS_PHARMACY_WINDOW_DAYS``)."""

    model_config = ConfigDict(json_schema_extra={"example": {
        "pharmacy": "pharmacie.du-marche@medecin.mssante.fr", "ins": "275126322074974",
        "dispensed_at": "2026-12-01T10:30:00+01:00"}})

    pharmacy: str = Field(max_length=320, description="the pharmacy's organisational (ORG) mailbox")
    ins: str = Field(pattern=r"^[0-9]{5}(?:[0-9]{2}|2[ABab])[0-9]{8}$",
                     description="the patient's matricule INS (15 characters)")
    dispensed_at: AwareDatetime | None = Field(None, description="when (with its offset); default: now")


class DispensationRead(BaseModel):
    model_config = ConfigDict(json_schema_extra={"example": {
        "id": 1, "pharmacy": "pharmacie.du-marche@medecin.mssante.fr", "pharmacy_name": "Pharmacie du Marché - Nantes",
        "ins": "275126322074974", "dispensed_at": "2026-12-01T09:30:00Z", "recent": True}})

    id: int
    pharmacy: str
    pharmacy_name: str
    ins: str
    dispensed_at: datetime
    recent: bool = Field(description="within SEGUR_MSS_PHARMACY_WINDOW_DAYS: the patient may write first to the "
                                     "pharmacy")
