"""The SMTP listener, end to end with smtplib: AUTH, STARTTLS, XOAUTH2, delivery, trust space, DSN."""

from __future__ import annotations

import asyncio
import base64
import smtplib
import ssl

import pytest
from sqlalchemy import select

from app.mss.models import MssDelivery, MssMailbox, MssMessage
from tests.mss.conftest import DOCTOR, DOCTOR_SNI, HOSPITAL_DOCTOR, PASSWORD
from tests.mss.helpers import SAMPLE_INS, build_message, rezip, sample_xdm
from tests.psc.helpers import access_token_for


async def deliveries_to(session, address):
    rows = await session.execute(
        select(MssDelivery, MssMessage).join(MssMessage, MssMessage.id == MssDelivery.message_id)
        .join(MssMailbox, MssMailbox.id == MssDelivery.mailbox_id).where(MssMailbox.address == address)
    )
    return rows.all()


async def test_ehlo_announces_starttls_size_dsn(smtp_port, settings):
    def work():
        with smtplib.SMTP("127.0.0.1", smtp_port, timeout=10) as smtp:
            smtp.ehlo("lps.test")
            return dict(smtp.esmtp_features)

    features = await asyncio.to_thread(work)
    assert "starttls" in features
    assert features["size"] == str(settings.mss_max_message_bytes)
    assert "dsn" in features
    assert "auth" not in features  # only after STARTTLS


async def test_auth_refused_before_starttls(smtp_call):
    def fn(smtp):
        return smtp.docmd("AUTH", "PLAIN " + base64.b64encode(f"\0{DOCTOR}\0{PASSWORD}".encode()).decode())

    code, text = await smtp_call(fn, starttls=False)
    assert code == 538


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


async def test_login_mechanism_and_wrong_password(smtp_call):
    def fn(smtp):
        smtp.user, smtp.password = DOCTOR, "wrong"
        code, _ = smtp.auth("LOGIN", smtp.auth_login, initial_response_ok=False)
        return code

    with pytest.raises(smtplib.SMTPAuthenticationError) as info:
        await smtp_call(fn)
    assert info.value.smtp_code == 535

    def ok(smtp):
        smtp.user, smtp.password = DOCTOR, PASSWORD
        return smtp.auth("LOGIN", smtp.auth_login, initial_response_ok=False)[0]

    assert await smtp_call(ok) == 235


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


async def test_xoauth2_with_psc_token(client, smtp_call, session):
    token = await access_token_for(client, DOCTOR_SNI)
    raw = build_message(sender=f"Dr Claire FONTAINE <{DOCTOR}>", to=HOSPITAL_DOCTOR)
    sasl = f"user={DOCTOR}\x01auth=Bearer {token}\x01\x01"

    def fn(smtp):
        code, _ = smtp.docmd("AUTH", "XOAUTH2 " + base64.b64encode(sasl.encode()).decode())
        assert code == 235
        return smtp.sendmail(DOCTOR, [HOSPITAL_DOCTOR], raw)

    assert await smtp_call(fn) == {}
    rows = await deliveries_to(session, HOSPITAL_DOCTOR)
    assert rows[0][1].auth_identity == DOCTOR


async def test_oauthbearer_with_psc_token(client, smtp_call):
    token = await access_token_for(client, DOCTOR_SNI)
    sasl = f"n,a={DOCTOR},\x01host=localhost\x01port=587\x01auth=Bearer {token}\x01\x01"
    code, _ = await smtp_call(
        lambda smtp: smtp.docmd("AUTH", "OAUTHBEARER " + base64.b64encode(sasl.encode()).decode()))
    assert code == 235


async def test_xoauth2_token_of_another_professional_refused(client, smtp_call):
    token = await access_token_for(client, "810001000032")
    sasl = f"user={DOCTOR}\x01auth=Bearer {token}\x01\x01"

    def fn(smtp):
        code, text = smtp.docmd("AUTH", "XOAUTH2 " + base64.b64encode(sasl.encode()).decode())
        assert code == 334  # error challenge, RFC 7628 §3.2.2
        return smtp.docmd("")

    code, text = await smtp_call(fn)
    assert code == 535 and b"does not own" in text


async def test_xoauth2_bad_token_refused(smtp_call):
    sasl = f"user={DOCTOR}\x01auth=Bearer not-a-token\x01\x01"

    def fn(smtp):
        smtp.docmd("AUTH", "XOAUTH2 " + base64.b64encode(sasl.encode()).decode())
        return smtp.docmd("")

    code, _ = await smtp_call(fn)
    assert code == 535


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


async def test_patient_address_must_be_ins_shaped(smtp_call):
    def fn(smtp):
        smtp.login(DOCTOR, PASSWORD)
        smtp.mail(DOCTOR)
        return smtp.rcpt("jean.dupont@patient.mssante.fr")

    code, text = await smtp_call(fn)
    assert code == 550 and b"matricule INS" in text


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


async def test_sessions_are_journaled(smtp_call, app, client):
    await smtp_call(lambda smtp: smtp.mail(DOCTOR))
    for _ in range(50):  # the session entry is written when the connection closes
        response = await client.get("/sandbox/v1/journal", params={"service": "mss", "protocol": "smtp"})
        operations = {(e["operation"], e["rule"]) for e in response.json()["entries"]}
        if ("mss.smtp.session", "MSS:auth.required") in operations:
            break
        await asyncio.sleep(0.05)
    assert ("mss.smtp.mail", "MSS:auth.required") in operations
    assert ("mss.smtp.session", "MSS:auth.required") in operations


async def test_dot_stuffing_round_trip_and_long_lines(smtp_call, session):
    raw = (f"From: Dr Claire FONTAINE <{DOCTOR}>\r\nTo: {HOSPITAL_DOCTOR}\r\nSubject: dots\r\nX-MSS-NIL: x\r\n\r\n"
           ".first line starts with a dot\r\n..two dots\r\n.\r\nend\r\n").encode()

    def fn(smtp):
        smtp.login(DOCTOR, PASSWORD)
        return smtp.sendmail(DOCTOR, [HOSPITAL_DOCTOR], raw)

    assert await smtp_call(fn) == {}
    (_, message), = await deliveries_to(session, HOSPITAL_DOCTOR)
    assert message.raw.endswith(raw)

    def long_line(smtp):
        smtp.login(DOCTOR, PASSWORD)
        smtp.mail(DOCTOR)
        smtp.rcpt(HOSPITAL_DOCTOR)
        return smtp.data(b"Subject: x\r\n\r\n" + b"A" * 1200 + b"\r\n")

    code, _ = await smtp_call(long_line)
    assert code == 500

    def longest_lines(smtp):  # smtplib dot-stuffs: the first line travels as 999 octets + CRLF
        smtp.login(DOCTOR, PASSWORD)
        smtp.mail(DOCTOR)
        smtp.rcpt(HOSPITAL_DOCTOR)
        accepted = smtp.data(b"Subject: x\r\n\r\n." + b"A" * 997 + b"\r\n" + b"B" * 998 + b"\r\n")
        smtp.mail(DOCTOR)
        smtp.rcpt(HOSPITAL_DOCTOR)
        return accepted[0], smtp.data(b"Subject: x\r\n\r\n" + b"C" * 999 + b"\r\n")[0]

    assert await smtp_call(longest_lines) == (250, 500)


async def test_empty_message_body(smtp_call):
    def fn(smtp):
        smtp.login(DOCTOR, PASSWORD)
        smtp.mail(DOCTOR)
        smtp.rcpt(HOSPITAL_DOCTOR)
        return smtp.data(b"")

    code, _ = await smtp_call(fn)
    assert code == 250


async def test_implicit_tls_port(database_url, client):
    from app.main import create_app
    from tests.conftest import make_settings

    other = create_app(make_settings(database_url, mss_smtp_tls_port=0))
    async with other.router.lifespan_context(other):
        port = other.state.smtps_port
        context = ssl.create_default_context(cadata=other.state.mss_tls_certificate.decode())

        def work():
            with smtplib.SMTP_SSL("127.0.0.1", port, context=context, timeout=10) as smtp:
                smtp.ehlo("lps.test")
                assert "starttls" not in smtp.esmtp_features
                return smtp.login(DOCTOR, PASSWORD)[0]

        assert await asyncio.to_thread(work) == 235


async def test_revoked_psc_token_ends_the_session(client, smtp_call):
    """SC.MSS/CONF.10: once the PSC token is revoked, the operator ends the SMTP session (421)."""
    token = await access_token_for(client, DOCTOR_SNI)
    sasl = f"user={DOCTOR}\x01auth=Bearer {token}\x01\x01"
    loop = asyncio.get_running_loop()

    def fn(smtp):
        code, _ = smtp.docmd("AUTH", "XOAUTH2 " + base64.b64encode(sasl.encode()).decode())
        assert code == 235
        assert smtp.mail(DOCTOR)[0] == 250
        smtp.rset()
        revoked = asyncio.run_coroutine_threadsafe(client.post(
            "/auth/realms/esante-wallet/protocol/openid-connect/revoke",
            data={"token": token, "client_id": "segur-sandbox-public"}), loop).result(20)
        assert revoked.status_code == 200, revoked.text
        code, text = smtp.mail(DOCTOR)
        return code, text

    code, text = await smtp_call(fn)
    assert code == 421 and b"PSC" in text


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


async def test_app_mailbox_client_certificate(client, smtp_port, tls_context, tmp_path):
    app_box = "resultats@labo-b.mssante.fr"
    issued = await client.post(f"/sandbox/v1/mailboxes/{app_box}/certificates")
    assert issued.status_code == 201, issued.text
    body = issued.json()
    (tmp_path / "c.pem").write_text(body["certificate_pem"])
    (tmp_path / "k.pem").write_text(body["private_key_pem"])
    context = ssl.create_default_context(cadata=(await client.get("/mss/v1/tls/certificate")).text)
    context.load_cert_chain(tmp_path / "c.pem", tmp_path / "k.pem")

    def work(ctx, login):
        with smtplib.SMTP("127.0.0.1", smtp_port, timeout=10) as smtp:
            smtp.starttls(context=ctx)
            try:
                return smtp.login(login, "not-the-password")[0]
            except smtplib.SMTPAuthenticationError as exc:
                return exc.smtp_code

    assert await asyncio.to_thread(work, context, app_box) == 235
    assert await asyncio.to_thread(work, context, "dpi@hopital-a.mssante.fr") == 535  # certificate of another box
    assert await asyncio.to_thread(work, tls_context, app_box) == 535  # no certificate, wrong password
    refused = await client.post(f"/sandbox/v1/mailboxes/{DOCTOR}/certificates")
    assert refused.status_code == 422


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
