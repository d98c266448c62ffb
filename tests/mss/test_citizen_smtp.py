"""Mon espace santé's messaging rules on the wire (app/mss/citizen.py): a professional's message opens a conversation
the patient may answer over SMTP until it is closed; the patient may not start one except with a pharmacy that
recently dispensed to them; MES bounces ("Message non distribué") for an invalid address, an unknown patient, a
closed mailbox and a message over 25 MB, over SMTP and over the HTTP send path; dispensations through the control
API."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import make_msgid

from app.mss import service
from tests.mss.asking import auth, box, deliveries_to
from tests.mss.conftest import DOCTOR, HOSPITAL_DOCTOR, PASSWORD
from tests.mss.helpers import build_message

ZOE = "275126322074974"
PATIENT = f"{ZOE}@patient.mssante.fr"
PHARMACY = "pharmacie.du-marche@medecin.mssante.fr"
SECRETARIAT = "secretariat.cardiologie@hopital-a.mssante.fr"
UNKNOWN_PATIENT = "199999999999999@patient.mssante.fr"


def message(*, sender: str, to: str, subject: str = "Vos résultats", headers: dict[str, str] | None = None,
            message_id: str | None = None) -> tuple[bytes, str]:
    mid = message_id or make_msgid(domain="sandbox.test")
    return build_message(sender=sender, to=to, subject=subject, headers={"Message-ID": mid, **(headers or {})}), mid


async def transaction(smtp_call, *, login: str, sender: str, rcpts: list[str], raw: bytes) -> tuple[int, bytes]:  # type: ignore[no-untyped-def]
    def fn(smtp):  # type: ignore[no-untyped-def]
        smtp.login(login, PASSWORD)
        smtp.mail(sender)
        for rcpt in rcpts:
            code, text = smtp.rcpt(rcpt)
            if code != 250:
                return code, text
        return smtp.data(raw)

    return await smtp_call(fn)


async def test_professional_opens_a_conversation_the_patient_answers(smtp_call, session):
    raw, mid = message(sender=DOCTOR, to=PATIENT)
    code, _ = await transaction(smtp_call, login=DOCTOR, sender=DOCTOR, rcpts=[PATIENT], raw=raw)
    assert code == 250
    (_, received), = await deliveries_to(session, PATIENT)
    assert received.message_id == mid

    reply, _ = message(sender=PATIENT, to=DOCTOR, subject="Re: Vos résultats", headers={"In-Reply-To": mid})
    code, _ = await transaction(smtp_call, login=PATIENT, sender=PATIENT, rcpts=[DOCTOR], raw=reply)
    assert code == 250
    report = (await deliveries_to(session, DOCTOR))[0][1].report
    statuses = {f["id"]: f["status"] for f in report["findings"]}
    assert statuses["MSS.MES.REPLY"] == "pass" and statuses["MSS.MES.START"] == "pass"

    # a reply threaded only by References counts too; but not to someone outside the conversation
    by_refs, _ = message(sender=PATIENT, to=HOSPITAL_DOCTOR, headers={"References": f"<x@y> {mid}"})
    code, text = await transaction(smtp_call, login=PATIENT, sender=PATIENT, rcpts=[HOSPITAL_DOCTOR], raw=by_refs)
    assert code == 550 and b"MSS.MES.START" in text


async def test_patient_cannot_start_a_conversation(smtp_call, session):
    raw, _ = message(sender=PATIENT, to=DOCTOR, subject="Question")
    code, text = await transaction(smtp_call, login=PATIENT, sender=PATIENT, rcpts=[DOCTOR], raw=raw)
    assert code == 550 and b"MSS.MES.START" in text
    # an organisational mailbox that is no pharmacy of theirs: refused as well
    raw, _ = message(sender=PATIENT, to=SECRETARIAT, subject="Question")
    code, text = await transaction(smtp_call, login=PATIENT, sender=PATIENT, rcpts=[SECRETARIAT], raw=raw)
    assert code == 550 and b"MSS.MES.START" in text
    assert await deliveries_to(session, DOCTOR) == [] and await deliveries_to(session, SECRETARIAT) == []


async def test_patient_writes_first_to_a_pharmacy_that_dispensed_recently(smtp_call, session, client):
    raw, _ = message(sender=f"Zoe ADRUN <{PATIENT}>", to=PHARMACY, subject="Mon ordonnance")
    code, _ = await transaction(smtp_call, login=PATIENT, sender=PATIENT, rcpts=[PHARMACY], raw=raw)
    assert code == 250  # the seeded dispensation (20 days ago)
    (_, got), = await deliveries_to(session, PHARMACY)
    assert got.subject == "Mon ordonnance"

    # the same pharmacy, for a patient it never dispensed to
    other = "297022A02077878@patient.mssante.fr"
    raw, _ = message(sender=other, to=PHARMACY, subject="Mon ordonnance")
    code, text = await transaction(smtp_call, login=other, sender=other, rcpts=[PHARMACY], raw=raw)
    assert code == 550 and b"MSS.MES.START" in text
    # ... until a harness declares one; an old one (beyond the window) does not count
    old = (datetime.now(UTC) - timedelta(days=400)).isoformat()
    declared = await client.post("/sandbox/v1/dispensations",
                                 json={"pharmacy": PHARMACY, "ins": "297022a02077878", "dispensed_at": old})
    assert declared.status_code == 201 and declared.json()["recent"] is False
    code, _ = await transaction(smtp_call, login=other, sender=other, rcpts=[PHARMACY], raw=raw)
    assert code == 550
    declared = await client.post("/sandbox/v1/dispensations", json={"pharmacy": PHARMACY, "ins": "297022A02077878"})
    assert declared.status_code == 201 and declared.json()["recent"] is True
    code, _ = await transaction(smtp_call, login=other, sender=other, rcpts=[PHARMACY], raw=raw)
    assert code == 250


async def test_reply_refused_once_closed_by_fin_header_or_subject(smtp_call):
    for closing in ({"headers": {"X-MSS-MES": "FIN"}}, {"subject": "[FIN]"}):
        raw, mid = message(sender=DOCTOR, to=PATIENT, **closing)  # type: ignore[arg-type]
        assert (await transaction(smtp_call, login=DOCTOR, sender=DOCTOR, rcpts=[PATIENT], raw=raw))[0] == 250
        reply, _ = message(sender=PATIENT, to=DOCTOR, headers={"In-Reply-To": mid})
        code, text = await transaction(smtp_call, login=PATIENT, sender=PATIENT, rcpts=[DOCTOR], raw=reply)
        assert code == 550 and b"MSS.MES.REPLY" in text


async def test_fin_later_in_the_thread_closes_it(smtp_call):
    raw, first = message(sender=DOCTOR, to=PATIENT)
    await transaction(smtp_call, login=DOCTOR, sender=DOCTOR, rcpts=[PATIENT], raw=raw)
    closing, second = message(sender=DOCTOR, to=PATIENT, subject="Re: Vos résultats [FIN]",
                              headers={"In-Reply-To": first})
    await transaction(smtp_call, login=DOCTOR, sender=DOCTOR, rcpts=[PATIENT], raw=closing)
    reply, _ = message(sender=PATIENT, to=DOCTOR, headers={"In-Reply-To": first})  # answers the first message
    code, text = await transaction(smtp_call, login=PATIENT, sender=PATIENT, rcpts=[DOCTOR], raw=reply)
    assert code == 550 and b"MSS.MES.REPLY" in text


async def test_mes_header_other_than_fin_is_flagged_and_leaves_the_conversation_open(smtp_call, session):
    raw, mid = message(sender=DOCTOR, to=PATIENT, headers={"X-MSS-MES": "fin"})
    code, _ = await transaction(smtp_call, login=DOCTOR, sender=DOCTOR, rcpts=[PATIENT], raw=raw)
    assert code == 250  # flagged, not refused (docs/mss.md: MES is not known to refuse it)
    (_, got), = await deliveries_to(session, PATIENT)
    finding = next(f for f in got.report["findings"] if f["id"] == "MSS.MES")
    assert finding["status"] == "fail" and finding["severity"] == "error" and "'fin'" in finding["message"]
    assert not got.conversation_closed
    reply, _ = message(sender=PATIENT, to=DOCTOR, headers={"In-Reply-To": mid})
    assert (await transaction(smtp_call, login=PATIENT, sender=PATIENT, rcpts=[DOCTOR], raw=reply))[0] == 250


async def test_mes_bounces_invalid_unknown_and_closed(smtp_call, session):
    await service.set_patient_mailbox_open(session, ins="297022A02077878", open_=False)
    await session.commit()
    closed = "297022A02077878@patient.mssante.fr"
    rcpts = ["jean.dupont@patient.mssante.fr", UNKNOWN_PATIENT, closed]
    raw, _ = message(sender=DOCTOR, to=", ".join(rcpts))
    code, _ = await transaction(smtp_call, login=DOCTOR, sender=DOCTOR, rcpts=rcpts, raw=raw)
    assert code == 250  # Mon espace santé takes the message, then bounces it
    (_, bounce), = await deliveries_to(session, DOCTOR)
    assert bounce.kind == "dsn" and bounce.subject == "Message non distribué : Vos résultats"
    assert bounce.from_header is not None and "ne-pas-repondre@patient.mssante.fr" in bounce.from_header
    text = bounce.raw.decode().lower()
    assert "reporting-mta: dns; patient.mssante.fr" in text
    assert "<jean.dupont@patient.mssante.fr> : l'adresse est invalide" in text
    assert f"<{UNKNOWN_PATIENT}> : ce patient est inconnu de mon espace santé" in text
    assert f"<{closed.lower()}> : la boîte aux lettres de ce patient est fermée" in text
    for status in ("5.1.3", "5.1.1", "5.2.1"):
        assert f"status: {status}" in text
    assert await deliveries_to(session, closed) == []


async def test_over_25_mb_to_a_patient_is_bounced_by_mes(smtp_call, session, settings, monkeypatch):
    # the operator's own limit (SEGUR_MSS_MAX_MESSAGE_BYTES, 10 MB by default) raised above MES's 25 MB
    monkeypatch.setattr(settings, "mss_max_message_bytes", 30 * 1024 * 1024)
    head, _ = message(sender=DOCTOR, to=f"{PATIENT}, {HOSPITAL_DOCTOR}")
    line = b"QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo0NTY3ODkwMTIzNDU2Nzg5MDEyMzQ1Njc4OTAxMjM0NTY3\r\n"
    raw = head + line * (25 * 1024 * 1024 // len(line) + 1)  # the epilogue of the MIME message
    assert len(raw) > 25 * 1024 * 1024
    code, _ = await transaction(smtp_call, login=DOCTOR, sender=DOCTOR, rcpts=[PATIENT, HOSPITAL_DOCTOR], raw=raw)
    assert code == 250
    assert await deliveries_to(session, PATIENT) == []
    assert len(await deliveries_to(session, HOSPITAL_DOCTOR)) == 1  # a professional has no such limit
    (_, bounce), = await deliveries_to(session, DOCTOR)
    assert b"Status: 5.3.4" in bounce.raw and b"25 Mo" in bounce.raw
    assert bounce.subject is not None and bounce.subject.startswith("Message non distribué")


async def test_http_send_path_bounces_like_mes(client, session):
    sent = await client.post(box(DOCTOR), headers=await auth(client),
                             json={"to": [UNKNOWN_PATIENT], "subject": "Convocation", "headers": {"X-MSS-NIL": "x"}})
    assert sent.status_code == 202, sent.text
    assert sent.json()["recipients"][0]["status"] == "accepted"  # MES takes it, then bounces it
    (_, bounce), = await deliveries_to(session, DOCTOR)
    assert bounce.subject == "Message non distribué : Convocation" and b"Status: 5.1.1" in bounce.raw


async def test_control_api_dispensations(client):
    listed = await client.get("/sandbox/v1/dispensations", params={"ins": ZOE})
    assert listed.status_code == 200
    seeded, = listed.json()
    assert seeded["pharmacy"] == PHARMACY and seeded["recent"] and seeded["pharmacy_name"].startswith("Pharmacie")
    not_org = await client.post("/sandbox/v1/dispensations", json={"pharmacy": DOCTOR, "ins": ZOE})
    assert not_org.status_code == 422 and not_org.json()["rule"] == "MSS:dispensation.mailbox"
    unknown_box = await client.post("/sandbox/v1/dispensations", json={"pharmacy": "x@medecin.mssante.fr", "ins": ZOE})
    assert unknown_box.status_code == 404
    unknown_patient = await client.post("/sandbox/v1/dispensations",
                                        json={"pharmacy": PHARMACY, "ins": "199999999999999"})
    assert unknown_patient.status_code == 404
    naive = await client.post("/sandbox/v1/dispensations",
                              json={"pharmacy": PHARMACY, "ins": ZOE, "dispensed_at": "2026-12-01T10:00:00"})
    assert naive.status_code == 422
