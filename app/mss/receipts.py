"""Read receipts: marking a message read, and the MDN (RFC 8098) its sender asked for."""

from __future__ import annotations

from email.utils import getaddresses
from typing import TYPE_CHECKING

from sqlalchemy import inspect, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import utcnow
from app.mss import changes, notifications
from app.mss.deliveries import deliver_local
from app.mss.models import MssDelivery, MssMailbox, MssMessage
from app.mss.parser import message_parser, parse_message
from app.mss.store import StoredMessage

if TYPE_CHECKING:
    from app.config import Settings

_DNT = "disposition-notification-to"


def mdn_target(message: MssMessage) -> str | None:
    """Where the MDN ``message`` asks for goes: the first address of its (first)
    ``Disposition-Notification-To`` (RFC 8098 §2.1), read from the headers decoded at receipt (nothing to
    parse); None when it asks for none, or is not a message (a DSN, an MDN: never answered)."""
    if message.kind != "message":
        return None
    for name, value in message.headers or ():
        if name.lower() == _DNT:
            targets = [address for _, address in getaddresses([value]) if address]
            return targets[0] if targets else None
    return None


async def _raw(session: AsyncSession, message: MssMessage) -> bytes:
    """The message's bytes, read now if the caller loaded the row without them."""
    if "raw" not in inspect(message).unloaded:
        return message.raw
    return await session.scalar(select(MssMessage.raw).where(MssMessage.id == message.id)) or b""


async def mark_read(session: AsyncSession, settings: Settings, *, mailbox: MssMailbox, delivery: MssDelivery,
                    message: MssMessage, disposition: str = "displayed", announce: bool = True) -> StoredMessage | None:
    """Flag as read; when the message asked for one (``Disposition-Notification-To``, RFC 8098 §2.1) and
    none was sent yet, send the MDN to that address. Returns the MDN, if one was sent. A copy the user kept
    (IMAP APPEND, status ``stored``) was not received: no MDN for it.

    The MDN answers the message this mailbox received, not one of its rows: the copies of it in other
    folders (IMAP COPY) share it (RFC 8098 §2.1: one disposition per message; RFC 3503). The mailbox's rows
    of the message are locked first (``SELECT ... FOR UPDATE``): a concurrent mark-read (IMAP ``\\Seen``,
    the HTTP API) waits, then finds the MDN recorded on every one of them and sends none. ``message`` may be
    loaded without its bytes: they are read only to write an MDN. ``announce``: False when the caller
    announces the change itself (once for many messages)."""
    rows = (await session.execute(
        select(MssDelivery.id, MssDelivery.seen, MssDelivery.mdn_id)
        .where(MssDelivery.mailbox_id == mailbox.id, MssDelivery.message_id == message.id)
        .order_by(MssDelivery.id).with_for_update())).all()
    first_time = not next((seen for row_id, seen, _ in rows if row_id == delivery.id), delivery.seen)
    sent = next((mdn_id for _, _, mdn_id in rows if mdn_id is not None), None)
    delivery.seen = True
    delivery.seen_at = delivery.seen_at or utcnow()
    mdn = None
    target = mdn_target(message) if sent is None else None
    if sent is not None:
        delivery.mdn_id = sent
    elif target and (first_time or disposition != "displayed") and delivery.status == "delivered":
        parsed = await parse_message(await _raw(session, message), message_parser(settings))
        raw = notifications.build_mdn(hostname=settings.mss_smtp_hostname, recipient=mailbox.address,
                                      recipient_name=mailbox.display_name, notify_to=target,
                                      original=parsed, disposition=disposition)
        mdn = await deliver_local(session, settings, raw=raw, kind="mdn", to=target,
                                  mail_from=mailbox.address, related_id=message.id, transport="mdn")
        delivery.mdn_id = mdn.id
        await session.execute(update(MssDelivery).where(
            MssDelivery.mailbox_id == mailbox.id, MssDelivery.message_id == message.id,
            MssDelivery.mdn_id.is_(None)).values(mdn_id=mdn.id).execution_options(synchronize_session=False))
    await session.flush()
    if first_time and announce:
        await changes.announce_after_commit(session, [mailbox.address])
    return mdn
