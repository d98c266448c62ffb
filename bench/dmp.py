"""Benchmark of the DMP (PDSm / IHE MHD) on PostgreSQL: ITI-65 submissions/s, ITI-67 latency, ITI-68 memory.

What it does (and prints):
1. creates a fresh PostgreSQL database (default ``segur_bench_dmp``), migrates it, seeds the fixtures
   (PSC professionals, INS identities and their DMPs), then bulk-inserts ``--patients`` extra DMPs holding
   ``--documents`` documents in all (default 2,000 and 100,000) and one 20 MB document;
2. starts the sandbox with uvicorn, one worker, on 127.0.0.1 (uvloop + httptools, access log off, the
   journal on as in production), gets a PSC access token through the sandbox's own code flow;
3. ITI-65: ``--submissions`` Provide Document Bundles (one DocumentReference + a 100 KB PDF each, every
   one with its own uniqueId, rotating over the seeded patients) over ``--connections`` keep-alive
   connections, from a separate process with a minimal asyncio client; prints submissions/s and latency;
4. ITI-67: ``--searches`` searches (``patient.identifier`` + ``status=current``, half of them with a
   ``type`` or ``creation`` filter, default page of 50) on random bench patients over 1 connection (latency)
   and over ``--connections`` (throughput); prints p50/p95/p99;
5. ITI-68: retrieves the 20 MB document ``--retrievals`` times, sampling the server's RSS every 5 ms;
   prints RSS before, peak during, after;
6. drops the database.

Usage: ``.venv/bin/python bench/dmp.py [--submissions 3000] [--searches 3000] [--connections 16]``.
Targets (issue 5): ITI-65 >= 250/s with a 100 KB PDF; ITI-67 p95 <= 30 ms with 100,000 documents over
2,000 patients; ITI-68 of 20 MB with flat memory.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import json
import os
import platform
import random
import re
import socket
import sys
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from _harness import ADMIN_URL, cpu_seconds, drop_database, free_port, start_sandbox  # noqa: E402
from _harness import run_load as harness_run_load  # noqa: E402

PROFESSIONAL = "810001000016"  # Claire Fontaine (PSC fixtures), VALIDE on every DMP
BIG_SIZE = 20 * 1024 * 1024
TYPES = ["11488-4", "11502-2", "18748-4", "34133-9", "11490-0", "57833-6", "87273-9", "11504-8"]


# --------------------------------------------------------------------------- setup

def _bench_ins(i: int) -> str:
    return f"3{i:012d}"[:13] + "99"


async def prepare(db_name: str, patients: int, documents: int) -> tuple[str, list[str], list[str], str]:
    from sqlalchemy import insert, select, text

    from app.api.store import seed_store
    from app.config import load_settings
    from app.db import create_database, create_engine, create_sessionmaker, upgrade
    from app.dmp import jsonio, service
    from app.dmp.models import DmpAuthorisation, DmpBinary, DmpBinaryChunk, DmpDocument, DmpRecord
    from app.domains import load_domains

    url = await create_database(ADMIN_URL, db_name)
    engine = create_engine(url)
    await upgrade(engine)
    settings = load_settings(database_url=url)
    sessionmaker = create_sessionmaker(engine)
    started = time.perf_counter()
    async with sessionmaker() as session, session.begin():
        await seed_store(session, settings, load_domains())
        # the NIR-identified seeded patients (the ITI-65 template says urn:oid:1.2.250.1.213.1.4.8)
        seeded = list((await session.execute(select(DmpRecord.ins).where(
            DmpRecord.ins_oid == "1.2.250.1.213.1.4.8").order_by(DmpRecord.id))).scalars())
    now = datetime.now(UTC)
    bench_ins = [_bench_ins(i) for i in range(patients)]
    async with sessionmaker() as session, session.begin():
        await session.execute(insert(DmpRecord), [
            {"ins": ins, "ins_oid": "1.2.250.1.213.1.4.8", "active": True, "linked_to_mes": True,
             "opt_out_bris_de_glace": False, "opt_out_centre_15": False, "created_at": now, "updated_at": now}
            for ins in bench_ins])
        ids = dict((await session.execute(select(DmpRecord.ins, DmpRecord.id).where(
            DmpRecord.ins.in_(bench_ins)))).all())
        await session.execute(insert(DmpAuthorisation), [
            {"dmp_id": ids[ins], "rpps": PROFESSIONAL[1:], "status": "VALIDE", "medecin_traitant": True,
             "updated_at": now} for ins in bench_ins])
        small = b"%PDF-1.4 bench document\n%%EOF\n"
        row, chunks = service.binary_rows("bench-small", small, "application/pdf",
                                          base64.b64encode(hashlib.sha1(small).digest()).decode(),  # noqa: S324
                                          settings.dmp_chunk_size)
        await session.execute(insert(DmpBinary), [row])
        await session.execute(insert(DmpBinaryChunk), chunks)
    rng = random.Random(5)
    batch: list[dict] = []
    base = {
        "submission_set_id": None, "binary_id": "bench-small", "version_id": 1, "availability": "Approved",
        "is_archived": False, "labels": [["http://terminology.hl7.org/CodeSystem/v3-Confidentiality", "N", "normal"]],
        "label_codes": " N ", "masked_ps": False, "invisible_patient": False, "invisible_rl": False,
        "author_rpps": "10001000032", "author_given": " sophie ", "author_family": " bernard ",
        "type_system": "http://loinc.org", "class_system": "https://mos.esante.gouv.fr/NOS/TRE_A03-ClasseDocument/"
        "FHIR/TRE-A03-ClasseDocument", "class_code": "10", "format_system": "https://mos.esante.gouv.fr/NOS/"
        "TRE_A11-IheFormatCode/FHIR/TRE-A11-IheFormatCode", "format_code": "urn:ihe:iti:xds-sd:pdf:2008",
        "facility_code": "SA01", "practice_code": "ETABLISSEMENT", "event_codes": " ", "related_ids": " ",
        "content_type": "application/pdf", "size": len(small),
        "hash_b64": base64.b64encode(hashlib.sha1(small).digest()).decode(),  # noqa: S324
        "title": "Compte rendu", "period_end": None, "replaces_id": None, "replaced_by_id": None,
        "created_at": now, "last_updated": now,
    }
    resource = {"resourceType": "DocumentReference", "status": "current",
                "content": [{"attachment": {"contentType": "application/pdf", "title": "Compte rendu"},
                             "format": {"system": base["format_system"], "code": base["format_code"]}}]}
    async with sessionmaker() as session, session.begin():
        for n in range(documents):
            ins = bench_ins[n % patients]
            date = now - timedelta(days=rng.randrange(0, 1500), minutes=rng.randrange(0, 1440))
            type_code = TYPES[rng.randrange(len(TYPES))]
            uid = f"urn:oid:1.2.250.1.213.1.4.8.99999.7.{n}"
            batch.append({**base, "id": str(uuid.UUID(int=rng.getrandbits(128))), "dmp_id": ids[ins],
                          "unique_id": uid, "type_code": type_code, "date": date, "period_start": date,
                          "resource": jsonio.dumps_text({
                              **resource, "masterIdentifier": {"system": "urn:ietf:rfc:3986", "value": uid},
                              "type": {"coding": [{"system": "http://loinc.org", "code": type_code}]}})})
            if len(batch) == 5000:
                await session.execute(insert(DmpDocument), batch)
                batch = []
        if batch:
            await session.execute(insert(DmpDocument), batch)
        # the 20 MB document, stored in chunks as ITI-65 would store it
        big = os.urandom(BIG_SIZE)
        row, chunks = service.binary_rows("bench-big", big, "application/pdf",
                                          base64.b64encode(hashlib.sha1(big).digest()).decode(),  # noqa: S324
                                          settings.dmp_chunk_size)
        await session.execute(insert(DmpBinary), [row])
        for chunk in chunks:
            await session.execute(insert(DmpBinaryChunk), [chunk])
        big_doc = {**base, "id": "bench-big-doc", "dmp_id": ids[bench_ins[0]], "binary_id": "bench-big",
                   "unique_id": "urn:oid:1.2.250.1.213.1.4.8.99999.8.1", "type_code": "18748-4", "date": now,
                   "period_start": now, "size": len(big), "hash_b64": row["hash_b64"],
                   "resource": jsonio.dumps_text(resource)}
        await session.execute(insert(DmpDocument), [big_doc])
    print(f"prepared {len(seeded)} seeded DMPs + {patients} bench DMPs, {documents} documents and one 20 MB "
          f"document in {time.perf_counter() - started:.1f} s")
    async with engine.connect() as conn:
        await conn.execute(text("ANALYZE"))
        await conn.commit()
    await engine.dispose()
    return url, seeded, bench_ins, "bench-big"


async def get_token(port: int) -> str:
    import httpx

    from tests.psc.helpers import access_token_for

    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
        return await access_token_for(client, PROFESSIONAL)


# --------------------------------------------------------------------------- requests

def iti65_template(port: int, token: str) -> tuple[bytes, int]:
    """One ITI-65 request (head + body) with placeholders for the patient and the uniqueId."""
    from app.dmp.documents import make_pdf
    from tests.dmp.builders import provide_bundle

    pdf = make_pdf("Bench", ("100 KB",), padding=100_000)
    bundle = provide_bundle("PATIENTINSXXXXX", data=pdf, unique_id="urn:oid:" + UID_PLACEHOLDER)
    body = json.dumps(bundle).encode()
    head = (f"POST /dmp/fhir HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer {token}\r\n"
            f"Content-Type: application/fhir+json\r\nAccept: application/fhir+json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode()
    return head + body, len(pdf)


UID_PLACEHOLDER = "U" * 47


def iti65_requests(template: bytes, patients: list[str], n: int) -> list[bytes]:
    """Same-length substitutions, so Content-Length stays right: a fresh uniqueId and a seeded patient each. The
    last arc is 19 digits never starting with 0 (``%019d`` gave one in ten a leading zero: not an OID, a 400 the
    bench counted as a request served)."""
    out = []
    for i in range(n):
        uid = f"1.2.250.1.213.1.4.8.99999.9.{10**18 + uuid.uuid4().int % (9 * 10**18)}"
        assert len(uid) == len(UID_PLACEHOLDER)
        out.append(template.replace(b"PATIENTINSXXXXX", patients[i % len(patients)].encode())
                   .replace(UID_PLACEHOLDER.encode(), uid.encode()))
    return out


def iti67_requests(port: int, token: str, patients: list[str], n: int, seed: int = 3) -> list[bytes]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        ins = rng.choice(patients)
        query = f"patient.identifier=urn:oid:1.2.250.1.213.1.4.8%7C{ins}&status=current"
        roll = rng.random()
        if roll < 0.25:
            query += f"&type=http://loinc.org%7C{rng.choice(TYPES)}"
        elif roll < 0.5:
            query += "&creation=ge2025-06-01"
        out.append((f"GET /dmp/fhir/DocumentReference?{query} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                    f"Authorization: Bearer {token}\r\nAccept: application/fhir+json\r\n\r\n").encode())
    return out


def run_load(port: int, reqs: list[bytes], connections: int, server_pid: int | None = None) -> dict:
    """Drive the load from a separate process; with ``server_pid``, also report the server's CPU time per
    request (user + system), a figure that does not depend on what else the machine is running."""
    cpu_before = cpu_seconds([server_pid]) if server_pid else 0.0
    result = harness_run_load(port, reqs, connections)
    if server_pid:
        cpu = cpu_seconds([server_pid]) - cpu_before
        result["server_cpu_ms_per_request"] = round(cpu * 1000 / max(result["requests"], 1), 2)
        result["rps_if_one_free_core"] = round(result["requests"] / cpu, 1) if cpu else None
    return result


def retrieve_big(port: int, token: str, binary_id: str, times: int, server_pid: int) -> dict:
    import psutil

    server = psutil.Process(server_pid)
    rss_before = server.memory_info().rss
    peak = rss_before
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not stop.is_set():
            peak = max(peak, server.memory_info().rss)
            time.sleep(0.005)

    sampler = threading.Thread(target=sample)
    sampler.start()
    durations, sizes = [], []
    request = (f"GET /dmp/fhir/Binary/{binary_id} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
               f"Authorization: Bearer {token}\r\nAccept: application/pdf\r\n\r\n").encode()
    for _ in range(times):
        t0 = time.perf_counter()
        with socket.create_connection(("127.0.0.1", port)) as s:
            s.sendall(request)
            data = b""
            while b"\r\n\r\n" not in data:
                data += s.recv(65536)
            head, rest = data.split(b"\r\n\r\n", 1)
            length = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1))
            received = len(rest)
            while received < length:
                chunk = s.recv(1 << 20)
                if not chunk:
                    break
                received += len(chunk)
        durations.append(time.perf_counter() - t0)
        sizes.append(received)
    stop.set()
    sampler.join()
    rss_after = server.memory_info().rss
    mb = 1024 * 1024
    return {"retrievals": times, "bytes_each": sizes[0], "complete": all(s == BIG_SIZE for s in sizes),
            "mean_s": round(sum(durations) / len(durations), 3),
            "rss_before_mb": round(rss_before / mb, 1), "rss_peak_mb": round(peak / mb, 1),
            "rss_after_mb": round(rss_after / mb, 1), "peak_minus_before_mb": round((peak - rss_before) / mb, 1)}


# --------------------------------------------------------------------------- main

def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--patients", type=int, default=2_000)
    ap.add_argument("--documents", type=int, default=100_000)
    ap.add_argument("--submissions", type=int, default=3_000)
    ap.add_argument("--searches", type=int, default=3_000)
    ap.add_argument("--retrievals", type=int, default=5)
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--database", default="segur_bench_dmp")
    args = ap.parse_args()


    url, seeded, bench_ins, big_id = asyncio.run(prepare(args.database, args.patients, args.documents))
    port = free_port()
    try:
        server = start_sandbox(url, port, env={"SEGUR_PSC_ACCESS_TOKEN_TTL": "7200"})
    except BaseException:
        asyncio.run(drop_database(args.database))
        raise
    results: dict[str, dict] = {}
    try:
        token = asyncio.run(get_token(port))
        template, pdf_size = iti65_template(port, token)
        run_load(port, iti65_requests(template, seeded, 200), args.connections)  # warm-up
        results["ITI-65"] = run_load(port, iti65_requests(template, seeded, args.submissions), args.connections,
                                     server.pid)
        results["ITI-65"]["pdf_bytes"] = pdf_size
        run_load(port, iti67_requests(port, token, bench_ins, 300, seed=9), 4)  # warm-up
        results["ITI-67 (1 connection)"] = run_load(port, iti67_requests(port, token, bench_ins, args.searches), 1,
                                                    server.pid)
        results[f"ITI-67 ({args.connections} connections)"] = run_load(
            port, iti67_requests(port, token, bench_ins, args.searches, seed=4), args.connections, server.pid)
        results["ITI-68 20 MB"] = retrieve_big(port, token, big_id, args.retrievals, server.pid)
    finally:
        server.terminate()
        server.wait(timeout=30)
        asyncio.run(drop_database(args.database))

    print("\n== DMP benchmark ==")
    load = os.getloadavg()
    print(f"machine: {platform.machine()} {os.cpu_count()} CPUs (load average at the end {load[0]:.1f} / "
          f"{load[1]:.1f} / {load[2]:.1f}: shared with other jobs), Python {platform.python_version()}, "
          f"PostgreSQL at {ADMIN_URL.rsplit('@', 1)[-1]}; server: uvicorn 1 worker (uvloop, httptools), journal on; "
          f"client: separate process, raw HTTP/1.1 keep-alive")
    print(f"data: {len(seeded)} seeded DMPs (5 documents each) + {args.patients} bench DMPs with "
          f"{args.documents} documents; ITI-65 bundles of 1 DocumentReference + a "
          f"{results['ITI-65']['pdf_bytes']} byte PDF")
    for name, figures in results.items():
        print(f"{name}: {json.dumps(figures)}")
    ok65 = results["ITI-65"]["rps"] >= 250
    ok67 = results["ITI-67 (1 connection)"]["p95_ms"] <= 30
    ok68 = results["ITI-68 20 MB"]["complete"] and results["ITI-68 20 MB"]["peak_minus_before_mb"] < 20
    print(f"targets: ITI-65 >= 250/s {'MET' if ok65 else 'NOT MET'}; ITI-67 p95 <= 30 ms (1 connection) "
          f"{'MET' if ok67 else 'NOT MET'}; ITI-68 flat memory (< 20 MB growth) {'MET' if ok68 else 'NOT MET'}")


if __name__ == "__main__":
    main()
