"""Benchmark of the DMP's XDS.b SOAP face on PostgreSQL: ITI-41 submissions/s, ITI-18 latency, ITI-43 memory.

What it does (and prints):
1. prepares the database as ``bench/dmp.py`` does (fresh PostgreSQL database, migrated, fixtures seeded, then
   ``--patients`` bench DMPs holding ``--documents`` documents in all, bulk-inserted, and one 20 MB document),
   the bench patients with valid INS keys (the VIHF's resource-id is checked);
2. starts the sandbox with uvicorn, one worker, on 127.0.0.1 (``bench/_harness.py``), and gets signed VIHFs
   from the control API (``POST /sandbox/v1/dmps/vihf``, FONTAINE, INDIRECTE: the structure certificate
   travels in the documented stand-in header);
3. ITI-41: ``--submissions`` Provide and Register Document Set-b of one 100 KB PDF each, as MTOM (the document
   an XOP part, as DRIMBox sends it), every one with fresh entryUUIDs and uniqueIds, over ``--connections``
   keep-alive connections from a separate process; prints submissions/s, latency and the RegistryResponse
   statuses (XDS answers failures with HTTP 200: they are counted from the body);
4. ITI-18: ``--searches`` FindDocuments (LeafClass, Approved) on random bench patients over 1 connection
   (latency: p50/p95/p99) and over ``--connections`` (throughput); then as many TD0.2 over 1 connection: the
   cheapest call, the floor every call pays (envelope, VIHF signature check);
5. ITI-43: retrieves the 20 MB document ``--retrievals`` times (the MTOM answer read and discarded), sampling
   the server's RSS every 5 ms; prints RSS before, peak during, after;
6. drops the database.

Usage: ``.venv/bin/python bench/dmp_soap.py [--quick] [--submissions 3000] [--searches 3000] [--connections 16]``.
Targets (issue 11): ITI-41 >= 300/s with a 100 KB PDF; ITI-18 FindDocuments p95 <= 20 ms at 100,000
documents; ITI-43 of 20 MB with flat memory.

Request shapes: the SOAP envelope and MTOM body of ``tests/dmp/soap/client.py`` (DRIMBox's), the ITI-41
payload of ``tests/dmp/soap/ebrim_builders.py`` (EPR-by-example / Mediboard), FindDocuments as ITI TF-2a
§3.18.4.1.2.3.7.1 and the public DMP clients write it.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import os
import platform
import random
import re
import sys
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import dmp as fhir_bench  # noqa: E402  (bench/dmp.py: the same data preparation)
from _harness import ADMIN_URL, cpu_seconds, drop_database, free_port, start_sandbox  # noqa: E402
from _harness import run_load as harness_run_load  # noqa: E402

PROFESSIONAL = fhir_bench.PROFESSIONAL  # Claire Fontaine, VALIDE on every DMP
ZOE = "275126322074974"  # a seeded patient (INS fixtures): the ITI-41 submissions go to her DMP
PREFIX = "/si-dmp-server/v2/services"
# the RegistryResponse status (XDS answers failures with HTTP 200), or TD0.2's queryResponseCode
STATUS_TAG = re.compile(rb'(?:status="urn:[^"]*:|queryResponseCode code=")'
                        rb'(Success|Failure|PartialSuccess|OK|NF|QE|AE)"')
UID_PLACEHOLDER = "9" * 20  # digits: a uniqueId's last arc, replaced per request (same length)


def bench_ins(i: int) -> str:
    """A bench patient's INS with a valid NIR key (born abroad, 1980: department 99), so its VIHF passes."""
    from app.ins import nir

    number = f"1800199{i:06d}"
    return number + nir.compute_key(number)


# --------------------------------------------------------------------------- VIHFs

async def vihfs(port: int, patients: list[str]) -> tuple[dict[str, str], dict[str, str]]:
    """One signed VIHF per patient (the VIHF names the patient), and the stand-in header of the structure's
    client certificate (INDIRECTE)."""
    import httpx

    out: dict[str, str] = {}
    header: dict[str, str] = {}
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
        for ins in patients:
            response = await client.post("/sandbox/v1/dmps/vihf", json={
                "subject_name_id": PROFESSIONAL, "patient_ins": ins, "validity_seconds": 4 * 3600})
            assert response.status_code in (200, 201), response.text
            issued = response.json()
            out[ins] = issued["assertion"]
            if issued.get("client_certificate_subject"):
                header = {"X-Segur-Client-Certificate": issued["client_certificate_subject"]}
    return out, header


def http_request(port: int, service: str, content_type: str, body: bytes, headers: dict[str, str]) -> bytes:
    extra = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    return (f"POST {PREFIX}/{service} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: {content_type}\r\n"
            f"{extra}Content-Length: {len(body)}\r\n\r\n").encode() + body


# --------------------------------------------------------------------------- ITI-41

def iti41_template(port: int, vihf: str, headers: dict[str, str]) -> tuple[bytes, int]:
    """One ITI-41 MTOM request with one 100 KB PDF as an XOP part."""
    from app.dmp.documents import make_pdf
    from app.dmp.soap.namespaces import ACTION_ITI41
    from tests.dmp.soap import client as soap_client
    from tests.dmp.soap import ebrim_builders

    pdf = make_pdf("Bench", ("100 KB",), padding=100_000)
    doc = ebrim_builders.Doc(data=pdf, ins=ZOE, unique_id=f"1.2.250.1.213.1.4.8.99999.9.{UID_PLACEHOLDER}", mtom=True)
    payload = ebrim_builders.provide_and_register(doc)
    envelope = soap_client.envelope(ACTION_ITI41, payload, vihf=vihf, to=f"http://127.0.0.1:{port}{PREFIX}/repository")
    content_type, body = soap_client.mtom(envelope, {doc.content_id: ("application/pdf", pdf)}, action=ACTION_ITI41)
    return http_request(port, "repository", content_type, body, headers), len(pdf)


_UUID = re.compile(rb"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_SS_UNIQUE = re.compile(rb'(value=")(1\.2\.250\.1\.213\.1\.4\.8\.99999\.2\.)(\d+)(")')


def _ihe_uuids() -> dict[bytes, bytes]:
    """The UUIDs IHE fixes (classification schemes, object types, stored queries: ITI TF-3 Table 4.2.5-1),
    which stay as they are."""
    from app.dmp.soap import namespaces

    found = (_UUID.search(str(value).encode()) for value in vars(namespaces).values() if isinstance(value, str))
    return {m.group(0): m.group(0) for m in found if m}


def _fresh_uuids() -> Callable[[re.Match[bytes]], bytes]:
    """A substitution giving each UUID of one request a fresh one (the same one wherever it recurs), except
    IHE's own."""
    fresh = _ihe_uuids()
    return lambda m: fresh.setdefault(m.group(0), str(uuid.uuid4()).encode())


def _digits(n: int) -> bytes:
    """``n`` random digits, the first not 0 (an OID arc has no leading zero)."""
    return (str(random.randint(1, 9)) + f"{uuid.uuid4().int % 10**(n - 1):0{n - 1}d}").encode()


def iti41_requests(template: bytes, n: int, vihf: str) -> list[bytes]:
    """Same-length substitutions, so Content-Length stays right: every UUID (entryUUIDs, ids, the MTOM
    Content-ID, the MessageID) mapped to a fresh one, and fresh document and submission-set uniqueIds. The
    signed VIHF is left as it is (its ID is under its signature)."""
    before, after = template.split(vihf.encode())
    out = []
    for _ in range(n):
        fresh = _fresh_uuids()
        request = _UUID.sub(fresh, before) + vihf.encode() + _UUID.sub(fresh, after)
        request = request.replace(UID_PLACEHOLDER.encode(), _digits(len(UID_PLACEHOLDER)))
        request = _SS_UNIQUE.sub(lambda m: m.group(1) + m.group(2) + _digits(len(m.group(3))) + m.group(4), request)
        out.append(request)
    return out


# --------------------------------------------------------------------------- ITI-18

def find_documents(ins: str) -> str:
    from app.dmp.soap.namespaces import NS_QUERY, NS_RIM, QUERY_FIND_DOCUMENTS, STATUS_APPROVED

    def slot(name: str, value: str) -> str:
        return f'<rim:Slot name="{name}"><rim:ValueList><rim:Value>{value}</rim:Value></rim:ValueList></rim:Slot>'

    return (f'<query:AdhocQueryRequest xmlns:query="{NS_QUERY}" xmlns:rim="{NS_RIM}">'
            '<query:ResponseOption returnComposedObjects="true" returnType="LeafClass"/>'
            f'<rim:AdhocQuery id="{QUERY_FIND_DOCUMENTS}">'
            + slot("$XDSDocumentEntryPatientId", f"'{ins}^^^&amp;1.2.250.1.213.1.4.8&amp;ISO^NH'")
            + slot("$XDSDocumentEntryStatus", f"('{STATUS_APPROVED}')")
            + "</rim:AdhocQuery></query:AdhocQueryRequest>")


def iti18_requests(port: int, vihf_of: dict[str, str], headers: dict[str, str], n: int, seed: int = 3) -> list[bytes]:
    from app.dmp.soap.namespaces import ACTION_ITI18
    from tests.dmp.soap import client as soap_client

    rng = random.Random(seed)
    patients = sorted(vihf_of)
    out = []
    for _ in range(n):
        ins = rng.choice(patients)
        envelope = soap_client.envelope(ACTION_ITI18, find_documents(ins), vihf=vihf_of[ins],
                                        to=f"http://127.0.0.1:{port}{PREFIX}/registry")
        out.append(http_request(port, "registry", f'application/soap+xml; charset=UTF-8; action="{ACTION_ITI18}"',
                                envelope, headers))
    return out


# --------------------------------------------------------------------------- TD0.2

def td02_requests(port: int, vihf_of: dict[str, str], headers: dict[str, str], n: int) -> list[bytes]:
    """TD0.2 (``PRPA_IN201307UV02``, Déhempé's shape): the cheapest call, so its cost is the floor every call
    pays (envelope, VIHF signature check, one read)."""
    from app.dmp.soap import td
    from tests.dmp.soap import client as soap_client

    patients = sorted(vihf_of)
    out = []
    for i in range(n):
        ins = patients[i % len(patients)]
        payload = (f'<PRPA_IN201307UV02 xmlns="{td.NS_HL7}" ITSVersion="XML_1.0"><id root="1.2.250.1.999.1" '
                   f'extension="{uuid.uuid4()}"/><interactionId root="2.16.840.1.113883.1.6" '
                   'extension="PRPA_IN201307UV02"/><sender typeCode="SND"><device classCode="DEV" '
                   'determinerCode="INSTANCE"><id root="1.2.250.1.999.1"/></device></sender>'
                   '<controlActProcess classCode="CACT" moodCode="EVN"><reasonCode code="TEST_EXST" '
                   'codeSystem="1.2.250.1.213.1.1.4.11"/><queryByParameter><parameterList><patientIdentifier>'
                   f'<value root="1.2.250.1.213.1.4.10" extension="{ins}"/></patientIdentifier></parameterList>'
                   "</queryByParameter></controlActProcess></PRPA_IN201307UV02>")
        envelope = soap_client.envelope(td.ACTION_TD02, payload, vihf=vihf_of[ins])
        out.append(http_request(port, td.SERVICE, f'application/soap+xml; charset=UTF-8; action="{td.ACTION_TD02}"',
                                envelope, headers))
    return out


# --------------------------------------------------------------------------- ITI-43

def send_one(port: int, request: bytes) -> tuple[int, bytes]:
    """One prepared request, its HTTP status and body (the MTOM answer whole)."""
    head, body = request.split(b"\r\n\r\n", 1)
    method, path, _ = head.split(b"\r\n", 1)[0].decode().split(" ")
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    connection.request(method, path, body=body, headers=dict(
        line.split(": ", 1) for line in head.decode().split("\r\n")[1:]))
    response = connection.getresponse()
    status, data = response.status, response.read()
    connection.close()
    return status, data


def check_first(port: int, name: str, request: bytes) -> None:
    """Send one request before the load and stop with its answer if it is not a success: a benchmark of
    refusals would measure nothing."""
    status, data = send_one(port, request)
    if status != 200 or b":Success\"" not in data:
        answer = data[:3000].decode(errors="replace")
        raise SystemExit(f"{name}: the first request is refused (HTTP {status}):\n{answer}")


def big_document(port: int, ins: str, vihf: str, headers: dict[str, str]) -> tuple[str, str]:
    """The 20 MB document's uniqueId and repositoryUniqueId, found with FindDocuments (its size slot)."""
    from lxml import etree

    from app.dmp.soap.namespaces import IDENT_DOC_UNIQUE, NS_RIM

    _, data = send_one(port, iti18_requests(port, {ins: vihf}, headers, 1)[0])
    answer = etree.fromstring(data)
    ns = {"rim": NS_RIM}
    for entry in answer.iterfind(".//rim:ExtrinsicObject", ns):
        if entry.findtext("rim:Slot[@name='size']/rim:ValueList/rim:Value", namespaces=ns) == str(fhir_bench.BIG_SIZE):
            unique = entry.find(f"rim:ExternalIdentifier[@identificationScheme='{IDENT_DOC_UNIQUE}']", ns).get("value")
            repository = entry.findtext("rim:Slot[@name='repositoryUniqueId']/rim:ValueList/rim:Value", namespaces=ns)
            return unique, repository
    raise SystemExit("the 20 MB document was not found by FindDocuments")


def retrieve_big(port: int, ins: str, vihf: str, headers: dict[str, str], times: int, server_pid: int) -> dict:
    import psutil

    from app.dmp.soap.namespaces import ACTION_ITI43, NS_XDSB
    from tests.dmp.soap import client as soap_client

    unique_id, repository_id = big_document(port, ins, vihf, headers)
    payload = (f'<xdsb:RetrieveDocumentSetRequest xmlns:xdsb="{NS_XDSB}"><xdsb:DocumentRequest>'
               f"<xdsb:RepositoryUniqueId>{repository_id}</xdsb:RepositoryUniqueId>"
               f"<xdsb:DocumentUniqueId>{unique_id}</xdsb:DocumentUniqueId></xdsb:DocumentRequest>"
               "</xdsb:RetrieveDocumentSetRequest>")
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
    for _ in range(times):
        envelope = soap_client.envelope(ACTION_ITI43, payload, vihf=vihf)
        t0 = time.perf_counter()
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
        connection.request("POST", f"{PREFIX}/repository", body=envelope, headers={
            "Content-Type": f'application/soap+xml; charset=UTF-8; action="{ACTION_ITI43}"', **headers})
        response = connection.getresponse()
        received = 0
        while chunk := response.read(1 << 20):  # the MTOM answer, read and discarded (chunked or not)
            received += len(chunk)
        connection.close()
        durations.append(time.perf_counter() - t0)
        sizes.append(received)
    stop.set()
    sampler.join()
    rss_after = server.memory_info().rss
    mb = 1024 * 1024
    return {"retrievals": times, "bytes_each": sizes[0], "complete": all(s > fhir_bench.BIG_SIZE for s in sizes),
            "mean_s": round(sum(durations) / len(durations), 3),
            "rss_before_mb": round(rss_before / mb, 1), "rss_peak_mb": round(peak / mb, 1),
            "rss_after_mb": round(rss_after / mb, 1), "peak_minus_before_mb": round((peak - rss_before) / mb, 1)}


# --------------------------------------------------------------------------- main

def run_load(port: int, reqs: list[bytes], connections: int, server_pid: int | None = None) -> dict:
    """The harness's load generator (separate process), with the RegistryResponse statuses counted."""
    cpu_before = cpu_seconds([server_pid]) if server_pid else 0.0
    result = harness_run_load(port, reqs, connections, tag=STATUS_TAG)
    if server_pid:
        cpu = cpu_seconds([server_pid]) - cpu_before
        result["server_cpu_ms_per_request"] = round(cpu * 1000 / max(result["requests"], 1), 2)
        result["rps_if_one_free_core"] = round(result["requests"] / cpu, 1) if cpu else None
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="a short run: 200 patients, 10,000 documents, 300 "
                    "submissions, 300 searches, 2 retrievals")
    ap.add_argument("--patients", type=int, default=2_000)
    ap.add_argument("--documents", type=int, default=100_000)
    ap.add_argument("--submissions", type=int, default=3_000)
    ap.add_argument("--searches", type=int, default=3_000)
    ap.add_argument("--retrievals", type=int, default=5)
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--vihf-patients", type=int, default=200, help="bench patients the searches rotate over")
    ap.add_argument("--database", default="segur_bench_dmp_soap")
    args = ap.parse_args()
    if args.quick:
        args.patients, args.documents, args.submissions, args.searches, args.retrievals = 200, 10_000, 300, 300, 2

    fhir_bench._bench_ins = bench_ins  # valid INS keys: the VIHF's resource-id is checked
    url, _seeded, patients, _big = asyncio.run(fhir_bench.prepare(args.database, args.patients, args.documents))
    port = free_port()
    try:
        server = start_sandbox(url, port)
    except BaseException:
        asyncio.run(drop_database(args.database))
        raise
    results: dict[str, dict] = {}
    try:
        searched = patients[:args.vihf_patients]
        vihf_of, headers = asyncio.run(vihfs(port, [ZOE, *searched]))
        template, pdf_size = iti41_template(port, vihf_of[ZOE], headers)
        check_first(port, "ITI-41", iti41_requests(template, 1, vihf_of[ZOE])[0])
        run_load(port, iti41_requests(template, 100, vihf_of[ZOE]), args.connections)  # warm-up
        results["ITI-41"] = run_load(port, iti41_requests(template, args.submissions, vihf_of[ZOE]), args.connections,
                                     server.pid)
        results["ITI-41"]["pdf_bytes"] = pdf_size
        searches = {ins: vihf_of[ins] for ins in searched}
        check_first(port, "ITI-18", iti18_requests(port, searches, headers, 1)[0])
        run_load(port, iti18_requests(port, searches, headers, 300, seed=9), 4)  # warm-up
        results["ITI-18 FindDocuments (1 connection)"] = run_load(
            port, iti18_requests(port, searches, headers, args.searches), 1, server.pid)
        results[f"ITI-18 FindDocuments ({args.connections} connections)"] = run_load(
            port, iti18_requests(port, searches, headers, args.searches, seed=4), args.connections, server.pid)
        results["TD0.2 (1 connection: the floor of a call)"] = run_load(
            port, td02_requests(port, searches, headers, args.searches), 1, server.pid)
        results["ITI-43 20 MB"] = retrieve_big(port, patients[0], vihf_of[patients[0]], headers, args.retrievals,
                                              server.pid)
    finally:
        server.terminate()
        server.wait(timeout=30)
        asyncio.run(drop_database(args.database))

    print("\n== DMP XDS.b SOAP benchmark ==")
    load = os.getloadavg()
    print(f"machine: {platform.machine()} {os.cpu_count()} CPUs (load average at the end {load[0]:.1f} / "
          f"{load[1]:.1f} / {load[2]:.1f}: shared with other jobs), Python {platform.python_version()}, "
          f"PostgreSQL at {ADMIN_URL.rsplit('@', 1)[-1]}; server: uvicorn 1 worker (uvloop, httptools), journal on; "
          f"client: separate process, raw HTTP/1.1 keep-alive")
    print(f"data: seeded DMPs + {args.patients} bench DMPs with {args.documents} documents; ITI-41 of one "
          f"{results['ITI-41']['pdf_bytes']} byte PDF as an MTOM part, signed VIHF in wsse:Security")
    for name, figures in results.items():
        print(f"{name}: {json.dumps(figures)}")
    ok41 = results["ITI-41"]["rps"] >= 300 and set(results["ITI-41"].get("codes", {})) == {"Success"}
    ok18 = results["ITI-18 FindDocuments (1 connection)"]["p95_ms"] <= 20
    ok43 = results["ITI-43 20 MB"]["complete"] and results["ITI-43 20 MB"]["peak_minus_before_mb"] < 20
    print(f"targets: ITI-41 >= 300/s (all Success) {'MET' if ok41 else 'NOT MET'}; ITI-18 p95 <= 20 ms "
          f"(1 connection) {'MET' if ok18 else 'NOT MET'}; ITI-43 flat memory (< 20 MB growth) "
          f"{'MET' if ok43 else 'NOT MET'}")


if __name__ == "__main__":
    main()
