"""MSSanté IMAP benchmark on PostgreSQL, one worker: FETCH throughput, IDLE wake-up, idle connections held.

What it does (and prints):
1. prepares a fresh PostgreSQL database (created, migrated, seeded, dropped at the end) and starts the sandbox
   with uvicorn, one worker, the SMTP and IMAP listeners on its event loop (``bench/_harness.py``);
2. delivers ``--messages`` messages of about 100 KB (an ``IHE_XDM.ZIP`` with a CDA and an incompressible PDF)
   to one mailbox over SMTP (STARTTLS + AUTH PLAIN), as an LPS sends them;
3. FETCH: ``--connections`` IMAP connections (default 8), each STARTTLS + LOGIN + SELECT INBOX once, then
   ``UID FETCH <uid> (BODY.PEEK[])`` of whole messages, one per command, back to back, until ``--fetches``
   messages are read (every literal's size checked); then the same with 25 messages per command. Prints
   messages/s, MB/s, latency and the server's CPU per message. Target (issue 12): >= 500 messages/s;
4. IDLE wake-up: one connection in IDLE (RFC 2177) on that INBOX, then ``--wakeups`` SMTP deliveries one after
   the other; for each, the time from the first byte of DATA to the untagged ``EXISTS`` on the IDLE
   connection, and from the SMTP server's 250 to it. Target: p95 <= 50 ms;
5. ``--idle`` connections (default 1,000) opened (STARTTLS, LOGIN, SELECT, IDLE) and held: the server's RSS
   before, while held, after they close; its CPU while they idle; how long one delivery takes to reach
   all of them; a fresh connection's LOGIN + SELECT + FETCH meanwhile. Twice: on an empty INBOX (what a
   connection costs), then on the INBOX of step 2 (each session keeps its snapshot of the selected folder's
   UIDs and flags). Target: bounded memory, stated as at most 100 KB per held connection on the empty INBOX
   and nothing spent while idle.

The load generator is this process (a plain asyncio IMAP client: tagged commands, literals read by size), the
SMTP sender aiosmtplib. Usage: ``.venv/bin/python bench/mss_imap.py [--quick] [--messages 200]
[--fetches 4000] [--connections 8] [--wakeups 200] [--idle 1000]``; ``SEGUR_BENCH_DATABASE_URL`` names the
PostgreSQL server (default postgresql://postgres@127.0.0.1:5432/test).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import resource
import ssl
import sys
import time
import urllib.request
from collections.abc import Sequence
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
    prepare_database,
    start_sandbox,
)

SENDER, RECIPIENT = MSS_SENDER, MSS_RECIPIENT
PASSWORD = "mssante"
PDF_BYTES = 70 * 1024  # with the CDA, zipped and base64-encoded: a message of about 100 KB


# --------------------------------------------------------------------------- a small IMAP client

class ImapError(RuntimeError):
    pass


class Imap:
    """One IMAP connection: tagged commands in sequence, untagged lines collected, literals read by size
    (their bytes counted, not kept)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.counter = 0

    @classmethod
    async def open(cls, port: int, context: ssl.SSLContext, *, user: str = RECIPIENT, select: bool = True) -> Imap:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        self = cls(reader, writer)
        greeting = await reader.readline()
        if not greeting.startswith(b"* OK"):
            raise ImapError(f"greeting: {greeting!r}")
        await self.command(b"STARTTLS")
        await writer.start_tls(context, server_hostname="127.0.0.1")
        await self.command(b'LOGIN "%s" "%s"' % (user.encode(), PASSWORD.encode()))
        if select:
            await self.command(b"SELECT INBOX")
        return self

    async def command(self, text: bytes) -> tuple[list[bytes], list[int]]:
        """Send ``text``, read to its tagged OK: (untagged lines without their literals, literal sizes)."""
        self.counter += 1
        tag = b"b%d" % self.counter
        self.writer.write(tag + b" " + text + b"\r\n")
        untagged: list[bytes] = []
        literals: list[int] = []
        while True:
            line = await self.reader.readline()
            if not line:
                raise ImapError(f"connection closed during {text[:40]!r}")
            while line.endswith(b"}\r\n"):
                size = int(line[line.rindex(b"{") + 1:-3].rstrip(b"+"))
                await self.reader.readexactly(size)
                literals.append(size)
                line = await self.reader.readline()
            if line.startswith(tag + b" "):
                if not line[len(tag) + 1:].startswith(b"OK"):
                    raise ImapError(f"{text[:40]!r}: {line!r}")
                return untagged, literals
            untagged.append(line)

    async def idle(self) -> None:
        """IDLE (RFC 2177): sent, and its ``+`` continuation awaited; the caller then reads pushes."""
        self.counter += 1
        self.idle_tag = b"b%d" % self.counter
        self.writer.write(self.idle_tag + b" IDLE\r\n")
        while not (line := await self.reader.readline()).startswith(b"+"):
            if not line:
                raise ImapError("connection closed before IDLE's continuation")

    async def close(self) -> None:
        self.writer.close()
        try:
            await self.writer.wait_closed()
        except (OSError, ssl.SSLError):
            pass


# --------------------------------------------------------------------------- preparation

def build_template() -> bytes:
    return mss_message(pdf_bytes=PDF_BYTES, note="benchmark IMAP")[0]


def with_id(template: bytes) -> bytes:
    return template.replace(b"<MSGID>", make_msgid(domain="bench.test").encode())


async def smtp_client(port: int, context: ssl.SSLContext) -> aiosmtplib.SMTP:
    client = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, start_tls=False, timeout=60)
    await client.connect()
    await client.starttls(tls_context=context)
    await client.login(SENDER, PASSWORD)
    return client


async def fill(smtp_port: int, context: ssl.SSLContext, template: bytes, count: int) -> None:
    queue = list(range(count))

    async def worker() -> None:
        client = await smtp_client(smtp_port, context)
        while queue:
            queue.pop()
            errors, _ = await client.sendmail(SENDER, [RECIPIENT], with_id(template))
            if errors:
                raise RuntimeError(f"refused: {errors}")
        await client.quit()

    await asyncio.gather(*(worker() for _ in range(4)))


# --------------------------------------------------------------------------- the measures

def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(int(len(ordered) * q), len(ordered) - 1)]


async def fetch_phase(port: int, context: ssl.SSLContext, uids: list[int], fetches: int, connections: int,
                      batch: int, server_pid: int) -> dict:
    clients = [await Imap.open(port, context) for _ in range(connections)]
    if batch == 1:
        commands = [b"UID FETCH %d (BODY.PEEK[])" % uids[i % len(uids)] for i in range(fetches)]
    else:
        groups = [uids[i:i + batch] for i in range(0, len(uids) - batch + 1, batch)]
        commands = [b"UID FETCH %s (BODY.PEEK[])" % b",".join(b"%d" % u for u in groups[i % len(groups)])
                    for i in range(max(fetches // batch, 1))]
    queue = list(reversed(commands))
    latencies: list[float] = []
    sizes: list[int] = []

    async def worker(imap: Imap) -> None:
        while queue:
            command = queue.pop()
            started = time.perf_counter()
            _, literals = await imap.command(command)
            latencies.append(time.perf_counter() - started)
            sizes.extend(literals)

    cpu_before = cpu_seconds([server_pid])
    started = time.perf_counter()
    await asyncio.gather(*(worker(c) for c in clients))
    wall = time.perf_counter() - started
    cpu = cpu_seconds([server_pid]) - cpu_before
    for imap in clients:
        await imap.close()
    expected = len(commands) * batch
    if len(sizes) != expected or min(sizes) < 90 * 1024:
        raise RuntimeError(f"FETCH answered {len(sizes)} literals (expected {expected}), smallest {min(sizes)}")
    return {
        "messages": len(sizes), "seconds": round(wall, 2), "messages_per_s": round(len(sizes) / wall, 1),
        "mb_per_s": round(sum(sizes) / wall / 1e6, 1), "command_p50_ms": round(percentile(latencies, 0.5) * 1000, 2),
        "command_p95_ms": round(percentile(latencies, 0.95) * 1000, 2),
        "server_cpu_ms_per_message": round(cpu * 1000 / len(sizes), 3),
    }


async def idle_phase(imap_port: int, smtp_port: int, context: ssl.SSLContext, template: bytes,
                     wakeups: int) -> dict:
    watcher = await Imap.open(imap_port, context)
    await watcher.idle()
    arrived = asyncio.Event()
    arrival = [0.0]

    async def read_pushes() -> None:
        while line := await watcher.reader.readline():
            if line.endswith(b"EXISTS\r\n"):
                arrival[0] = time.perf_counter()
                arrived.set()

    reader = asyncio.create_task(read_pushes())
    sender = await smtp_client(smtp_port, context)
    from_data: list[float] = []
    from_reply: list[float] = []
    for _ in range(wakeups):
        message = with_id(template)
        arrived.clear()
        await sender.mail(SENDER)
        await sender.rcpt(RECIPIENT)
        started = time.perf_counter()
        await sender.data(message)
        replied = time.perf_counter()
        await asyncio.wait_for(arrived.wait(), 5)
        from_data.append(arrival[0] - started)
        from_reply.append(max(arrival[0] - replied, 0.0))
        await asyncio.sleep(0.01)
    await sender.quit()
    watcher.writer.write(b"DONE\r\n")
    reader.cancel()
    await watcher.close()
    before_reply = sum(1 for value in from_reply if value == 0.0)
    return {
        "deliveries": wakeups,
        "from_data_p50_ms": round(percentile(from_data, 0.5) * 1000, 1),
        "from_data_p95_ms": round(percentile(from_data, 0.95) * 1000, 1),
        "from_data_max_ms": round(max(from_data) * 1000, 1),
        "after_250_p50_ms": round(percentile(from_reply, 0.5) * 1000, 2),
        "after_250_p95_ms": round(percentile(from_reply, 0.95) * 1000, 2),
        "exists_before_250": before_reply,
    }


def rss_mb(pid: int) -> float:
    process = psutil.Process(pid)
    return sum(p.memory_info().rss for p in [process, *process.children(recursive=True)]) / 1e6


async def held_phase(imap_port: int, smtp_port: int, context: ssl.SSLContext, template: bytes, count: int,
                     server_pid: int, uid: int, user: str) -> dict:
    """``count`` connections of ``user`` held in IDLE on its INBOX, then one delivery to ``user``."""
    await asyncio.sleep(1)
    before = rss_mb(server_pid)
    gate = asyncio.Semaphore(32)
    probe = await Imap.open(imap_port, context, user=user, select=False)
    untagged, _ = await probe.command(b"STATUS INBOX (MESSAGES)")
    await probe.close()
    messages = int(untagged[0].rsplit(b"MESSAGES ", 1)[1].split(b")")[0])

    async def one() -> Imap:
        async with gate:
            imap = await Imap.open(imap_port, context, user=user)
            await imap.idle()
            return imap

    started = time.perf_counter()
    held = await asyncio.gather(*(one() for _ in range(count)))
    opened = time.perf_counter() - started
    await asyncio.sleep(2)
    during = rss_mb(server_pid)
    cpu_before = cpu_seconds([server_pid])
    await asyncio.sleep(5)
    idle_cpu = (cpu_seconds([server_pid]) - cpu_before) / 5 * 100

    # one delivery: how long until every held IDLE connection has its EXISTS
    async def first_exists(imap: Imap) -> float:
        while line := await imap.reader.readline():
            if line.endswith(b"EXISTS\r\n"):
                return time.perf_counter()
        raise ImapError("closed while waiting for EXISTS")

    waiters = [asyncio.create_task(first_exists(imap)) for imap in held]
    sender = await smtp_client(smtp_port, context)
    sent = time.perf_counter()
    await sender.sendmail(SENDER, [user], with_id(template).replace(RECIPIENT.encode(), user.encode()))
    arrivals = await asyncio.wait_for(asyncio.gather(*waiters), 60)
    await sender.quit()
    fan_out = [a - sent for a in arrivals]

    # a fresh connection meanwhile
    started = time.perf_counter()
    fresh = await Imap.open(imap_port, context)
    await fresh.command(b"UID FETCH %d (BODY.PEEK[])" % uid)
    fresh_ms = (time.perf_counter() - started) * 1000
    await fresh.close()

    for imap in held:
        imap.writer.write(b"DONE\r\n")
    await asyncio.gather(*(imap.close() for imap in held))
    await asyncio.sleep(3)
    after = rss_mb(server_pid)
    return {
        "mailbox": user, "messages_in_inbox": messages, "connections": count, "opened_in_s": round(opened, 1),
        "rss_before_mb": round(before, 1),
        "rss_held_mb": round(during, 1), "rss_after_close_mb": round(after, 1),
        "kb_per_connection": round((during - before) * 1000 / count, 1),
        "server_cpu_while_idle_percent": round(idle_cpu, 2),
        "one_delivery_reaches_all_p50_ms": round(percentile(fan_out, 0.5) * 1000, 1),
        "one_delivery_reaches_all_max_ms": round(max(fan_out) * 1000, 1),
        "fresh_login_select_fetch_ms": round(fresh_ms, 1),
    }


# --------------------------------------------------------------------------- main

def fetch_certificate(http_port: int) -> bytes:
    with urllib.request.urlopen(f"http://127.0.0.1:{http_port}/mss/v1/tls/certificate", timeout=5) as r:  # noqa: S310
        return bytes(r.read())


async def bench(args: argparse.Namespace, http_port: int, imap_port: int, smtp_port: int, server_pid: int) -> dict:
    context = ssl.create_default_context(cadata=fetch_certificate(http_port).decode())
    template = build_template()
    await fill(smtp_port, context, template, args.messages)
    imap = await Imap.open(imap_port, context)
    untagged, _ = await imap.command(b"UID SEARCH ALL")
    uids = [int(u) for line in untagged if line.startswith(b"* SEARCH") for u in line.split()[2:]]
    await imap.close()
    if len(uids) != args.messages:
        raise RuntimeError(f"{len(uids)} messages in the INBOX, {args.messages} delivered")
    await fetch_phase(imap_port, context, uids, min(args.fetches, 400), args.connections, 1, server_pid)  # warm-up
    results = {
        "message_bytes": len(template),
        "fetch": await fetch_phase(imap_port, context, uids, args.fetches, args.connections, 1, server_pid),
        "fetch_25_per_command": await fetch_phase(imap_port, context, uids, args.fetches, args.connections, 25,
                                                  server_pid),
        "idle_wakeup": await idle_phase(imap_port, smtp_port, context, template, args.wakeups),
        # the cost of a connection (an empty INBOX: the sender's), then with the 200-message INBOX selected
        "held": await held_phase(imap_port, smtp_port, context, template, args.idle, server_pid, uids[0], SENDER),
        "held_full": await held_phase(imap_port, smtp_port, context, template, args.idle, server_pid, uids[0],
                                      RECIPIENT),
    }
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="a short run: 100 messages, 1,000 fetches, 50 wake-ups, 300 idle connections")
    parser.add_argument("--messages", type=int, default=200)
    parser.add_argument("--fetches", type=int, default=4000)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--wakeups", type=int, default=200)
    parser.add_argument("--idle", type=int, default=1000)
    parser.add_argument("--database", default=f"segur_bench_mss_imap_{os.getpid()}",
                        help="the throw-away database (per process by default: two runs at once never share one)")
    args = parser.parse_args()
    if args.quick:
        args.messages, args.fetches, args.wakeups, args.idle = 100, 1000, 50, 300
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 2 * args.idle + 200  # the held connections on both ends (the server inherits the limit)
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(wanted, hard), hard))

    url = asyncio.run(prepare_database(args.database))
    http_port, smtp_port, imap_port = free_port(), free_port(), free_port()
    try:
        server = start_sandbox(url, http_port, env={"SEGUR_SMTP_PORT": str(smtp_port),
                                                     "SEGUR_MSS_IMAP_PORT": str(imap_port),
                                                     "SEGUR_MSS_IMAP_MAX_CONNECTIONS": str(args.idle + 100)})
    except BaseException:
        asyncio.run(drop_database(args.database))
        raise
    try:
        try:
            import uvloop  # installed with uvicorn[standard]: the load generator's loop, as the server's
            results = uvloop.run(bench(args, http_port, imap_port, smtp_port, server.pid))
        except ImportError:
            results = asyncio.run(bench(args, http_port, imap_port, smtp_port, server.pid))
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except Exception:
            server.kill()
        asyncio.run(drop_database(args.database))

    fetch, idle, held = results["fetch"], results["idle_wakeup"], results["held"]
    load = os.getloadavg()
    print("\n== MSSanté IMAP benchmark (bench/mss_imap.py) ==")
    print(f"machine: {platform.machine()} {os.cpu_count()} CPUs (load average at the end {load[0]:.1f} / {load[1]:.1f}"
          f" / {load[2]:.1f}), Python {platform.python_version()}, PostgreSQL at {ADMIN_URL.rsplit('@', 1)[-1]} "
          f"(fresh database); server: uvicorn, 1 worker (uvloop), SMTP and IMAP on its loop; load generator: this "
          f"process (asyncio IMAP client, aiosmtplib), same machine, 127.0.0.1, STARTTLS everywhere")
    print(f"data: {args.messages} messages of {results['message_bytes']} bytes (IHE_XDM.ZIP: CDA + "
          f"{PDF_BYTES // 1024} KB incompressible PDF) delivered over SMTP to {RECIPIENT}")
    print(f"FETCH, whole messages, 1 per command (UID FETCH n (BODY.PEEK[])), {args.connections} connections: "
          f"{fetch}")
    print(f"FETCH, 25 messages per command, {args.connections} connections: {results['fetch_25_per_command']}")
    print(f"IDLE wake-up ({idle['deliveries']} SMTP deliveries, one IDLE connection): {idle}")
    print(f"{held['connections']} IMAP connections held in IDLE on an empty INBOX: {held}")
    print(f"{held['connections']} IMAP connections held in IDLE on the INBOX of {args.messages}+ messages: "
          f"{results['held_full']}")
    memory_ok = held["kb_per_connection"] <= 100 and held["server_cpu_while_idle_percent"] < 1
    print(f"targets: FETCH >= 500 messages/s {'MET' if fetch['messages_per_s'] >= 500 else 'NOT MET'} "
          f"({fetch['messages_per_s']}/s); IDLE wake-up p95 <= 50 ms "
          f"{'MET' if idle['from_data_p95_ms'] <= 50 else 'NOT MET'} ({idle['from_data_p95_ms']} ms from DATA, "
          f"{idle['after_250_p95_ms']} ms after the 250); {held['connections']} idle connections with bounded "
          f"memory (<= 100 KB each, < 1% CPU while idle) {'MET' if memory_ok else 'NOT MET'} "
          f"({held['kb_per_connection']} KB each, {held['server_cpu_while_idle_percent']}% CPU)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
