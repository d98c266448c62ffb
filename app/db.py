"""The store: declarative base with a constraint naming convention, engines, sessions, migrations.

One schema, two engines: PostgreSQL through asyncpg (the real store) and SQLite through aiosqlite (the
embedded default). Alembic owns the schema; nothing here calls ``create_all``.
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Boolean, DateTime, MetaData, String, bindparam, event
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.types import TypeDecorator

# https://alembic.sqlalchemy.org/en/latest/naming.html — predictable names make every migration's
# downgrade (and SQLite's batch mode) able to find the constraint it drops.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """A datetime read from the store (always UTC) as an aware datetime; an aware one converted to UTC."""
    tz = value.tzinfo
    if tz is UTC:
        return value
    return value.replace(tzinfo=UTC) if tz is None else value.astimezone(UTC)


class Instant(TypeDecorator[datetime]):
    """A point in time, stored in UTC and read back as an aware UTC datetime, on both engines.

    Same DDL as ``DateTime(timezone=True)`` (``timestamp with time zone`` on PostgreSQL, text on SQLite).
    PostgreSQL keeps instants whatever the offset; SQLite's ``DATETIME`` writes the wall-clock time and drops
    the offset (``10:00+02:00`` was stored, and compared, as ``10:00``): every value is converted to UTC
    before it is bound, so both engines store, compare and sort the same instants — the values compared
    to a column in a query are bound through it too. A naive datetime is taken as UTC (the store's
    convention since the first migration: ``utcnow`` is aware, and rows SQLite wrote were UTC).
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def bind_processor(self, dialect: Any) -> Any:
        if _is_asyncpg(dialect):
            # asyncpg sends an aware datetime as the instant it is, whatever its offset: only a naive one
            # needs saying it is UTC. The hot paths (ITI-65, ITI-67, tokens) pay one attribute test.
            return _naive_as_utc
        impl = self.impl_instance.dialect_impl(dialect).bind_processor(dialect)
        convert = self.process_bind_param

        def process(value: Any) -> Any:
            value = convert(value, dialect)
            return impl(value) if impl is not None and value is not None else value

        return process

    def result_processor(self, dialect: Any, coltype: Any) -> Any:
        if _is_asyncpg(dialect):
            return None  # asyncpg gives timestamptz back as aware UTC datetimes already
        impl = self.impl_instance.dialect_impl(dialect).result_processor(dialect, coltype)

        def process(value: Any) -> datetime | None:
            if value is None:
                return None
            return as_utc(cast(datetime, impl(value) if impl is not None else value))

        return process

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"an Instant column takes a datetime, not {type(value).__name__}")
        utc = as_utc(value)
        # SQLite's DATETIME keeps the wall clock only: give it the UTC one (naive, so no offset is dropped)
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else as_utc(value)


def _is_asyncpg(dialect: Any) -> bool:
    return dialect.name == "postgresql" and dialect.driver == "asyncpg"


def _naive_as_utc(value: datetime | None) -> datetime | None:
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


def create_engine(database_url: str, *, pool_size: int = 10) -> AsyncEngine:
    if database_url.startswith("sqlite"):
        _ensure_sqlite_directory(database_url)
        engine = create_async_engine(database_url, connect_args={"timeout": 30}, hide_parameters=True)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    connect_args: dict[str, object] = {"server_settings": {"application_name": "segur-sandbox"}}
    if _is_local_without_tls_choice(database_url):
        # asyncpg's default ("prefer") tries a TLS handshake on every new connection first; a local
        # server gains nothing from it. A URL that says ssl=/sslmode= keeps its own choice.
        connect_args["ssl"] = False
    return create_async_engine(
        database_url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=False,
        connect_args=connect_args,
        hide_parameters=True,  # statement parameters (tokens, secrets, documents) never reach a log
    )


def _is_local_without_tls_choice(database_url: str) -> bool:
    from sqlalchemy.engine import make_url

    url = make_url(database_url)
    if {"ssl", "sslmode"} & set(url.query):
        return False
    return (url.host or "localhost") in ("localhost", "127.0.0.1", "::1")


def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _ensure_sqlite_directory(database_url: str) -> None:
    path = database_url.split(":///", 1)[-1]
    if path and path != ":memory:" and not path.startswith("file:"):
        Path(path).expanduser().parent.mkdir(parents=True, exist_ok=True)


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


# --- migrations -----------------------------------------------------------------------------------

def migrations_directory() -> Path:
    """Alembic's scripts, ``app/migrations/``: inside the package, so a source tree, an installed wheel
    (pipx, a CI image) and the Docker image all find them, from any working directory, with no setting.
    They are part of the code's version (the models and the scripts change together), so no setting
    points elsewhere."""
    return Path(__file__).resolve().parent / "migrations"


def alembic_config(connection: Connection | None = None):  # type: ignore[no-untyped-def]
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(migrations_directory()))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def _upgrade(connection: Connection, revision: str) -> None:
    from alembic import command

    command.upgrade(alembic_config(connection), revision)


def _downgrade(connection: Connection, revision: str) -> None:
    from alembic import command

    command.downgrade(alembic_config(connection), revision)


def _current_heads(connection: Connection) -> set[str]:
    from alembic.runtime.migration import MigrationContext

    return set(MigrationContext.configure(connection).get_current_heads())


async def upgrade(engine: AsyncEngine, revision: str = "heads") -> None:
    await _migrate(engine, _upgrade, revision)


async def _migrate(engine: AsyncEngine, step: Any, revision: str) -> None:
    """Run ``step`` (upgrade or downgrade) in one transaction. On SQLite, foreign keys are off meanwhile:
    rebuilding a parent table (batch mode) drops it, and with foreign keys on, dropping a table deletes its
    rows first, cascading to every child (https://sqlite.org/lang_droptable.html); they are checked after.
    """
    async with engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            # outside any transaction (pysqlite begins one before DML only): inside one it is a no-op
            await connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
            await connection.commit()
        try:
            await connection.run_sync(step, revision)
            if sqlite:
                broken = (await connection.exec_driver_sql("PRAGMA foreign_key_check")).first()
                if broken is not None:
                    raise RuntimeError(f"migration left a row whose foreign key has no parent: {tuple(broken)}")
            await connection.commit()
        finally:
            if sqlite:
                await connection.rollback()
                await connection.exec_driver_sql("PRAGMA foreign_keys=ON")
                await connection.commit()


async def downgrade(engine: AsyncEngine, revision: str = "base") -> None:
    await _migrate(engine, _downgrade, revision)


async def current_revisions(engine: AsyncEngine) -> set[str]:
    async with engine.connect() as connection:
        return await connection.run_sync(_current_heads)


def head_revisions() -> set[str]:
    return set(_script_directory().get_heads())


@functools.cache
def _script_directory():  # type: ignore[no-untyped-def]
    """The scripts, read once per process (they are part of the installed code)."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config())


class SchemaNotCurrent(Exception):
    """The store's schema is not the one this version's migrations build. The message is one line, in the
    house format of refused settings (``[database] ...``): what is wrong and the command that fixes it."""


def schema_problem(current: set[str], heads: set[str], known: set[str], *, migrating: bool) -> str | None:
    """What stops a start on a store at revisions ``current`` (its ``alembic_version`` rows), for scripts
    whose heads are ``heads`` among the ``known`` revisions; None when it may start. ``migrating``: the
    start applies the migrations itself (auto-migrate), which brings a missing or behind schema up, but
    never a schema ahead of the scripts (Alembic cannot even place an unknown revision)."""
    expected = " ".join(sorted(heads))
    unknown = current - known
    if unknown:
        return (f"the schema is ahead of this version's migrations: revision(s) {' '.join(sorted(unknown))} "
                f"are unknown to them (at {' '.join(sorted(current))}, heads here: {expected}); start the "
                "version of the sandbox that migrated this database, or run that version's "
                "`segur-sandbox db downgrade` first")
    if migrating or current == heads:
        return None
    fix = "run `segur-sandbox db upgrade` on this database (or start with SEGUR_AUTO_MIGRATE=true)"
    if not current:
        return f"the schema is missing (no Alembic revision; expected heads: {expected}); {fix}"
    return f"the schema is behind (at {' '.join(sorted(current))}, expected heads: {expected}); {fix}"


async def check_schema(engine: AsyncEngine, *, migrating: bool) -> None:
    """Raise :class:`SchemaNotCurrent` unless the store's revisions allow a start (see
    :func:`schema_problem`): one read of ``alembic_version``, before anything queries a table."""
    current = await current_revisions(engine)
    script = _script_directory()
    known = {revision.revision for revision in script.walk_revisions()}
    problem = schema_problem(current, set(script.get_heads()), known, migrating=migrating)
    if problem is not None:
        where = engine.url.render_as_string(hide_password=True)
        raise SchemaNotCurrent(f"[database] {where}: {problem}")


# --- throw-away PostgreSQL databases (test runs and benchmarks) ----------------------------------

async def create_database(admin_url: str, name: str, parameters: dict[str, str] | None = None) -> str:
    """Create database ``name`` on the server of ``admin_url``; return the URL of the new database.

    ``parameters`` are set on the database (``ALTER DATABASE ... SET``) for every later connection:
    the test suite turns ``synchronous_commit`` off on its throw-away databases."""
    import asyncpg
    from sqlalchemy.engine import make_url

    url = make_url(normalise_url(admin_url))
    connection = await asyncpg.connect(**_asyncpg_args(url))
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await connection.execute(f'CREATE DATABASE "{name}"')
        for parameter, value in (parameters or {}).items():
            if not parameter.replace("_", "").isalnum():
                raise ValueError(f"not a server parameter: {parameter!r}")
            await connection.execute(f'ALTER DATABASE "{name}" SET {parameter} = {_quote_literal(value)}')
    finally:
        await connection.close()
    return url.set(database=name).render_as_string(hide_password=False)


def _quote_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


async def drop_database(admin_url: str, name: str) -> None:
    import asyncpg
    from sqlalchemy.engine import make_url

    url = make_url(normalise_url(admin_url))
    connection = await asyncpg.connect(**_asyncpg_args(url))
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await connection.close()


def normalise_url(value: str) -> str:
    from app.config import normalise_database_url

    return normalise_database_url(value)


def _asyncpg_args(url) -> dict:  # type: ignore[no-untyped-def]
    return {
        "host": url.host or "127.0.0.1", "port": url.port or 5432, "user": url.username,
        "password": url.password, "database": url.database, "timeout": 5,
    }


class LazySession:
    """An ``AsyncSession`` opened on the first use of any of its attributes: a hot path that may answer
    from memory (the token endpoint's client_credentials grant) pays for no session when it does.

    ``commit``, ``rollback`` and ``close`` do nothing when the session was never opened.
    """

    def __init__(self, factory: async_sessionmaker[AsyncSession]) -> None:
        self._factory = factory
        self._session: AsyncSession | None = None

    def __getattr__(self, name: str) -> object:
        if self._session is None:
            self._session = self._factory()
        return getattr(self._session, name)

    @property
    def opened(self) -> bool:
        return self._session is not None

    async def commit(self) -> None:
        if self._session is not None:
            await self._session.commit()

    async def rollback(self) -> None:
        if self._session is not None:
            await self._session.rollback()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()


class contains_text(ColumnElement[bool]):  # noqa: N801 - used like a SQL function
    """``needle`` occurs in ``haystack``, case-sensitively on both engines (``LIKE`` ignores ASCII case on
    SQLite, not on PostgreSQL): ``strpos(h, n) > 0`` on PostgreSQL, ``instr(h, n) > 0`` on SQLite.
    ``needle`` is bound, so no character in it is a wildcard."""

    inherit_cache = True
    type = Boolean()

    def __init__(self, haystack: ColumnElement[Any], needle: str) -> None:
        self.haystack = haystack
        self.needle = bindparam(None, needle, type_=String())


@compiles(contains_text, "postgresql")
def _contains_text_postgresql(element: contains_text, compiler: Any, **kw: Any) -> str:
    return f"strpos({compiler.process(element.haystack, **kw)}, {compiler.process(element.needle, **kw)}) > 0"


@compiles(contains_text)
def _contains_text_default(element: contains_text, compiler: Any, **kw: Any) -> str:
    return f"instr({compiler.process(element.haystack, **kw)}, {compiler.process(element.needle, **kw)}) > 0"
