"""Benchmark: INSi searches by traits per second, over the JSON facade and over SOAP.

What it does (and prints):
1. creates a fresh PostgreSQL database (default ``segur_bench_ins_<pid>``: two runs at once on a shared machine
   must not drop each other's database), migrates it, seeds the shipped fixtures plus
   ``--persons`` synthetic persons (bulk insert); with ``--tenants N``, N tenants more, each with the same
   fixtures and persons, and the load goes to the last one (``/t/bench-<N-1>/...``): the search among N + 1
   bases of the same size;
2. starts the sandbox with uvicorn, one worker, on 127.0.0.1 (uvloop + httptools, access log off, the journal
   on as in production);
3. drives it from a separate process with ``--connections`` keep-alive HTTP/1.1 connections (a minimal asyncio
   client, so the load generator costs little CPU), a bounded number of requests per protocol after a warm-up;
   queries mix found (00), not found (01) and ambiguous (02) persons;
4. prints requests/s, p50 and p99 latency, the CodeCR mix and the conditions; drops the database.

Usage: ``.venv/bin/python bench/ins_search.py [--persons 10000] [--requests 20000] [--connections 32]
[--protocols json,soap] [--tenants 0]``.
Targets (issue 4): >= 3000/s JSON, >= 1200/s SOAP, p99 < 25 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from _harness import ADMIN_URL, cpu_seconds, drop_database, free_port, postgres_backends, start_sandbox  # noqa: E402
from _harness import run_load as harness_run_load  # noqa: E402

# --------------------------------------------------------------------------- setup


def via_socket(url: str, socket_dir: str | None) -> str:
    """Same database through PostgreSQL's Unix socket (``?host=/dir``), or the URL unchanged."""
    if not socket_dir:
        return url
    from sqlalchemy.engine import make_url

    u = make_url(url)
    return u.set(host=None, port=None, query={"host": socket_dir}).render_as_string(hide_password=False)


def tenant_names(tenants: int) -> list[str]:
    """The tenants ``--tenants`` creates (the load goes to the last one)."""
    return [f"bench-{i}" for i in range(tenants)]


async def prepare(db_name: str, persons: int, tenants: int = 0) -> tuple[str, list[dict]]:
    from app.api.models import Tenant
    from app.db import create_database, create_engine, create_sessionmaker, upgrade, utcnow
    from app.ins import service
    from app.ins.schemas import FixtureFile
    from app.ins.synthetic import bulk_persons
    from app.tenancy import DEFAULT_TENANT, use_tenant

    url = await create_database(ADMIN_URL, db_name)
    engine = create_engine(url)
    await upgrade(engine)
    people = list(bulk_persons(persons))
    fixture = FixtureFile.model_validate({"persons": people})
    started = time.perf_counter()
    for name in [DEFAULT_TENANT, *tenant_names(tenants)]:
        async with create_sessionmaker(engine)() as session, session.begin():
            if name != DEFAULT_TENANT:
                session.add(Tenant(name=name, created_at=utcnow(), seeded="empty"))
            with use_tenant(name):
                await service.seed(session)
                await service.load_fixtures(session, fixture, skip_existing=False)
    print(f"seeded {persons} synthetic persons + fixtures in {tenants + 1} tenant(s) in "
          f"{time.perf_counter() - started:.1f} s")
    async with engine.connect() as conn:
        from sqlalchemy import text

        await conn.execute(text("ANALYZE"))
        await conn.commit()
    await engine.dispose()
    return url, people


# --------------------------------------------------------------------------- requests


def build_requests(people: list[dict], port: int, n: int, kind: str, seed: int = 1, prefix: str = "") -> list[bytes]:
    from app.ins.soap import client as soap

    rng = random.Random(seed)
    out = []
    for _ in range(n):
        p = rng.choice(people)
        roll = rng.random()
        prenom = p["ListePrenom"].split(" ")[0]
        date = p["DateNaissance"]
        if roll < 0.1:  # unknown person: 01
            date = "1901-01-01"
        elif roll < 0.15:  # homonyms of the fixtures: 02
            p, prenom, date = {"NomNaissance": "MARTIN", "Sexe": "M"}, "JEAN", "1980-05-12"
        if kind == "json":
            body = json.dumps({"NomNaissance": p["NomNaissance"], "Prenom": prenom, "Sexe": p["Sexe"],
                               "DateNaissance": date}).encode()
            head = (f"POST {prefix}/insi/v1/search-traits HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                    f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n").encode()
        else:
            body = soap.build_request(soap.recsansvitale_xml(p["NomNaissance"], prenom, p["Sexe"], date))
            head = (f"POST {prefix}/lps HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nX-Client-Cert-CN: INSI-AUTO\r\n"
                    f"Content-Type: application/soap+xml; charset=utf-8\r\nContent-Length: {len(body)}\r\n\r\n"
                    ).encode()
        out.append(head + body)
    return out


_CODE = re.compile(rb"CodeCR\W+(\d\d)")


def run_load(port: int, reqs: list[bytes], connections: int, server_pid: int, db_name: str) -> dict:
    cpu_server, cpu_pg = cpu_seconds([server_pid]), cpu_seconds(postgres_backends(db_name))
    result = harness_run_load(port, reqs, connections, tag=_CODE)
    n = result["requests"]
    result["rps"] = round(result["rps"])
    result["server_cpu_us"] = round((cpu_seconds([server_pid]) - cpu_server) / n * 1e6)
    result["postgres_cpu_us"] = round((cpu_seconds(postgres_backends(db_name)) - cpu_pg) / n * 1e6)
    return result


# --------------------------------------------------------------------------- main


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--persons", type=int, default=10_000)
    ap.add_argument("--requests", type=int, default=20_000, help="measured requests per protocol")
    ap.add_argument("--warmup", type=int, default=2_000)
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--protocols", default="json,soap", help="which front doors to measure, in order")
    ap.add_argument("--tenants", type=int, default=0,
                    help="tenants to create besides the default one, each as populated; the load goes to the last")
    ap.add_argument("--database", default=f"segur_bench_ins_{os.getpid()}",
                    help="created afresh (DROP ... WITH (FORCE) if it exists) and dropped at the end")
    ap.add_argument("--socket", default="/var/run/postgresql" if Path("/var/run/postgresql").is_dir() else "",
                    help="reach PostgreSQL through its Unix socket in this directory ('' for TCP 127.0.0.1)")
    args = ap.parse_args()


    server = None
    results = {}
    try:  # the database is named after this process: one left behind by a failed run would never be dropped
        url, people = asyncio.run(prepare(args.database, args.persons, args.tenants))
        prefix = f"/t/{tenant_names(args.tenants)[-1]}" if args.tenants else ""
        port = free_port()
        server = start_sandbox(via_socket(url, args.socket), port, timeout=30)
        for kind in args.protocols.split(","):
            run_load(port, build_requests(people, port, args.warmup, kind, seed=2, prefix=prefix), args.connections,
                     server.pid, args.database)
            results[kind] = run_load(port, build_requests(people, port, args.requests, kind, prefix=prefix),
                                     args.connections, server.pid, args.database)
    finally:
        if server is not None:
            server.terminate()
            server.wait(10)
        asyncio.run(drop_database(args.database))

    load = os.getloadavg()
    print()
    print("INSi search by traits, one uvicorn worker (uvloop, httptools), PostgreSQL, journal on")
    print(f"conditions: {os.cpu_count()} CPU ({platform.processor() or platform.machine()}), load average "
          f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f} at the end (machine shared with other jobs), Python "
          f"{platform.python_version()}, {args.persons} synthetic persons + fixtures"
          f"{f' in each of {args.tenants + 1} tenants, load on {prefix}' if args.tenants else ''}, {args.connections} "
          f"keep-alive connections, PostgreSQL via {'Unix socket ' + args.socket if args.socket else 'TCP'}, "
          f"{args.requests} measured requests per protocol after {args.warmup} warm-up, "
          "queries ~85% found (00), ~10% unknown (01), ~5% ambiguous (02)")
    targets = {"json": 3000, "soap": 1200}
    for kind, r in results.items():
        ok = "meets" if r["rps"] >= targets[kind] and r["p99_ms"] < 25 else "MISSES"
        print(f"{kind.upper():5} {r['rps']:6d} req/s  p50 {r['p50_ms']:6.2f} ms  p95 {r['p95_ms']:6.2f} ms  "
              f"p99 {r['p99_ms']:6.2f} ms  "
              f"max {r['max_ms']:7.1f} ms  ({r['requests']} in {r['seconds']} s; CodeCR {r['codes']}; "
              f"HTTP {r['statuses']})  target >= {targets[kind]}/s, p99 < 25 ms: {ok}")
        cpu = r["server_cpu_us"]
        print(f"      CPU per request: sandbox {cpu} us, PostgreSQL {r['postgres_cpu_us']} us -> one idle core "
              f"for the sandbox process would serve ~{1_000_000 // max(cpu, 1)} req/s")


if __name__ == "__main__":
    main()
