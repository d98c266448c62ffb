"""Fault injection: scripted SMTP failures of a mailbox (control API), consumed by the SMTP listener."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import utcnow
from app.events import publish
from app.mss import addresses
from app.mss.mailboxes import TOPIC_LOOKUPS
from app.mss.models import MssFault

FAULT_STAGES = ("MAIL", "RCPT", "DATA")


async def add_fault(session: AsyncSession, *, address: str, stage: str, reply: str, count: int,
                    disconnect: bool) -> MssFault:
    row = MssFault(address=addresses.normalise(address), stage=stage, reply=reply, remaining=count,
                   disconnect=disconnect, created_at=utcnow())
    session.add(row)
    await session.flush()
    await publish(session, TOPIC_LOOKUPS, row.address)
    return row


async def list_faults(session: AsyncSession, *, address: str) -> list[MssFault]:
    return list((await session.scalars(
        select(MssFault).where(MssFault.address == addresses.normalise(address), MssFault.remaining > 0)
        .order_by(MssFault.id))).all())


async def clear_faults(session: AsyncSession, *, address: str) -> None:
    for row in await list_faults(session, address=address):
        await session.delete(row)
    await session.flush()
    await publish(session, TOPIC_LOOKUPS, addresses.normalise(address))


async def pending_stages(session: AsyncSession, address: str) -> set[str]:
    """The stages with a pending fault for ``address`` (cheap check, cached per SMTP connection)."""
    rows = await session.scalars(select(MssFault.stage).where(
        MssFault.address == addresses.normalise(address), MssFault.remaining > 0))
    return set(rows.all())


async def consume_fault(session: AsyncSession, *, addresses_: list[str], stage: str) -> MssFault | None:
    """Use one pending fault of ``stage`` for any of ``addresses_`` (oldest first)."""
    wanted = [addresses.normalise(a) for a in addresses_]
    row = await session.scalar(
        select(MssFault).where(MssFault.address.in_(wanted), MssFault.stage == stage, MssFault.remaining > 0)
        .order_by(MssFault.id).limit(1))
    if row is None:
        return None
    row.remaining -= 1
    await session.flush()
    return row
