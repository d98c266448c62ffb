"""The patient API's messaging routes (``/mes/api/v1/patients/{ins}/messages``, ``.../pharmacies``): the patient
mailbox ``<INS>@patient.mssante.fr`` as an inbox, replies within a conversation a professional opened, and the
pharmacy exception. Each route is one call of :mod:`app.mes.service` (its messaging part, :mod:`app.mes.messaging`);
errors are RFC 9457 problem details (:mod:`app.mes.api.problems`)."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from app.api.deps import SessionDep, SettingsDep, refuse_nul_characters
from app.api.openapi_errors import error_responses
from app.mes import service
from app.mes.api.deps import CurrentActor, InsPath
from app.mes.exceptions import MesInvalid

PREFIX = "/mes/api/v1"
TAG = "Mon espace santé — patient API"
# PostgreSQL text holds no U+0000: a NUL in the path, query or JSON body is the client's error (422)
router = APIRouter(prefix=PREFIX, tags=[TAG], dependencies=[Depends(refuse_nul_characters)])

MessageIdPath = Annotated[str, Path(description="The message's id (`id` in the inbox)", max_length=64,
                                    examples=["4f1c2b9a0d8e4e7fa5b6c7d8e9f00112"])]
_READ = error_responses(PREFIX, 401, 404)
_WRITE = error_responses(PREFIX, 401, 403, 404, 409, 413, 422)

_SUMMARY_EXAMPLE: Any = {
    "id": "4f1c2b9a0d8e4e7fa5b6c7d8e9f00112", "subject": "Vos résultats d'analyses",
    "sender": "claire.fontaine@medecin.mssante.fr", "sender_name": "Claire FONTAINE",
    "recipients": ["275126322074974@patient.mssante.fr"], "at": "2026-12-07T17:10:00Z", "direction": "received",
    "seen": False, "attachments": 1, "conversation_id": "<170193.1@medecin.mssante.fr>",
    "closes_conversation": False,
}


class MessageSummaryRead(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [_SUMMARY_EXAMPLE]})

    id: str
    subject: str
    sender: str = Field(description="the From address")
    sender_name: str
    recipients: list[str]
    at: datetime
    direction: str = Field(description="`received` (from a professional) or `sent` (by the patient)")
    seen: bool
    attachments: int
    conversation_id: str = Field(description="Message-ID of the conversation's first message")
    closes_conversation: bool = Field(description="this message closes its conversation (`X-MSS-MES: FIN` or "
                                                  "`[FIN]` in the subject)")


class AttachmentRead(BaseModel):
    index: int | None = Field(description="MIME part number: `GET .../messages/{id}/attachments/{index}`")
    filename: str
    content_type: str
    size: int


class MessageRead(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "summary": _SUMMARY_EXAMPLE, "message_id": "<170193.1@medecin.mssante.fr>", "in_reply_to": None,
        "reply_to": ["secretariat.cardiologie@hopital-a.mssante.fr"], "text": "Bonjour, vos résultats sont joints.",
        "attachments": [{"index": 2, "filename": "resultats.pdf", "content_type": "application/pdf", "size": 48213}],
        "xdm": [], "reply_allowed": True, "reply_refusal": None,
        "replies_go_to": ["secretariat.cardiologie@hopital-a.mssante.fr"], "conversation": [_SUMMARY_EXAMPLE],
        "headers": [["Subject", "Vos résultats d'analyses"]],
    }]})

    summary: MessageSummaryRead
    message_id: str | None
    in_reply_to: str | None
    reply_to: list[str]
    text: str
    attachments: list[AttachmentRead]
    xdm: list[dict[str, Any]] = Field(description="each IHE_XDM.ZIP decoded (documents, patient, errors)")
    reply_allowed: bool
    reply_refusal: str | None = Field(description="why the patient cannot reply (French — English)")
    replies_go_to: list[str] = Field(description="Reply-To of the professional's latest message, else its From")
    conversation: list[MessageSummaryRead]
    headers: list[list[str]]


class AttachmentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    filename: str = Field(min_length=1, max_length=200)
    content_type: str = Field("application/pdf", max_length=130)
    content_base64: str = Field(description="the file, base64 (RFC 4648)")


class ReplyIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "text": "Merci docteur, je prendrai rendez-vous la semaine prochaine.", "attachments": []}]})

    text: str = Field(max_length=100_000)
    attachments: list[AttachmentIn] = Field(default_factory=list, max_length=20)


class MessageIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "to": "pharmacie.du-marche@medecin.mssante.fr", "subject": "Mon ordonnance",
        "text": "Bonjour, voici mon ordonnance, je passerai demain.",
        "attachments": [{"filename": "ordonnance.pdf", "content_type": "application/pdf",
                         "content_base64": "JVBERi0xLjQKJcOkw7zDtsOfCg=="}]}]})

    to: str = Field(max_length=320, description="the pharmacy's organisational mailbox (`GET .../pharmacies`)")
    subject: str = Field(min_length=1, max_length=250)
    text: str = Field(max_length=100_000)
    attachments: list[AttachmentIn] = Field(default_factory=list, max_length=20)


class PharmacyRead(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "address": "pharmacie.du-marche@medecin.mssante.fr", "name": "Pharmacie du Marché - Nantes",
        "dispensed_at": "2026-11-17T10:00:00Z"}]})

    address: str
    name: str
    dispensed_at: datetime = Field(description="the latest dispensation to the patient")


def summary_read(s: service.MessageSummary) -> MessageSummaryRead:
    return MessageSummaryRead(id=s.id, subject=s.subject, sender=s.sender, sender_name=s.sender_name,
                              recipients=s.recipients, at=s.at, direction=s.direction, seen=s.seen,
                              attachments=s.attachments, conversation_id=s.conversation_id,
                              closes_conversation=s.closes_conversation)


def _attachments(items: list[AttachmentIn]) -> list[service.Attachment]:
    found = []
    for i, item in enumerate(items):
        try:
            content = base64.b64decode(item.content_base64, validate=True)
        except (binascii.Error, ValueError):
            raise MesInvalid(f"attachments[{i}].content_base64 is not base64", rule="MES:attachment-base64",
                             french=f"pièce jointe {i} : le contenu n'est pas du base64", unprocessable=True) from None
        found.append(service.Attachment(filename=item.filename, content_type=item.content_type, content=content,
                                        size=len(content)))
    return found


@router.get("/patients/{ins}/messages", response_model=list[MessageSummaryRead], operation_id="mes_list_messages",
            responses=_READ, summary="The patient's messages (Mon espace santé messaging), newest first")
async def list_messages(ins: InsPath, actor: CurrentActor, session: SessionDep) -> list[MessageSummaryRead]:
    """What professionals sent to `<INS>@patient.mssante.fr` (`received`) and what the patient sent (`sent`)."""
    return [summary_read(s) for s in await service.inbox(session, actor=actor, ins=ins)]


@router.get("/patients/{ins}/messages/{message_id}", response_model=MessageRead, operation_id="mes_read_message",
            responses=_READ, summary="Read one message: text, attachments, decoded XDM, whether a reply is allowed")
async def read_message(ins: InsPath, message_id: MessageIdPath, actor: CurrentActor, session: SessionDep,
                       settings: SettingsDep) -> MessageRead:
    """Reading a received message marks it read, which sends the read receipt (MDN) the professional asked for,
    once. `reply_allowed` is false once the conversation is closed (`X-MSS-MES: FIN` or `[FIN]`)."""
    d = await service.read_message(session, settings=settings, actor=actor, ins=ins, message_id=message_id)
    return MessageRead(
        summary=summary_read(d.summary), message_id=d.message_id, in_reply_to=d.in_reply_to, reply_to=d.reply_to,
        text=d.text, attachments=[AttachmentRead(index=a.index, filename=a.filename, content_type=a.content_type,
                                                 size=a.size) for a in d.attachments],
        xdm=d.xdm, reply_allowed=d.reply_allowed, reply_refusal=d.reply_refusal, replies_go_to=d.replies_go_to,
        conversation=[summary_read(s) for s in d.conversation], headers=[[k, v] for k, v in d.headers])


@router.get("/patients/{ins}/messages/{message_id}/attachments/{index}", operation_id="mes_message_attachment",
            response_class=Response, summary="One attachment of a message, as it was sent",
            responses={200: {"content": {"application/octet-stream": {}}, "description": "the file"}, **_READ})
async def message_attachment(ins: InsPath, message_id: MessageIdPath, index: Annotated[int, Path(ge=0, le=1000)],
                             actor: CurrentActor, session: SessionDep, settings: SettingsDep) -> Response:
    att = await service.message_attachment(session, settings=settings, actor=actor, ins=ins, message_id=message_id,
                                           index=index)
    safe = "".join(c if c.isascii() and c.isprintable() and c not in '"\\' else "_" for c in att.filename)
    return Response(att.content, media_type=att.content_type,
                    headers={"Content-Disposition": f'attachment; filename="{safe}"',
                             "X-Content-Type-Options": "nosniff"})


@router.post("/patients/{ins}/messages/{message_id}/reply", status_code=201, response_model=MessageSummaryRead,
             operation_id="mes_reply_message", responses=_WRITE,
             summary="Reply within the conversation a professional opened (to its Reply-To when set)")
async def reply_message(ins: InsPath, message_id: MessageIdPath, body: ReplyIn, actor: CurrentActor,
                        session: SessionDep, settings: SettingsDep) -> MessageSummaryRead:
    """The reply reaches the professional's mailbox at once (SMTP/IMAP/HTTP faces), From the patient's name and
    address. `409` (`MES:conversation-closed`) once the conversation is closed by `X-MSS-MES: FIN` or `[FIN]`;
    `413` over 25 MB in total (ENS Mon espace santé Messagerie v1.3)."""
    sent = await service.reply(session, settings=settings, actor=actor, ins=ins, message_id=message_id,
                               text=body.text, attachments=_attachments(body.attachments))
    return summary_read(sent)


@router.get("/patients/{ins}/pharmacies", response_model=list[PharmacyRead], operation_id="mes_list_pharmacies",
            responses=_READ, summary="Pharmacies the patient may write to first (dispensed to them recently)")
async def list_pharmacies(ins: InsPath, actor: CurrentActor, session: SessionDep,
                          settings: SettingsDep) -> list[PharmacyRead]:
    """The organisational mailboxes of the pharmacies that dispensed to the patient within
    `SEGUR_MSS_PHARMACY_WINDOW_DAYS` (365: "au cours de l'année écoulée"); harnesses declare dispensations with
    `POST /sandbox/v1/dispensations`."""
    return [PharmacyRead(address=p.address, name=p.name, dispensed_at=p.dispensed_at)
            for p in await service.pharmacies(session, settings=settings, actor=actor, ins=ins)]


@router.post("/patients/{ins}/messages", status_code=201, response_model=MessageSummaryRead,
             operation_id="mes_write_to_pharmacy", responses=_WRITE,
             summary="Start a conversation with a pharmacy that recently dispensed to the patient")
async def write_to_pharmacy(ins: InsPath, body: MessageIn, actor: CurrentActor, session: SessionDep,
                            settings: SettingsDep) -> MessageSummaryRead:
    """The only conversation a patient may start (since May 2023): with the organisational mailbox of a pharmacy
    of `GET .../pharmacies`. Anyone else is `403` (`MES:conversation-start`)."""
    sent = await service.write_to_pharmacy(session, settings=settings, actor=actor, ins=ins, mailbox=body.to,
                                           subject=body.subject, text=body.text,
                                           attachments=_attachments(body.attachments))
    return summary_read(sent)


__all__ = ["router"]
