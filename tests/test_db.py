"""``app.db.Instant``: every aware datetime stored as UTC and read back as an aware UTC datetime, on both
engines, so values with different offsets are stored, compared and sorted as the instants they are.

On SQLite, SQLAlchemy's ``DateTime`` wrote the wall-clock time and dropped the offset: ``10:00+02:00``
became ``10:00`` (read back as ``10:00Z``, two hours late) and compared as such in every query.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, func, insert, select, text

from app.api.journal import COLUMNS, JournalWriter
from app.api.models import JournalEntry
from app.db import Instant, as_utc

PARIS_SUMMER = timezone(timedelta(hours=2))
NEW_YORK = timezone(timedelta(hours=-4))
TEN_PARIS = datetime(2026, 6, 12, 10, 0, tzinfo=PARIS_SUMMER)  # 08:00Z


@pytest.fixture
async def instants(app):  # type: ignore[no-untyped-def]
    """A throw-away table with one Instant column, on the engine of the run."""
    metadata = MetaData()
    table = Table(f"test_instant_{uuid.uuid4().hex[:8]}", metadata, Column("id", Integer, primary_key=True),
                  Column("at", Instant))
    engine = app.state.engine
    async with engine.begin() as connection:
        await connection.run_sync(metadata.create_all)
    try:
        yield engine, table
    finally:
        async with engine.begin() as connection:
            await connection.run_sync(metadata.drop_all)


async def test_an_offset_comes_back_as_the_same_instant_in_utc(instants) -> None:  # type: ignore[no-untyped-def]
    engine, table = instants
    async with engine.begin() as connection:
        await connection.execute(insert(table), [{"id": 1, "at": TEN_PARIS}, {"id": 2, "at": None}])
        rows = dict((await connection.execute(select(table.c.id, table.c.at))).all())
    assert rows[1] == TEN_PARIS  # the same instant...
    assert rows[1].tzinfo is UTC and rows[1].hour == 8  # ...given back in UTC, aware
    assert rows[2] is None


async def test_sqlite_holds_the_utc_wall_clock(instants) -> None:  # type: ignore[no-untyped-def]
    engine, table = instants
    async with engine.begin() as connection:
        await connection.execute(insert(table), {"id": 1, "at": TEN_PARIS})
        raw = (await connection.execute(text(f"SELECT CAST(at AS TEXT) FROM {table.name}"))).scalar()
    if engine.dialect.name == "sqlite":
        assert raw.startswith("2026-06-12 08:00:00")
    else:
        assert raw.startswith("2026-06-12 08:00:00") or raw.startswith("2026-06-12 10:00:00+02")


async def test_comparisons_and_order_are_by_instant(instants) -> None:  # type: ignore[no-untyped-def]
    engine, table = instants
    values = {
        1: TEN_PARIS,  # 08:00Z
        2: datetime(2026, 6, 12, 8, 30, tzinfo=UTC),  # 08:30Z
        3: datetime(2026, 6, 12, 3, 45, tzinfo=NEW_YORK),  # 07:45Z
    }
    async with engine.begin() as connection:
        await connection.execute(insert(table), [{"id": k, "at": v} for k, v in values.items()])

        async def ids(*where) -> list[int]:  # type: ignore[no-untyped-def]
            return list((await connection.execute(select(table.c.id).where(*where).order_by(table.c.at))).scalars())

        assert await ids() == [3, 1, 2]
        # the compared value is bound through the column's type: its offset counts as well
        assert await ids(table.c.at > datetime(2026, 6, 12, 9, 0, tzinfo=UTC)) == []
        assert await ids(table.c.at >= datetime(2026, 6, 12, 10, 0, tzinfo=PARIS_SUMMER)) == [1, 2]
        assert await ids(table.c.at == datetime(2026, 6, 12, 8, 0, tzinfo=UTC)) == [1]
        assert await ids(table.c.at < datetime(2026, 6, 12, 4, 0, tzinfo=NEW_YORK)) == [3]
        latest = (await connection.execute(select(func.max(table.c.at)))).scalar()
    assert as_utc(latest) == values[2]


async def test_a_naive_datetime_is_taken_as_utc(instants) -> None:  # type: ignore[no-untyped-def]
    engine, table = instants
    async with engine.begin() as connection:
        await connection.execute(insert(table), {"id": 1, "at": datetime(2026, 6, 12, 8, 0)})
        back = (await connection.execute(select(table.c.at))).scalar()
        found = (await connection.execute(select(table.c.id).where(table.c.at == TEN_PARIS))).scalar()
    assert back == datetime(2026, 6, 12, 8, 0, tzinfo=UTC) and found == 1


def test_anything_but_a_datetime_is_refused() -> None:
    with pytest.raises(TypeError, match="Instant column takes a datetime"):
        Instant().process_bind_param("2026-06-12T10:00:00+02:00", None)  # type: ignore[arg-type]


async def test_the_journal_writer_keeps_instants(app, client) -> None:  # type: ignore[no-untyped-def]
    """The journal's ``at`` goes through COPY on PostgreSQL and executemany on SQLite: same instant back."""
    marker = uuid.uuid4().hex
    values = {"at": TEN_PARIS, "request_id": marker, "protocol": "http", "client": None, "method": "GET",
              "path": "/test/instant", "query": None, "operation": None, "service": "platform", "status": 200,
              "outcome": "ok", "rule": None, "detail": None, "duration_ms": 0.1, "actor": None, "facts": None,
              "tenant": "default"}
    writer = JournalWriter(app.state.engine)
    writer.add_row(tuple(values[c] for c in COLUMNS))
    await writer.flush()
    async with app.state.sessionmaker() as session:
        at = await session.scalar(select(JournalEntry.at).where(JournalEntry.request_id == marker))
        later = await session.scalar(select(func.count()).select_from(JournalEntry).where(
            JournalEntry.request_id == marker, JournalEntry.at > datetime(2026, 6, 12, 9, 0, tzinfo=UTC)))
    assert at == TEN_PARIS and at.tzinfo is UTC
    assert later == 0
