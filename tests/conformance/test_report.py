"""The conformance report end to end: a vendor's traffic over the real protocols (PSC over HTTP, INSi and the
DMP over SOAP, MSSanté over SMTP with smtplib), then ``GET /sandbox/v1/reports/{client}`` in JSON, JUnit XML
(validated against the JUnit schema Jenkins' xUnit plugin reads) and HTML, and ``segur-sandbox report``
against a live server."""

from __future__ import annotations

import asyncio
import base64
import imaplib
import io
import smtplib
import uuid
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

import httpx
import pytest
from lxml import etree

from app.cli import main as cli_main
from app.dmp.soap import td
from app.ins.soap.client import build_request, recsansvitale_xml, recvitale_xml, saml_security
from app.ins.soap.namespaces import ACTION_VITALE
from tests.dmp.soap.client import get_vihf, post_soap
from tests.dmp.soap.test_td import existence_query
from tests.mss.conftest import DOCTOR, PASSWORD
from tests.mss.helpers import build_message, sample_xdm
from tests.psc.helpers import PUBLIC_CLIENT, REDIRECT_URI

SCHEMA = etree.XMLSchema(etree.parse(str(Path(__file__).with_name("junit-10.xsd"))))
ZOE = "275126322074974"  # ADRUN ZOE: INSi returns this INS (app/ins/fixtures/scenarios.json), and she has a DMP
FONTAINE = "810001000016"
IDAM = "SEGURSANDBOX01"
LPS = "LPS-CONFORMANCE-01"
CPX = {"Content-Type": "application/soap+xml; charset=utf-8"}


async def report(client: httpx.AsyncClient, who: str, *also: str, **params: Any) -> dict:
    response = await client.get(f"/sandbox/v1/reports/{who}", params={"also": list(also), **params})
    assert response.status_code == 200, response.text
    return response.json()


def verdict(body: dict, number: int) -> dict:
    [found] = [r for r in body["requirements"] if r["number"] == number]
    return found


async def authorize(client: httpx.AsyncClient, **extra: str) -> None:
    params = {"client_id": PUBLIC_CLIENT, "redirect_uri": REDIRECT_URI, "response_type": "code",
              "scope": "openid scope_all", "state": "s", "login_hint": FONTAINE,
              "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", "code_challenge_method": "S256", **extra}
    response = await client.get("/auth", params=params)
    assert response.status_code == 302, response.text


async def insi_search(client: httpx.AsyncClient, *, vitale: bool = False) -> None:
    body = (build_request(recvitale_xml(ZOE, "1975-12-31"), action=ACTION_VITALE, idam=IDAM,
                          security=saml_security()) if vitale else
            build_request(recsansvitale_xml("ADRUN", "ZOE", "F", "1975-12-31"), idam=IDAM, security=saml_security()))
    response = await client.post("/lps", content=body, headers=CPX)
    assert response.status_code == 200, response.text


async def dmp_existence(client: httpx.AsyncClient, patient: str = ZOE) -> None:
    vihf = await get_vihf(client, subject_name_id=FONTAINE, patient_ins=patient, lps_approval=LPS)
    answer = await post_soap(client, td.SERVICE, td.ACTION_TD02, existence_query(patient), vihf=vihf)
    assert answer.payload is not None, answer


async def wait_for_session(client: httpx.AsyncClient, actor: str, count: int = 1) -> None:
    """An SMTP session's entry is journaled when the connection closes, from a task: wait for it."""
    for _ in range(200):
        page = (await client.get("/sandbox/v1/journal", params={"actor": actor, "operation": "mss.smtp.session"}))
        if page.json()["total"] >= count:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"no SMTP session entry of {actor}")


# --- PSC ---------------------------------------------------------------------------------------------------


async def test_psc_authorize_without_acr_values_fails_row_47_and_with_it_passes(client) -> None:
    await authorize(client, acr_values="eidas1")
    body = await report(client, f"psc:{PUBLIC_CLIENT}")
    assert verdict(body, 47)["status"] == "passed"
    await authorize(client)  # no acr_values
    body = await report(client, f"psc:{PUBLIC_CLIENT}")
    failed = verdict(body, 47)
    assert failed["status"] == "failed" and "eidas1" in failed["message"]
    [entry] = failed["entries"]
    journal = (await client.get("/sandbox/v1/journal", params={"actor": f"psc:{PUBLIC_CLIENT}"})).json()
    shown = next(e for e in journal["entries"] if e["id"] == entry)
    assert shown["path"] == "/auth" and shown["facts"] == {"flow": "code", "acr_values": None}
    assert verdict(body, 48)["status"] == "failed"  # no logout yet
    assert body["summary"]["failed"] >= 2 and body["entries"] == 2


async def test_the_token_endpoint_records_the_client_authentication_method(client) -> None:
    from tests.psc.helpers import CONFIDENTIAL_CLIENT, CONFIDENTIAL_SECRET, OIDC

    answer = await client.post(OIDC + "/token", data={"grant_type": "client_credentials"},
                               auth=(CONFIDENTIAL_CLIENT, CONFIDENTIAL_SECRET))
    assert answer.status_code == 200, answer.text
    journal = (await client.get("/sandbox/v1/journal", params={"actor": f"psc:{CONFIDENTIAL_CLIENT}"})).json()
    [entry] = journal["entries"]
    assert entry["facts"] == {"grant_type": "client_credentials", "client_auth": "client_secret_basic"}
    assert CONFIDENTIAL_SECRET not in str(journal)


# --- INSi and the DMP --------------------------------------------------------------------------------------


async def test_insi_then_dmp_for_the_same_matricule_passes_row_1(client) -> None:
    await insi_search(client)
    await dmp_existence(client)
    body = await report(client, f"dmp:{LPS}", f"ins:{IDAM}")
    assert body["identities"] == [f"dmp:{LPS}", f"ins:{IDAM}"]
    for number in (1, 2, 7, 15):
        assert verdict(body, number)["status"] == "passed", verdict(body, number)
    assert verdict(body, 3)["status"] == "failed"  # no Carte Vitale search yet
    await insi_search(client, vitale=True)
    assert verdict(await report(client, f"ins:{IDAM}"), 3)["status"] == "passed"


async def test_dmp_without_insi_fails_row_1(client) -> None:
    await dmp_existence(client)
    alone = await report(client, f"dmp:{LPS}")  # one identity, no INSi in the report: no false failure
    for number in (1, 2):
        assert verdict(alone, number)["status"] == "not_exercised" and "also=" in verdict(alone, number)["message"]
    body = await report(client, f"dmp:{LPS}", f"ins:{IDAM}")
    first = verdict(body, 1)
    assert first["status"] == "failed" and ZOE in first["message"] and len(first["entries"]) == 1
    assert verdict(body, 2)["status"] == "failed"
    assert verdict(body, 16)["status"] == "not_exercised"  # a TD0.2 is no consultation


async def test_a_signed_vihf_with_a_psc_token_counts_as_psc_for_row_21(client) -> None:
    """SC.DMP/PSC.01: what makes a DMP call PSC's is the verified PSC bearer token, whether or not the VIHF is
    signed too."""
    from tests.psc.helpers import access_token_for

    token = await access_token_for(client, FONTAINE)
    vihf = await get_vihf(client, subject_name_id=FONTAINE, patient_ins=ZOE, lps_approval=LPS)
    answer = await post_soap(client, td.SERVICE, td.ACTION_TD02, existence_query(ZOE), vihf=vihf,
                             headers={"Authorization": f"Bearer {token}"})
    assert answer.payload is not None, answer
    await dmp_existence(client)  # signed, no token
    journal = (await client.get("/sandbox/v1/journal", params={"actor": f"dmp:{LPS}"})).json()["entries"]
    assert [e["facts"]["psc"] for e in journal] == [False, True]  # newest first
    with_token, signed_only = journal[1]["id"], journal[0]["id"]
    alone = verdict(await report(client, f"dmp:{LPS}"), 21)
    assert alone["status"] == "passed" and alone["entries"] == [with_token], alone
    joined = verdict(await report(client, f"dmp:{LPS}", f"psc:{PUBLIC_CLIENT}"), 21)  # the token's code-flow login
    assert joined["status"] == "failed" and joined["entries"] == [signed_only], joined
    assert token not in str(journal)


async def test_insi_facts_name_the_mode_and_the_matricules_returned(client) -> None:
    await insi_search(client)
    journal = (await client.get("/sandbox/v1/journal", params={"actor": f"ins:{IDAM}"})).json()
    [entry] = journal["entries"]
    assert entry["facts"]["insi_mode"] == "traits" and entry["facts"]["insi_code"] == "00"
    assert entry["facts"]["matricules"] == [ZOE] and entry["facts"]["credential"].startswith("cpx:")


# --- MSSanté over SMTP -------------------------------------------------------------------------------------


def _auth_plain() -> str:
    return "PLAIN " + base64.b64encode(f"\0{DOCTOR}\0{PASSWORD}".encode()).decode()


async def test_smtp_auth_before_starttls_fails_row_27(client, smtp_port, tls_context) -> None:
    def work() -> None:
        with smtplib.SMTP("127.0.0.1", smtp_port, timeout=20) as smtp:
            smtp.ehlo("lps.test")
            assert smtp.docmd("AUTH", _auth_plain())[0] == 538  # refused in clear
            smtp.starttls(context=tls_context)
            smtp.ehlo("lps.test")
            assert smtp.docmd("AUTH", _auth_plain())[0] == 235

    await asyncio.to_thread(work)
    await wait_for_session(client, f"mss:{DOCTOR}")
    body = await report(client, f"mss:{DOCTOR}")
    row = verdict(body, 27)
    assert row["status"] == "failed" and "SMTP" in row["message"]
    journal = (await client.get("/sandbox/v1/journal", params={"actor": f"mss:{DOCTOR}"})).json()
    facts = journal["entries"][0]["facts"]
    assert facts["starttls_before_auth"] is False and facts["sasl"] == "PLAIN" and facts["auth_ok"] is True
    assert facts["tls_version"] in ("TLSv1.2", "TLSv1.3")  # recorded at the AUTH after STARTTLS


async def test_smtp_starttls_first_passes_rows_24_25_27(client, smtp_call) -> None:
    await smtp_call(lambda smtp: smtp.docmd("AUTH", _auth_plain()))
    await wait_for_session(client, f"mss:{DOCTOR}")
    body = await report(client, f"mss:{DOCTOR}")
    for number in (24, 25, 27):
        assert verdict(body, number)["status"] == "passed", verdict(body, number)


async def test_xdm_mail_without_x_mss_ins_fails_row_32(client, smtp_call) -> None:
    from app.mss import xdm

    package = xdm.read_xdm(sample_xdm())
    raw = build_message(xdm_bytes=sample_xdm(), auto_headers=False, pdf=True,
                        headers={"X-MSS-CODECDA": ",".join(package.cda_codes)})

    def send(smtp: smtplib.SMTP) -> Any:
        smtp.login(DOCTOR, PASSWORD)
        try:
            return smtp.sendmail(DOCTOR, ["sophie.bernard@hopital-a.mssante.fr"], raw)
        except smtplib.SMTPDataError as exc:  # refused when the check is enforced: the journal has it either way
            return exc.smtp_code

    await smtp_call(send)
    body = await report(client, f"mss:{DOCTOR}")
    row = verdict(body, 32)
    assert row["status"] == "failed" and "MSS.INS" in row["message"] and len(row["entries"]) == 1
    assert verdict(body, 33)["status"] == "passed" and verdict(body, 34)["status"] == "passed"


async def test_a_message_with_a_long_header_still_counts_in_the_report(client, smtp_call) -> None:
    """Facts over the journal's 4,096 characters are cut inside: the message keeps its checks and its rows."""
    codecda = ", ".join(["11488-4"] * 534)  # 4,804 characters, folded on the wire
    raw = build_message(to="sophie.bernard@hopital-a.mssante.fr", headers={"X-MSS-CODECDA": codecda})
    await smtp_call(lambda smtp: (smtp.login(DOCTOR, PASSWORD),
                                  smtp.sendmail(DOCTOR, ["sophie.bernard@hopital-a.mssante.fr"], raw)))
    body = await report(client, f"mss:{DOCTOR}")
    row = verdict(body, 40)  # Message-ID: every message
    assert row["status"] == "passed" and len(row["entries"]) == 1, row
    journal = (await client.get("/sandbox/v1/journal", params={"actor": f"mss:{DOCTOR}", "operation": "mss.smtp.data"}))
    [entry] = journal.json()["entries"]
    assert entry["facts"]["truncated"] is True and entry["facts"]["checks"]["MSG.MESSAGE_ID"] == "pass"
    assert entry["facts"]["x_mss"]["CODECDA"].startswith("11488-4, 11488-4")


async def test_mail_to_a_patient_address_from_insi_passes_row_39(client, smtp_call) -> None:
    await insi_search(client)
    raw = build_message(to=f"{ZOE}@patient.mssante.fr", subject="Compte rendu")
    await smtp_call(lambda smtp: (smtp.login(DOCTOR, PASSWORD), smtp.sendmail(DOCTOR, [f"{ZOE}@patient.mssante.fr"],
                                                                               raw)))
    body = await report(client, f"mss:{DOCTOR}", f"ins:{IDAM}")
    assert verdict(body, 39)["status"] == "passed", verdict(body, 39)
    alone = await report(client, f"mss:{DOCTOR}")  # without the INSi identity: nothing to join with
    assert verdict(alone, 39)["status"] == "not_exercised" and "also=ins:" in verdict(alone, 39)["message"]
    assert verdict(alone, 6)["status"] == "not_exercised"
    assert verdict(await report(client, f"mss:{DOCTOR}", "ins:NEVER-CALLED"), 39)["status"] == "failed"
    size = verdict(body, 46)  # ENS MES: within 25 MB, by the size the DATA entry records
    assert size["status"] == "passed" and len(size["entries"]) == 1, size
    journal = (await client.get("/sandbox/v1/journal", params={"actor": f"mss:{DOCTOR}", "operation": "mss.smtp.data"}))
    [entry] = journal.json()["entries"]
    assert len(raw) < entry["facts"]["size"] < len(raw) + 500 and "mes_bounces" not in entry["facts"]  # + Received


async def test_a_message_over_25_mb_to_a_patient_is_bounced_and_fails_row_46(session, settings) -> None:
    """The facts of a message Mon espace santé bounces for its size (one over 25 MiB: the SMTP listener's own
    limit, SEGUR_MSS_MAX_MESSAGE_BYTES, is lower by default, so the size is given to the facts as DATA does)."""
    from datetime import UTC, datetime

    from app.conformance.model import Entry
    from app.conformance.rules import RULES
    from app.mss import service

    patient, colleague = f"{ZOE}@patient.mssante.fr", "sophie.bernard@hopital-a.mssante.fr"
    raw = build_message(to=patient, subject="Compte rendu")
    analysis = await service.analyse(session, settings, raw, service.Envelope(
        mail_from=DOCTOR, recipients=[(patient, None), (colleague, None)], auth_identity=DOCTOR))
    assert analysis.refused is None
    over, within = 25 * 1024 * 1024 + 1, 25 * 1024 * 1024
    facts = analysis.facts([patient, colleague], size=over)
    assert facts["size"] == over and facts["mes_bounces"] == {patient: "size"}  # the patient only
    assert "mes_bounces" not in analysis.facts([patient, colleague], size=within)
    now = datetime.now(UTC)
    entries = [Entry(id=1, at=now, service="mss", protocol="smtp", method="DATA", facts=facts)]
    assert RULES[46](entries).status == "failed"
    entries = [Entry(id=1, at=now, service="mss", protocol="smtp", method="DATA",
                     facts=analysis.facts([patient, colleague], size=within))]
    assert RULES[46](entries).status == "passed"


# --- the three formats -------------------------------------------------------------------------------------


async def test_junit_report_is_valid_against_the_junit_schema(client) -> None:
    await authorize(client)
    response = await client.get(f"/sandbox/v1/reports/psc:{PUBLIC_CLIENT}", params={"format": "junit"})
    assert response.status_code == 200 and response.headers["content-type"].startswith("application/xml")
    document = etree.fromstring(response.content)
    SCHEMA.assertValid(document)
    assert [s.get("name") for s in document.findall("testsuite")] == ["INS", "DMP", "MSS", "PSC"]
    assert len(document.findall("testsuite/testcase")) == 49 and document.get("tests") == "49"
    [acr] = [c for c in document.iter("testcase") if c.get("name").startswith("SC.PSC.08")]
    failure = acr.find("failure")
    assert failure is not None and "eidas1" in failure.get("message") and "journal entries:" in failure.text
    hook = next(c for c in document.iter("testcase") if c.get("name").startswith("SC.MSS/CONF.10"))
    assert "scenario hook" in hook.find("skipped").get("message")
    psc = document.find("testsuite[@name='PSC']")
    assert psc.get("failures") == "2" and int(psc.get("skipped")) == 1
    properties = {p.get("name"): p.get("value") for p in psc.find("properties")}
    assert properties["client"] == f"psc:{PUBLIC_CLIENT}"


@pytest.mark.parametrize("acr", ["x\x01y", "\ufffe"])
async def test_junit_report_replaces_the_characters_xml_refuses(client, acr: str) -> None:
    await authorize(client, acr_values=acr)  # row 47's message quotes the acr_values sent
    response = await client.get(f"/sandbox/v1/reports/psc:{PUBLIC_CLIENT}", params={"format": "junit"})
    assert response.status_code == 200, response.text
    document = etree.fromstring(response.content)
    SCHEMA.assertValid(document)
    [acr_case] = [c for c in document.iter("testcase") if c.get("name").startswith("SC.PSC.08")]
    assert "\ufffd" in acr_case.find("failure").get("message")
    for fmt in ("json", "html"):
        assert (await client.get(f"/sandbox/v1/reports/psc:{PUBLIC_CLIENT}", params={"format": fmt})).status_code == 200
    refused = await client.get("/sandbox/v1/reports/psc:a\ufffeb", params={"also": "ins:\x01"})
    assert refused.status_code == 422


def test_junit_cleans_the_identities_and_messages_it_quotes() -> None:
    from datetime import UTC, datetime

    from app.conformance.model import Entry
    from app.conformance.report import evaluate, junit

    now = datetime(2026, 12, 7, tzinfo=UTC)
    entries = [Entry(id=1, at=now, service="psc", facts={"flow": "code", "acr_values": "a\x01\ufffe\ud800b"})]
    report = evaluate(entries, client="psc:x\x01y", identities=["psc:x\x01y", "ins:\ufffe"], now=now)
    document = etree.fromstring(junit(report))
    SCHEMA.assertValid(document)
    properties = {p.get("name"): p.get("value") for p in document.find("testsuite/properties")}
    assert properties["client"] == "psc:x\ufffdy" and properties["identities"] == "psc:x\ufffdy ins:\ufffd"
    [failure] = [f for f in document.iter("failure") if f.get("type").startswith("SC.PSC.08")]
    assert "a\ufffd\ufffd\ufffdb" in failure.get("message") and "a\ufffd\ufffd\ufffdb" in failure.text


async def test_every_verdict_kind_validates_against_the_schema(client) -> None:
    await insi_search(client)
    await dmp_existence(client, patient="190017512345678"[:13] + "00")  # a patient INSi never returned
    await authorize(client, acr_values="eidas1")
    for who in (f"ins:{IDAM}", f"dmp:{LPS}", f"psc:{PUBLIC_CLIENT}"):
        response = await client.get(f"/sandbox/v1/reports/{who}", headers={"Accept": "application/xml"},
                                    params={"also": [f"ins:{IDAM}"]})
        document = etree.fromstring(response.content)
        SCHEMA.assertValid(document)
        assert {c[0].tag if len(c) else "none" for c in document.iter("testcase")} >= {"skipped", "system-out"}


async def test_html_report_is_a_french_page_with_every_requirement(client) -> None:
    await authorize(client)
    response = await client.get(f"/sandbox/v1/reports/psc:{PUBLIC_CLIENT}", headers={"Accept": "text/html"})
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    page = response.text
    assert '<html lang="fr">' in page and "Rapport de conformité" in page and "http" not in page.split("<body>")[0]
    assert page.count("<tr>") == 49 + 4  # a header row per suite
    assert "non conforme / failed" in page and "SC.PSC.08" in page
    assert "<script" not in page and 'href="http' not in page.replace('href="http://sandbox.test', "")


async def test_json_is_the_default_and_the_window_filters(client) -> None:
    await authorize(client)
    body = await report(client, f"psc:{PUBLIC_CLIENT}")
    assert body["summary"] == {"passed": 0, "failed": 2, "not_exercised": 47}
    assert body["since"] is None and len(body["requirements"]) == 49
    later = await report(client, f"psc:{PUBLIC_CLIENT}", since="2999-01-01T00:00:00Z")
    assert later["entries"] == 0 and later["summary"]["failed"] == 0
    earlier = await report(client, f"psc:{PUBLIC_CLIENT}", until="2000-01-01T00:00:00Z")
    assert earlier["entries"] == 0


async def test_the_list_of_clients_seen_and_the_refusals(client) -> None:
    await authorize(client)
    await insi_search(client)
    listed = (await client.get("/sandbox/v1/reports")).json()["clients"]
    assert {c["client"] for c in listed} == {f"psc:{PUBLIC_CLIENT}", f"ins:{IDAM}"}
    psc = next(c for c in listed if c["client"].startswith("psc:"))
    assert psc["service"] == "psc" and psc["entries"] == 1 and psc["report"].endswith(f"/reports/psc:{PUBLIC_CLIENT}")
    unknown = await client.get("/sandbox/v1/reports/psc:never-seen")
    assert unknown.status_code == 404 and unknown.json()["rule"] == "sandbox:report-client"
    reversed_window = await client.get(f"/sandbox/v1/reports/psc:{PUBLIC_CLIENT}",
                                       params={"since": "2026-12-02T00:00:00Z", "until": "2026-12-01T00:00:00Z"})
    assert reversed_window.status_code == 400 and reversed_window.json()["rule"] == "sandbox:report-range"
    assert (await client.get("/sandbox/v1/reports/not-an-identity")).status_code == 422
    assert (await client.get(f"/sandbox/v1/reports/psc:{PUBLIC_CLIENT}", params={"format": "pdf"})).status_code == 422


async def test_the_reset_starts_a_new_run(client) -> None:
    await authorize(client)
    assert (await client.post("/sandbox/v1/reset")).status_code == 200
    assert (await client.get(f"/sandbox/v1/reports/psc:{PUBLIC_CLIENT}")).status_code == 404


# --- the CLI -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["junit", "json"])
async def test_the_cli_fetches_the_report_from_a_live_sandbox(client, live_url, fmt: str) -> None:
    await authorize(client)
    out = io.StringIO()

    def run(*extra: str) -> int:
        buffer = io.BytesIO()

        class Stdout(io.TextIOWrapper):
            pass

        wrapper = Stdout(buffer, encoding="utf-8")
        with redirect_stdout(wrapper):
            code = cli_main(["report", "--client", f"psc:{PUBLIC_CLIENT}", "--format", fmt, "--url", live_url,
                             *extra])
            wrapper.flush()
        out.write(buffer.getvalue().decode())
        return code

    assert await asyncio.to_thread(run) == 0
    if fmt == "junit":
        SCHEMA.assertValid(etree.fromstring(out.getvalue().encode()))
    else:
        assert '"failed":2' in out.getvalue().replace(" ", "")
    assert await asyncio.to_thread(run, "--check") == 3


async def test_the_cli_says_why_it_cannot_report(client, live_url, capsys) -> None:
    code = await asyncio.to_thread(cli_main, ["report", "--client", f"psc:{uuid.uuid4().hex}", "--url", live_url])
    assert code == 1 and "404" in capsys.readouterr().err


# --- MSSanté over IMAP -------------------------------------------------------------------------------------


async def wait_for_imap_session(client: httpx.AsyncClient, actor: str) -> None:
    for _ in range(200):
        page = await client.get("/sandbox/v1/journal", params={"actor": actor, "operation": "mss.imap.session"})
        if page.json()["total"]:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"no IMAP session entry of {actor}")


async def test_imap_starttls_then_login_passes_row_27(app, client) -> None:
    from tests.mss.imap.server_helpers import imap_call

    await imap_call(app, lambda imap: imap.noop())
    await wait_for_imap_session(client, f"mss:{DOCTOR}")
    body = await report(client, f"mss:{DOCTOR}")
    assert verdict(body, 27)["status"] == "passed" and verdict(body, 24)["status"] == "passed"


async def test_imap_login_before_starttls_fails_row_27(app, client) -> None:
    from tests.mss.imap.server_helpers import command, connect
    from tests.mss.imap.server_helpers import tls_context as imap_tls

    def work() -> None:
        imap = connect(app, starttls=False, login=None)
        assert b"PRIVACYREQUIRED" in command(imap, f"LOGIN {DOCTOR} {PASSWORD}")[-1]
        imap.starttls(ssl_context=imap_tls(app))
        imap.login(DOCTOR, PASSWORD)
        imap.logout()

    await asyncio.to_thread(work)
    await wait_for_imap_session(client, f"mss:{DOCTOR}")
    row = verdict(await report(client, f"mss:{DOCTOR}"), 27)
    assert row["status"] == "failed" and "IMAP" in row["message"]


@pytest.mark.parametrize(("ending", "expected"), [("\x01\x01", "passed"), ("\x01", "failed")])
async def test_imap_xoauth2_string_shape_decides_row_28(app, client, ending: str, expected: str) -> None:
    from tests.mss.imap.server_helpers import connect
    from tests.psc.helpers import access_token_for

    token = await access_token_for(client, FONTAINE)
    blob = f"user={DOCTOR}\x01auth=Bearer {token}{ending}".encode()

    def work() -> None:
        imap = connect(app, login=None)
        try:
            imap.authenticate("XOAUTH2", lambda _: blob)
        except imaplib.IMAP4.error:
            pass
        imap.logout()

    await asyncio.to_thread(work)
    await wait_for_imap_session(client, f"mss:{DOCTOR}")
    body = await report(client, f"mss:{DOCTOR}")
    assert verdict(body, 28)["status"] == expected, verdict(body, 28)
    journal = (await client.get("/sandbox/v1/journal", params={"actor": f"mss:{DOCTOR}"})).json()
    assert token not in str(journal)
