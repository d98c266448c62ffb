"""End to end: CIBA (app/psc/oidc/ciba.py and app/psc/grants/ciba.py), poll mode."""

from __future__ import annotations

import pytest

from tests.psc.helpers import (
    CONFIDENTIAL_CLIENT,
    CONFIDENTIAL_SECRET,
    GP,
    OIDC,
    PUBLIC_CLIENT,
    TOKEN,
)


async def _ciba(client, **form: str) -> dict:  # type: ignore[no-untyped-def]
    response = await client.post(
        OIDC + "/ext/ciba/auth",
        data={"scope": "openid scope_all", "login_hint": GP, "binding_message": "00", "acr_values": "eidas1", **form},
        auth=(CONFIDENTIAL_CLIENT, CONFIDENTIAL_SECRET),
    )
    assert response.status_code == 200, response.text
    return response.json()


async def _poll(client, auth_req_id: str):  # type: ignore[no-untyped-def]
    return await client.post(
        TOKEN,
        data={"grant_type": "urn:openid:params:grant-type:ciba", "auth_req_id": auth_req_id},
        auth=(CONFIDENTIAL_CLIENT, CONFIDENTIAL_SECRET),
    )


async def test_ciba_poll_approve(client, confidential_oauth) -> None:  # type: ignore[no-untyped-def]
    started = await _ciba(client)
    assert started["expires_in"] == 120 and started["interval"] == 1
    first = await _poll(client, started["auth_req_id"])
    assert first.status_code == 400 and first.json()["error"] == "authorization_pending"
    fast = await _poll(client, started["auth_req_id"])
    assert fast.status_code == 400 and fast.json()["error"] == "slow_down"
    listed = (await client.get("/sandbox/v1/ciba")).json()
    assert listed[0]["login_hint"] == GP and listed[0]["binding_message"] == "00"
    decided = await client.post(f"/sandbox/v1/ciba/{started['auth_req_id']}", json={"action": "approve"})
    assert decided.status_code == 200 and decided.json()["status"] == "approved"
    # the approved request is redeemed by a real OIDC client library
    body = await confidential_oauth.fetch_token(
        TOKEN, grant_type="urn:openid:params:grant-type:ciba", auth_req_id=started["auth_req_id"]
    )
    assert body["id_token"] and body["refresh_token"] and body["session_state"]
    me = await client.get("/psc/v1/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.status_code == 200 and me.json()["subject_name_id"] == GP
    used = await _poll(client, started["auth_req_id"])
    assert used.json()["error"] == "invalid_grant"


async def test_ciba_deny_and_expiry(client, session) -> None:  # type: ignore[no-untyped-def]
    denied = await _ciba(client)
    await client.post(f"/sandbox/v1/ciba/{denied['auth_req_id']}", json={"action": "deny"})
    assert (await _poll(client, denied["auth_req_id"])).json()["error"] == "access_denied"
    expired = await _ciba(client)
    from sqlalchemy import update

    from app.db import utcnow
    from app.psc.models import CibaRequest

    await session.execute(
        update(CibaRequest).where(CibaRequest.auth_req_id == expired["auth_req_id"]).values(expires_at=utcnow())
    )
    await session.commit()
    assert (await _poll(client, expired["auth_req_id"])).json()["error"] == "expired_token"


async def test_ciba_refusals(client) -> None:  # type: ignore[no-untyped-def]
    unknown = await client.post(
        OIDC + "/ext/ciba/auth",
        data={"scope": "openid", "login_hint": "800000000000"},
        auth=(CONFIDENTIAL_CLIENT, CONFIDENTIAL_SECRET),
    )
    assert unknown.status_code == 400 and unknown.json()["error"] == "unknown_user_id"
    no_openid = await client.post(
        OIDC + "/ext/ciba/auth",
        data={"scope": "scope_all", "login_hint": GP},
        auth=(CONFIDENTIAL_CLIENT, CONFIDENTIAL_SECRET),
    )
    assert no_openid.json()["error"] == "invalid_scope"
    public = await client.post(
        OIDC + "/ext/ciba/auth", data={"scope": "openid", "login_hint": GP, "client_id": PUBLIC_CLIENT}
    )
    assert public.status_code == 401


@pytest.mark.parametrize(
    ("name", "value"),
    [("acr_values", "x" * 300), ("binding_message", "b" * 5000), ("login_hint", "8" * 100)],
)
async def test_ciba_over_long_parameters(client, name: str, value: str) -> None:  # type: ignore[no-untyped-def]
    form = {"scope": "openid scope_all", "login_hint": GP, "binding_message": "00", "acr_values": "eidas1"}
    form[name] = value
    response = await client.post(OIDC + "/ext/ciba/auth", data=form, auth=(CONFIDENTIAL_CLIENT, CONFIDENTIAL_SECRET))
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["error"] == "invalid_request" and name in body["error_description"]
