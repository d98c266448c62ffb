"""Faults seen by real clients of Pro Santé Connect (Authlib), SMTP (smtplib) and IMAP (imaplib)."""

from __future__ import annotations

import asyncio
import imaplib
import smtplib

import httpx
import pytest

from tests.faults.helpers import add_rule, injected_entries
from tests.mss.conftest import DOCTOR, HOSPITAL_DOCTOR, PASSWORD
from tests.mss.imap.server_helpers import connect
from tests.psc.helpers import CONFIDENTIAL_CLIENT, CONFIDENTIAL_SECRET, OIDC, PUBLIC_CLIENT, access_token_for


async def test_psc_token_unavailable_seen_by_authlib(client, confidential_oauth) -> None:
    rule = await add_rule(client, target="psc.token", kind="unavailable", count=1,
                          client=f"psc:{CONFIDENTIAL_CLIENT}")
    # Authlib raises on a 5xx before reading the error JSON (raise_for_status), as it would on the real PSC
    with pytest.raises(httpx.HTTPStatusError) as err:
        await confidential_oauth.fetch_token(OIDC + "/token", grant_type="client_credentials")
    assert err.value.response.status_code == 503
    assert err.value.response.json()["error"] == "temporarily_unavailable"
    token = await confidential_oauth.fetch_token(OIDC + "/token", grant_type="client_credentials")
    assert token["access_token"]
    (entry,) = await injected_entries(client, rule)
    assert entry["status"] == 503 and entry["actor"] == f"psc:{CONFIDENTIAL_CLIENT}"
    assert entry["facts"]["injected"] is True


async def test_psc_token_503_shape(client) -> None:
    await add_rule(client, target="psc.token", kind="unavailable", count=1)
    answer = await client.post(OIDC + "/token", data={"grant_type": "client_credentials"},
                               auth=(CONFIDENTIAL_CLIENT, CONFIDENTIAL_SECRET))
    assert answer.status_code == 503 and answer.headers["cache-control"] == "no-store"
    assert answer.json()["error"] == "temporarily_unavailable"


@pytest.mark.parametrize(("kind", "word"), [("expired_token", "expired"), ("revoked_token", "revoked")])
async def test_psc_userinfo_token_refused(client, kind, word) -> None:
    token = await access_token_for(client, "810001000016")
    await add_rule(client, target="psc.userinfo", kind=kind, count=1)
    headers = {"Authorization": f"Bearer {token}"}
    refused = await client.get(OIDC + "/userinfo", headers=headers)
    assert refused.status_code == 401
    challenge = refused.headers["www-authenticate"]
    assert challenge.startswith("Bearer ") and 'error="invalid_token"' in challenge and word in challenge
    assert (await client.get(OIDC + "/userinfo", headers=headers)).status_code == 200


async def test_psc_userinfo_unavailable(client) -> None:
    token = await access_token_for(client, "810001000016")
    await add_rule(client, target="psc.userinfo", kind="unavailable", count=1)
    answer = await client.get(OIDC + "/userinfo", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 503


async def test_psc_userinfo_client_restriction_matches_the_tokens_client(client) -> None:
    rule = await add_rule(client, target="psc.userinfo", kind="expired_token", client=f"psc:{CONFIDENTIAL_CLIENT}")
    public = await access_token_for(client, "810001000016")
    assert (await client.get(OIDC + "/userinfo", headers={"Authorization": f"Bearer {public}"})).status_code == 200
    confidential = await access_token_for(client, "810001000016", client_id=CONFIDENTIAL_CLIENT)
    refused = await client.get(OIDC + "/userinfo", headers={"Authorization": f"Bearer {confidential}"})
    assert refused.status_code == 401 and "expired" in refused.headers["www-authenticate"]
    (entry,) = await injected_entries(client, rule)
    assert entry["actor"] == f"psc:{CONFIDENTIAL_CLIENT}"
    ok = (await client.get("/sandbox/v1/journal", params={"operation": "psc_userinfo", "status": 200})).json()
    assert f"psc:{PUBLIC_CLIENT}" in {e["actor"] for e in ok["entries"]}
    assert (await client.get(f"/sandbox/v1/faults/{rule}")).json()["calls"] == 1


async def test_psc_userinfo_expired_token_rule_without_a_token(client) -> None:
    # RFC 6750 §3.1: no credentials presented, no token to treat as expired: the normal answer, the rule unspent
    rule = await add_rule(client, target="psc.userinfo", kind="expired_token", count=1)
    for headers in ({}, {"Authorization": "Basic abc"}):
        answer = await client.get(OIDC + "/userinfo", headers=headers)
        assert answer.status_code == 401
        assert "invalid_token" not in answer.headers["www-authenticate"] and "expired" not in answer.text
    assert (await client.get(f"/sandbox/v1/faults/{rule}")).json()["calls"] == 0
    token = await access_token_for(client, "810001000016")
    assert (await client.get(OIDC + "/userinfo", headers={"Authorization": f"Bearer {token}"})).status_code == 401


async def test_psc_introspect_revoked_is_inactive(client) -> None:
    token = await access_token_for(client, "810001000016")
    await add_rule(client, target="psc.introspect", kind="revoked_token", count=1)
    auth = (CONFIDENTIAL_CLIENT, CONFIDENTIAL_SECRET)
    first = await client.post(OIDC + "/token/introspect", data={"token": token}, auth=auth)
    assert first.status_code == 200 and first.json() == {"active": False}
    assert (await client.post(OIDC + "/token/introspect", data={"token": token}, auth=auth)).json()["active"]


# --- SMTP -----------------------------------------------------------------------------------------

async def test_smtp_connect_unavailable_421(client, app) -> None:
    rule = await add_rule(client, target="mss.smtp.connect", kind="unavailable", count=1)

    def greet() -> int:
        with pytest.raises(smtplib.SMTPConnectError) as err:
            smtplib.SMTP("127.0.0.1", app.state.smtp_port, timeout=20)
        return err.value.smtp_code

    assert await asyncio.to_thread(greet) == 421
    (entry,) = [e for e in await injected_entries(client, rule) if e["method"] == "CONNECT"]
    assert entry["protocol"] == "smtp" and entry["status"] == 421 and entry["facts"]["injected"] is True

    def greet_again() -> int:
        with smtplib.SMTP("127.0.0.1", app.state.smtp_port, timeout=20) as smtp:
            return smtp.noop()[0]

    assert await asyncio.to_thread(greet_again) == 250


@pytest.mark.parametrize(("stage", "code"), [("mail", 451), ("rcpt", 452), ("data", 451)])
async def test_smtp_stage_unavailable(client, smtp_call, stage, code) -> None:
    rule = await add_rule(client, target=f"mss.smtp.{stage}", kind="unavailable", count=1)

    def send(smtp: smtplib.SMTP) -> tuple[int, int]:
        smtp.login(DOCTOR, PASSWORD)
        with pytest.raises(smtplib.SMTPException) as err:
            smtp.sendmail(DOCTOR, [HOSPITAL_DOCTOR], b"Subject: test\r\n\r\nbonjour\r\n")
        failure = err.value
        got = getattr(failure, "smtp_code", None)
        if got is None:  # SMTPRecipientsRefused: one reply per recipient
            got = failure.recipients[HOSPITAL_DOCTOR][0]  # type: ignore[attr-defined]
        smtp.rset()
        smtp.sendmail(DOCTOR, [HOSPITAL_DOCTOR], b"Subject: test\r\n\r\nbonjour\r\n")  # the next one goes
        return got, 0

    got, _ = await smtp_call(send)
    assert got == code
    (entry,) = [e for e in await injected_entries(client, rule) if e["method"] == stage.upper()]
    assert entry["rule"] == f"fault:{rule}" and entry["status"] == code and entry["actor"] == f"mss:{DOCTOR}"


# --- IMAP -----------------------------------------------------------------------------------------

async def test_imap_login_unavailable(client, app) -> None:
    rule = await add_rule(client, target="mss.imap.login", kind="unavailable", count=1)

    def login() -> str:
        imap = connect(app, login=None)
        try:
            with pytest.raises(imaplib.IMAP4.error) as err:
                imap.login(DOCTOR, PASSWORD)
            imap.login(DOCTOR, PASSWORD)  # the next one goes
            return str(err.value)
        finally:
            imap.logout()

    assert "[UNAVAILABLE]" in await asyncio.to_thread(login)
    (entry,) = [e for e in await injected_entries(client, rule) if e["method"] == "LOGIN"]
    assert entry["protocol"] == "imap" and entry["facts"]["injected"] is True


async def test_imap_fetch_ends_the_session_with_bye(client, app) -> None:
    rule = await add_rule(client, target="mss.imap.fetch", kind="unavailable", count=1)

    def fetch() -> bytes:
        imap = connect(app)
        imap.select("INBOX")
        with pytest.raises(imaplib.IMAP4.abort):
            imap.fetch("1:*", "(FLAGS)")
        return imap.untagged_responses.get("BYE", [b""])[-1]

    assert b"[UNAVAILABLE]" in await asyncio.to_thread(fetch)
    entries = await injected_entries(client, rule)
    (entry,) = [e for e in entries if e["method"] == "FETCH"]
    assert entry["rule"] == f"fault:{rule}" and entry["facts"]["injected"] is True
    (session,) = [e for e in entries if e["method"] == "SESSION"]  # the session ended by the injected fault
    assert session["rule"] == f"fault:{rule}"
