"""The patient side's fixtures: the legal representations of ``fixtures/representations.json`` (idempotent)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.mes.persons import seed_representations


async def seed(session: AsyncSession, settings: Settings) -> None:
    await seed_representations(session)
