"""Submission through the HTTP API: a message composed from JSON or given raw (RFC 5322), then what the
SMTP listener does for one transaction. Refusals are :class:`app.mss.exceptions.MessageRefused` (with the
SMTP reply the listener would have given) or :class:`app.mss.exceptions.SenderNotMailbox`."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncSession

from app.mss import addresses, checks, notifications
from app.mss.analysis import Envelope, analyse
from app.mss.compose import compose
from app.mss.deliveries import send_dsn, store
from app.mss.exceptions import (
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
