"""Test fixtures: the sandbox on a real PostgreSQL and on SQLite, reset to its fixtures before each test.

Every test that uses ``client`` (or ``app``, ``session``, ``settings``) runs four times: once per engine, and
on each engine once with the measured shortcuts on (``fast``, the default) and once with
``SEGUR_FAST_PATHS=false`` (``plain``), so every shortcut answers as the plain path it stands for. Each
run creates its own PostgreSQL database (so parallel runs never collide), migrates it once, and drops
it at the end. ``SEGUR_TEST_DATABASE_URL`` points at the server (any database on it we may connect to).
Without PostgreSQL the PostgreSQL leg is skipped, loudly; under CI (``CI=true``) that is a failure.
"""

from __future__ import annotations

import asyncio
import os
import uuid
import warnings
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import APIRouter

with warnings.catch_warnings():
    # Authlib warns at import ("the httpx module is deprecated") through a filter of its own that
    # pytest's configuration cannot override; import it once here, quietly.
    import authlib.deprecate  # noqa: F401  (installs Authlib's "always" filter)

    warnings.simplefilter("ignore")
    import authlib.integrations.httpx_client  # noqa: F401

from app.config import Settings, load_settings
from app.db import create_database, create_engine, drop_database, upgrade
from app.main import create_app

ADMIN_URL = os.environ.get("SEGUR_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
BASE_URL = "http://sandbox.test"
ENGINES = ("postgresql", "sqlite")
FAST_PATHS = {"fast": True, "plain": False}

_skipped_postgresql: list[str] = []

# The live server, Chromium and page fixtures of the browser tests (tests/browser.py); make_tenant (tests/tenants.py).
pytest_plugins = ["tests.browser", "tests.tenants"]


def _postgresql_unreachable_reason() -> str | None:
    import asyncpg
    from sqlalchemy.engine import make_url

    url = make_url(ADMIN_URL)

    async def probe() -> None:
        connection = await asyncpg.connect(host=url.host, port=url.port or 5432, user=url.username,
                                           password=url.password, database=url.database, timeout=3)
        await connection.close()

    try:
        asyncio.run(probe())
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


@pytest.fixture(scope="session")
def postgresql_url() -> str:
    reason = _postgresql_unreachable_reason()
    if reason is not None:
        message = f"PostgreSQL at {ADMIN_URL} is unreachable ({reason})"
        if IN_CI:
            pytest.fail(f"{message}; under CI the PostgreSQL leg is mandatory", pytrace=False)
        _skipped_postgresql.append(message)
        pytest.skip(f"PostgreSQL leg SKIPPED: {message}")
    return ADMIN_URL


def fresh_database_url(engine: str, admin_url: str | None, tmp_dir: Path, label: str) -> tuple[str, str]:
    """A brand-new empty database for ``engine``: returns (url, name)."""
    name = f"segur_test_{label}_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    if engine == "postgresql":
        assert admin_url is not None
        # Throw-away databases need no durability: not waiting for the WAL flush at each commit halves
        # the suite's time (the tests wait on PostgreSQL more than they compute).
        return asyncio.run(create_database(admin_url, name, {"synchronous_commit": "off"})), name
    return f"sqlite+aiosqlite:///{tmp_dir / (name + '.db')}", name


def drop_fresh_database(engine: str, admin_url: str | None, name: str) -> None:
    if engine == "postgresql" and admin_url is not None:
        asyncio.run(drop_database(admin_url, name))


def free_port() -> int:
    """A TCP port nothing listens on now (for a second worker, or an address that refuses)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def make_settings(database_url: str, **overrides: object) -> Settings:
    values: dict[str, object] = {"mss_imap_port": 0, **overrides}  # ephemeral IMAP port unless a test names one
    return load_settings(
        database_url=database_url, public_base_url=BASE_URL, smtp_port=0, auto_migrate=False,
        access_log=False, log_level="WARNING", **values,
    )


@pytest.fixture(scope="session", params=ENGINES)
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    engine = request.param
    admin_url = request.getfixturevalue("postgresql_url") if engine == "postgresql" else None
    url, name = fresh_database_url(engine, admin_url, tmp_path_factory.mktemp("db"), "run")
    yield url
    drop_fresh_database(engine, admin_url, name)


@pytest.fixture(scope="session", params=tuple(FAST_PATHS))
def fast_paths(request: pytest.FixtureRequest) -> bool:
    return FAST_PATHS[request.param]


@pytest.fixture(scope="session")
async def app(database_url: str, fast_paths: bool) -> AsyncIterator[object]:
    settings = make_settings(database_url, fast_paths=fast_paths)
    engine = create_engine(database_url)
    await upgrade(engine)
    await engine.dispose()
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
def settings(app) -> Settings:  # type: ignore[no-untyped-def]
    return app.state.settings


@pytest.fixture
async def client(app) -> AsyncIterator[httpx.AsyncClient]:  # type: ignore[no-untyped-def]
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as http:
        # tenants a test left behind are deleted: each test starts in a store holding the default tenant
        # only, which the reset empties at once (TRUNCATE) instead of row by row
        from tests.tenants import delete_every_tenant  # a plugin (pytest_plugins above): imported once registered

        await delete_every_tenant(http)
        response = await http.post("/sandbox/v1/reset")
        assert response.status_code == 200, response.text
        yield http


@pytest.fixture
async def session(app, client):  # type: ignore[no-untyped-def]
    async with app.state.sessionmaker() as db_session:
        yield db_session


@pytest.fixture
def routed(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The paths FastAPI's router was called for: every HTTP request that did not go beside it (app.api.hotpaths)."""
    paths: list[str] = []
    original = APIRouter.__call__

    async def spy(self, scope, receive, send):  # type: ignore[no-untyped-def]
        paths.append(scope["path"])
        await original(self, scope, receive, send)

    monkeypatch.setattr(APIRouter, "__call__", spy)
    return paths


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:  # type: ignore[no-untyped-def]
    if _skipped_postgresql:
        bar = "!" * 78
        terminalreporter.write_line(bar, red=True, bold=True)
        terminalreporter.write_line(
            "THE POSTGRESQL LEG WAS SKIPPED: only SQLite was tested. " + _skipped_postgresql[0],
            red=True, bold=True,
        )
        terminalreporter.write_line(bar, red=True, bold=True)
