"""The sandbox side by side with its peers (issue 16), interleaved, with the ratios as the figures.

- Tokens: **oidc-provider** (Node, one process; RS256 JWT access tokens for client_credentials, through
  resource indicators; ``bench/peers/oidc``) and the sandbox's token endpoint (one uvicorn worker,
  PostgreSQL), both driven by **wrk** (2 threads, 32 connections, ``bench/peers/wrk.lua`` posting the same
  form with HTTP Basic client authentication). Runs alternate: peer, sandbox, sandbox's userinfo, peer,
  sandbox, ... Reported: rate, p50/p99, the sandbox's CPU per request, and the ratios.
- SMTP: a bare **aiosmtpd** sink (``bench/peers/smtp_sink.py``) and the sandbox's listener (parsed, checked and
  stored), ~100 KB MSSanté messages with an ``IHE_XDM.ZIP``, the same smtplib client (8 connections, each its
  own process: EHLO, AUTH PLAIN once, then messages back to back), runs alternating; the messages the sandbox
  accepted are counted in its store afterwards.

Targets (issue 16): tokens >= 1.0x oidc-provider, p99 <= 2x the peer's, no sandbox run's p99 above twice the
first's; userinfo >= 4x the token rate; SMTP >= 1.0x the sink. Absolute figures depend on the machine and on
what else runs (each run prints the load average); the ratio of interleaved runs is the figure.

Run: ``.venv/bin/python bench/peers/compare.py [--quick] [--runs 5] [--seconds 10] [--only tokens|smtp]``.
oidc-provider is installed with npm into ``bench/peers/oidc/node_modules`` on first use (``--no-install``: skip
the token comparison instead); wrk is Debian's ``wrk``. ``--quick``: one 2 s run of each, for a check that it
works end to end (tests/bench/test_peers.py). ``SEGUR_BENCH_DATABASE_URL`` names the PostgreSQL server.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import multiprocessing
import os
import platform
import shutil
import smtplib
import statistics
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from email.utils import make_msgid
from pathlib import Path
from typing import Any

import psutil

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path[:0] = [str(ROOT), str(HERE.parent)]

from _harness import (  # noqa: E402
    MSS_RECIPIENT,
    MSS_SENDER,
    drop_database,
    free_port,
    mss_message,
    prepare_database,
    start_sandbox,
)
from psc_tokens import user_token  # noqa: E402

DB_NAME = f"segur_bench_peers_{os.getpid()}"
OIDC_DIR = HERE / "oidc"
WRK_SCRIPT = HERE / "wrk.lua"
TOKEN_PATH = "/auth/realms/esante-wallet/protocol/openid-connect/token"
USERINFO_PATH = "/auth/realms/esante-wallet/protocol/openid-connect/userinfo"
CLIENT_ID, CLIENT_SECRET = "segur-sandbox-confidential", "segur-sandbox-secret"  # the same on both sides
TOKEN_FORM = "grant_type=client_credentials&scope=profile%20email"
WRK_THREADS, WRK_CONNECTIONS = 2, 32
SMTP_CONNECTIONS = 8
SMTP_PASSWORD = "mssante"  # the fixtures' MSSanté password
SMTP_PDF_BYTES = 70 * 1024  # an IHE_XDM.ZIP of ~72 KB, base64 in a message of ~100 KB


def load() -> float:
    return round(os.getloadavg()[0], 2)


def cpu_seconds(pid: int) -> float:
    times = psutil.Process(pid).cpu_times()
    return times.user + times.system


def wait_http(url: str, process: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{url}: the server exited with code {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2):  # noqa: S310 (our own 127.0.0.1 server)
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"{url} did not answer within {timeout:.0f} s")


def stop(process: subprocess.Popen | None) -> None:
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(10)


# --- the peers ------------------------------------------------------------------------------------


def oidc_peer_ready(install: bool) -> str | None:
    """None when oidc-provider can run, else why not (node missing, or not installed and ``install`` off)."""
    if shutil.which("node") is None:
        return "node is not installed"
    if (OIDC_DIR / "node_modules" / "oidc-provider").is_dir():
        return None
    if not install:
        return f"oidc-provider is not installed in {OIDC_DIR / 'node_modules'} (and --no-install)"
    npm = shutil.which("npm")
    if npm is None:
        return "npm is not installed"
    command = [npm, "ci" if (OIDC_DIR / "package-lock.json").exists() else "install", "--no-audit", "--no-fund"]
    print(f"installing oidc-provider: {' '.join(command[1:])} in {OIDC_DIR}", flush=True)
    subprocess.run(command, cwd=OIDC_DIR, check=True)  # noqa: S603
    return None


def start_oidc_peer(port: int) -> subprocess.Popen:
    process = subprocess.Popen(["node", "server.js", str(port)], cwd=OIDC_DIR,  # noqa: S603, S607
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_http(f"http://127.0.0.1:{port}/.well-known/openid-configuration", process)
    return process


def start_smtp_sink(port: int) -> subprocess.Popen:
    process = subprocess.Popen([sys.executable, str(HERE / "smtp_sink.py"), str(port)],  # noqa: S603
                               stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    if process.stdout.readline().strip() != "ready":
        raise SystemExit("the aiosmtpd sink did not start")
    return process


# --- wrk ------------------------------------------------------------------------------------------


@dataclass
class Run:
    side: str
    rate: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    load: float
    cpu_ms: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def wrk(url: str, seconds: float, *, side: str, method: str = "POST", body: str = "",
        headers: tuple[str, ...] = (), server_pid: int | None = None) -> Run:
    before_load = load()
    before_cpu = cpu_seconds(server_pid) if server_pid else 0.0
    command = ["wrk", f"-t{WRK_THREADS}", f"-c{WRK_CONNECTIONS}", f"-d{seconds:g}s", "--timeout", "10s",
               "-s", str(WRK_SCRIPT)]
    for header in headers:
        command += ["-H", header]
    output = subprocess.run([*command, url], capture_output=True, text=True, check=True,  # noqa: S603
                            env={**os.environ, "WRK_METHOD": method, "WRK_BODY": body}).stdout
    line = next((line for line in output.splitlines() if line.startswith("BENCH ")), None)
    if line is None:
        raise SystemExit(f"wrk printed no figures:\n{output}")
    figures = json.loads(line[6:])
    if figures["non_2xx"] or figures["socket_errors"]:
        raise SystemExit(f"{side}: {figures['non_2xx']} non-2xx answers, {figures['socket_errors']} socket errors")
    cpu_ms = None
    if server_pid:
        cpu_ms = (cpu_seconds(server_pid) - before_cpu) * 1000 / max(figures["requests"], 1)
    return Run(side, figures["requests"] / figures["seconds"], figures["p50_us"] / 1000, figures["p99_us"] / 1000,
               figures["max_us"] / 1000, before_load, cpu_ms)


def basic_auth() -> str:
    return "Authorization: Basic " + base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()


# --- smtplib, one process per connection -------------------------------------------------------------


def _smtp_connection(port: int, seconds: float, template: bytes, login: bool, queue: Any) -> None:
    latencies: list[float] = []
    with smtplib.SMTP("127.0.0.1", port, timeout=60) as client:
        client.ehlo("client.bench.test")
        if login:
            client.login(MSS_SENDER, SMTP_PASSWORD)
        deadline = time.perf_counter() + seconds
        while time.perf_counter() < deadline:
            message = template.replace(b"<MSGID>", make_msgid(domain="bench.test").encode())
            started = time.perf_counter()
            client.sendmail(MSS_SENDER, [MSS_RECIPIENT], message)
            latencies.append(time.perf_counter() - started)
    queue.put(latencies)


def smtp(port: int, seconds: float, template: bytes, *, side: str, server_pid: int | None = None) -> Run:
    before_load = load()
    before_cpu = cpu_seconds(server_pid) if server_pid else 0.0
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    started = time.perf_counter()
    workers = [context.Process(target=_smtp_connection, args=(port, seconds, template, True, queue))
               for _ in range(SMTP_CONNECTIONS)]
    for worker in workers:
        worker.start()
    latencies = sorted(value for _ in workers for value in queue.get(timeout=seconds + 120))
    elapsed = time.perf_counter() - started
    for worker in workers:
        worker.join()
        if worker.exitcode:
            raise SystemExit(f"{side}: an SMTP client failed (exit code {worker.exitcode})")
    count = len(latencies)
    cpu_ms = (cpu_seconds(server_pid) - before_cpu) * 1000 / max(count, 1) if server_pid else None
    return Run(side, count / elapsed, latencies[count // 2] * 1000, latencies[int(count * 0.99) - 1] * 1000,
               latencies[-1] * 1000, before_load, cpu_ms, {"messages": count})


async def stored_messages(url: str) -> int:
    from sqlalchemy import text

    from app.db import create_engine

    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            return int((await connection.execute(
                text("SELECT count(*) FROM mss_message WHERE kind = 'message'"))).scalar() or 0)
    finally:
        await engine.dispose()


# --- report -------------------------------------------------------------------------------------------


def line(run: Run) -> str:
    cpu = f", server CPU {run.cpu_ms:.3f} ms/request" if run.cpu_ms is not None else ""
    return (f"  {run.side:<28} {run.rate:>8,.0f}/s  p50 {run.p50_ms:>7.1f} ms  p99 {run.p99_ms:>7.1f} ms  "
            f"max {run.max_ms:>7.1f} ms{cpu}  (load {run.load:.2f})")


def verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


def median(runs: list[Run], attribute: str) -> float:
    return statistics.median(getattr(run, attribute) for run in runs)


def report_tokens(peer: list[Run], sandbox: list[Run], userinfo: list[Run]) -> dict[str, float]:
    rate = median(sandbox, "rate") / median(peer, "rate")
    pairs = [s.rate / p.rate for p, s in zip(peer, sandbox, strict=True)]
    p99 = median(sandbox, "p99_ms") / median(peer, "p99_ms")
    drift = max(run.p99_ms for run in sandbox) / sandbox[0].p99_ms
    user = median(userinfo, "rate") / median(sandbox, "rate")
    print("tokens, ratios (medians of the interleaved runs):")
    print(f"  client_credentials rate, sandbox / oidc-provider: {rate:.2f}x (runs {min(pairs):.2f}-{max(pairs):.2f}x);"
          f" target >= 1.0x: {verdict(rate >= 1.0)}")
    print(f"  p99, sandbox / oidc-provider: {p99:.2f}x; target <= 2x: {verdict(p99 <= 2.0)}")
    print(f"  sandbox p99, highest run / first run: {drift:.2f}x; target <= 2x: {verdict(drift <= 2.0)}")
    print(f"  userinfo rate / token rate (sandbox): {user:.2f}x; target >= 4x: {verdict(user >= 4.0)}")
    return {"token_rate_ratio": rate, "token_p99_ratio": p99, "token_p99_drift": drift, "userinfo_ratio": user}


def report_smtp(sink: list[Run], sandbox: list[Run]) -> dict[str, float]:
    rate = median(sandbox, "rate") / median(sink, "rate")
    pairs = [s.rate / p.rate for p, s in zip(sink, sandbox, strict=True)]
    print("SMTP, ratio (medians of the interleaved runs):")
    print(f"  messages/s, sandbox (stored and checked) / aiosmtpd sink: {rate:.2f}x "
          f"(runs {min(pairs):.2f}-{max(pairs):.2f}x); target >= 1.0x: {verdict(rate >= 1.0)}")
    return {"smtp_rate_ratio": rate}


# --- main ---------------------------------------------------------------------------------------------


def compare_tokens(args: argparse.Namespace, port: int, server_pid: int, ratios: dict[str, float]) -> None:
    why_not = oidc_peer_ready(install=not args.no_install)
    if why_not is not None:
        print(f"tokens: skipped, {why_not}")
        return
    if shutil.which("wrk") is None:
        print("tokens: skipped, wrk is not installed (Debian package wrk)")
        return
    peer_port = free_port()
    peer = start_oidc_peer(peer_port)
    try:
        base = f"http://127.0.0.1:{port}"
        bearer = f"Authorization: Bearer {user_token(base)}"
        peer_url, token_url, userinfo_url = (f"http://127.0.0.1:{peer_port}/token", base + TOKEN_PATH,
                                             base + USERINFO_PATH)
        warm = 1 if args.quick else 3
        wrk(peer_url, warm, side="warm-up", body=TOKEN_FORM, headers=(basic_auth(),))
        wrk(token_url, warm, side="warm-up", body=TOKEN_FORM, headers=(basic_auth(),))
        wrk(userinfo_url, warm, side="warm-up", method="GET", headers=(bearer,))
        print(f"tokens: {args.runs} x {args.seconds:g} s per side, wrk {WRK_THREADS} threads {WRK_CONNECTIONS} "
              "connections, interleaved", flush=True)
        peers, sandboxes, userinfos = [], [], []
        for _ in range(args.runs):
            peers.append(wrk(peer_url, args.seconds, side="oidc-provider token", body=TOKEN_FORM,
                             headers=(basic_auth(),)))
            print(line(peers[-1]), flush=True)
            sandboxes.append(wrk(token_url, args.seconds, side="sandbox token", body=TOKEN_FORM,
                                 headers=(basic_auth(),), server_pid=server_pid))
            print(line(sandboxes[-1]), flush=True)
            userinfos.append(wrk(userinfo_url, args.seconds, side="sandbox userinfo", method="GET",
                                 headers=(bearer,), server_pid=server_pid))
            print(line(userinfos[-1]), flush=True)
    finally:
        stop(peer)
    ratios.update(report_tokens(peers, sandboxes, userinfos))


def compare_smtp(args: argparse.Namespace, smtp_port: int, server_pid: int, url: str,
                 ratios: dict[str, float]) -> None:
    template, archive = mss_message(pdf_bytes=SMTP_PDF_BYTES, note="bench/peers")
    sink_port = free_port()
    sink = start_smtp_sink(sink_port)
    try:
        before = asyncio.run(stored_messages(url))
        warm = 1 if args.quick else 2
        smtp(sink_port, warm, template, side="warm-up")
        accepted = smtp(smtp_port, warm, template, side="warm-up").extra["messages"]
        print(f"SMTP: {args.runs} x {args.seconds:g} s per side, messages of {len(template) // 1024} KB "
              f"(IHE_XDM.ZIP {archive // 1024} KB), smtplib, {SMTP_CONNECTIONS} connections (one process each), "
              "AUTH PLAIN once per connection, no TLS, interleaved", flush=True)
        sinks, sandboxes = [], []
        for _ in range(args.runs):
            sinks.append(smtp(sink_port, args.seconds, template, side="aiosmtpd sink"))
            print(line(sinks[-1]), flush=True)
            sandboxes.append(smtp(smtp_port, args.seconds, template, side="sandbox SMTP (stored)",
                                  server_pid=server_pid))
            print(line(sandboxes[-1]), flush=True)
            accepted += sandboxes[-1].extra["messages"]
        stored = asyncio.run(stored_messages(url)) - before
    finally:
        stop(sink)
    check = "OK" if stored == accepted else "MISMATCH"
    print(f"  check: {accepted} messages accepted by the sandbox, {stored} stored -> {check}")
    if stored != accepted:
        raise SystemExit("the sandbox did not store every message it accepted")
    ratios.update(report_smtp(sinks, sandboxes))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one 2 s run per side: checks that it all works")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--only", choices=["tokens", "smtp"])
    parser.add_argument("--no-install", action="store_true", help="do not run npm: skip tokens if not installed")
    parser.add_argument("--json", type=Path, help="also write the runs and ratios to this file")
    args = parser.parse_args()
    if args.quick:
        args.runs, args.seconds = 1, 2

    started_at = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    url = asyncio.run(prepare_database(DB_NAME))
    port, smtp_port = free_port(), free_port()
    server = start_sandbox(url, port, pool_size=WRK_CONNECTIONS, env={
        "SEGUR_SMTP_PORT": str(smtp_port), "SEGUR_MSS_SMTP_AUTH_REQUIRE_TLS": "false",
        "SEGUR_MSS_IMAP_ENABLED": "false",
    })
    ratios: dict[str, float] = {}
    try:
        print(f"bench/peers/compare.py, {started_at}: {psutil.cpu_count()} CPUs, load {load():.2f}; "
              f"Python {platform.python_version()}, {platform.machine()}; sandbox: one uvicorn worker (uvloop, "
              f"httptools), PostgreSQL database {DB_NAME}; peers and load generators on the same machine", flush=True)
        if args.only in (None, "tokens"):
            compare_tokens(args, port, server.pid, ratios)
        if args.only in (None, "smtp"):
            compare_smtp(args, smtp_port, server.pid, url, ratios)
    finally:
        stop(server)
        asyncio.run(drop_database(DB_NAME))
    print(f"load average at the end: {load():.2f}")
    if args.json:
        args.json.write_text(json.dumps({"at": started_at, "ratios": ratios}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
