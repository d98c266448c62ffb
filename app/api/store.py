"""Putting the store back to its fixtures, and seeding it: what `reset` and `segur-sandbox seed` do."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.db import Base
from app.domains import Domain, import_models
from app.events import TOPIC_RESET, publish


async def seed_store(session: AsyncSession, settings: Settings, domains: Sequence[Domain]) -> None:
    """Load every domain's fixtures, in domain order. Each seeder is idempotent."""
    for domain in domains:
        if domain.seed is not None:
            await domain.seed(session, settings)
            await session.flush()


async def reset_store(session: AsyncSession, settings: Settings, domains: Sequence[Domain]) -> int:
    """Delete every row of every table (children first) but those a domain keeps, then seed.

    Returns the number of tables emptied. One transaction: the caller commits.
    """
    import_models()
    keep = {"alembic_version"} | {table for domain in domains for table in domain.keep_on_reset}
    emptied = 0
    for table in reversed(Base.metadata.sorted_tables):
        if table.name in keep:
            continue
        await session.execute(delete(table))
        emptied += 1
    await seed_store(session, settings, domains)
    await publish(session, TOPIC_RESET)  # what workers keep in memory of the store is forgotten
    return emptied
