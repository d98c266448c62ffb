"""Delivering a message: one delivery row per recipient (delivered, relayed or failed), the DSNs the
envelope asked for (RFC 3461 NOTIFY) and the delivery receipts (Return-Receipt-To, SC.MSS/va1.15)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from email.utils import getaddresses
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.db import utcnow
from app.mss import changes, checks, citizen, mime, notifications
from app.mss.analysis import Analysis, Envelope, analyse, mes_bounce
from app.mss.mailboxes import get_mailbox
from app.mss.models import MssDelivery, MssMailbox
from app.mss.parser import message_parser
from app.mss.store import StoredMessage, lock_mailboxes, mailbox_ids, message_store

if TYPE_CHECKING:
    from app.config import Settings


def _clip(value: str | None, size: int) -> str | None:
    return None if value is None else value[:size]


@dataclass
class DeliveryPlan:
    """What storing one message does: its row, one delivery row per recipient (``message_id`` added once
    the message row exists), and the notifications due (RFC 3461 NOTIFY; Return-Receipt-To)."""

    message: dict[str, Any]
    deliveries: list[dict[str, Any]]
    dsn: list[notifications.DsnRecipient]
    receipt_to: str | None
    receipt: list[notifications.DsnRecipient]
    mailboxes: list[str]
    """The addresses of the mailboxes it is delivered into (their INBOX changes)."""

    @property
    def notifies(self) -> bool:
        return bool(self.dsn or self.receipt)


def plan_delivery(raw: bytes, envelope: Envelope, analysis: Analysis) -> DeliveryPlan:
    parsed = analysis.parsed
    outcomes: list[tuple[notifications.DsnRecipient, str | None]] = []
    deliveries: list[dict[str, Any]] = []
    mailboxes: list[str] = []
    now = utcnow()
    for (address, notify), verdict in zip(envelope.recipients, analysis.verdicts, strict=True):
        if verdict.role == "external":
            status, dsn = "relayed", notifications.DsnRecipient(address, "relayed", "2.0.0")
        elif (bounce := mes_bounce(verdict, len(raw))) is not None:
            # ENS MES v1.3: Mon espace santé bounces it ("Message non distribué"), in its own words.
            status = "failed"
            dsn = notifications.DsnRecipient(address, "failed", bounce.status,
                                             citizen.bounce_diagnostic(bounce, address, size=len(raw)),
                                             bounce=bounce.code)
        elif verdict.mailbox is not None and not verdict.mailbox.active:
            status = "failed"
            dsn = notifications.DsnRecipient(address, "failed", "5.2.1",
                                             f"550 5.2.1 <{address}>: mailbox disabled (closed)")
        elif verdict.mailbox is not None:
            status, dsn = "delivered", notifications.DsnRecipient(address, "delivered", "2.0.0")
            mailboxes.append(verdict.mailbox.address)
        else:
            status = "failed"
            dsn = notifications.DsnRecipient(address, "failed", "5.1.1", verdict.reply or "550 5.1.1 unknown")
        deliveries.append(_delivery_row(
            message_id=None, mailbox_id=verdict.mailbox.id if verdict.mailbox and status == "delivered"
            else None, recipient=address, status=status, notify=notify, at=now,
        ))
        outcomes.append((dsn, notify))
    wanted = [
        dsn for dsn, notify in outcomes
        if (dsn.action == "failed" and "NEVER" not in (notify or "FAILURE").upper()
            and "FAILURE" in (notify or "FAILURE").upper())
        or (dsn.action in ("delivered", "relayed") and "SUCCESS" in (notify or "").upper())
    ]
    # SC.MSS/va1.15: the REM names the (non-standard) Return-Receipt-To header for asking a delivery
    # notification; when present and no SMTP-level NOTIFY=SUCCESS already reported success, the delivered
    # recipients are reported to that address.
    receipt_to = [a for _, a in getaddresses(parsed.header_all("Return-Receipt-To")) if a]
    delivered = [dsn for dsn, notify in outcomes
                 if dsn.action in ("delivered", "relayed") and "SUCCESS" not in (notify or "").upper()]
    receipt = receipt_to[0].lower() if receipt_to and delivered and mime.valid_address(receipt_to[0].lower()) \
        else None
    return DeliveryPlan(
        message=_message_row(raw, parsed, envelope, kind="message", report=analysis.report.to_dict(),
                             attachments=analysis.attachments),
        deliveries=deliveries, dsn=wanted if envelope.mail_from else [], receipt_to=receipt,
        receipt=delivered if receipt else [], mailboxes=mailboxes,
    )


async def store(
    session: AsyncSession, settings: Settings, raw: bytes, envelope: Envelope, analysis: Analysis
) -> StoredMessage:
    """Store one accepted message and deliver it to every recipient, in the caller's transaction
    (never half-stored), then the DSN(s) the envelope asked for (RFC 3461 NOTIFY).

    The mailboxes it writes into, the recipients' and those of the notifications, are locked together first
    (:func:`app.mss.store.lock_mailboxes`: UIDs ascend in commit order): two transactions that each deliver
    into the other's sender, with a DSN back, would otherwise wait for each other."""
    plan = plan_delivery(raw, envelope, analysis)
    writer = message_store(settings)
    message = await writer.add_message(session, plan.message)
    await lock_mailboxes(session, mailbox_ids(plan.deliveries) + await local_mailbox_ids(
        session, ([envelope.mail_from] if plan.dsn else []) + ([plan.receipt_to] if plan.receipt_to else [])))
    await writer.add_deliveries(session, message, plan.deliveries)
    await changes.announce_after_commit(session, plan.mailboxes)
    operator = [d for d in plan.dsn if d.bounce is None]
    mes = [d for d in plan.dsn if d.bounce is not None]
    if operator:
        await send_dsn(session, settings, original=message, parsed=analysis.parsed, sender=envelope.mail_from,
                       recipients=operator, envelope_id=envelope.envelope_id)
    if mes:
        await send_mes_bounce(session, settings, original=message, parsed=analysis.parsed,
                              sender=envelope.mail_from, recipients=mes, envelope_id=envelope.envelope_id)
    if plan.receipt_to:
        await send_dsn(session, settings, original=message, parsed=analysis.parsed, sender=plan.receipt_to,
                       recipients=plan.receipt, envelope_id=envelope.envelope_id)
    return message


async def store_at_once(session: AsyncSession, settings: Settings, raw: bytes, envelope: Envelope,
                        analysis: Analysis) -> StoredMessage | None:
    """:func:`store` as one statement (the message row and its delivery rows in a data-modifying CTE,
    PostgreSQL only), so that a session in autocommit mode stores it atomically without the BEGIN and
    COMMIT round trips. None, and nothing written, when notifications are due: those need :func:`store`
    in a transaction. The mailboxes it delivered into are announced at once, the statement having committed
    by itself: the other workers by the ``pg_notify`` the statement sends, this one's subscribers then."""
    plan = plan_delivery(raw, envelope, analysis)
    if plan.notifies:
        return None
    note = changes.notification(session, plan.mailboxes)
    message = await message_store(settings).add_message_with_deliveries(session, plan.message, plan.deliveries,
                                                                        notify=note)
    if note is not None:
        changes.announce_here(session, plan.mailboxes)
    else:
        await changes.announce_now(session, plan.mailboxes)
    return message


async def local_mailbox_ids(session: AsyncSession, addresses: list[str]) -> list[int]:
    """The ids of the open mailboxes of the sandbox among ``addresses`` (where a notification is delivered)."""
    found = []
    for address in addresses:
        mailbox = await get_mailbox(session, address)
        if mailbox is not None and mailbox.active:
            found.append(mailbox.id)
    return found


def _message_row(raw: bytes, parsed: mime.ParsedMessage, envelope: Envelope, *, kind: str,
                 report: dict[str, Any], attachments: list[checks.XdmAttachment],
                 related_id: int | None = None) -> dict[str, Any]:
    """The column values of one ``mss_message`` row."""
    xdm_view = [
        {"part": a.part.index, "filename": a.part.filename,
         "package": a.package.to_dict() if a.package else None,
         "error": {"code": a.error.code, "message": a.error.message} if a.error else None}
        for a in attachments
    ]
    return dict(
        uid=uuid.uuid4().hex, kind=kind, related_id=related_id, transport=envelope.transport,
        envelope_from=envelope.mail_from, auth_identity=envelope.auth_identity,
        message_id=_clip(parsed.message_id, 998), in_reply_to=_clip(parsed.header("In-Reply-To"), 998),
        from_header=parsed.header("From"), subject=parsed.subject, date_header=_clip(parsed.header("Date"), 256),
        size=len(raw), raw=raw, headers=[[k, v] for k, v in parsed.headers],
        parts=[p.to_dict() for p in parsed.parts], xdm=xdm_view, report=report,
        has_xdm=bool(attachments), conversation_closed=citizen.closing(citizen.ThreadMessage(
            message_id=None, parents=(), subject=parsed.subject or "", mes=parsed.header("X-MSS-MES"), sender="",
        )) is not None,
        received_at=utcnow(),
    )


def _delivery_row(*, message_id: int | None, mailbox_id: int | None, recipient: str, status: str, notify: str | None,
                  at: Any) -> dict[str, Any]:
    return dict(message_id=message_id, mailbox_id=mailbox_id, recipient=recipient, status=status, notify=notify,
                seen=False, seen_at=None, mdn_id=None, delivered_at=at)


async def deliver_local(session: AsyncSession, settings: Settings, *, raw: bytes, kind: str, to: str,
                        mail_from: str, related_id: int, transport: str) -> StoredMessage:
    """Deliver a notification the operator writes itself (a DSN, an MDN) to ``to``: into its mailbox when
    it is one of the sandbox's and open, relayed otherwise."""
    parsed = message_parser(settings).parse_message(raw)
    envelope = Envelope(mail_from=mail_from, recipients=[(to, "NEVER")], transport=transport)
    writer = message_store(settings)
    row = await writer.add_message(session, _message_row(raw, parsed, envelope, kind=kind, report={}, attachments=[],
                                                         related_id=related_id))
    mailbox = await get_mailbox(session, to)
    await writer.add_deliveries(session, row, [_delivery_row(
        message_id=row.id, mailbox_id=mailbox.id if mailbox and mailbox.active else None, recipient=to,
        status="delivered" if mailbox and mailbox.active else "relayed", notify="NEVER", at=utcnow())])
    if mailbox is not None and mailbox.active:
        await changes.announce_after_commit(session, [mailbox.address])
    return row


async def keep_copy(session: AsyncSession, settings: Settings, *, mailbox: MssMailbox, raw: bytes,
                    folder_id: int | None, seen: bool, flags: list[str], at: Any) -> int:
    """Keep a message the mailbox's user stores itself (IMAP APPEND, RFC 3501 §6.3.11: a draft, the copy of
    a sent message): parsed, its XDM read and the MSSanté checks run as for a message it sends (the report is
    kept, nothing is refused: it is a copy, never sent), one delivery row with status ``stored``. Returns
    the row's id (its UID)."""
    envelope = Envelope(mail_from=mailbox.address, recipients=[], transport="imap")
    analysis = await analyse(session, settings, raw, envelope, verdicts=[], sender=mailbox, sender_known=True)
    writer = message_store(settings)
    row = await writer.add_message(session, _message_row(raw, analysis.parsed, envelope, kind="message",
                                                         report=analysis.report.to_dict(),
                                                         attachments=analysis.attachments))
    delivery = MssDelivery(message_id=row.id, mailbox_id=mailbox.id, recipient=mailbox.address, status="stored",
                           notify=None, seen=seen, seen_at=utcnow() if seen else None, mdn_id=None,
                           delivered_at=at, folder_id=folder_id, flags=flags)
    await lock_mailboxes(session, [mailbox.id])  # its UID drawn in commit order (app.mss.store)
    session.add(delivery)
    await session.flush()
    return delivery.id


async def send_dsn(session: AsyncSession, settings: Settings, *, original: StoredMessage,
                   parsed: mime.ParsedMessage, sender: str,
                   recipients: list[notifications.DsnRecipient], envelope_id: str | None = None) -> StoredMessage:
    raw = notifications.build_dsn(hostname=settings.mss_smtp_hostname, original_sender=sender,
                                  recipients=recipients, original=parsed, arrival=original.received_at,
                                  envelope_id=envelope_id)
    return await deliver_local(session, settings, raw=raw, kind="dsn", to=sender, mail_from="",
                                related_id=original.id, transport="dsn")


async def send_mes_bounce(session: AsyncSession, settings: Settings, *, original: StoredMessage,
                          parsed: mime.ParsedMessage, sender: str, recipients: list[notifications.DsnRecipient],
                          envelope_id: str | None = None) -> StoredMessage:
    """The bounce Mon espace santé sends for patient addresses it cannot deliver to (ENS MES v1.3, "Message non
    distribué"): an RFC 3464 DSN like the operator's, in MES's words (:func:`app.mss.citizen.bounce_text`)."""
    text = citizen.bounce_text([(r.address, citizen.BOUNCES[r.bounce or ""]) for r in recipients],
                               original_subject=parsed.subject or "")
    raw = notifications.build_dsn(hostname=settings.mss_smtp_hostname, original_sender=sender, recipients=recipients,
                                  original=parsed, arrival=original.received_at, envelope_id=envelope_id,
                                  from_header=text.sender, subject=text.subject, human_lines=text.lines,
                                  reporting_mta=citizen.BOUNCE_REPORTING_MTA)
    return await deliver_local(session, settings, raw=raw, kind="dsn", to=sender, mail_from="",
                               related_id=original.id, transport="dsn")
