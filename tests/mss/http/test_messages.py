"""A mailbox's messages over HTTP: list, search, read, raw, part, mark read (MDN), delete."""

from __future__ import annotations

import base64
import io
import zipfile

from tests.mss.asking import auth, box
from tests.mss.conftest import DOCTOR, DOCTOR_SNI, HOSPITAL_DOCTOR, HOSPITAL_SNI, PASSWORD
from tests.mss.helpers import SAMPLE_CDA, SAMPLE_INS


async def test_reading_a_crafted_message_over_http_parses_it_in_a_thread(smtp_call, client, threads):
    """The HTTP API parses a stored message to show it: the same bounds as at reception apply."""
    body = "".join(f"--b\r\nContent-Type: text/plain\r\n\r\npart {i}\r\n" for i in range(3000)) + "--b--\r\n"
    raw = (f"From: {DOCTOR}\r\nTo: {HOSPITAL_DOCTOR}\r\nSubject: parts\r\nX-MSS-NIL: x\r\nMIME-Version: 1.0\r\n"
           f"Content-Type: multipart/mixed; boundary=b\r\n\r\n{body}").encode()

    def fn(smtp):
        smtp.login(DOCTOR, PASSWORD)
        return smtp.sendmail(DOCTOR, [HOSPITAL_DOCTOR], raw)

    assert await smtp_call(fn) == {}
    threads.clear()
    latest = await client.get(f"/sandbox/v1/mailboxes/{HOSPITAL_DOCTOR}/messages/latest")
    assert latest.status_code == 200 and threads == ["parse_message"]


async def test_send_json_with_xdm_then_read_search_raw_part_delete(client):
    sender = await auth(client, DOCTOR_SNI)
    payload = {
        "to": [HOSPITAL_DOCTOR], "subject": "XDM/1.0/DDM+Compte rendu ADRUN ZOE 19751231",
        "body": "Compte rendu ci-joint.", "headers": {"X-MSS-NIL": "NIL-0001"},
        "xdm_from_cda_base64": base64.b64encode(SAMPLE_CDA).decode(),
        "attachments": [{"filename": "CR.pdf", "content_type": "application/pdf",
                         "content_base64": base64.b64encode(b"%PDF-1.4").decode()}],
    }
    response = await client.post(box(DOCTOR), json=payload, headers=sender)
    assert response.status_code == 202, response.text
    sent = response.json()
    assert sent["recipients"] == [{"address": HOSPITAL_DOCTOR, "status": "accepted", "reply": None}]
    assert sent["report"]["conformant"] is True, sent["report"]

    reader = await auth(client, HOSPITAL_SNI)
    listing = (await client.get(box(HOSPITAL_DOCTOR), params={"has_xdm": "true", "unread": "true"},
                                headers=reader)).json()
    assert listing["total"] == 1 and listing["items"][0]["uid"] == sent["uid"]
    assert (await client.get(box(HOSPITAL_DOCTOR), params={"subject": "nothing-like-this"},
                             headers=reader)).json()["total"] == 0
    assert (await client.get(box(HOSPITAL_DOCTOR), params={"sender": "fontaine"},
                             headers=reader)).json()["total"] == 1
    assert (await client.get(box(HOSPITAL_DOCTOR), params={"since": "2000-01-01T00:00:00Z"},
                             headers=reader)).json()["total"] == 1
    assert (await client.get(box(HOSPITAL_DOCTOR), params={"since": "946684800"},
                             headers=reader)).status_code == 422  # ISO 8601 only, not Unix seconds

    detail = (await client.get(f"{box(HOSPITAL_DOCTOR)}/latest", headers=reader)).json()
    assert detail["uid"] == sent["uid"]
    assert detail["xdm"][0]["package"]["documents"][0]["patient_id"]["id"] == SAMPLE_INS
    assert ("X-MSS-CODECDA", "11488-4") in [tuple(h) for h in detail["headers"]]
    assert detail["text"].strip() == "Compte rendu ci-joint."

    raw = await client.get(f"{box(HOSPITAL_DOCTOR)}/{sent['uid']}/raw", headers=reader)
    assert raw.headers["content-type"].startswith("message/rfc822") and b"X-MSS-NIL" in raw.content
    xdm_part = next(p for p in detail["parts"] if p["is_xdm"])
    part = await client.get(f"{box(HOSPITAL_DOCTOR)}/{sent['uid']}/parts/{xdm_part['index']}", headers=reader)
    assert zipfile.ZipFile(io.BytesIO(part.content)).namelist()

    deleted = await client.delete(f"{box(HOSPITAL_DOCTOR)}/{sent['uid']}", headers=reader)
    assert deleted.status_code == 204
    assert (await client.get(f"{box(HOSPITAL_DOCTOR)}/{sent['uid']}", headers=reader)).status_code == 404


async def test_mdn_when_marked_read(client):
    sender = await auth(client, DOCTOR_SNI)
    sent = (await client.post(box(DOCTOR), json={"to": [HOSPITAL_DOCTOR], "subject": "Avis",
                                                   "headers": {"X-MSS-NIL": "x"}, "disposition_notification": True},
                              headers=sender)).json()
    reader = await auth(client, HOSPITAL_SNI)
    read = await client.post(f"{box(HOSPITAL_DOCTOR)}/{sent['uid']}/read", headers=reader)
    assert read.status_code == 200 and read.json()["mdn_uid"]
    again = await client.post(f"{box(HOSPITAL_DOCTOR)}/{sent['uid']}/read", headers=reader)
    assert again.json()["mdn_uid"] == read.json()["mdn_uid"]  # one MDN only
    mdns = (await client.get(box(DOCTOR), params={"kind": "mdn"}, headers=sender)).json()
    assert mdns["total"] == 1
    mdn = await client.get(f"{box(DOCTOR)}/{mdns['items'][0]['uid']}/raw", headers=sender)
    assert b"report-type=disposition-notification" in mdn.content
    assert b"Disposition: manual-action/MDN-sent-manually; displayed" in mdn.content
    assert f"Original-Message-ID: {sent['message_id']}".encode() in mdn.content
    detail = (await client.get(f"{box(DOCTOR)}/{mdns['items'][0]['uid']}", headers=sender)).json()
    assert detail["related_uid"] == sent["uid"]
    unread = (await client.get(box(HOSPITAL_DOCTOR), params={"unread": "true"}, headers=reader)).json()
    assert unread["total"] == 0


async def test_no_mdn_without_request(client):
    sent = (await client.post(box(DOCTOR), json={"to": [HOSPITAL_DOCTOR], "subject": "x"},
                              headers=await auth(client, DOCTOR_SNI))).json()
    read = await client.post(f"{box(HOSPITAL_DOCTOR)}/{sent['uid']}/read", headers=await auth(client, HOSPITAL_SNI))
    assert read.json()["mdn_uid"] is None
