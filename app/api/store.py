"""Putting the store back to its fixtures, and seeding it: what `reset` and `segur-sandbox seed` do."""

from __future__ import annotations

from collections.abc import Collection, Sequence

from sqlalchemy import delete, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.api.models import Tenant
from app.config import Settings
from app.db import Base
from app.domains import Domain, import_models
from app.events import TOPIC_RESET, publish
from app.tenancy import ALL_TENANTS, DEFAULT_TENANT, current_tenant, tenant_tables


async def seed_store(session: AsyncSession, settings: Settings, domains: Sequence[Domain]) -> None:
    """Load every domain's fixtures, in domain order. Each seeder is idempotent."""
    for domain in domains:
        if domain.seed is not None:
            await domain.seed(session, settings)
            await session.flush()


async def reset_store(session: AsyncSession, settings: Settings, domains: Sequence[Domain]) -> int:
    """Put the current tenant's world back to its fixtures: delete its rows of every table (children first)
    but those a domain keeps, then seed.

    Returns the number of tables emptied. One transaction: the caller commits. The other tenants' rows are
    untouched: while only the default tenant exists, the whole store is emptied at once (TRUNCATE);
    otherwise only the tenant's rows are deleted.
    """
    import_models()
    keep = {"alembic_version", "sandbox_tenant"} | {table for domain in domains for table in domain.keep_on_reset}
    tables = [table for table in reversed(Base.metadata.sorted_tables) if table.name not in keep]
    tenant = current_tenant()
    if tenant != DEFAULT_TENANT or await session.scalar(select(Tenant.name).limit(1)) is not None:
        await delete_tenant_rows(session, tenant, keep=keep)
    elif session.get_bind().dialect.name == "postgresql":
        # One TRUNCATE (transactional in PostgreSQL) rather than a DELETE per table: DELETE leaves every
        # row behind as a dead tuple until autovacuum passes, and a harness that resets between tests
        # resets faster than autovacuum cleans, so each reset and every lookup after it got slower (a
        # reset cost 150 ms after one hundred resets and 330 ms after eight hundred). Identities are not
        # restarted: IMAP UIDs and other ids are never reused across a reset.
        names = ", ".join(session.get_bind().dialect.identifier_preparer.format_table(t) for t in tables)
        await session.execute(text(f"TRUNCATE TABLE {names} CONTINUE IDENTITY"), execution_options={ALL_TENANTS: True})
    else:
        for table in tables:
            await session.execute(delete(table), execution_options={ALL_TENANTS: True})
    emptied = len(tables)
    await seed_store(session, settings, domains)
    await publish(session, TOPIC_RESET, tenant)  # what workers keep in memory of the store is forgotten
    return emptied


async def delete_tenant_rows(session: AsyncSession, tenant: str, *, keep: Collection[str] = ()) -> int:
    """Delete every row of ``tenant`` in every tenant-owned table but ``keep``, children first; the number of rows.
    The caller's transaction makes it one (a tenant's reset, its deletion)."""
    import_models()
    deleted = 0
    for table in tenant_tables(Base.metadata):
        if table.name not in keep:
            result = await session.execute(delete(table).where(table.c.tenant == tenant),
                                           execution_options={ALL_TENANTS: True})
            deleted += max(result.rowcount or 0, 0)  # type: ignore[attr-defined]
    return deleted
