"""What the HTTP faces show of the domain's rows (response models built from mailboxes and messages)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.mss import service
from app.mss.models import MssDelivery, MssMailbox, MssMessage
from app.mss.schemas import FaultRead, MailboxRead, MessageDetail

if TYPE_CHECKING:
    from app.config import Settings


def mailbox_read(m: MssMailbox) -> MailboxRead:
    return MailboxRead(address=m.address, type=m.type, display_name=m.display_name, owner_subject=m.owner_subject,
                       owners=list(m.owners or []), patient_ins=m.patient_ins, structure_id=m.structure_id,
                       service=m.service, active=m.active)


def summary(d: MssDelivery, m: MssMessage, folder: str) -> dict[str, Any]:
    return {
        "uid": m.uid, "imap_uid": d.id, "folder": folder, "kind": m.kind, "sender": m.envelope_from,
        "from_header": m.from_header, "subject": m.subject, "received_at": m.received_at, "size": m.size,
        "has_xdm": m.has_xdm, "seen": d.seen, "conformant": (m.report or {}).get("conformant"),
    }


async def detail(session: AsyncSession, settings: Settings, d: MssDelivery, m: MssMessage) -> MessageDetail:
    parsed = await service.parsed(settings, m)
    return MessageDetail(
        **summary(d, m, await service.folder_name(session, d)), message_id=m.message_id,
        envelope_from=m.envelope_from, recipient=d.recipient, delivery_status=d.status, transport=m.transport,
        auth_identity=m.auth_identity, headers=[(k, v) for k, v in m.headers], parts=m.parts,
        text=parsed.text_body, xdm=m.xdm, report=m.report, related_uid=await service.message_uid(session, m.related_id),
    )


def fault_read(row: Any) -> FaultRead:
    return FaultRead(id=row.id, address=row.address, stage=row.stage, reply=row.reply, count=row.remaining,
                     remaining=row.remaining, disconnect=row.disconnect)
