"""SMTP AUTH, end to end with smtplib: PLAIN, LOGIN, XOAUTH2 and OAUTHBEARER with a PSC token, an APP
mailbox's client certificate; no credential in the journal or the logs."""

from __future__ import annotations

import asyncio
import base64
import logging
import smtplib
import ssl

import pytest

from app.mss import smtp
from app.mss.smtp.replies import reply_code
from tests.mss.asking import SECRET, deliveries_to, journal_dump
from tests.mss.conftest import DOCTOR, DOCTOR_SNI, HOSPITAL_DOCTOR, PASSWORD
from tests.mss.helpers import build_message
from tests.psc.helpers import access_token_for


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


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


async def test_auth_refused_before_starttls(smtp_call):
    def fn(smtp):
        return smtp.docmd("AUTH", "PLAIN " + base64.b64encode(f"\0{DOCTOR}\0{PASSWORD}".encode()).decode())

    code, text = await smtp_call(fn, starttls=False)
    assert code == 538


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


@pytest.mark.parametrize("first", [b64(f"\x00{DOCTOR}\x00{PASSWORD}"), SECRET, "plain-ish"])
async def test_a_credential_in_place_of_the_mechanism_never_reaches_the_journal(client, smtp_call, first):
    """``AUTH <base64 initial response>`` (the mechanism forgotten): the session's ``sasl`` fact says
    ``(invalid)``, not the first 20 characters of the credential."""
    def fn(smtp_):
        return smtp_.docmd("AUTH", first)[0]

    assert await smtp_call(fn) == 504
    for _ in range(200):  # the session's entry is journaled when the connection closes
        dump = await journal_dump(client, protocol="smtp", operation="mss.smtp.session")
        if "mss.smtp.session" in dump:
            break
        await asyncio.sleep(0.02)
    assert '"sasl": "(invalid)"' in dump
    assert first[:12].upper() not in dump.upper()  # the journal held it upper-cased, cut at 20


def test_the_session_actor_is_the_login_else_the_login_tried() -> None:
    from app.mss.auth import mss_actor

    assert mss_actor(DOCTOR) == f"mss:{DOCTOR}" and mss_actor(DOCTOR, tried="other@x.fr") == f"mss:{DOCTOR}"
    assert mss_actor(None, tried=DOCTOR) == f"mss:{DOCTOR}"  # authentication failed: the login tried
    assert mss_actor(None, tried="-") is None and mss_actor(None) is None and mss_actor("", tried=None) is None
