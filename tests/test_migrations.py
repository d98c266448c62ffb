"""Migrations are tested themselves: upgrade, downgrade, upgrade, on both engines, and the schema they
build matches the models exactly (what ``alembic revision --autogenerate`` would find is nothing)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import inspect, text

from app.db import (
    Base,
    SchemaNotCurrent,
    create_engine,
    current_revisions,
    downgrade,
    head_revisions,
    upgrade,
)
from app.domains import import_models
from app.main import create_app
from tests.conftest import ENGINES, drop_fresh_database, fresh_database_url, make_settings


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


async def _start(url: str, *, auto_migrate: bool = False) -> None:
    application = create_app(make_settings(url).model_copy(update={"auto_migrate": auto_migrate}))
    async with application.router.lifespan_context(application):
        pass


async def test_start_up_refuses_a_missing_schema(empty_database_url: str) -> None:
    """Through ``create_app``'s lifespan (how ``uvicorn --factory`` and the test fixtures start it): the
    check comes before any domain reads a table (PSC's revoked tokens used to fail first, as a traceback)."""
    with pytest.raises(SchemaNotCurrent) as refused:
        await _start(empty_database_url)  # auto_migrate off
    message = str(refused.value)
    assert "\n" not in message
    assert message.startswith("[database] ") and "the schema is missing" in message
    assert f"expected heads: {' '.join(sorted(head_revisions()))}" in message
    assert "`segur-sandbox db upgrade`" in message


async def test_start_up_refuses_a_schema_behind_unless_it_migrates(empty_database_url: str) -> None:
    engine = create_engine(empty_database_url)
    try:
        await upgrade(engine)
        await downgrade(engine, "mss@-1")
        behind = await current_revisions(engine)
        with pytest.raises(SchemaNotCurrent, match=r"^\[database\] .*: the schema is behind \(at dmp_0001 ins_0001 "
                           r"mss_0001 psc_0001, expected heads: "):
            await _start(empty_database_url)
        assert await current_revisions(engine) == behind  # refused: nothing migrated, nothing stored
    finally:
        await engine.dispose()


async def test_start_up_refuses_a_schema_ahead_even_when_it_migrates(empty_database_url: str) -> None:
    engine = create_engine(empty_database_url)
    try:
        await upgrade(engine)
        async with engine.begin() as connection:
            await connection.execute(text("INSERT INTO alembic_version (version_num) VALUES ('zzz_0099')"))
        with pytest.raises(SchemaNotCurrent, match=r"the schema is ahead of this version's migrations: revision\(s\) "
                           r"zzz_0099 are unknown"):
            await _start(empty_database_url, auto_migrate=True)
        assert "zzz_0099" in await current_revisions(engine)
    finally:
        await engine.dispose()
