"""MSSanté SMTP throughput: messages/s accepted *and stored* over SMTP, each with a ~100 KB IHE_XDM.ZIP.

Starts the sandbox with uvicorn (one worker, the SMTP listener on its event loop) on a fresh PostgreSQL
database (created, migrated, seeded, dropped at the end), then drives the SMTP listener on 127.0.0.1
with aiosmtplib: ``--concurrency`` connections (default 8), each STARTTLS + AUTH PLAIN once, then
messages back to back until ``--messages`` (default 2000) are sent. Every message carries a fresh
Message-ID and the same IHE_XDM.ZIP (a CDA plus a 100 KB incompressible PDF), so the server parses the
MIME, reads the zip and METADATA.XML, runs the checks and stores raw bytes + parsed view + delivery
all or nothing per message (one statement on PostgreSQL). At the end the stored count is checked in
the database; the CPU of the PostgreSQL processes serving the benchmark's database is reported too.
Target (issue 6): >= 200 msg/s.

Run: ``.venv/bin/python bench/mss_smtp.py [--messages N] [--concurrency 8] [--no-tls]``.
``SEGUR_BENCH_DATABASE_URL`` names the PostgreSQL server (default postgresql://postgres@127.0.0.1:5432/test).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import ssl
import subprocess
import sys
import time
import urllib.request
from email.utils import make_msgid
from pathlib import Path

import aiosmtplib
import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from _harness import (  # noqa: E402
    ADMIN_URL,
    MSS_RECIPIENT,
    MSS_SENDER,
    cpu_seconds,
    drop_database,
    free_port,
    mss_message,
    postgres_backends,
    prepare_database,
    wait_ready,
)

DB_NAME = "segur_bench_mss"
SENDER, RECIPIENT = MSS_SENDER, MSS_RECIPIENT
PASSWORD = "mssante"


async def stored_count(url: str) -> tuple[int, int]:
    from sqlalchemy import text

    from app.db import create_engine

    engine = create_engine(url)
    async with engine.connect() as conn:
        messages = (await conn.execute(text("SELECT count(*) FROM mss_message WHERE kind = 'message'"))).scalar()
        deliveries = (await conn.execute(text("SELECT count(*) FROM mss_delivery WHERE status = 'delivered'"))).scalar()
    await engine.dispose()
    return int(messages or 0), int(deliveries or 0)


def build_template() -> tuple[bytes, int]:
    return mss_message(pdf_bytes=100 * 1024, note="benchmark")


def lighten_aiosmtplib() -> None:
    """aiosmtplib normalises every message's line endings twice (for SIZE, then for DATA) and dot-stuffs it,
    with regular expressions: ~1.7 ms of the load generator's CPU per 142 KB message, taken from the two
    CPUs the server runs on. The benchmark's messages are CRLF-only and no line starts with a dot, so the
    regexes change nothing: they are skipped when a cheap check on the message says so (otherwise they
    run as before). The bytes on the wire are the same."""
    from aiosmtplib import protocol, smtp

    normalize, period = protocol.normalize_message_line_endings, protocol.PERIOD_REGEX

    def normalized(message: bytes) -> bytes:  # LINE_ENDINGS_REGEX is a no-op without a bare CR or LF
        crlf = message.count(b"\r\n")
        if message.endswith(b"\r\n") and message.count(b"\r") == crlf == message.count(b"\n"):
            return message
        return normalize(message)

    class Period:  # PERIOD_REGEX, (?m)^\. : a no-op when no line starts with a dot
        @staticmethod
        def sub(replacement: bytes, message: bytes) -> bytes:
            if message.startswith(b".") or b"\n." in message:
                return period.sub(replacement, message)
            return message

    protocol.normalize_message_line_endings = normalized  # type: ignore[assignment]
    smtp.normalize_message_line_endings = normalized  # type: ignore[attr-defined]
    protocol.PERIOD_REGEX = Period()  # type: ignore[assignment]


async def worker(port: int, tls: bool, template: bytes, queue: asyncio.Queue[int], context: ssl.SSLContext | None,
                 latencies: list[float]) -> int:
    sent = 0
    client = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, start_tls=False, timeout=60)
    await client.connect()
    if tls:
        await client.starttls(tls_context=context)
    await client.login(SENDER, PASSWORD)
    while True:
        try:
            queue.get_nowait()
        except asyncio.QueueEmpty:
            break
        body = template.replace(b"<MSGID>", make_msgid(domain="bench.test").encode())
        started = time.perf_counter()
        errors, _ = await client.sendmail(SENDER, [RECIPIENT], body)
        latencies.append(time.perf_counter() - started)
        if errors:
            raise RuntimeError(f"refused: {errors}")
        sent += 1
    await client.quit()
    return sent


async def drive(port: int, messages: int, concurrency: int, tls: bool, template: bytes,
                context: ssl.SSLContext | None) -> tuple[float, list[float], int]:
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(messages):
        queue.put_nowait(i)
    latencies: list[float] = []
    started = time.perf_counter()
    counts = await asyncio.gather(*(worker(port, tls, template, queue, context, latencies)
                                    for _ in range(concurrency)))
    return time.perf_counter() - started, latencies, sum(counts)


def postgres_cpu_seconds() -> float | None:
    """User + system CPU of the PostgreSQL backends serving the benchmark's database (None if there are none):
    what storing costs on the database side, without the other databases of the server."""
    pids = postgres_backends(DB_NAME)
    return cpu_seconds(pids) if pids else None


def fetch_certificate(http_port: int) -> bytes:
    with urllib.request.urlopen(f"http://127.0.0.1:{http_port}/mss/v1/tls/certificate", timeout=5) as r:  # noqa: S310
        return r.read()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--warmup", type=int, default=80)
    parser.add_argument("--no-tls", action="store_true", help="plain SMTP (AUTH allowed without STARTTLS)")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn workers (SMTP port shared, SO_REUSEPORT)")
    parser.add_argument("--plain-aiosmtplib", action="store_true",
                        help="let aiosmtplib run its normalisation regexes on every message (heavier load generator)")
    args = parser.parse_args()
    if not args.plain_aiosmtplib:
        lighten_aiosmtplib()
    tls = not args.no_tls

    url = asyncio.run(prepare_database(DB_NAME))
    http_port, smtp_port = free_port(), free_port()
    env = {
        **os.environ, "SEGUR_DATABASE_URL": url, "SEGUR_HTTP_PORT": str(http_port),
        "SEGUR_SMTP_PORT": str(smtp_port), "SEGUR_AUTO_MIGRATE": "false", "SEGUR_ACCESS_LOG": "false",
        "SEGUR_LOG_LEVEL": "WARNING", "SEGUR_MSS_SMTP_AUTH_REQUIRE_TLS": "false" if not tls else "true",
    }
    server = subprocess.Popen([sys.executable, "-m", "app.cli", "serve", "--workers", str(args.workers)],  # noqa: S603
                              cwd=ROOT, env=env)
    try:
        wait_ready(http_port, process=server)
        context = None
        if tls:
            context = ssl.create_default_context(cadata=fetch_certificate(http_port).decode())
        template, xdm_size = build_template()
        asyncio.run(drive(smtp_port, args.warmup, args.concurrency, tls, template, context))
        procs = [psutil.Process(server.pid), *psutil.Process(server.pid).children(recursive=True)]
        for proc in procs:
            proc.cpu_percent(None)
        me = psutil.Process()
        me.cpu_percent(None)
        database_before = postgres_cpu_seconds()
        elapsed, latencies, sent = asyncio.run(
            drive(smtp_port, args.messages, args.concurrency, tls, template, context))
        server_cpu = sum(proc.cpu_percent(None) for proc in procs)
        client_cpu = me.cpu_percent(None)
        database_after = postgres_cpu_seconds()
        stored, delivered = asyncio.run(stored_count(url))
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
        asyncio.run(drop_database(DB_NAME))
    latencies.sort()
    rate = sent / elapsed
    p50 = latencies[len(latencies) // 2] * 1000
    p99 = latencies[int(len(latencies) * 0.99) - 1] * 1000
    print("MSSanté SMTP benchmark (bench/mss_smtp.py)")
    print(f"  conditions: {args.concurrency} connections, {'STARTTLS + ' if tls else ''}AUTH PLAIN once per "
          f"connection, {sent} messages of {len(template) // 1024} KB (IHE_XDM.ZIP {xdm_size // 1024} KB), "
          f"1 recipient each; warm-up {args.warmup} messages")
    print(f"  server: {args.workers} uvicorn worker(s), SMTP on each worker's loop, "
          f"PostgreSQL {ADMIN_URL.rsplit('@', 1)[-1]} "
          f"(fresh database), Python {platform.python_version()}, {os.cpu_count()} CPUs "
          f"(load generator on the same machine)")
    print(f"  accepted and stored: {rate:.0f} msg/s ({sent} in {elapsed:.2f} s); "
          f"latency p50 {p50:.1f} ms, p99 {p99:.1f} ms; server CPU {server_cpu:.0f}%, "
          f"load generator CPU {client_cpu:.0f}%")
    expected = sent + args.warmup
    print(f"  check: {stored} messages stored, {delivered} deliveries (expected {expected}) "
          f"-> {'OK' if stored == expected and delivered == expected else 'MISMATCH'}")
    print(f"  server CPU per message: {server_cpu / 100 / rate * 1000:.1f} ms "
          f"(=> about {rate * 100 / max(server_cpu, 1):.0f} msg/s per fully available core); "
          f"machine load average {os.getloadavg()[0]:.1f}")
    if database_before is not None and database_after is not None:
        print(f"  PostgreSQL CPU per message: {(database_after - database_before) / sent * 1000:.1f} ms "
              f"(the backends serving {DB_NAME})")
    print(f"  target >= 200 msg/s: {'met' if rate >= 200 else 'NOT met'}")
    return 0 if stored == expected else 1


if __name__ == "__main__":
    raise SystemExit(main())
