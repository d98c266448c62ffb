"""The mailbox API's own routes: the PSC token required, the professional's mailboxes, sending (JSON,
raw RFC 5322), its refusals as RFC 9457 problems and what the journal keeps of them."""

from __future__ import annotations

import base64
import smtplib

import pytest

from tests.mss.asking import SECRET, auth, box, journal_dump
from tests.mss.conftest import DOCTOR, DOCTOR_SNI, HOSPITAL_DOCTOR, HOSPITAL_SNI, PASSWORD
from tests.mss.helpers import build_message, rezip, sample_xdm
from tests.mss.xdm.test_metadata import _with_size_slot


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


async def test_requires_psc_token(client):
    response = await client.get(box(DOCTOR))
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")


async def test_my_mailboxes(client):
    response = await client.get("/mss/v1/mailboxes", headers=await auth(client, DOCTOR_SNI))
    assert response.status_code == 200
    addresses = {m["address"]: m["type"] for m in response.json()}
    assert addresses[DOCTOR] == "PER"
    assert addresses["cabinet.fontaine@medecin.mssante.fr"] == "CAB"


async def test_send_raw_rfc822(client):
    raw = build_message(sender=f"Dr Claire FONTAINE <{DOCTOR}>", to=HOSPITAL_DOCTOR, xdm_bytes=sample_xdm())
    response = await client.post(box(DOCTOR), content=raw, headers={**await auth(client, DOCTOR_SNI),
                                                                    "Content-Type": "message/rfc822"})
    assert response.status_code == 202, response.text
    assert response.json()["report"]["conformant"] is True


async def test_refused_recipient_gets_failure_dsn(client):
    sender = await auth(client, DOCTOR_SNI)
    response = await client.post(box(DOCTOR), json={"to": [HOSPITAL_DOCTOR, "x@gmail.com"], "subject": "s"},
                                 headers=sender)
    assert response.status_code == 202
    statuses = {r["address"]: r["status"] for r in response.json()["recipients"]}
    assert statuses == {HOSPITAL_DOCTOR: "accepted", "x@gmail.com": "refused"}
    dsns = (await client.get(box(DOCTOR), params={"kind": "dsn"}, headers=sender)).json()
    assert dsns["total"] == 1
    raw = await client.get(f"{box(DOCTOR)}/{dsns['items'][0]['uid']}/raw", headers=sender)
    assert b"Action: failed" in raw.content and b"Status: 5.7.1" in raw.content


async def test_all_recipients_outside_trust_space(client):
    response = await client.post(box(DOCTOR), json={"to": ["x@gmail.com"], "subject": "s"},
                                 headers=await auth(client, DOCTOR_SNI))
    assert response.status_code == 422
    assert response.json()["rule"] == "MSS:trust-space"


async def test_unsafe_xdm_refused_over_http(client):
    evil = rezip(sample_xdm(), add={"/etc/cron.d/x": b"x"})
    payload = {"to": [HOSPITAL_DOCTOR], "subject": "XDM/1.0/DDM+x", "attachments": [
        {"filename": "IHE_XDM.ZIP", "content_type": "application/zip",
         "content_base64": base64.b64encode(evil).decode()}]}
    response = await client.post(box(DOCTOR), json=payload, headers=await auth(client, DOCTOR_SNI))
    assert response.status_code == 422
    assert response.json()["rule"] == "MSS:XDM.SAFE"


@pytest.mark.parametrize(("message", "field"), [
    ({"to": [HOSPITAL_DOCTOR, "x\r"], "subject": "s"}, "to"),  # the fuzzer's input (issue 10): a 500 before
    ({"to": [HOSPITAL_DOCTOR, ".\x03r", "\x0fW4P"], "subject": "s"}, "to"),  # a group never closed: a 500 before
    ({"to": [HOSPITAL_DOCTOR], "cc": ["y\n@z"], "subject": "s"}, "cc"),
    ({"to": [HOSPITAL_DOCTOR], "subject": "s\r\nBcc: victim@hopital-a.mssante.fr"}, "subject"),
    ({"to": [HOSPITAL_DOCTOR], "subject": "s", "headers": {"X-MSS-NIL": "a\nb"}}, "headers.X-MSS-NIL"),
])
async def test_header_injection_is_a_422_not_a_500(client, message: dict, field: str):
    headers = await auth(client, DOCTOR_SNI)
    response = await client.post(box(DOCTOR), json=message, headers=headers)
    assert response.status_code == 422, response.text
    assert response.json()["rule"] == "MSS:header.invalid" and response.json()["field"] == field
    assert (await client.get(box(HOSPITAL_DOCTOR), headers=await auth(client, HOSPITAL_SNI))).json()["total"] == 0
