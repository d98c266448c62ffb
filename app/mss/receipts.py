"""Read receipts: marking a message read, and the MDN (RFC 8098) its sender asked for."""

from __future__ import annotations

from email.utils import getaddresses
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncSession

from app.db import utcnow
from app.mss import changes, notifications
from app.mss.deliveries import deliver_local
from app.mss.models import MssDelivery, MssMailbox, MssMessage
from app.mss.parser import message_parser, parse_message
from app.mss.store import StoredMessage

if TYPE_CHECKING:
    from app.config import Settings


async def mark_read(session: AsyncSession, settings: Settings, *, mailbox: MssMailbox, delivery: MssDelivery,
                    message: MssMessage, disposition: str = "displayed") -> StoredMessage | None:
    """Flag as read; when the message asked for one (``Disposition-Notification-To``, RFC 8098 §2.1) and
    none was sent yet, send the MDN to that address. Returns the MDN, if one was sent. A copy the user kept
    (IMAP APPEND, status ``stored``) was not received: no MDN for it."""
    first_time = not delivery.seen
    delivery.seen = True
    delivery.seen_at = delivery.seen_at or utcnow()
    mdn = None
    parsed = await parse_message(message.raw, message_parser(settings))
    dnt = parsed.header("Disposition-Notification-To")
    if (dnt and delivery.mdn_id is None and (first_time or disposition != "displayed") and message.kind == "message"
            and delivery.status == "delivered"):
        targets = [a for _, a in getaddresses([dnt]) if a]
        if targets:
            raw = notifications.build_mdn(hostname=settings.mss_smtp_hostname, recipient=mailbox.address,
                                          recipient_name=mailbox.display_name, notify_to=targets[0],
                                          original=parsed, disposition=disposition)
            mdn = await deliver_local(session, settings, raw=raw, kind="mdn", to=targets[0],
                                       mail_from=mailbox.address, related_id=message.id, transport="mdn")
            delivery.mdn_id = mdn.id
    await session.flush()
    if first_time:
        await changes.announce_after_commit(session, [mailbox.address])
    return mdn
