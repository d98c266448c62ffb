"""The patient's messaging in Mon espace santé (MSSanté « citoyenne »): the patient mailbox
``<INS>@patient.mssante.fr`` as an inbox, replies within a conversation a professional opened (until it is closed
by ``X-MSS-MES: FIN`` or ``[FIN]``), and the pharmacy exception. Over :mod:`app.mss.service` only: what the
patient sends is submitted as any message, so it reaches the professional's mailbox (IMAP, HTTP) at once, with
the patient's name and address in From (SC.MSS/UX.25), and the MSS checks refuse what Mon espace santé does not
allow (the rules: :mod:`app.mss.citizen`, ENS Mon espace santé Messagerie v1.3).

Refusals: another patient's message, or one the patient does not have, is :class:`MesNotFound`; a reply to a
closed conversation :class:`MesConflict`; a first message to anyone but a pharmacy that recently dispensed to the
patient :class:`MesForbiddenAction`; a message over 25 MB or a bad attachment :class:`MesInvalid`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import parseaddr
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.mes.exceptions import MesConflict, MesForbiddenAction, MesInvalid, MesNotFound
from app.mes.persons import Person, patient_for
from app.mss import service as mss

if TYPE_CHECKING:
    from app.config import Settings

citizen = mss.citizen
MAX_MESSAGE_BYTES = citizen.MES_MAX_MESSAGE_BYTES
"""ENS MES v1.3: 25 MB per message in total; the patient's attachments are bounded by it."""
MAX_TEXT_CHARS = 100_000
MAX_SUBJECT_CHARS = 250
_CONTENT_TYPE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,63}/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,63}$")


@dataclass(frozen=True)
class Attachment:
    """A file the patient attaches (``content`` decoded), or one of a message (``content`` empty, ``size``)."""

    filename: str
    content_type: str
    content: bytes = b""
    size: int = 0
    index: int | None = None
    """Its MIME part number in the message (to fetch it)."""


@dataclass(frozen=True)
class MessageSummary:
    id: str
    subject: str
    sender: str
    sender_name: str
    recipients: list[str]
    at: datetime
    direction: str  # received / sent
    seen: bool
    attachments: int
    conversation_id: str
    """The Message-ID of the conversation's first message (or this message's id)."""
    closes_conversation: bool
    """The message closes its conversation (``X-MSS-MES: FIN`` or ``[FIN]`` in the subject)."""


@dataclass(frozen=True)
class MessageDetail:
    summary: MessageSummary
    message_id: str | None
    in_reply_to: str | None
    reply_to: list[str]
    headers: list[tuple[str, str]]
    text: str
    attachments: list[Attachment]
    xdm: list[dict[str, Any]]
    reply_allowed: bool
    reply_refusal: str | None
    """Why the patient cannot reply (French — English), None when they can."""
    replies_go_to: list[str]
    """Where a reply goes: the Reply-To of the latest message of the professional's side, else its From."""
    conversation: list[MessageSummary] = field(default_factory=list)


@dataclass(frozen=True)
class Pharmacy:
    address: str
    name: str
    dispensed_at: datetime


# --- reading ----------------------------------------------------------------------------------------------

async def _mailbox(session: AsyncSession, *, actor: Person, ins: str) -> Any:
    """The patient mailbox of the patient the actor acts for (:class:`MesNotFound` otherwise); None when the
    patient has none (no messages, nothing to send from)."""
    patient = await patient_for(session, actor=actor, ins=ins)
    return await mss.patient_mailbox_of(session, ins=patient.ins)


def _summary(row: Any, delivery: Any, fact: Any, conversation: Any) -> MessageSummary:
    name, address = parseaddr(row.from_header or "")
    opener = conversation.opener if conversation is not None else fact
    return MessageSummary(
        id=row.uid, subject=row.subject or "", sender=(address or row.envelope_from or "").lower(),
        sender_name=name or address or row.envelope_from or "", recipients=list(fact.recipients),
        at=row.received_at, direction="sent" if delivery is None else "received",
        seen=True if delivery is None else bool(delivery.seen),
        attachments=sum(1 for p in row.parts or [] if p.get("is_attachment")),
        conversation_id=opener.message_id or row.uid, closes_conversation=citizen.closing(fact) is not None,
    )


async def _indexed(session: AsyncSession, mailbox: Any) -> tuple[list[tuple[Any, Any, Any]], list[Any]]:
    rows = await mss.patient_messages(session, mailbox=mailbox)
    facts = [mss.thread_message(m, patient=mailbox.address) for m, _ in rows]
    conversations = citizen.threads(facts)
    return [(m, d, f) for (m, d), f in zip(rows, facts, strict=True)], conversations


def _conversation_of(conversations: list[Any], fact: Any) -> Any:
    return next((c for c in conversations if any(m is fact for m in c.messages)), None)


async def inbox(session: AsyncSession, *, actor: Person, ins: str) -> list[MessageSummary]:
    """The patient's messages, newest first: those professionals sent (``received``) and the patient's own
    (``sent``); MES bounces and receipts are the operator's business, not listed."""
    mailbox = await _mailbox(session, actor=actor, ins=ins)
    if mailbox is None:
        return []
    indexed, conversations = await _indexed(session, mailbox)
    found = [_summary(m, d, f, _conversation_of(conversations, f)) for m, d, f in indexed]
    return sorted(found, key=lambda s: s.at, reverse=True)


@dataclass
class _Found:
    mailbox: Any
    row: Any
    delivery: Any
    fact: Any
    conversation: Any
    indexed: list[tuple[Any, Any, Any]]


async def _find(session: AsyncSession, *, actor: Person, ins: str, message_id: str) -> _Found:
    mailbox = await _mailbox(session, actor=actor, ins=ins)
    if mailbox is not None:
        indexed, conversations = await _indexed(session, mailbox)
        for row, delivery, fact in indexed:
            if row.uid == message_id:
                return _Found(mailbox, row, delivery, fact, _conversation_of(conversations, fact), indexed)
    raise MesNotFound(f"no message {message_id} in your mailbox", rule="MES:message-unknown",
                      french=f"aucun message {message_id} dans votre messagerie")


def _reply_verdict(conversation: Any, mailbox: Any) -> tuple[bool, str | None]:
    if not mailbox.active:
        return False, ("votre messagerie est fermée (profil clôturé) — your mailbox is closed (profile closed)")
    if not conversation.reply_to():
        return False, ("personne à qui répondre : message automatique, ou pas encore de réponse du destinataire — "
                       "nobody to reply to (an automatic message, or no answer yet)")
    verdict = citizen.patient_may_send(conversation=conversation, recipients=conversation.reply_to(),
                                       pharmacies=())
    return verdict.allowed, None if verdict.allowed else verdict.message


async def read_message(session: AsyncSession, *, settings: Settings, actor: Person, ins: str,
                       message_id: str) -> MessageDetail:
    """One message of the patient's mailbox, its text, attachments and decoded XDM, whether a reply is allowed and
    why not. Reading a received message marks it read, which sends the read receipt (MDN, RFC 8098) the
    professional asked for with ``Disposition-Notification-To``, once."""
    found = await _find(session, actor=actor, ins=ins, message_id=message_id)
    mailbox, row, delivery, fact, conversation = found.mailbox, found.row, found.delivery, found.fact, \
        found.conversation
    if delivery is not None and not delivery.seen:
        await mss.mark_read(session, settings, mailbox=mailbox, delivery=delivery, message=row)
    view = await mss.parsed(settings, row)
    text = ""
    attachments: list[Attachment] = []
    for part, payload in zip(view.parts, view.payloads, strict=False):
        if part.is_attachment:
            attachments.append(Attachment(filename=part.filename or f"piece-{part.index}",
                                          content_type=part.content_type, size=part.size, index=part.index))
        elif not text and part.content_type == "text/plain":
            text = payload.decode(part.charset or "utf-8", errors="replace")
    allowed, refusal = _reply_verdict(conversation, mailbox)
    ids = {m.message_id for m in conversation.messages if m.message_id}
    thread = [_summary(m, d, f, conversation) for m, d, f in found.indexed
              if f.message_id in ids or m.uid == row.uid]
    return MessageDetail(
        summary=_summary(row, delivery, fact, conversation),
        message_id=row.message_id, in_reply_to=row.in_reply_to, reply_to=list(fact.reply_to),
        headers=[(str(k), str(v)) for k, v in row.headers or []], text=text, attachments=attachments,
        xdm=list(row.xdm or []), reply_allowed=allowed, reply_refusal=refusal,
        replies_go_to=conversation.reply_to(fact), conversation=thread,
    )


async def message_attachment(session: AsyncSession, *, settings: Settings, actor: Person, ins: str,
                             message_id: str, index: int) -> Attachment:
    """One attachment of a message of the patient's mailbox, with its content."""
    view = await mss.parsed(settings, (await _find(session, actor=actor, ins=ins, message_id=message_id)).row)
    for part, payload in zip(view.parts, view.payloads, strict=False):
        if part.index == index and part.is_attachment:
            return Attachment(filename=part.filename or f"piece-{part.index}", content_type=part.content_type,
                              content=payload, size=len(payload), index=part.index)
    raise MesNotFound(f"message {message_id} has no attachment {index}", rule="MES:attachment-unknown",
                      french=f"le message {message_id} n'a pas de pièce jointe {index}")


# --- writing ----------------------------------------------------------------------------------------------

def _check_content(*, subject: str, text: str, attachments: Sequence[Attachment]) -> None:
    if len(subject) > MAX_SUBJECT_CHARS or "\r" in subject or "\n" in subject:
        raise MesInvalid(f"the subject is one line of at most {MAX_SUBJECT_CHARS} characters",
                         french=f"l'objet tient sur une ligne de {MAX_SUBJECT_CHARS} caractères au plus",
                         rule="MES:message-subject", unprocessable=True)
    if len(text) > MAX_TEXT_CHARS:
        raise MesInvalid(f"the text is at most {MAX_TEXT_CHARS} characters", rule="MES:message-text",
                         french=f"le texte fait au plus {MAX_TEXT_CHARS} caractères", unprocessable=True)
    for i, att in enumerate(attachments):
        if not att.filename or len(att.filename) > 200 or any(c in att.filename for c in "\r\n\0/\\"):
            raise MesInvalid(f"attachments[{i}].filename: a file name of 1 to 200 characters, no path",
                             french=f"pièce jointe {i} : un nom de fichier de 1 à 200 caractères, sans chemin",
                             rule="MES:attachment-name", unprocessable=True)
        if not _CONTENT_TYPE.match(att.content_type):
            raise MesInvalid(f"attachments[{i}].content_type: a media type such as application/pdf",
                             french=f"pièce jointe {i} : un type de média comme application/pdf",
                             rule="MES:attachment-type", unprocessable=True)
    total = len(subject.encode()) + len(text.encode()) + sum(len(a.content) for a in attachments)
    if total > MAX_MESSAGE_BYTES:
        raise MesInvalid(f"a message to or from Mon espace santé is at most 25 MB in total ({total} bytes)",
                         french=f"un message Mon espace santé fait au plus 25 Mo au total ({total} octets)",
                         rule="MES:message-size", too_large=True)


async def _send(session: AsyncSession, settings: Settings, *, mailbox: Any, to: list[str], subject: str, text: str,
                attachments: Sequence[Attachment], in_reply_to: str | None, references: list[str]) -> Any:
    try:
        submission = await mss.send_as_patient(
            session, settings, mailbox=mailbox, to=to, subject=subject, text=text,
            attachments=[(a.filename, a.content_type, a.content) for a in attachments], in_reply_to=in_reply_to,
            references=references)
    except mss.MessageRefused as exc:
        if exc.rule == "MSS:MSS.MES.REPLY":
            raise MesConflict(exc.detail, rule="MES:conversation-closed",
                              french="la conversation est close : vous ne pouvez plus y répondre") from None
        if exc.rule == "MSS:MSS.MES.START":
            raise MesForbiddenAction(exc.detail, rule="MES:conversation-start",
                                     french="un patient ne peut pas initier cette conversation") from None
        raise MesInvalid(exc.detail, rule=exc.rule, unprocessable=True,
                         too_large=exc.rule in ("MSS:size", "MSS:mes.size")) from None
    except mss.MssError as exc:
        raise MesInvalid(exc.detail, rule=exc.rule, unprocessable=True) from None
    return submission


def _summary_of_sent(submission: Any, mailbox: Any, *, to: list[str], subject: str, attachments: int,
                     conversation_id: str | None) -> MessageSummary:
    row = submission.message
    return MessageSummary(
        id=row.uid, subject=subject, sender=mailbox.address, sender_name=mailbox.display_name,
        recipients=[a.lower() for a in to], at=row.received_at, direction="sent", seen=True, attachments=attachments,
        conversation_id=conversation_id or row.message_id or row.uid,
        closes_conversation=citizen.SUBJECT_FIN in subject,
    )


def _open_mailbox(mailbox: Any) -> Any:
    if mailbox is None:
        raise MesNotFound("this patient has no Mon espace santé mailbox", rule="MES:mailbox-unknown",
                          french="ce patient n'a pas de messagerie Mon espace santé")
    if not mailbox.active:
        raise MesConflict("the patient's mailbox is closed (profile closed)", rule="MES:mailbox-closed",
                          french="la messagerie du patient est fermée (profil clôturé)")
    return mailbox


async def reply(session: AsyncSession, *, settings: Settings, actor: Person, ins: str, message_id: str, text: str,
                attachments: Sequence[Attachment] = ()) -> MessageSummary:
    """Reply within the conversation of ``message_id``, to its ``Reply-To`` when set (else its From): refused with
    :class:`MesConflict` once the conversation is closed (``X-MSS-MES: FIN`` or ``[FIN]`` in a subject of it)."""
    found = await _find(session, actor=actor, ins=ins, message_id=message_id)
    mailbox, row, fact, conversation = _open_mailbox(found.mailbox), found.row, found.fact, found.conversation
    closed = conversation.closed_by
    if closed is not None:
        verdict = citizen.patient_may_send(conversation=conversation, recipients=[], pharmacies=())
        raise MesConflict(verdict.message, rule="MES:conversation-closed",
                          french=verdict.message.split(" — ")[0])
    to = conversation.reply_to(fact)
    if not to:
        raise MesConflict("nobody to reply to in this conversation", rule="MES:conversation-empty",
                          french="personne à qui répondre dans cette conversation")
    subject = row.subject or ""
    subject = subject if subject.lower().startswith(("re:", "re :")) else f"Re: {subject}".strip()
    _check_content(subject=subject[:MAX_SUBJECT_CHARS], text=text, attachments=attachments)
    references = [m.message_id for m in conversation.messages if m.message_id][-20:]
    submission = await _send(session, settings, mailbox=mailbox, to=to, subject=subject[:MAX_SUBJECT_CHARS],
                             text=text, attachments=attachments, in_reply_to=row.message_id, references=references)
    return _summary_of_sent(submission, mailbox, to=to, subject=subject[:MAX_SUBJECT_CHARS],
                            attachments=len(attachments), conversation_id=conversation.opener.message_id)


async def pharmacies(session: AsyncSession, *, settings: Settings, actor: Person, ins: str) -> list[Pharmacy]:
    """The organisational mailboxes of the pharmacies that dispensed to the patient within
    ``SEGUR_MSS_PHARMACY_WINDOW_DAYS``, the latest first: the only ones the patient may write to first."""
    patient = await patient_for(session, actor=actor, ins=ins)
    return [Pharmacy(address=m.address, name=m.display_name, dispensed_at=at)
            for m, at in await mss.recent_pharmacies(session, settings, ins=patient.ins)]


async def write_to_pharmacy(session: AsyncSession, *, settings: Settings, actor: Person, ins: str, mailbox: str,
                            subject: str, text: str, attachments: Sequence[Attachment] = ()) -> MessageSummary:
    """Start a conversation with a pharmacy (Mon espace santé's pharmacy exception): ``mailbox`` must be the
    organisational mailbox of one that recently dispensed to the patient (:func:`pharmacies`), else
    :class:`MesForbiddenAction`."""
    own = _open_mailbox(await _mailbox(session, actor=actor, ins=ins))
    allowed = {p.address.lower(): p for p in await pharmacies(session, settings=settings, actor=actor, ins=ins)}
    target = mailbox.strip().lower()
    if target not in allowed:
        raise MesForbiddenAction(
            f"{mailbox} is not the organisational mailbox of a pharmacy that dispensed to you in the last "
            f"{settings.mss_pharmacy_window_days} days: a patient cannot start a conversation with anyone else",
            french=f"{mailbox} n'est pas la boîte organisationnelle d'une pharmacie qui vous a délivré des "
                   f"médicaments ces {settings.mss_pharmacy_window_days} derniers jours : un patient ne peut pas "
                   "initier de conversation avec un autre destinataire",
            rule="MES:conversation-start")
    if not subject.strip():
        raise MesInvalid("a subject is required", french="l'objet est obligatoire", rule="MES:message-subject",
                         unprocessable=True)
    _check_content(subject=subject, text=text, attachments=attachments)
    submission = await _send(session, settings, mailbox=own, to=[allowed[target].address], subject=subject,
                             text=text, attachments=attachments, in_reply_to=None, references=[])
    return _summary_of_sent(submission, own, to=[allowed[target].address], subject=subject,
                            attachments=len(attachments), conversation_id=None)
