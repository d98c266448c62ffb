"""Seeding the MSSanté store on reset: the trust space's domains and the fixture mailboxes, a PER mailbox per
PSC professional and a patient mailbox per INS identity, and the dispensations of the pharmacy exception."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import utcnow
from app.ins import service as ins_service
from app.mss.mailboxes import fixture, hash_password, patient_mailbox, per_mailbox, professionals
from app.mss.models import MssDispensation, MssDomain, MssMailbox
from app.mss.patients import declare_dispensation, patient_mailbox_of

if TYPE_CHECKING:
    from app.config import Settings


async def seed(session: AsyncSession, settings: Settings) -> None:
    """Domains and mailboxes from ``fixtures/`` plus a PER mailbox per PSC professional and a patient
    mailbox per INS identity. Idempotent (existing addresses are kept)."""
    domains_fx = fixture("domains.json")
    boxes_fx = fixture("mailboxes.json")
    existing_domains = set((await session.scalars(select(MssDomain.name))).all())
    for item in domains_fx["domains"]:
        if item["name"] not in existing_domains:
            session.add(MssDomain(name=item["name"], role=item["role"], label=item.get("label"),
                                  structures=list(item.get("structures", []))))
    await session.flush()
    taken = {a.lower() for a in (await session.scalars(select(MssMailbox.address))).all()}
    password = hash_password(boxes_fx["default_password"])
    rows: list[MssMailbox] = []

    def add(row: MssMailbox) -> None:
        if row.address.lower() not in taken:
            taken.add(row.address.lower())
            rows.append(row)

    for item in boxes_fx["mailboxes"]:
        add(MssMailbox(
            address=item["address"], domain=item["address"].split("@", 1)[1], type=item["type"],
            display_name=item["display_name"], owners=list(item.get("owners", [])),
            structure_id=item.get("structure_id"), service=item.get("service"),
            description=item.get("description"), password_hash=password, active=item.get("active", True),
        ))
    with_per = set((await session.scalars(
        select(MssMailbox.owner_subject).where(MssMailbox.type == "PER"))).all())
    for professional in await professionals(session):
        if professional.subject_name_id not in with_per:
            add(per_mailbox(professional, taken, password))
    for identity in await _identities(session):
        add(patient_mailbox(identity, password))
    session.add_all(rows)
    await session.flush()
    await _dispensations(session)


async def _dispensations(session: AsyncSession) -> None:
    """The dispensations of ``fixtures/dispensations.json``, dated relative to now (once: none exist yet)."""
    if await session.scalar(select(MssDispensation.id).limit(1)) is not None:
        return
    now = utcnow()
    for item in fixture("dispensations.json")["dispensations"]:
        if await patient_mailbox_of(session, ins=item["ins"]) is not None:
            await declare_dispensation(session, pharmacy=item["pharmacy"], ins=item["ins"],
                                       dispensed_at=now - timedelta(days=item["days_ago"]))


async def _identities(session: AsyncSession) -> list[Any]:
    return [i for i in await ins_service.list_identities(session)
            if getattr(i, "ins", None) and getattr(i, "active", True)]
