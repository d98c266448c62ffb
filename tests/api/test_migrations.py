"""Migrations are tested themselves: upgrade, downgrade, upgrade, on both engines, and the schema they
build matches the models exactly (what ``alembic revision --autogenerate`` would find is nothing)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import inspect

from app.db import Base, create_engine, current_revisions, downgrade, head_revisions, upgrade
from app.domains import import_models
from tests.conftest import ENGINES, drop_fresh_database, fresh_database_url


@pytest.fixture(params=ENGINES)
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    engine = request.param
    admin_url = request.getfixturevalue("postgresql_url") if engine == "postgresql" else None
    url, name = fresh_database_url(engine, admin_url, tmp_path, "migrations")
    yield url
    drop_fresh_database(engine, admin_url, name)


def _tables(connection) -> set[str]:  # type: ignore[no-untyped-def]
    return set(inspect(connection).get_table_names())


def _diff(connection) -> list:  # type: ignore[no-untyped-def]
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return [d for d in compare_metadata(context, Base.metadata)]


async def test_upgrade_downgrade_upgrade(empty_database_url: str) -> None:
    import_models()
    engine = create_engine(empty_database_url)
    try:
        await upgrade(engine)
        assert await current_revisions(engine) == head_revisions()
        async with engine.connect() as connection:
            tables = await connection.run_sync(_tables)
        assert {table.name for table in Base.metadata.sorted_tables} <= tables

        await downgrade(engine, "base")
        async with engine.connect() as connection:
            assert await connection.run_sync(_tables) <= {"alembic_version"}

        await upgrade(engine)
        assert await current_revisions(engine) == head_revisions()
        async with engine.connect() as connection:
            differences = await connection.run_sync(_diff)
        assert differences == [], f"models and migrations disagree: {differences}"
    finally:
        await engine.dispose()
