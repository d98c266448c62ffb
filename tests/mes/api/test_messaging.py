"""The patient's messaging over the patient API (/mes/api/v1/patients/{ins}/messages, .../pharmacies), checked on
the professional side through the MSSanté HTTP API and IMAP: inbox, reading (MDN), replies to Reply-To, closed
conversations, the pharmacy exception, another patient's message, limits."""

from __future__ import annotations

import base64
import email
from email.header import decode_header, make_header

import pytest

from app.mes import service as mes
from app.mes.exceptions import MesInvalid
from tests.mes.helpers import LEA, THOMAS, ZOE, auth
from tests.mss.asking import auth as psc_auth
from tests.mss.asking import box
from tests.mss.conftest import DOCTOR, DOCTOR_SNI, HOSPITAL_SNI
from tests.mss.imap.server_helpers import imap_call

API = "/mes/api/v1/patients"
PATIENT = f"{ZOE}@patient.mssante.fr"
PHARMACY = "pharmacie.du-marche@medecin.mssante.fr"
SECRETARIAT = "secretariat.cardiologie@hopital-a.mssante.fr"


async def professional_sends(client, *, to: str = PATIENT, subject: str = "Vos résultats d'analyses",
                             headers: dict[str, str] | None = None, **extra) -> dict:  # type: ignore[no-untyped-def]
    body = {"to": [to], "subject": subject, "body": "Bonjour, vos résultats sont normaux.",
            "headers": {"X-MSS-NIL": "NIL-TEST", **(headers or {})}, **extra}
    sent = await client.post(box(DOCTOR), json=body, headers=await psc_auth(client, DOCTOR_SNI))
    assert sent.status_code == 202, sent.text
    return sent.json()


async def test_patient_reads_the_inbox_and_a_message(client) -> None:
    pdf = base64.b64encode(b"%PDF-1.4\n% resultats\n").decode()
    sent = await professional_sends(client, attachments=[{"filename": "resultats.pdf",
                                                          "content_type": "application/pdf", "content_base64": pdf}],
                                    disposition_notification=True)
    headers = await auth(client, ZOE)
    inbox = await client.get(f"{API}/{ZOE}/messages", headers=headers)
    assert inbox.status_code == 200, inbox.text
    item, = inbox.json()
    assert item["id"] == sent["uid"] and item["direction"] == "received" and not item["seen"]
    assert item["sender"] == DOCTOR and item["attachments"] == 1 and not item["closes_conversation"]

    read = await client.get(f"{API}/{ZOE}/messages/{sent['uid']}", headers=headers)
    assert read.status_code == 200, read.text
    detail = read.json()
    assert detail["text"].startswith("Bonjour, vos résultats") and detail["reply_allowed"] is True
    assert detail["replies_go_to"] == [DOCTOR] and detail["reply_refusal"] is None
    attachment, = detail["attachments"]
    assert attachment["filename"] == "resultats.pdf"
    got = await client.get(f"{API}/{ZOE}/messages/{sent['uid']}/attachments/{attachment['index']}", headers=headers)
    assert got.status_code == 200 and got.content == b"%PDF-1.4\n% resultats\n"
    assert got.headers["content-type"] == "application/pdf"
    # reading it sent the read receipt the professional asked for (RFC 8098), once
    mdns = await client.get(box(DOCTOR), params={"kind": "mdn"}, headers=await psc_auth(client, DOCTOR_SNI))
    assert mdns.json()["total"] == 1
    again = await client.get(f"{API}/{ZOE}/messages", headers=headers)
    assert again.json()[0]["seen"] is True


async def test_reply_reaches_the_professional_with_the_patients_identity(client, app) -> None:
    sent = await professional_sends(client)
    headers = await auth(client, ZOE)
    reply = await client.post(f"{API}/{ZOE}/messages/{sent['uid']}/reply", headers=headers,
                              json={"text": "Merci docteur.",
                                    "attachments": [{"filename": "question.txt", "content_type": "text/plain",
                                                     "content_base64": base64.b64encode(b"Une question").decode()}]})
    assert reply.status_code == 201, reply.text
    summary = reply.json()
    assert summary["direction"] == "sent" and summary["recipients"] == [DOCTOR]
    assert summary["subject"] == "Re: Vos résultats d'analyses" and summary["attachments"] == 1

    # the professional sees it over the MSSanté HTTP API ...
    doctor = await psc_auth(client, DOCTOR_SNI)
    listed = (await client.get(box(DOCTOR), params={"kind": "message"}, headers=doctor)).json()
    item, = listed["items"]
    assert item["uid"] == summary["id"] and item["sender"] == PATIENT
    raw = (await client.get(f"{box(DOCTOR)}/{item['uid']}/raw", headers=doctor)).content
    parsed = email.message_from_bytes(raw)
    assert str(make_header(decode_header(parsed["From"]))) == f"Zoe ADRUN <{PATIENT}>"  # SC.MSS/UX.25
    assert parsed["In-Reply-To"] == sent["message_id"] and sent["message_id"] in parsed["References"]

    # ... and over IMAP
    def fetch(imap):  # type: ignore[no-untyped-def]
        imap.select("INBOX")
        _, data = imap.search(None, "FROM", PATIENT)
        return data[0].split()

    assert len(await imap_call(app, fetch)) == 1

    # the patient's inbox shows both, in one conversation
    inbox = (await client.get(f"{API}/{ZOE}/messages", headers=headers)).json()
    assert [m["direction"] for m in inbox] == ["sent", "received"]
    assert inbox[0]["conversation_id"] == inbox[1]["conversation_id"] == sent["message_id"]


async def test_reply_goes_to_reply_to_when_set(client) -> None:
    sent = await professional_sends(client, headers={"Reply-To": SECRETARIAT})
    headers = await auth(client, ZOE)
    detail = (await client.get(f"{API}/{ZOE}/messages/{sent['uid']}", headers=headers)).json()
    assert detail["replies_go_to"] == [SECRETARIAT] and detail["reply_to"] == [SECRETARIAT]
    reply = await client.post(f"{API}/{ZOE}/messages/{sent['uid']}/reply", headers=headers, json={"text": "Merci"})
    assert reply.status_code == 201 and reply.json()["recipients"] == [SECRETARIAT]
    secretariat = await psc_auth(client, HOSPITAL_SNI)  # a listed user of the ORG mailbox
    listed = (await client.get(box(SECRETARIAT), headers=secretariat)).json()
    assert [i["sender"] for i in listed["items"]] == [PATIENT]
    doctor = (await client.get(box(DOCTOR), params={"kind": "message"},
                               headers=await psc_auth(client, DOCTOR_SNI))).json()
    assert doctor["total"] == 0


@pytest.mark.parametrize("closing", [{"headers": {"X-MSS-MES": "FIN"}}, {"subject": "Résultats [FIN]"}])
async def test_reply_after_fin_is_refused_with_a_clear_problem(client, closing) -> None:
    sent = await professional_sends(client, **closing)
    headers = await auth(client, ZOE)
    detail = (await client.get(f"{API}/{ZOE}/messages/{sent['uid']}", headers=headers)).json()
    assert detail["reply_allowed"] is False and "close" in detail["reply_refusal"]
    assert detail["summary"]["closes_conversation"] is True
    reply = await client.post(f"{API}/{ZOE}/messages/{sent['uid']}/reply", headers=headers, json={"text": "Merci"})
    assert reply.status_code == 409
    assert reply.headers["content-type"].startswith("application/problem+json")
    problem = reply.json()
    assert problem["rule"] == "MES:conversation-closed" and "closed" in problem["detail"]
    assert problem["detail_fr"].startswith("conversation close")
    doctor = (await client.get(box(DOCTOR), params={"kind": "message"},
                               headers=await psc_auth(client, DOCTOR_SNI))).json()
    assert doctor["total"] == 0  # nothing sent


async def test_pharmacies_and_the_pharmacy_exception(client) -> None:
    headers = await auth(client, ZOE)
    pharmacies = await client.get(f"{API}/{ZOE}/pharmacies", headers=headers)
    assert pharmacies.status_code == 200
    assert [p["address"] for p in pharmacies.json()] == [PHARMACY]

    refused = await client.post(f"{API}/{ZOE}/messages", headers=headers,
                                json={"to": DOCTOR, "subject": "Question", "text": "Bonjour"})
    assert refused.status_code == 403 and refused.json()["rule"] == "MES:conversation-start"
    assert "pharmac" in refused.json()["detail"]

    pdf = base64.b64encode(b"%PDF-1.4\n% ordonnance\n").decode()
    sent = await client.post(f"{API}/{ZOE}/messages", headers=headers, json={
        "to": PHARMACY, "subject": "Mon ordonnance", "text": "Je passe demain.",
        "attachments": [{"filename": "ordonnance.pdf", "content_type": "application/pdf", "content_base64": pdf}]})
    assert sent.status_code == 201, sent.text
    pharmacist = await psc_auth(client, "810001000040")  # Hugo Moreau, a user of the pharmacy's ORG mailbox
    listed = (await client.get(box(PHARMACY), headers=pharmacist)).json()
    item, = listed["items"]
    assert item["sender"] == PATIENT and item["subject"] == "Mon ordonnance"
    assert "Zoe ADRUN" in (item["from_header"] or "")


async def test_another_patients_message_is_404(client) -> None:
    sent = await professional_sends(client)
    thomas = await auth(client, THOMAS)
    for path in (f"{API}/{ZOE}/messages", f"{API}/{ZOE}/messages/{sent['uid']}", f"{API}/{ZOE}/pharmacies",
                 f"{API}/{THOMAS}/messages/{sent['uid']}"):
        response = await client.get(path, headers=thomas)
        assert response.status_code == 404, path
        assert response.headers["content-type"].startswith("application/problem+json")
    reply = await client.post(f"{API}/{THOMAS}/messages/{sent['uid']}/reply", headers=thomas, json={"text": "x"})
    assert reply.status_code == 404
    assert (await client.get(f"{API}/{ZOE}/messages", headers=thomas)).status_code == 404


async def test_a_representative_reads_the_minors_own_mailbox(client) -> None:
    lea = f"{LEA}@patient.mssante.fr"
    sent = await professional_sends(client, to=lea, subject="Vaccination")
    thomas = await auth(client, THOMAS)
    inbox = await client.get(f"{API}/{LEA}/messages", headers=thomas)
    assert inbox.status_code == 200 and [m["id"] for m in inbox.json()] == [sent["uid"]]
    assert (await client.get(f"{API}/{THOMAS}/messages", headers=thomas)).json() == []


async def test_bad_input_is_a_problem_not_a_500(client) -> None:
    sent = await professional_sends(client)
    headers = await auth(client, ZOE)
    bad_b64 = await client.post(f"{API}/{ZOE}/messages/{sent['uid']}/reply", headers=headers, json={
        "text": "x", "attachments": [{"filename": "a.pdf", "content_base64": "***"}]})
    assert bad_b64.status_code == 422 and bad_b64.json()["rule"] == "MES:attachment-base64"
    bad_name = await client.post(f"{API}/{ZOE}/messages/{sent['uid']}/reply", headers=headers, json={
        "text": "x", "attachments": [{"filename": "../a.pdf", "content_base64": ""}]})
    assert bad_name.status_code == 422 and bad_name.json()["rule"] == "MES:attachment-name"
    bad_type = await client.post(f"{API}/{ZOE}/messages/{sent['uid']}/reply", headers=headers, json={
        "text": "x", "attachments": [{"filename": "a.pdf", "content_type": "pdf\r\nX: y", "content_base64": ""}]})
    assert bad_type.status_code == 422
    unknown = await client.get(f"{API}/{ZOE}/messages/nope", headers=headers)
    assert unknown.status_code == 404 and unknown.json()["rule"] == "MES:message-unknown"
    no_token = await client.get(f"{API}/{ZOE}/messages")
    assert no_token.status_code == 401


async def test_over_25_mb_is_refused_before_anything_is_sent(client, session, settings) -> None:
    sent = await professional_sends(client)
    zoe = await mes.find_person(session, ins=ZOE)
    assert zoe is not None
    big = mes.Attachment(filename="scan.pdf", content_type="application/pdf", content=b"0" * (25 * 1024 * 1024))
    with pytest.raises(MesInvalid) as refused:
        await mes.reply(session, settings=settings, actor=zoe, ins=ZOE, message_id=sent["uid"], text="x",
                        attachments=[big])
    assert refused.value.too_large and refused.value.rule == "MES:message-size"
    # under 25 MB of content but over it once base64-encoded: refused as MES counts it, as sent
    encoded_over = mes.Attachment(filename="scan.pdf", content_type="application/pdf",
                                  content=b"0" * (19 * 1024 * 1024))
    with pytest.raises(MesInvalid) as refused:
        await mes.reply(session, settings=settings.model_copy(update={"mss_max_message_bytes": 40 * 1024 * 1024}),
                        actor=zoe, ins=ZOE, message_id=sent["uid"], text="x", attachments=[encoded_over])
    assert refused.value.too_large and refused.value.rule == "MSS:mes.size"
    await session.rollback()


async def test_an_automatic_message_cannot_be_answered(client) -> None:
    sent = await professional_sends(client, subject="Rappel de rendez-vous",
                                    headers={"Auto-Submitted": "auto-generated"})
    headers = await auth(client, ZOE)
    detail = (await client.get(f"{API}/{ZOE}/messages/{sent['uid']}", headers=headers)).json()
    assert detail["reply_allowed"] is False and "automatique" in detail["reply_refusal"]
    reply = await client.post(f"{API}/{ZOE}/messages/{sent['uid']}/reply", headers=headers, json={"text": "?"})
    assert reply.status_code == 409 and reply.json()["rule"] == "MES:conversation-empty"


async def test_closing_the_profile_closes_the_mailbox_and_mes_bounces(client) -> None:
    earlier = await professional_sends(client)
    headers = await auth(client, ZOE)
    closed = await client.post(f"{API}/{ZOE}/close", json={"reason": "plus besoin"}, headers=headers)
    assert closed.status_code == 200, closed.text
    await professional_sends(client, subject="Après fermeture")
    doctor = await psc_auth(client, DOCTOR_SNI)
    bounces = (await client.get(box(DOCTOR), params={"kind": "dsn"}, headers=doctor)).json()
    bounce, = bounces["items"]
    assert bounce["subject"] == "Message non distribué : Après fermeture"
    raw = (await client.get(f"{box(DOCTOR)}/{bounce['uid']}/raw", headers=doctor)).content
    assert b"Status: 5.2.1" in raw and "fermée".encode() in raw
    refused = await client.post(f"{API}/{ZOE}/messages/{earlier['uid']}/reply", headers=headers, json={"text": "x"})
    assert refused.status_code == 409 and refused.json()["rule"] == "MES:mailbox-closed"

    reopened = await client.post(f"{API}/{ZOE}/reopen", headers=headers)
    assert reopened.status_code == 200, reopened.text
    await professional_sends(client, subject="Après réouverture")
    subjects = [m["subject"] for m in (await client.get(f"{API}/{ZOE}/messages", headers=headers)).json()]
    assert subjects == ["Après réouverture", "Vos résultats d'analyses"]
