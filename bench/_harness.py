"""What every benchmark needs: a throw-away PostgreSQL database with the schema and fixtures, free ports,
and the sandbox started as a real server (one uvicorn worker, uvloop, httptools) once it answers."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Mapping
from datetime import UTC, datetime
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


# --- a raw HTTP/1.1 load generator (httpx itself tops out near 230 requests/s per process here) -------

async def drive_http(port: int, requests: list[bytes], connections: int, *,
                     tag: re.Pattern[bytes] | None = None) -> dict:
    """Send prepared HTTP/1.1 requests over ``connections`` keep-alive connections, as fast as answers come.

    Returns counts, throughput and latency percentiles; with ``tag``, also how often each first group of
    ``tag`` occurs in the answers (``codes``; ``-`` when absent)."""
    queue = list(reversed(requests))
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    codes: dict[str, int] = {}

    async def worker() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while queue:
                request = queue.pop()
                started = time.perf_counter()
                writer.write(request)
                head = await reader.readuntil(b"\r\n\r\n")
                length = re.search(rb"(?i)content-length: *(\d+)", head)
                if length:
                    body = await reader.readexactly(int(length.group(1)))
                else:  # chunked
                    chunks = []
                    while True:
                        size = int((await reader.readuntil(b"\r\n")).strip(), 16)
                        chunks.append((await reader.readexactly(size + 2))[:size])
                        if size == 0:
                            break
                    body = b"".join(chunks) if tag else b""
                latencies.append(time.perf_counter() - started)
                status = int(head[9:12])
                statuses[status] = statuses.get(status, 0) + 1
                if tag is not None:
                    found = tag.search(body)
                    code = found.group(1).decode() if found else "-"
                    codes[code] = codes.get(code, 0) + 1
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(connections)))
    wall = time.perf_counter() - started
    latencies.sort()

    def percentile(q: float) -> float:
        return round(latencies[min(int(len(latencies) * q), len(latencies) - 1)] * 1000, 2)

    result: dict = {
        "requests": len(latencies), "seconds": round(wall, 2), "rps": round(len(latencies) / wall, 1),
        "p50_ms": percentile(0.5), "p95_ms": percentile(0.95), "p99_ms": percentile(0.99),
        "max_ms": round(latencies[-1] * 1000, 1), "statuses": statuses,
    }
    if tag is not None:
        result["codes"] = codes
    return result


def _drive_in_child(port: int, requests: list[bytes], connections: int, tag: re.Pattern[bytes] | None,
                    pipe) -> None:  # type: ignore[no-untyped-def]
    import uvloop  # installed with uvicorn[standard]

    pipe.send(uvloop.run(drive_http(port, requests, connections, tag=tag)))


def run_load(port: int, requests: list[bytes], connections: int, *,
             tag: re.Pattern[bytes] | None = None) -> dict:
    """:func:`drive_http` from a separate process, so the load generator does not share the caller's GIL."""
    parent, child = multiprocessing.Pipe()
    process = multiprocessing.Process(target=_drive_in_child, args=(port, requests, connections, tag, child))
    process.start()
    result = parent.recv()
    process.join()
    return result


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of these processes so far (those that have gone count as 0)."""
    import psutil

    total = 0.0
    for pid in pids:
        try:
            times = psutil.Process(pid).cpu_times()
            total += times.user + times.system
        except psutil.Error:
            pass
    return total


def postgres_backends(db_name: str) -> list[int]:
    """The PostgreSQL server processes serving database ``db_name`` (by their process title, ``postgres: ...
    <user> <database> <client> <state>``): what a benchmark's own statements cost on the database side,
    without the other databases of a shared server (test runs of other checkouts, whose backends come and go
    and make a machine-wide sum meaningless, even negative). Backends that exit during a run take their CPU
    with them: the benchmarked sandbox keeps its pooled connections open, so that is rare."""
    import psutil

    pids = []
    for proc in psutil.process_iter(["cmdline"]):
        try:
            cmd = " ".join(proc.info.get("cmdline") or [])
        except psutil.Error:
            continue
        if cmd.startswith("postgres:") and f" {db_name} " in cmd:
            pids.append(proc.pid)
    return pids


MSS_SENDER = "claire.fontaine@medecin.mssante.fr"
MSS_RECIPIENT = "sophie.bernard@hopital-a.mssante.fr"


def mss_message(*, pdf_bytes: int, note: str) -> tuple[bytes, int]:
    """An MSSanté message as an LPS sends it (text, and an ``IHE_XDM.ZIP`` of the sample CDA and an
    incompressible PDF of ``pdf_bytes``) from Claire Fontaine to Sophie Bernard, its ``Message-ID``
    ``<MSGID>`` for the caller to make unique; returns the bytes and the size of the archive."""
    from email import policy
    from email.message import EmailMessage
    from email.utils import format_datetime

    from app.mss import xdm

    cda = (ROOT / "app/mss/fixtures/sample_cda.xml").read_bytes()
    archive = xdm.build_xdm(cda, pdf=b"%PDF-1.4\n" + os.urandom(pdf_bytes))
    msg = EmailMessage()
    msg["From"] = f"Dr Claire FONTAINE <{MSS_SENDER}>"
    msg["To"] = MSS_RECIPIENT
    msg["Subject"] = "XDM/1.0/DDM+Compte rendu ADRUN ZOE 19751231"
    msg["Date"] = format_datetime(datetime.now(UTC))
    msg["Message-ID"] = "<MSGID>"
    msg["X-MSS-NIL"] = "BENCH-0001"
    msg["X-MSS-CODECDA"] = "11488-4"
    msg["X-MSS-INS"] = "O"
    msg.set_content(f"Compte rendu de consultation ci-joint ({note}).")
    msg.add_attachment(archive, maintype="application", subtype="zip", filename="IHE_XDM.ZIP")
    return msg.as_bytes(policy=policy.SMTP), len(archive)
