"""The HTTP mailbox API (/mss/v1) and its control API."""

from __future__ import annotations

import base64
import io
import zipfile

import pytest

from tests.mss.conftest import DOCTOR, DOCTOR_SNI, HOSPITAL_DOCTOR, HOSPITAL_SNI
from tests.mss.helpers import SAMPLE_CDA, SAMPLE_INS, build_message, cda_without_ins, rezip, sample_xdm
from tests.psc.helpers import access_token_for


async def auth(client, sni):
    return {"Authorization": f"Bearer {await access_token_for(client, sni)}"}


def box(address):
    return f"/mss/v1/mailboxes/{address}/messages"


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


async def test_other_professional_mailbox_forbidden(client):
    response = await client.get(box(HOSPITAL_DOCTOR), headers=await auth(client, DOCTOR_SNI))
    assert response.status_code == 403
    assert response.json()["rule"] == "MSS:mailbox.owner" or "owner" in response.text


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


async def test_send_raw_rfc822(client):
    raw = build_message(sender=f"Dr Claire FONTAINE <{DOCTOR}>", to=HOSPITAL_DOCTOR, xdm_bytes=sample_xdm())
    response = await client.post(box(DOCTOR), content=raw, headers={**await auth(client, DOCTOR_SNI),
                                                                    "Content-Type": "message/rfc822"})
    assert response.status_code == 202, response.text
    assert response.json()["report"]["conformant"] is True


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


async def test_xdm_build_and_inspect_helpers(client):
    psc = await auth(client, DOCTOR_SNI)
    built = await client.post("/mss/v1/xdm", content=SAMPLE_CDA, headers={"Content-Type": "application/xml", **psc})
    assert built.status_code == 200 and built.headers["x-mss-codecda"] == "11488-4"
    assert built.headers["x-mss-ins"] == "O"
    inspected = await client.post("/mss/v1/xdm/inspect", content=built.content,
                                  headers={"Content-Type": "application/zip", **psc})
    assert inspected.status_code == 200 and inspected.json()["cda_codes"] == ["11488-4"]
    bad = await client.post("/mss/v1/xdm", content=cda_without_ins(), headers=psc)
    assert bad.status_code == 422
    bomb = await client.post("/mss/v1/xdm/inspect", content=rezip(sample_xdm(), add={"../x": b"x"}), headers=psc)
    assert bomb.status_code == 422 and bomb.json()["rule"] == "MSS:xdm.zip.path"


async def test_control_api_reads_patient_mailbox(client):
    mailboxes = (await client.get("/sandbox/v1/mailboxes")).json()
    patients = [m for m in mailboxes if m["type"] == "PAT"]
    assert patients and all(m["address"].endswith("@patient.mssante.fr") for m in patients)
    corsican = [m for m in patients if "2A" in m["address"] or "2B" in m["address"]]
    assert corsican, "2A/2B matricules keep their letters in the address"
    patient = f"{SAMPLE_INS}@patient.mssante.fr"
    await client.post(box(DOCTOR), json={"to": [patient], "subject": "Résultats", "headers": {"X-MSS-MES": "FIN"}},
                      headers=await auth(client, DOCTOR_SNI))
    latest = await client.get(f"/sandbox/v1/mailboxes/{patient}/messages/latest")
    assert latest.status_code == 200 and latest.json()["subject"] == "Résultats"


async def test_control_create_mailbox(client):
    body = {"address": "secretariat.pediatrie@hopital-a.mssante.fr", "type": "ORG",
            "display_name": "Secrétariat de pédiatrie", "owners": [DOCTOR_SNI]}
    created = await client.post("/sandbox/v1/mailboxes", json=body)
    assert created.status_code == 201
    assert (await client.post("/sandbox/v1/mailboxes", json=body)).status_code == 409
    outside = await client.post("/sandbox/v1/mailboxes", json={**body, "address": "a@gmail.com"})
    assert outside.status_code == 422
    mine = (await client.get("/mss/v1/mailboxes", headers=await auth(client, DOCTOR_SNI))).json()
    assert body["address"] in {m["address"] for m in mine}


async def test_checks_catalogue(client):
    items = (await client.get("/mss/v1/checks")).json()
    by_id = {i["id"]: i for i in items}
    assert by_id["XDM.SAFE"]["enforced"] is True and by_id["MSS.NIL"]["enforced"] is False


async def test_autoconfig(client, app):
    from lxml import etree

    response = await client.get("/mail/config-v1.1.xml", params={"emailaddress": DOCTOR})
    assert response.status_code == 200
    root = etree.fromstring(response.content)
    assert root.findtext("emailProvider/domain") == "medecin.mssante.fr"
    assert root.findtext("emailProvider/outgoingServer/port") == str(app.state.smtp_port)
    assert root.findtext("emailProvider/outgoingServer/socketType") == "STARTTLS"


async def test_seed_is_idempotent(app, client, session):
    from sqlalchemy import func, select

    from app.mss import service
    from app.mss.models import MssMailbox

    before = await session.scalar(select(func.count(MssMailbox.id)))
    async with app.state.sessionmaker() as other, other.begin():
        await service.seed(other, app.state.settings)
    assert await session.scalar(select(func.count(MssMailbox.id))) == before


async def test_professional_created_later_gets_a_mailbox(client, smtp_call):
    import copy
    import json

    from app.psc.rpps import rpps_with_key, subject_name_id

    fixtures = json.loads((await client.get("/sandbox/v1/professionals")).text)
    template = next(p for p in fixtures if p["SubjectNameID"] == HOSPITAL_SNI)
    sni = subject_name_id(rpps_with_key("1000900001"))
    professional = copy.deepcopy(template)
    professional.update({"SubjectNameID": sni, "preferred_username": sni, "given_name": "Élodie",
                         "family_name": "N'Guessan", "sub": f"f:sandbox:{sni}"})
    created = await client.post("/sandbox/v1/professionals", json=professional)
    assert created.status_code == 201, created.text
    address = "elodie.n-guessan@hopital-a.mssante.fr"

    def fn(smtp):
        smtp.login(DOCTOR, "mssante")
        smtp.mail(DOCTOR)
        return smtp.rcpt(address)[0]

    assert await smtp_call(fn) == 250
    bundle = (await client.get("/fhir/v2/Practitioner", params={"mailbox-mss": address},
                               headers={"ESANTE-API-KEY": "sandbox-esante-api-key"})).json()
    assert [i["value"] for e in bundle["entry"] for i in e["resource"]["identifier"]
            if i["system"] == "urn:oid:1.2.250.1.71.4.2.1"] == [sni]  # Annuaire ids are opaque (003-…)


@pytest.mark.parametrize(("message", "field"), [
    ({"to": [HOSPITAL_DOCTOR, "x\r"], "subject": "s"}, "to"),  # the fuzzer's input (issue 10): a 500 before
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
