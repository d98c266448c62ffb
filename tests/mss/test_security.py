"""Security review of the MSSanté domain: no credential or body in the journal or the logs, no 500 on
oversized numbers, the zip central directory bounded before it is parsed, XDM helpers behind PSC, the
annuaire key compared in constant time."""

from __future__ import annotations

import base64
import json
import logging
import re
import smtplib
import struct
import threading
import zipfile

import pytest

from app.mss import smtp, xdm
from app.mss.annuaire import routes as annuaire
from app.mss.http.mailboxes import validation_detail
from app.mss.smtp.replies import reply_code
from app.mss.xdm import archive as xdm_archive
from tests.mss.conftest import DOCTOR, DOCTOR_SNI, HOSPITAL_DOCTOR, PASSWORD
from tests.mss.helpers import SAMPLE_CDA, build_message, make_zip, rezip, sample_xdm
from tests.psc.helpers import access_token_for

SECRET = "eyJSECRETtokenVALUE0123456789.eyJzdWIiOiJzZWNyZXQifQ.c2lnbmF0dXJlU0VDUkVU"


async def auth(client, sni=DOCTOR_SNI):
    return {"Authorization": f"Bearer {await access_token_for(client, sni)}"}


async def journal_dump(client, **params) -> str:
    response = await client.get("/sandbox/v1/journal", params={"service": "mss", "limit": 1000, **params})
    assert response.status_code == 200, response.text
    return json.dumps(response.json()["entries"])


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


# --- 1. no credential in the journal ----------------------------------------------------------------

@pytest.mark.parametrize("sasl", [
    f"user=alice@x.test auth=Bearer {SECRET}",  # the ^A separators forgotten
    f"user=alice@x.test\tauth=Bearer {SECRET}\x01\x01",
    f"user={SECRET}",
])
async def test_xoauth2_token_never_journaled(client, smtp_call, sasl):
    def fn(smtp_):
        code, _ = smtp_.docmd("AUTH", "XOAUTH2 " + b64(sasl))
        if code == 334:
            code, _ = smtp_.docmd("")
        return code

    assert await smtp_call(fn) in (501, 535)
    dump = await journal_dump(client, protocol="smtp", operation="mss.smtp.auth")
    assert "mss.smtp.auth" in dump
    assert SECRET not in dump and "SECRET" not in dump and "Bearer" not in dump and "auth=" not in dump
    if sasl.startswith("user=alice"):
        assert "XOAUTH2 alice@x.test" in dump


async def test_refused_psc_token_detail_is_the_rule_not_the_token(client, smtp_call):
    sasl = f"user={DOCTOR}\x01auth=Bearer {SECRET}\x01\x01"

    def fn(smtp_):
        smtp_.docmd("AUTH", "XOAUTH2 " + b64(sasl))
        return smtp_.docmd("")

    code, _ = await smtp_call(fn)
    assert code == 535
    dump = await journal_dump(client, protocol="smtp", operation="mss.smtp.auth")
    assert f"XOAUTH2 {DOCTOR}: PSC access token refused" in dump
    assert "SECRET" not in dump


async def test_password_typed_as_login_is_not_journaled(client, smtp_call):
    def fn(smtp_):
        return smtp_.docmd("AUTH", "PLAIN " + b64(f"\x00hunter2-{SECRET}\x00{PASSWORD}"))[0]

    assert await smtp_call(fn) == 535
    dump = await journal_dump(client, protocol="smtp", operation="mss.smtp.auth")
    assert "PLAIN -" in dump and "hunter2" not in dump and "SECRET" not in dump


async def test_undecodable_sasl_response_not_logged(client, smtp_call, caplog):
    caplog.set_level(logging.DEBUG, logger="mail.log")

    def fn(smtp_):
        code, _ = smtp_.docmd("AUTH", "XOAUTH2")
        assert code == 334
        return smtp_.docmd(f"{SECRET}!!not-base64")[0]

    assert await smtp_call(fn) == 501
    assert "SECRET" not in caplog.text


def test_journal_login():
    assert smtp.journal_login("Alice@X.test auth=Bearer x") == "alice@x.test"
    assert smtp.journal_login("alice@x.test\x01auth=Bearer x") == "alice@x.test"
    assert smtp.journal_login(SECRET) == "-"
    assert smtp.journal_login("auth=Bearer a@b") == "-"
    assert smtp.journal_login(None) == "-"
    assert reply_code("²50 x") is None and reply_code("250 ok") == 250


async def test_data_refusal_journals_the_rule_not_the_message(client, smtp_call, monkeypatch):
    """A refused message: the SMTP reply may quote the finding, the journal says the rule only."""
    from app.mss import checks

    original = checks.run_checks

    def run_checks(*args, **kwargs):
        report = original(*args, **kwargs)
        for finding in report.findings:
            finding_message = f"quoted body content {SECRET}"
            object.__setattr__(finding, "message", finding_message)
            object.__setattr__(finding, "status", "fail")
        object.__setattr__(report, "enforced", set(checks.RULES))
        return report

    monkeypatch.setattr(checks, "run_checks", run_checks)
    raw = build_message(sender=f"Dr Claire FONTAINE <{DOCTOR}>", to=HOSPITAL_DOCTOR)

    def fn(smtp_):
        smtp_.login(DOCTOR, PASSWORD)
        try:
            smtp_.sendmail(DOCTOR, [HOSPITAL_DOCTOR], raw)
        except smtplib.SMTPDataError as exc:
            return exc.smtp_code
        return 250

    code = await smtp_call(fn)
    assert code >= 500
    dump = await journal_dump(client, protocol="smtp", operation="mss.smtp.data")
    assert "Message refused by rule" in dump and "SECRET" not in dump


# --- 2. no 500 on numbers -----------------------------------------------------------------------

def _with_size_slot(value: str) -> bytes:
    archive = sample_xdm()
    with zipfile.ZipFile(__import__("io").BytesIO(archive)) as zf:
        metadata = zf.read(xdm.METADATA_PATH).decode()
    metadata, count = re.subn(r'(<rim:Slot name="size"><rim:ValueList><rim:Value>)[0-9]+', rf"\g<1>{value}",
                              metadata)
    assert count
    return rezip(archive, replace={xdm.METADATA_PATH: metadata.encode()})


@pytest.mark.parametrize("value", ["9" * 5000, "²", "1234567890", "-1", "٣"])
def test_size_slot_not_a_small_integer_is_an_issue(value):
    package = xdm.read_xdm(_with_size_slot(value))
    assert all(d.size is None for d in package.documents)
    assert "xdm.document.size" in {i.code for i in package.issues}


async def test_size_slot_over_http_and_smtp(client, smtp_call):
    archive = _with_size_slot("9" * 5000)
    response = await client.post("/mss/v1/xdm/inspect", content=archive,
                                 headers={"Content-Type": "application/zip", **await auth(client)})
    assert response.status_code == 200
    raw = build_message(sender=f"Dr Claire FONTAINE <{DOCTOR}>", to=HOSPITAL_DOCTOR, xdm_bytes=archive)

    def fn(smtp_):
        smtp_.login(DOCTOR, PASSWORD)
        try:
            smtp_.sendmail(DOCTOR, [HOSPITAL_DOCTOR], raw)
        except smtplib.SMTPDataError as exc:
            return exc.smtp_code
        return 250

    code = await smtp_call(fn)
    assert code != 451 and code in (250, 550, 554)


@pytest.mark.parametrize("count", ["²", "9" * 5000, "1e3", "-1", " 5"])
async def test_annuaire_count_not_an_integer(client, count):
    response = await client.get("/fhir/v2/Practitioner", params={"_count": count},
                                headers={"ESANTE-API-KEY": "sandbox-esante-api-key"})
    assert response.status_code == 400
    assert response.json()["resourceType"] == "OperationOutcome"


# --- 3. the zip central directory ---------------------------------------------------------------

@pytest.fixture
def zipfile_spy(monkeypatch):
    """Counts the ZipFile objects xdm builds for reading."""
    opened = []
    real = zipfile.ZipFile

    def spy(*args, **kwargs):
        if (args[1] if len(args) > 1 else kwargs.get("mode", "r")) == "r":
            opened.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(xdm_archive.zipfile, "ZipFile", spy)
    return opened


def _many_entries(n: int) -> bytes:
    return make_zip({f"f{i}": b"" for i in range(n)}, compression=zipfile.ZIP_STORED)


def test_entry_count_refused_before_parsing(zipfile_spy):
    archive = _many_entries(2000)
    with pytest.raises(xdm.XdmError) as info:
        xdm.read_xdm(archive)
    assert info.value.code == "xdm.zip.entries" and info.value.unsafe
    assert zipfile_spy == []


def test_lying_entry_count_refused_by_central_directory_size(zipfile_spy):
    archive = bytearray(_many_entries(2000))
    eocd = archive.rfind(b"PK\x05\x06")
    struct.pack_into("<HH", archive, eocd + 8, 1, 1)  # "1 entry", the directory still holds 2000
    with pytest.raises(xdm.XdmError) as info:
        xdm.read_xdm(bytes(archive))
    assert info.value.code == "xdm.zip.entries"
    assert zipfile_spy == []


def test_zip64_end_record_entry_count_refused(zipfile_spy):
    archive = bytearray(make_zip({"a": b"x"}))
    eocd = archive.rfind(b"PK\x05\x06")
    _, _, _, _, _, cd_size, cd_offset, _ = struct.unpack_from("<4s4H2LH", archive, eocd)
    record = struct.pack("<4sQ2H2L4Q", b"PK\x06\x06", 44, 45, 45, 0, 0, 200_000, 200_000, cd_size, cd_offset)
    locator = struct.pack("<4sLQL", b"PK\x06\x07", 0, eocd, 1)
    struct.pack_into("<HH", archive, eocd + 8, 0xFFFF, 0xFFFF)
    crafted = bytes(archive[:eocd]) + record + locator + bytes(archive[eocd:])
    with pytest.raises(xdm.XdmError) as info:
        xdm.read_xdm(crafted)
    assert info.value.code == "xdm.zip.entries" and "200000" in info.value.message
    assert zipfile_spy == []


def test_real_xdm_still_reads(zipfile_spy):
    assert xdm.read_xdm(sample_xdm()).cda_codes == ["11488-4"]
    assert len(zipfile_spy) == 1


async def test_xdm_helpers_require_psc(client):
    for path, content in (("/mss/v1/xdm", SAMPLE_CDA), ("/mss/v1/xdm/inspect", sample_xdm())):
        response = await client.post(path, content=content)
        assert response.status_code == 401, path
        assert response.headers["content-type"].startswith("application/problem+json")


async def test_xdm_helpers_run_off_the_event_loop(client, monkeypatch):
    loop_thread = threading.get_ident()
    threads: list[int] = []
    real_read, real_build = xdm.read_xdm, xdm.build_xdm

    def read(*args, **kwargs):
        threads.append(threading.get_ident())
        return real_read(*args, **kwargs)

    def build(*args, **kwargs):
        threads.append(threading.get_ident())
        return real_build(*args, **kwargs)

    monkeypatch.setattr(xdm, "read_xdm", read)
    monkeypatch.setattr(xdm, "build_xdm", build)
    headers = await auth(client)
    built = await client.post("/mss/v1/xdm", content=SAMPLE_CDA, headers=headers)
    assert built.status_code == 200
    inspected = await client.post("/mss/v1/xdm/inspect", content=built.content, headers=headers)
    assert inspected.status_code == 200
    assert len(threads) == 3 and loop_thread not in threads


# --- 4. the annuaire key ------------------------------------------------------------------------

async def test_annuaire_key_compared_in_constant_time(client, monkeypatch):
    calls = []
    real = annuaire.hmac.compare_digest

    def compare(a, b):
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(annuaire.hmac, "compare_digest", compare)
    wrong = await client.get("/fhir/v2/Practitioner", headers={"ESANTE-API-KEY": "sandbox-esante-api-kez"})
    assert wrong.status_code == 401
    missing = await client.get("/fhir/v2/Practitioner")
    assert missing.status_code == 401
    right = await client.get("/fhir/v2/Practitioner", headers={"ESANTE-API-KEY": "sandbox-esante-api-key"})
    assert right.status_code == 200
    assert len(calls) == 3


# --- 5. no request body in error texts or the journal -------------------------------------------

async def test_invalid_json_body_names_the_field_not_the_value(client):
    payload = {"to": f"not-a-list-{SECRET}", "subject": ["SECRET-subject"]}
    response = await client.post(f"/mss/v1/mailboxes/{DOCTOR}/messages", json=payload,
                                 headers=await auth(client))
    assert response.status_code == 422
    problem = response.json()
    assert problem["rule"] == "MSS:request.invalid"
    assert "SECRET" not in problem["detail"] and "input_value" not in problem["detail"]
    assert "to:" in problem["detail"] and "subject:" in problem["detail"]
    dump = await journal_dump(client, protocol="http", rule="MSS:request.invalid")
    assert "MSS:request.invalid" in dump and "SECRET" not in dump


def test_validation_detail_has_no_input():
    from app.mss.schemas import MessageCreate

    with pytest.raises(Exception) as info:
        MessageCreate.model_validate({"to": [], "notify": [f"X{SECRET}"]})
    detail = validation_detail(info.value)  # type: ignore[arg-type]
    assert "SECRET" not in detail and "notify.0" in detail and "to:" in detail


async def test_attachment_and_xdm_refusals_keep_the_body_out_of_the_journal(client):
    headers = await auth(client)
    payload = {"to": [HOSPITAL_DOCTOR], "attachments": [
        {"filename": f"{SECRET}.pdf", "content_type": "application/pdf", "content_base64": "%%%"}]}
    response = await client.post(f"/mss/v1/mailboxes/{DOCTOR}/messages", json=payload, headers=headers)
    assert response.status_code == 422 and response.json()["rule"] == "MSS:attachment.base64"
    assert "SECRET" not in response.json()["detail"]
    evil = rezip(sample_xdm(), add={f"../{SECRET}": b"x"})
    inspected = await client.post("/mss/v1/xdm/inspect", content=evil, headers=headers)
    assert inspected.status_code == 422 and inspected.json()["rule"] == "MSS:xdm.zip.path"
    dump = await journal_dump(client, protocol="http")
    assert "MSS:attachment.base64" in dump and "MSS:xdm.zip.path" in dump
    assert "SECRET" not in dump


async def test_invalid_mailbox_address_not_echoed(client):
    body = {"address": f"{SECRET} not an address", "type": "ORG", "display_name": "x"}
    response = await client.post("/sandbox/v1/mailboxes", json=body)
    assert response.status_code == 422
    assert "SECRET" not in response.text
    entries = (await client.get("/sandbox/v1/journal", params={"protocol": "http", "limit": 1000})).json()
    assert "SECRET" not in json.dumps(entries)
