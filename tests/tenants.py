"""What the tenants' tests share: create tenants through the control API (and delete them after the test), count a
tenant's rows in every tenant-owned table."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest
from sqlalchemy import func, select

from app.db import Base
from app.domains import import_models
from app.tenancy import ALL_TENANTS, tenant_tables

TENANTS = "/sandbox/v1/tenants"

MakeTenant = Callable[..., Awaitable[str]]


def unique_name(stem: str) -> str:
    """A tenant name no other test of the run uses (the store outlives a test: its tenants are deleted after)."""
    return f"{stem}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
async def make_tenant(client: httpx.AsyncClient) -> AsyncIterator[MakeTenant]:
    """``await make_tenant("a", seed="fixtures")``: a new tenant named ``a-<random>`` (its name returned), deleted
    at the end of the test if it still exists."""
    made: list[str] = []

    async def make(stem: str = "t", *, seed: str = "fixtures") -> str:
        name = unique_name(stem)
        response = await client.post(TENANTS, json={"name": name, "seed": seed})
        assert response.status_code == 201, response.text
        made.append(name)
        return name

    yield make
    for name in made:
        response = await client.delete(f"{TENANTS}/{name}")
        assert response.status_code in (200, 404), response.text


async def delete_every_tenant(client: httpx.AsyncClient) -> None:
    """Delete the tenants left by other tests (a test that needs the store with only the default tenant)."""
    for row in (await client.get(TENANTS)).json():
        assert (await client.delete(f"{TENANTS}/{row['name']}")).status_code == 200


async def row_counts(sessionmaker, tenant: str) -> dict[str, int]:  # type: ignore[no-untyped-def]
    """The rows ``tenant`` holds in each tenant-owned table (read on purpose across the tenant filter)."""
    import_models()
    counts: dict[str, int] = {}
    async with sessionmaker() as session:
        for table in tenant_tables(Base.metadata):
            counts[table.name] = int(await session.scalar(
                select(func.count()).select_from(table).where(table.c.tenant == tenant),
                execution_options={ALL_TENANTS: True}) or 0)
    return counts
