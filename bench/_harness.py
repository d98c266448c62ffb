"""What every benchmark needs: a throw-away PostgreSQL database with the schema and fixtures, free ports,
and the sandbox started as a real server (one uvicorn worker, uvloop, httptools) once it answers."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ADMIN_URL = (os.environ.get("SEGUR_BENCH_DATABASE_URL") or os.environ.get("SEGUR_TEST_DATABASE_URL")
             or "postgresql://postgres@127.0.0.1:5432/test")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def prepare_database(name: str, *, seed: bool = True) -> str:
    """Create database ``name`` afresh on the server of ``ADMIN_URL``, migrate it and load the fixtures."""
    from app.api.store import seed_store
    from app.config import load_settings
    from app.db import create_database, create_engine, create_sessionmaker, upgrade
    from app.domains import load_domains

    url = await create_database(ADMIN_URL, name)
    settings = load_settings(database_url=url)
    engine = create_engine(settings.database_url)
    try:
        await upgrade(engine)
        if seed:
            async with create_sessionmaker(engine)() as session, session.begin():
                await seed_store(session, settings, load_domains())
    finally:
        await engine.dispose()
    return url


async def drop_database(name: str) -> None:
    from app.db import drop_database as drop

    await drop(ADMIN_URL, name)


def wait_ready(port: int, *, path: str = "/readyz", timeout: float = 60,
               process: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise SystemExit(f"the sandbox exited with code {process.returncode} before it was ready")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as response:  # noqa: S310
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise SystemExit(f"the sandbox was not ready within {timeout:.0f} s")


def start_sandbox(url: str, port: int, *, pool_size: int = 20, env: Mapping[str, str] | None = None,
                  timeout: float = 60) -> subprocess.Popen:
    """The sandbox on ``url`` at 127.0.0.1:``port``: one uvicorn worker, no access log, no SMTP port of its
    own choosing (an ephemeral one), migrations not run (the database is prepared beforehand)."""
    environment = {
        **os.environ,
        "SEGUR_DATABASE_URL": url, "SEGUR_AUTO_MIGRATE": "false", "SEGUR_ACCESS_LOG": "false",
        "SEGUR_LOG_LEVEL": "WARNING", "SEGUR_PUBLIC_BASE_URL": f"http://127.0.0.1:{port}", "SEGUR_SMTP_PORT": "0",
        # one pooled connection per concurrent request: with fewer, overflow connections are opened and closed
        # continually, and that is what the figure would measure
        "SEGUR_DATABASE_POOL_SIZE": os.environ.get("SEGUR_DATABASE_POOL_SIZE", str(pool_size)),
        **(env or {}),
    }
    command = [sys.executable, "-m", "uvicorn", "app.main:create_app", "--factory", "--host", "127.0.0.1",
               "--port", str(port), "--workers", "1", "--loop", "uvloop", "--http", "httptools", "--ws", "none",
               "--no-access-log", "--log-level", "warning"]
    process = subprocess.Popen(command, env=environment, cwd=ROOT)  # noqa: S603
    try:
        wait_ready(port, timeout=timeout, process=process)
    except BaseException:
        process.kill()
        raise
    return process
