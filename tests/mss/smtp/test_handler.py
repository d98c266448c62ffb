"""The SMTP listener's transaction, end to end with smtplib: MAIL, RCPT (trust space, mailboxes), DATA
(checks, storage all or nothing, DSNs, receipts), scripted faults."""

from __future__ import annotations

import smtplib

from sqlalchemy import func, select

from app.mss import deliveries
from app.mss.models import MssDelivery, MssMessage
from tests.mss.asking import SECRET, deliveries_to, journal_dump
from tests.mss.conftest import DOCTOR, HOSPITAL_DOCTOR, PASSWORD
from tests.mss.helpers import SAMPLE_INS, build_message, rezip, sample_xdm

SECRETARIAT = "secretariat.cardiologie@hopital-a.mssante.fr"


EXTERNAL = "someone@test-ci-sis.mssante.fr"


async def count(session, model) -> int:  # type: ignore[no-untyped-def]
    return int(await session.scalar(select(func.count()).select_from(model)) or 0)


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


async def test_plain_auth_and_delivery_with_xdm(smtp_call, session):
    raw = build_message(sender=f"Dr Claire FONTAINE <{DOCTOR}>", to=HOSPITAL_DOCTOR, xdm_bytes=sample_xdm())

    def fn(smtp):
        assert "PLAIN" in smtp.esmtp_features["auth"] and "XOAUTH2" in smtp.esmtp_features["auth"]
        smtp.login(DOCTOR, PASSWORD)
        return smtp.sendmail(DOCTOR, [HOSPITAL_DOCTOR], raw)

    assert await smtp_call(fn) == {}
    rows = await deliveries_to(session, HOSPITAL_DOCTOR)
    assert len(rows) == 1
    delivery, message = rows[0]
    assert delivery.status == "delivered" and message.has_xdm
    assert message.auth_identity == DOCTOR
    assert message.raw.startswith(b"Received:") and message.raw.endswith(raw)
    report = message.report
    failed = [f["id"] for f in report["findings"] if f["status"] == "fail"]
    assert failed == [], failed
    xdm = message.xdm[0]["package"]
    assert xdm["documents"][0]["patient_id"]["id"] == SAMPLE_INS


async def test_recipient_outside_trust_space_refused_at_rcpt(smtp_call):
    def fn(smtp):
        smtp.login(DOCTOR, PASSWORD)
        smtp.mail(DOCTOR)
        return smtp.rcpt("someone@gmail.com")

    code, text = await smtp_call(fn)
    assert code == 550
    assert b"5.7.1" in text and b"trust space" in text


async def test_unknown_mailbox_refused(smtp_call):
    def fn(smtp):
        smtp.login(DOCTOR, PASSWORD)
        smtp.mail(DOCTOR)
        return smtp.rcpt("nobody@hopital-a.mssante.fr")

    code, text = await smtp_call(fn)
    assert code == 550 and b"5.1.1" in text


async def test_sender_must_be_owned(smtp_call):
    def fn(smtp):
        smtp.login(DOCTOR, PASSWORD)
        return smtp.mail(HOSPITAL_DOCTOR)

    code, text = await smtp_call(fn)
    assert code == 553 and b"5.7.1" in text


async def test_unauthenticated_local_sender_refused(smtp_call):
    code, text = await smtp_call(lambda smtp: smtp.mail(DOCTOR))
    assert code == 530


async def test_size_enforced_at_data(smtp_call, settings):
    big = build_message(sender=DOCTOR, to=HOSPITAL_DOCTOR, body="x" * 100) + b"\r\n" + (
        b"A" * 998 + b"\r\n") * (settings.mss_max_message_bytes // 1000 + 10)

    def fn(smtp):
        smtp.login(DOCTOR, PASSWORD)
        smtp.mail(DOCTOR)
        smtp.rcpt(HOSPITAL_DOCTOR)
        return smtp.data(big)

    code, text = await smtp_call(fn)
    assert code == 552 and b"5.3.4" in text

    def declared(smtp):
        smtp.login(DOCTOR, PASSWORD)
        return smtp.mail(DOCTOR, [f"SIZE={settings.mss_max_message_bytes + 1}"])

    code, text = await smtp_call(declared)
    assert code == 552 and b"5.3.4" in text


async def test_unsafe_xdm_refused_at_data_nothing_stored(smtp_call, session):
    evil = rezip(sample_xdm(), add={"../../evil.sh": b"rm -rf /"})
    raw = build_message(sender=DOCTOR, to=HOSPITAL_DOCTOR, xdm_bytes=evil, auto_headers=False)

    def fn(smtp):
        smtp.login(DOCTOR, PASSWORD)
        smtp.mail(DOCTOR)
        smtp.rcpt(HOSPITAL_DOCTOR)
        return smtp.data(raw)

    code, text = await smtp_call(fn)
    assert code == 554 and b"XDM.SAFE" in text
    assert await deliveries_to(session, HOSPITAL_DOCTOR) == []


async def test_truncated_xdm_accepted_and_flagged(smtp_call, session):
    raw = build_message(sender=DOCTOR, to=HOSPITAL_DOCTOR, xdm_bytes=sample_xdm()[:300], auto_headers=False)

    def fn(smtp):
        smtp.login(DOCTOR, PASSWORD)
        return smtp.sendmail(DOCTOR, [HOSPITAL_DOCTOR], raw)

    assert await smtp_call(fn) == {}
    (_, message), = await deliveries_to(session, HOSPITAL_DOCTOR)
    statuses = {f["id"]: f["status"] for f in message.report["findings"]}
    assert statuses["XDM.READABLE"] == "fail"
    assert message.xdm[0]["error"]["code"] == "xdm.zip.invalid"


async def test_dsn_success_when_asked(smtp_call, session):
    raw = build_message(sender=DOCTOR, to=HOSPITAL_DOCTOR)

    def fn(smtp):
        smtp.login(DOCTOR, PASSWORD)
        return smtp.sendmail(DOCTOR, [HOSPITAL_DOCTOR], raw, rcpt_options=["NOTIFY=SUCCESS,FAILURE"])

    assert await smtp_call(fn) == {}
    rows = await deliveries_to(session, DOCTOR)
    assert len(rows) == 1
    _, dsn = rows[0]
    assert dsn.kind == "dsn" and dsn.envelope_from == ""
    assert b"report-type=delivery-status" in dsn.raw
    assert b"Action: delivered" in dsn.raw and b"Status: 2.0.0" in dsn.raw
    assert dsn.related_id is not None


async def test_dsn_failure_for_closed_mailbox(smtp_call, session):
    raw = build_message(sender=DOCTOR, to="ancien.secretariat@hopital-a.mssante.fr")

    def fn(smtp):
        smtp.login(DOCTOR, PASSWORD)
        return smtp.sendmail(DOCTOR, ["ancien.secretariat@hopital-a.mssante.fr"], raw)

    assert await smtp_call(fn) == {}
    rows = await deliveries_to(session, DOCTOR)
    assert len(rows) == 1
    assert b"Action: failed" in rows[0][1].raw and b"Status: 5.2.1" in rows[0][1].raw


async def test_no_dsn_without_notify_success(smtp_call, session):
    raw = build_message(sender=DOCTOR, to=HOSPITAL_DOCTOR)

    def fn(smtp):
        smtp.login(DOCTOR, PASSWORD)
        return smtp.sendmail(DOCTOR, [HOSPITAL_DOCTOR], raw)

    await smtp_call(fn)
    assert await deliveries_to(session, DOCTOR) == []


async def test_patient_mailbox_delivery_and_fin(smtp_call, session):
    patient = f"{SAMPLE_INS}@patient.mssante.fr"
    raw = build_message(sender=DOCTOR, to=patient, xdm_bytes=sample_xdm(), headers={"X-MSS-MES": "FIN"})

    def fn(smtp):
        smtp.login(DOCTOR, PASSWORD)
        return smtp.sendmail(DOCTOR, [patient], raw)

    assert await smtp_call(fn) == {}
    (_, message), = await deliveries_to(session, patient)
    statuses = {f["id"]: f["status"] for f in message.report["findings"]}
    assert statuses["MSS.MES"] == "pass" and statuses["XDM.INS_KNOWN"] == "pass"
    assert message.conversation_closed

    reply = build_message(sender=patient, to=DOCTOR, subject="Re: compte rendu",
                          headers={"In-Reply-To": message.message_id})

    def answer(smtp):
        smtp.login(patient, PASSWORD)
        smtp.mail(patient)
        smtp.rcpt(DOCTOR)
        return smtp.data(reply)

    code, text = await smtp_call(answer)
    assert code == 550 and b"MSS.MES.REPLY" in text


async def test_patient_address_not_ins_shaped_is_bounced_by_mes(smtp_call, session):
    # Mon espace santé takes every address of its domain, then bounces an invalid one (app/mss/citizen.py).
    raw = build_message(sender=DOCTOR, to="jean.dupont@patient.mssante.fr")

    def fn(smtp):
        smtp.login(DOCTOR, PASSWORD)
        return smtp.sendmail(DOCTOR, ["jean.dupont@patient.mssante.fr"], raw)

    assert await smtp_call(fn) == {}
    (_, bounce), = await deliveries_to(session, DOCTOR)
    assert bounce.kind == "dsn" and "Message non distribué" in (bounce.subject or "")
    assert b"matricule INS" in bounce.raw and b"Status: 5.1.3" in bounce.raw


async def test_external_authorised_domain_relayed(smtp_call, session):
    raw = build_message(sender=DOCTOR, to="dr.x@test-ci-sis.mssante.fr")

    def fn(smtp):
        smtp.login(DOCTOR, PASSWORD)
        return smtp.sendmail(DOCTOR, ["dr.x@test-ci-sis.mssante.fr"], raw)

    assert await smtp_call(fn) == {}
    status = await session.scalar(
        select(MssDelivery.status).where(MssDelivery.recipient == "dr.x@test-ci-sis.mssante.fr"))
    assert status == "relayed"


async def test_malformed_mime_accepted_and_flagged(smtp_call, session):
    raw = (f"From: {DOCTOR}\r\nTo: {HOSPITAL_DOCTOR}\r\nSubject: broken\r\nX-MSS-NIL: x\r\n"
           "Content-Type: multipart/mixed; boundary=\"zz\"\r\n\r\n--zz\r\nContent-Type: application/pdf\r\n"
           "Content-Transfer-Encoding: base64\r\n\r\n!!!@@@###\r\n").encode()

    def fn(smtp):
        smtp.login(DOCTOR, PASSWORD)
        return smtp.sendmail(DOCTOR, [HOSPITAL_DOCTOR], raw)

    assert await smtp_call(fn) == {}
    (_, message), = await deliveries_to(session, HOSPITAL_DOCTOR)
    statuses = {f["id"]: f["status"] for f in message.report["findings"]}
    assert statuses["MIME.WELLFORMED"] == "fail"


async def test_fault_injection_rcpt_data_and_disconnect(client, smtp_call, session):
    url = f"/sandbox/v1/mailboxes/{HOSPITAL_DOCTOR}/faults"
    created = await client.post(url, json={"stage": "RCPT", "reply": "451 4.3.0 Greylisted, try again", "count": 1})
    assert created.status_code == 201
    await client.post(url, json={"stage": "DATA", "reply": "452 4.2.2 Mailbox full", "count": 1})
    raw = build_message(sender=DOCTOR, to=HOSPITAL_DOCTOR)

    def fn(smtp):
        smtp.login(DOCTOR, PASSWORD)
        smtp.mail(DOCTOR)
        first = smtp.rcpt(HOSPITAL_DOCTOR)
        second = smtp.rcpt(HOSPITAL_DOCTOR)
        data = smtp.data(raw)
        third = smtp.sendmail(DOCTOR, [HOSPITAL_DOCTOR], raw)
        return first, second, data, third

    first, second, data, third = await smtp_call(fn)
    assert first[0] == 451 and second[0] == 250
    assert data[0] == 452
    assert third == {}
    assert (await client.get(url)).json() == []

    await client.post(f"/sandbox/v1/mailboxes/{DOCTOR}/faults",
                      json={"stage": "MAIL", "reply": "421 4.3.2 Service shutting down", "disconnect": True})

    def drop(smtp):
        smtp.login(DOCTOR, PASSWORD)
        code, _ = smtp.mail(DOCTOR)
        try:
            smtp.noop()
        except smtplib.SMTPServerDisconnected:
            return code, "disconnected"
        return code, "still connected"

    assert await smtp_call(drop) == (421, "disconnected")


async def test_fault_validation(client):
    bad = await client.post(f"/sandbox/v1/mailboxes/{DOCTOR}/faults", json={"stage": "RCPT", "reply": "oops"})
    assert bad.status_code == 422
    unknown = await client.post("/sandbox/v1/mailboxes/x@hopital-a.mssante.fr/faults",
                                json={"stage": "RCPT", "reply": "451 4.3.0 x"})
    assert unknown.status_code == 404


async def test_xdm_without_ins(smtp_call, session):
    from app.mss import xdm as xdm_module
    from tests.mss.helpers import cda_without_ins

    archive = xdm_module.build_xdm(cda_without_ins(), pdf=b"%PDF-1.4", patient_id="IPP-42",
                                   patient_oid="1.2.250.1.999.9")
    raw = build_message(sender=DOCTOR, to=HOSPITAL_DOCTOR, xdm_bytes=archive)
    assert b"X-MSS-INS: N" in raw

    def fn(smtp):
        smtp.login(DOCTOR, PASSWORD)
        return smtp.sendmail(DOCTOR, [HOSPITAL_DOCTOR], raw)

    assert await smtp_call(fn) == {}
    (_, message), = await deliveries_to(session, HOSPITAL_DOCTOR)
    statuses = {f["id"]: f["status"] for f in message.report["findings"]}
    assert statuses["MSS.INS"] == "pass" and statuses["XDM.INS_KNOWN"] == "not_applicable"
    assert message.xdm[0]["package"]["qualified_ins"] is False


async def test_return_receipt_to_gets_a_delivery_notification(smtp_call, session):
    raw = build_message(sender=DOCTOR, to=HOSPITAL_DOCTOR, headers={"Return-Receipt-To": DOCTOR})

    def fn(smtp):
        smtp.login(DOCTOR, PASSWORD)
        return smtp.sendmail(DOCTOR, [HOSPITAL_DOCTOR], raw)

    assert await smtp_call(fn) == {}
    rows = await deliveries_to(session, DOCTOR)
    assert len(rows) == 1 and rows[0][1].kind == "dsn" and b"Action: delivered" in rows[0][1].raw


async def test_raw_message_stored_once_for_several_recipients(smtp_call, session):
    raw = build_message(sender=f"Dr Claire FONTAINE <{DOCTOR}>", to=HOSPITAL_DOCTOR, xdm_bytes=sample_xdm())

    def fn(smtp):
        smtp.login(DOCTOR, PASSWORD)
        return smtp.sendmail(DOCTOR, [HOSPITAL_DOCTOR, SECRETARIAT, EXTERNAL], raw)

    assert await smtp_call(fn) == {}
    message = (await session.scalars(select(MssMessage).where(MssMessage.kind == "message"))).one()
    assert message.raw.endswith(raw) and message.raw.startswith(b"Received: ")
    assert message.size == len(message.raw) and message.has_xdm
    deliveries = (await session.scalars(select(MssDelivery).order_by(MssDelivery.id))).all()
    assert [(d.message_id, d.recipient, d.status) for d in deliveries] == [
        (message.id, HOSPITAL_DOCTOR, "delivered"), (message.id, SECRETARIAT, "delivered"),
        (message.id, EXTERNAL, "relayed"),
    ]
    assert deliveries[0].mailbox_id is not None and deliveries[2].mailbox_id is None
    assert not any(d.seen for d in deliveries)
    assert {f["id"] for f in message.report["findings"]} and message.headers and message.parts


async def test_failed_store_leaves_nothing(smtp_call, session, monkeypatch):
    """A delivery row that cannot be written (here: a mailbox id that does not exist) fails the whole
    store, whichever way it is written (one statement on PostgreSQL, a transaction on SQLite)."""
    original = deliveries.plan_delivery

    def broken(*args, **kwargs):  # type: ignore[no-untyped-def]
        plan = original(*args, **kwargs)
        plan.deliveries[-1]["mailbox_id"] = 987654321
        return plan

    monkeypatch.setattr(deliveries, "plan_delivery", broken)
    raw = build_message(sender=DOCTOR, to=HOSPITAL_DOCTOR)

    def fn(smtp):
        smtp.login(DOCTOR, PASSWORD)
        smtp.mail(DOCTOR)
        smtp.rcpt(HOSPITAL_DOCTOR)
        smtp.rcpt(SECRETARIAT)
        code, text_ = smtp.data(raw)
        smtp.rset()
        return code, text_, smtp.noop()[0]

    code, reply, noop = await smtp_call(fn)
    assert code == 451 and b"nothing was stored" in reply
    assert noop == 250  # the session goes on
    assert await count(session, MssMessage) == 0
    assert await count(session, MssDelivery) == 0


async def test_notifications_still_stored_with_the_message(smtp_call, session):
    """NOTIFY=SUCCESS and Return-Receipt-To need more than one statement: they are stored with the
    message in one transaction."""
    raw = build_message(sender=DOCTOR, to=HOSPITAL_DOCTOR, headers={"Return-Receipt-To": DOCTOR})

    def fn(smtp):
        smtp.login(DOCTOR, PASSWORD)
        return smtp.sendmail(DOCTOR, [HOSPITAL_DOCTOR, SECRETARIAT], raw,
                             rcpt_options=["NOTIFY=SUCCESS"])

    assert await smtp_call(fn) == {}
    kinds = (await session.scalars(select(MssMessage.kind).order_by(MssMessage.id))).all()
    assert kinds == ["message", "dsn"]  # NOTIFY=SUCCESS reported both: no Return-Receipt-To DSN on top


async def test_the_xdm_ins_lookup_is_remembered_within_a_connection(app, client, smtp_call):
    """DATA asks the INS service which of an XDM's INS it knows once per connection (fast paths; every time on the
    plain path), like the sender and recipient look-ups; after a reset, a connection asks again."""
    from sqlalchemy import event

    statements: list[str] = []

    def spy(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        if statement.lstrip().startswith("SELECT ins_person.ins_number"):  # app.ins known_ins
            statements.append(statement)

    engine = app.state.engine.sync_engine
    event.listen(engine, "before_cursor_execute", spy)
    try:
        def send_twice(smtp):  # type: ignore[no-untyped-def]
            smtp.login(DOCTOR, PASSWORD)
            for _ in range(2):
                raw = build_message(sender=f"Dr Claire FONTAINE <{DOCTOR}>", to=HOSPITAL_DOCTOR, xdm_bytes=sample_xdm())
                assert smtp.sendmail(DOCTOR, [HOSPITAL_DOCTOR], raw) == {}

        await smtp_call(send_twice)
        first = len(statements)
        assert first == (1 if app.state.settings.fast_paths else 2)

        assert (await client.post("/sandbox/v1/reset")).status_code == 200
        after_reset = len(statements)
        await smtp_call(send_twice)
        assert len(statements) - after_reset == first  # asked again after the reset, then remembered
    finally:
        event.remove(engine, "before_cursor_execute", spy)
