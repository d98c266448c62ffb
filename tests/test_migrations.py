"""Migrations are tested themselves: upgrade, downgrade, upgrade, on both engines, and the schema they
build matches the models exactly (what ``alembic revision --autogenerate`` would find is nothing)."""

from __future__ import annotations

import json
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
        with pytest.raises(SchemaNotCurrent, match=r"^\[database\] .*: the schema is behind \(at dmp_0002 ins_0002 "
                           r"mes_0002 mss_0004 platform_0004 psc_0002, expected heads: "):
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


async def test_mss_0003_keeps_deliveries_in_the_inbox_and_never_reuses_ids(empty_database_url: str) -> None:
    """Rows delivered before the folders exist stay, in the INBOX (``folder_id`` NULL) with no flags; on
    SQLite ``mss_delivery`` and ``mss_folder`` become ``AUTOINCREMENT`` (a UID is never reused); down and up
    again keep the rows."""
    engine = create_engine(empty_database_url)
    try:
        await upgrade(engine, "mss_0002")
        async with engine.begin() as connection:
            await connection.execute(text("INSERT INTO mss_domain (name, role, structures) VALUES "
                                          "('a.mssante.fr', 'local', '[]')"))
            await connection.execute(text(
                "INSERT INTO mss_mailbox (id, address, domain, type, display_name, owners, active, created_at) "
                "VALUES (1, 'x@a.mssante.fr', 'a.mssante.fr', 'ORG', 'X', '[]', true, CURRENT_TIMESTAMP)"))
            await connection.execute(text(
                "INSERT INTO mss_message (id, uid, kind, transport, envelope_from, size, raw, headers, parts, xdm, "
                "report, has_xdm, conversation_closed, received_at) VALUES (1, 'u1', 'message', 'smtp', '', 1, "
                ":raw, '[]', '[]', '[]', '{}', false, false, CURRENT_TIMESTAMP)"), {"raw": b"x"})
            for delivery_id in (7, 9):
                await connection.execute(text(
                    "INSERT INTO mss_delivery (id, message_id, mailbox_id, recipient, status, seen, delivered_at) "
                    "VALUES (:id, 1, 1, 'x@a.mssante.fr', 'delivered', false, CURRENT_TIMESTAMP)"), {"id": delivery_id})
            if connection.dialect.name == "postgresql":  # ids given explicitly: the sequence told, as if drawn
                await connection.execute(text("SELECT setval(pg_get_serial_sequence('mss_delivery', 'id'), 9)"))
        await upgrade(engine)
        async with engine.begin() as connection:
            rows = (await connection.execute(text(
                "SELECT id, folder_id, flags FROM mss_delivery ORDER BY id"))).all()
            assert [(r[0], r[1], r[2] if isinstance(r[2], list) else json.loads(r[2])) for r in rows] == [
                (7, None, []), (9, None, [])]
            if connection.dialect.name == "sqlite":
                for table in ("mss_delivery", "mss_folder"):
                    sql = await connection.scalar(text("SELECT sql FROM sqlite_master WHERE name = :t"), {"t": table})
                    assert "AUTOINCREMENT" in sql, sql
            await connection.execute(text("DELETE FROM mss_delivery WHERE id = 9"))
            await connection.execute(text(
                "INSERT INTO mss_delivery (message_id, mailbox_id, recipient, status, seen, delivered_at) "
                "VALUES (1, 1, 'x@a.mssante.fr', 'delivered', false, CURRENT_TIMESTAMP)"))
            assert await connection.scalar(text("SELECT max(id) FROM mss_delivery")) > 9
        await downgrade(engine, "mss_0002")
        async with engine.connect() as connection:
            assert await connection.scalar(text("SELECT count(*) FROM mss_delivery")) == 2
        await upgrade(engine)
        assert await current_revisions(engine) == head_revisions()
    finally:
        await engine.dispose()
