"""Reading a mailbox: its deliveries listed and searched (in one folder), one message and its parts, deleting
a delivery."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.mss import changes, folders
from app.mss.exceptions import UnknownMessage, UnknownPart
from app.mss.mime import ParsedMessage, Part
from app.mss.models import MssDelivery, MssFolder, MssMailbox, MssMessage
from app.mss.parser import message_parser, parse_message

if TYPE_CHECKING:
    from app.config import Settings


@dataclass
class MessageFilter:
    sender: str | None = None
    subject: str | None = None
    since: Any = None
    before: Any = None
    has_xdm: bool | None = None
    unread: bool | None = None
    kind: str | None = None
    folder: str | None = None
    """A folder's name (``INBOX``...); None: every delivery of the mailbox, whatever its folder."""
    limit: int = 50
    offset: int = 0


async def list_deliveries(session: AsyncSession, *, mailbox: MssMailbox,
                          flt: MessageFilter) -> tuple[int, list[tuple[MssDelivery, MssMessage]]]:
    stmt = (select(MssDelivery, MssMessage).join(MssMessage, MssMessage.id == MssDelivery.message_id)
            .where(MssDelivery.mailbox_id == mailbox.id))
    if flt.folder is not None:
        stmt = stmt.where(await folders.in_folder(session, mailbox, flt.folder))  # UnknownFolder
    if flt.sender:
        like = f"%{flt.sender.lower()}%"
        stmt = stmt.where(or_(func.lower(MssMessage.envelope_from).like(like),
                              func.lower(MssMessage.from_header).like(like)))
    if flt.subject:
        stmt = stmt.where(func.lower(MssMessage.subject).like(f"%{flt.subject.lower()}%"))
    if flt.since is not None:
        stmt = stmt.where(MssMessage.received_at >= flt.since)
    if flt.before is not None:
        stmt = stmt.where(MssMessage.received_at < flt.before)
    if flt.has_xdm is not None:
        stmt = stmt.where(MssMessage.has_xdm.is_(flt.has_xdm))
    if flt.unread is not None:
        stmt = stmt.where(MssDelivery.seen.is_(not flt.unread))
    if flt.kind:
        stmt = stmt.where(MssMessage.kind == flt.kind)
    total = await session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = (await session.execute(
        stmt.order_by(MssMessage.received_at.desc(), MssMessage.id.desc()).limit(flt.limit).offset(flt.offset)
    )).all()
    return total, [(d, m) for d, m in rows]


async def get_delivery(
    session: AsyncSession, *, mailbox: MssMailbox, uid: str
) -> tuple[MssDelivery, MssMessage] | None:
    """The delivery of message ``uid`` in the mailbox (``latest``: the newest in the INBOX). A message copied
    into other folders (IMAP COPY) has several: the INBOX's first, then the oldest."""
    if uid == "latest":
        _, rows = await list_deliveries(session, mailbox=mailbox, flt=MessageFilter(limit=1, folder=folders.INBOX))
        return rows[0] if rows else None
    row = (await session.execute(
        select(MssDelivery, MssMessage).join(MssMessage, MssMessage.id == MssDelivery.message_id)
        .where(MssDelivery.mailbox_id == mailbox.id, MssMessage.uid == uid)
        .order_by(MssDelivery.folder_id.is_not(None), MssDelivery.id).limit(1)
    )).first()
    return (row[0], row[1]) if row else None


async def load_delivery(session: AsyncSession, *, mailbox: MssMailbox, uid: str) -> tuple[MssDelivery, MssMessage]:
    """:func:`get_delivery`, or :class:`UnknownMessage`."""
    found = await get_delivery(session, mailbox=mailbox, uid=uid)
    if found is None:
        raise UnknownMessage(uid, mailbox.address)
    return found


async def parsed(settings: Settings, message: MssMessage) -> ParsedMessage:
    """The stored message parsed (with the same bounds on the event loop as at reception)."""
    return await parse_message(message.raw, message_parser(settings))


async def load_part(settings: Settings, message: MssMessage, index: int) -> tuple[Part, bytes]:
    """One MIME part of a stored message and its decoded content, or :class:`UnknownPart`."""
    view = await parsed(settings, message)
    if not 0 <= index < len(view.parts):
        raise UnknownPart(message.uid, len(view.parts))
    return view.parts[index], view.payloads[index]


async def delete_delivery(session: AsyncSession, *, mailbox: MssMailbox, delivery: MssDelivery) -> None:
    """Delete a message from its folder; the folder's UIDNEXT stays (RFC 3501 §2.3.1.1)."""
    await session.delete(delivery)
    await session.flush()
    await folders.note_removed(session, mailbox_id=mailbox.id, folder_id=delivery.folder_id, uid=delivery.id)
    await changes.announce_after_commit(session, [mailbox.address])


async def folder_name(session: AsyncSession, delivery: MssDelivery) -> str:
    """The name of the folder a delivery is in."""
    if delivery.folder_id is None:
        return folders.INBOX
    return await session.scalar(select(MssFolder.name).where(MssFolder.id == delivery.folder_id)) or folders.INBOX


async def message_uid(session: AsyncSession, message_id: int | None) -> str | None:
    if message_id is None:
        return None
    return await session.scalar(select(MssMessage.uid).where(MssMessage.id == message_id))
