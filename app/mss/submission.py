"""Submission through the HTTP API: a message composed from JSON or given raw (RFC 5322), then what the
SMTP listener does for one transaction. Refusals are :class:`app.mss.exceptions.MessageRefused` (with the
SMTP reply the listener would have given) or :class:`app.mss.exceptions.SenderNotMailbox`."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, make_msgid
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncSession

from app.mss import addresses, checks, citizen, notifications
from app.mss.analysis import Envelope, analyse
from app.mss.compose import compose
from app.mss.deliveries import send_dsn, store
from app.mss.exceptions import (
    InvalidHeader,
    MessageRefused,
    MessageTooLarge,
    NoRecipient,
    RecipientsRefused,
    SenderNotMailbox,
)
from app.mss.models import MssMailbox
from app.mss.parser import message_parser, parse_message
from app.mss.recipients import RecipientVerdict, check_recipient
from app.mss.schemas import MessageCreate
from app.mss.store import StoredMessage

if TYPE_CHECKING:
    from app.config import Settings


@dataclass
class Submission:
    message: StoredMessage
    verdicts: list[RecipientVerdict]
    report: checks.CheckReport


async def submit(session: AsyncSession, settings: Settings, *, raw: bytes, mail_from: str,
                 recipients: list[str], notify: str | None, transport: str = "api",
                 auth_identity: str | None = None) -> Submission:
    """What the SMTP listener does for one transaction, for the HTTP API: recipients outside the trust
    space or unknown are not delivered (a failure DSN goes to the sender, as from a submission server);
    an enforced check refuses the whole message."""
    if len(raw) > settings.mss_max_message_bytes:
        raise MessageTooLarge(len(raw), settings.mss_max_message_bytes)
    unique = list(dict.fromkeys(addresses.normalise(r) for r in recipients if r.strip()))
    if not unique:
        raise NoRecipient
    verdicts = [await check_recipient(session, r) for r in unique]
    accepted = [v for v in verdicts if v.accepted]
    if not accepted:
        first = verdicts[0]
        raise RecipientsRefused("; ".join(v.reply or "" for v in verdicts), rule=first.rule or "MSS:recipients",
                                reply=(first.reply or "550")[:9])
    envelope = Envelope(mail_from=mail_from, recipients=[(v.address, notify) for v in accepted],
                        transport=transport, auth_identity=auth_identity)
    analysis = await analyse(session, settings, raw, envelope)
    if analysis.refused is not None:
        raise analysis.refused
    message = await store(session, settings, raw, envelope, analysis)
    refused = [v for v in verdicts if not v.accepted]
    if refused and mail_from and "NEVER" not in (notify or "FAILURE").upper():
        await send_dsn(session, settings, original=message, parsed=analysis.parsed, sender=mail_from, recipients=[
            notifications.DsnRecipient(v.address, "failed", (v.reply or "550 5.1.1")[4:9], v.reply) for v in refused
        ])
    return Submission(message, verdicts, analysis.report)


async def send_raw(session: AsyncSession, settings: Settings, *, mailbox: MssMailbox, raw: bytes,
                   auth_identity: str | None) -> Submission:
    """Send a raw RFC 5322 message (line ends made CRLF) from ``mailbox`` to its To, Cc and Bcc; its ``From``,
    when present, must be the mailbox."""
    raw = raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    parsed = await parse_message(raw, message_parser(settings))
    recipients = parsed.addresses("To", "Cc", "Bcc")
    from_addr = parsed.from_address[1].lower()
    if from_addr and from_addr != mailbox.address.lower():
        raise SenderNotMailbox(from_addr, mailbox.address)
    return await submit(session, settings, raw=raw, mail_from=mailbox.address, recipients=recipients,
                        notify="FAILURE", auth_identity=auth_identity)


async def send_composed(session: AsyncSession, settings: Settings, *, mailbox: MssMailbox, body: MessageCreate,
                        auth_identity: str | None) -> Submission:
    """Send the message :func:`app.mss.compose.compose` writes from ``body``."""
    raw = await asyncio.to_thread(compose, mailbox, body)  # builds/reads an XDM: off the event loop
    return await submit(session, settings, raw=raw, mail_from=mailbox.address, recipients=body.to + body.cc,
                        notify=",".join(body.notify), auth_identity=auth_identity)


PATIENT_NIL = "MES-SANDBOX"
"""``X-MSS-NIL`` of the messages Mon espace santé sends for a patient (sandbox choice: the referential asks it of
every message, SC.MSS/CONF.16, and MES's own reference is not public)."""


async def send_as_patient(session: AsyncSession, settings: Settings, *, mailbox: MssMailbox, to: list[str],
                          subject: str, text: str, attachments: Sequence[tuple[str, str, bytes]] = (),
                          in_reply_to: str | None = None, references: Sequence[str] = ()) -> Submission:
    """What Mon espace santé sends when the patient of ``mailbox`` writes: From the patient's name and address
    (what the professional's software shows, SC.MSS/UX.25), threaded by In-Reply-To/References, then submitted as
    any message, so the checks of :mod:`app.mss.citizen` (MSS.MES.REPLY, MSS.MES.START) refuse what MES does not
    let a patient send. Refusals as :func:`submit`; a header with CR or LF is :class:`InvalidHeader`."""
    raw = await asyncio.to_thread(_compose_patient, mailbox, to, subject, text, list(attachments), in_reply_to,
                                  list(references))
    if len(raw) > citizen.MES_MAX_MESSAGE_BYTES:  # ENS MES v1.3: 25 MB in total, as sent (attachments encoded)
        raise MessageRefused(f"a Mon espace santé message is at most 25 MB in total; this one is {len(raw)} bytes "
                             "once encoded", rule="MSS:mes.size", reply="552 5.3.4")
    return await submit(session, settings, raw=raw, mail_from=mailbox.address, recipients=to, notify="FAILURE",
                        transport="mes", auth_identity=mailbox.address)


def _compose_patient(mailbox: MssMailbox, to: list[str], subject: str, text: str,
                     attachments: list[tuple[str, str, bytes]], in_reply_to: str | None,
                     references: list[str]) -> bytes:
    msg = EmailMessage()
    msg["From"] = formataddr((mailbox.display_name, mailbox.address))
    try:
        msg["To"] = ", ".join(to)
        msg["Subject"] = subject
        if in_reply_to:
            msg["In-Reply-To"] = in_reply_to
        if references:
            msg["References"] = " ".join(references)
    except ValueError as exc:
        raise InvalidHeader("subject", str(exc)) from None
    msg["Date"] = format_datetime(datetime.now(UTC))
    msg["Message-ID"] = make_msgid(domain=mailbox.domain)
    msg["X-MSS-NIL"] = PATIENT_NIL
    msg.set_content(text or "")
    for filename, content_type, content in attachments:
        maintype, _, subtype = content_type.partition("/")
        try:
            msg.add_attachment(content, maintype=maintype or "application", subtype=subtype or "octet-stream",
                               filename=filename)
        except ValueError as exc:
            raise InvalidHeader("attachments.filename", str(exc)) from None
    return msg.as_bytes(policy=policy.SMTP)
