"""Tenants: the PSC token and DMP ITI-65 loads with 50 tenants populated, against the same loads with only the
default tenant (issue 15: within 10 % of the single-tenant figures).

What it does (and prints):
1. two fresh PostgreSQL databases, migrated and seeded with the fixtures: ``single`` (the default tenant only) and
   ``multi``, where ``--tenants`` tenants (default 50) are created with ``seed: fixtures`` through the control API
   and each is populated with ``--documents`` ITI-65 submissions (default 200) through its own ``/t/{x}/dmp/fhir``;
2. one sandbox per database (uvicorn, one worker each, as bench/psc_tokens.py and bench/dmp.py start it);
3. ``--rounds`` rounds, interleaved (single, multi, single, multi...: the machine's noise falls on both): the
   ``client_credentials`` token load and the ITI-65 load (a 100 KB PDF each, bench/dmp.py's bundle) on the default
   tenant of ``single``, and on one tenant of ``multi`` (its ``/t/{x}`` paths, its own token) — and on ``multi``'s
   default tenant, which shares its tables with the 50;
4. prints the best round of each (requests/s, p95) and the ratios multi / single, and the server CPU per request;
5. drops the databases.

Usage: ``.venv/bin/python bench/tenants.py [--tenants 50] [--documents 200] [--rounds 3] [--quick]``;
``--quick``: 3 tenants, 5 documents each, short loads (a smoke run: its figures mean nothing).
``SEGUR_BENCH_DATABASE_URL`` names the PostgreSQL server (default postgresql://postgres@127.0.0.1:5432/test).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import platform
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from _harness import ADMIN_URL, cpu_seconds, drop_database, free_port, prepare_database, run_load, start_sandbox  # noqa: E402
from dmp import iti65_requests, iti65_template  # noqa: E402

OIDC = "/auth/realms/esante-wallet/protocol/openid-connect"
CLIENT = ("segur-sandbox-confidential", "segur-sandbox-secret")
PROFESSIONAL = "810001000016"
NIR_OID = "1.2.250.1.213.1.4.8"
ANSWER = re.compile(rb'"diagnostics": ?"([^"]{0,200})')


def token_requests(port: int, prefix: str, n: int) -> list[bytes]:
    body = b"grant_type=client_credentials"
    auth = base64.b64encode(f"{CLIENT[0]}:{CLIENT[1]}".encode()).decode()
    one = (f"POST {prefix}{OIDC}/token HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Basic {auth}\r\n"
           f"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body
    return [one] * n


async def user_token(port: int, prefix: str) -> str:
    import httpx

    from tests.psc.helpers import access_token_for

    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}{prefix}", timeout=60) as client:
        return await access_token_for(client, PROFESSIONAL)


async def seeded_patients(port: int, prefix: str) -> list[str]:
    """The NIR-identified INS of the fixtures' DMPs (the ITI-65 template names the NIR OID)."""
    import httpx

    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}{prefix}", timeout=60) as client:
        response = await client.get("/sandbox/v1/dmps")
        response.raise_for_status()
        rows = response.json()
    out = [row["ins"] for row in rows if row["oid"].endswith(NIR_OID) and row["active"]]
    if not out:
        raise SystemExit(f"no fixture DMP in {prefix or 'the default tenant'}")
    return out


def iti65_for(port: int, prefix: str, token: str, patients: list[str], n: int) -> list[bytes]:
    template, _ = iti65_template(port, token)
    if prefix:
        template = template.replace(b"POST /dmp/fhir ", f"POST {prefix}/dmp/fhir ".encode(), 1)
    return iti65_requests(template, patients, n)


async def create_tenants(port: int, names: list[str]) -> float:
    import httpx

    started = time.perf_counter()
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=600) as client:
        for name in names:
            response = await client.post("/sandbox/v1/tenants", json={"name": name, "seed": "fixtures"})
            if response.status_code != 201:
                raise SystemExit(f"creating tenant {name}: {response.status_code} {response.text[:300]}")
    return time.perf_counter() - started


def populate(port: int, names: list[str], documents: int) -> int:
    """``documents`` ITI-65 submissions in each tenant, through its own faces; the count filed."""
    filed = 0
    for name in names:
        prefix = f"/t/{name}"
        token = asyncio.run(user_token(port, prefix))
        patients = asyncio.run(seeded_patients(port, prefix))
        result = run_load(port, iti65_for(port, prefix, token, patients, documents), 4, tag=ANSWER)
        filed += result["statuses"].get(200, 0) + result["statuses"].get(201, 0)
        bad = {k: v for k, v in result["statuses"].items() if k not in (200, 201)}
        if bad:
            raise SystemExit(f"populating {name}: statuses {bad} {result.get('codes')}")
    return filed


def measure(port: int, pid: int, requests: list[bytes], connections: int) -> dict:
    before = cpu_seconds([pid])
    result = run_load(port, requests, connections, tag=ANSWER)
    cpu = cpu_seconds([pid]) - before
    result["cpu_ms"] = round(cpu * 1000 / max(result["requests"], 1), 3)
    ok = sum(v for k, v in result["statuses"].items() if k in (200, 201))
    if ok != result["requests"]:
        raise SystemExit(f"failed requests: {result['statuses']} {result.get('codes')}")
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", type=int, default=50)
    parser.add_argument("--documents", type=int, default=200, help="ITI-65 submissions filed in each tenant")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--tokens", type=int, default=4000, help="token requests per round")
    parser.add_argument("--submissions", type=int, default=600, help="ITI-65 submissions per round")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--quick", action="store_true", help="a smoke run: 3 tenants, tiny loads")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args(argv)
    if args.quick:
        args.tenants, args.documents, args.rounds, args.tokens, args.submissions = 3, 5, 1, 300, 40
    stamp = f"{os.getpid()}"
    databases = {"single": f"segur_bench_tenants_single_{stamp}", "multi": f"segur_bench_tenants_multi_{stamp}"}
    names = [f"bench-{i:02d}" for i in range(args.tenants)]
    servers: dict[str, object] = {}
    ports: dict[str, int] = {}
    figures: dict[str, list[dict]] = {}
    try:
        for kind, db in databases.items():
            url = asyncio.run(prepare_database(db))
            ports[kind] = free_port()
            servers[kind] = start_sandbox(url, ports[kind], pool_size=args.connections + 4,
                                          env={"SEGUR_PSC_ACCESS_TOKEN_TTL": "7200"})
        multi = ports["multi"]
        created = asyncio.run(create_tenants(multi, names))
        started = time.perf_counter()
        filed = populate(multi, names, args.documents)
        populated = time.perf_counter() - started
        print(f"multi: {args.tenants} tenants created with fixtures in {created:.1f} s, {filed} ITI-65 submissions "
              f"filed through their own faces in {populated:.1f} s")
        measured = names[len(names) // 2]
        targets = {  # (figure name, port, path prefix)
            "single default": ("single", ""), "multi tenant": ("multi", f"/t/{measured}"),
            "multi default": ("multi", ""),
        }
        loads: dict[str, dict[str, list[bytes]]] = {}
        for label, (kind, prefix) in targets.items():
            port = ports[kind]
            token = asyncio.run(user_token(port, prefix))
            patients = asyncio.run(seeded_patients(port, prefix))
            loads[label] = {
                "token": token_requests(port, prefix, args.tokens),
                "iti65": iti65_for(port, prefix, token, patients, args.submissions * (args.rounds + 1)),
            }
            # warm-up: connections, caches, statement caches
            measure(port, servers[kind].pid, token_requests(port, prefix, 300), args.connections)  # type: ignore[attr-defined]
        for round_ in range(args.rounds):
            for label, (kind, _) in targets.items():
                port, pid = ports[kind], servers[kind].pid  # type: ignore[attr-defined]
                token_result = measure(port, pid, loads[label]["token"], args.connections)
                chunk = loads[label]["iti65"][round_ * args.submissions:(round_ + 1) * args.submissions]
                iti65_result = measure(port, pid, chunk, args.connections)
                figures.setdefault(f"{label} token", []).append(token_result)
                figures.setdefault(f"{label} iti65", []).append(iti65_result)
    finally:
        for server in servers.values():
            server.terminate()  # type: ignore[attr-defined]
            server.wait(30)  # type: ignore[attr-defined]
        for db in databases.values():
            asyncio.run(drop_database(db))

    best = {name: max(rounds, key=lambda r: r["rps"]) for name, rounds in figures.items()}
    print("\n== tenants benchmark ==")
    for name, result in best.items():
        print(f"{name:<22} {result['rps']:>8.1f}/s  p95 {result['p95_ms']:>7.2f} ms  server CPU {result['cpu_ms']:.3f} "
              f"ms/request  (best of {len(figures[name])}: {[r['rps'] for r in figures[name]]})")
    ratios = {}
    for load in ("token", "iti65"):
        single = best[f"single default {load}"]
        for other in ("multi tenant", "multi default"):
            mine = best[f"{other} {load}"]
            ratios[f"{other} / single, {load}"] = {
                "rps": round(mine["rps"] / single["rps"], 3),
                "cpu_per_request": round(mine["cpu_ms"] / single["cpu_ms"], 3) if single["cpu_ms"] else None,
            }
    for name, ratio in ratios.items():
        verdict = "within 10 %" if ratio["rps"] >= 0.9 else "NOT within 10 %"
        print(f"{name:<32} throughput x{ratio['rps']:.3f} ({verdict}), server CPU per request "
              f"x{ratio['cpu_per_request']}")
    load = os.getloadavg()
    print(f"conditions: PostgreSQL at {ADMIN_URL.rsplit('@', 1)[-1]}; two sandboxes (uvicorn 1 worker each, uvloop, "
          f"httptools, journal on), measured alternately, {args.rounds} round(s); {args.tenants} tenants with fixtures "
          f"+ {args.documents} ITI-65 submissions each; loads: {args.tokens} client_credentials tokens and "
          f"{args.submissions} ITI-65 (100 KB PDF) per round over {args.connections} keep-alive connections from a "
          f"separate process; {os.cpu_count()} CPUs, load average {load[0]:.1f}; Python {platform.python_version()}"
          + (" -- QUICK run: the figures mean nothing" if args.quick else ""))
    if args.json:
        Path(args.json).write_text(json.dumps({"best": best, "ratios": ratios}, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
