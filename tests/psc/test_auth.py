"""The bearer check the platform plugs (app/psc/auth.py, app/psc/verification.py), attacked over HTTP."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import OctKey

from app.psc import signing, tokens
from app.psc.keys import KeyRing, StoredKey, generate_private_jwk
from tests.psc.helpers import (
    GP,
    OIDC,
    access_token_for,
    token_response_for,
)

ROUTES = ("/psc/v1/me", OIDC + "/userinfo")


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


async def _assert_refused(client, token: str, *, rule: str | None = None) -> None:  # type: ignore[no-untyped-def]
    for route in ROUTES:
        response = await client.get(route, headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401, (route, response.text)
        challenge = response.headers["www-authenticate"]
        assert challenge.startswith("Bearer") and 'error="invalid_token"' in challenge
        if rule is not None and route == "/psc/v1/me":
            assert response.json()["rule"] == rule, response.json()


async def _genuine_claims(client) -> dict:  # type: ignore[no-untyped-def]
    token = await access_token_for(client, GP)
    return json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))


async def _ring(app) -> KeyRing:  # type: ignore[no-untyped-def]
    async with app.state.sessionmaker() as session:
        return await signing.get_keyring(session, app.state.settings)


def _b64_raw(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _b64json(data: Any) -> str:
    return _b64_raw(json.dumps(data).encode())


async def _a_kid(client) -> str:  # type: ignore[no-untyped-def]
    keys = (await client.get(OIDC + "/certs")).json()["keys"]
    return next(k["kid"] for k in keys if k.get("alg") == "RS256")


async def test_genuine_token_is_accepted(client) -> None:  # type: ignore[no-untyped-def]
    token = await access_token_for(client, GP)
    for route in ROUTES:
        assert (await client.get(route, headers={"Authorization": f"Bearer {token}"})).status_code == 200


async def test_alg_none(client) -> None:  # type: ignore[no-untyped-def]
    claims = await _genuine_claims(client)
    forged = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims)}."
    await _assert_refused(client, forged, rule="PSC:token.alg")
    forged_kid = f"{_b64({'alg': 'none', 'kid': 'x'})}.{_b64(claims)}.AAAA"
    await _assert_refused(client, forged_kid, rule="PSC:token.alg")


async def test_hs256_signed_with_the_public_key(client) -> None:  # type: ignore[no-untyped-def]
    claims = await _genuine_claims(client)
    jwks = (await client.get(OIDC + "/certs")).json()["keys"]
    rsa = next(k for k in jwks if k["alg"] == "RS256")
    for secret in (json.dumps(rsa).encode(), rsa["n"].encode()):
        key = OctKey.import_key(secret)
        forged = jwt.encode({"alg": "HS256", "kid": rsa["kid"]}, claims, key, algorithms=["HS256"])
        await _assert_refused(client, forged, rule="PSC:token.alg")


async def test_foreign_key(client) -> None:  # type: ignore[no-untyped-def]
    claims = await _genuine_claims(client)
    foreign_jwk = generate_private_jwk("RS256")
    foreign = KeyRing.build([StoredKey(kid=foreign_jwk["kid"], alg="RS256", private_jwk=foreign_jwk, active=True)])
    await _assert_refused(client, tokens.sign(foreign, claims), rule="PSC:token.kid")
    # a foreign key claiming one of our kids
    ours = (await client.get(OIDC + "/certs")).json()["keys"][0]["kid"]
    _, key = foreign.signing_key("RS256")
    spoofed = jwt.encode({"alg": "RS256", "kid": ours}, claims, key, algorithms=["RS256"])
    await _assert_refused(client, spoofed)


@pytest.mark.parametrize(
    ("change", "rule"),
    [
        ({"iss": "https://auth.bas.psc.esante.gouv.fr/auth/realms/esante-wallet"}, "PSC:token.iss"),
        ({"aud": "another-api"}, "PSC:token.aud"),
        ({"exp": int(time.time()) - 120, "iat": int(time.time()) - 420}, "PSC:token.exp"),
        ({"typ": "Refresh"}, "PSC:token.typ"),
    ],
)
async def test_wrong_claims_signed_by_our_own_key(app, client, change: dict, rule: str) -> None:  # type: ignore[no-untyped-def]
    claims = {**(await _genuine_claims(client)), **change}
    await _assert_refused(client, tokens.sign(await _ring(app), claims), rule=rule)


async def test_expired_token_beyond_leeway(app, client, settings) -> None:  # type: ignore[no-untyped-def]
    claims = await _genuine_claims(client)
    inside = {**claims, "exp": int(time.time()) - 1}
    token = tokens.sign(await _ring(app), inside)
    assert (await client.get("/psc/v1/me", headers={"Authorization": f"Bearer {token}"})).status_code == 200
    outside = {**claims, "exp": int(time.time()) - settings.psc_leeway - 2}
    await _assert_refused(client, tokens.sign(await _ring(app), outside), rule="PSC:token.exp")


async def test_revoked_token(client) -> None:  # type: ignore[no-untyped-def]
    token = await access_token_for(client, GP)
    response = await client.post(OIDC + "/revoke", data={"token": token, "client_id": "segur-sandbox-public"})
    assert response.status_code == 200
    await _assert_refused(client, token, rule="PSC:token.revoked")


async def test_id_token_and_refresh_token_are_not_access_tokens(client) -> None:  # type: ignore[no-untyped-def]
    answer = await token_response_for(client, GP)
    await _assert_refused(client, answer["id_token"])
    await _assert_refused(client, answer["refresh_token"])


@pytest.mark.parametrize("header", ["", "Bearer", "Basic abc", "Bearer a.b", "Bearer x.y.z"])
async def test_malformed_authorization(client, header: str) -> None:  # type: ignore[no-untyped-def]
    headers = {"Authorization": header} if header else {}
    response = await client.get("/psc/v1/me", headers=headers)
    assert response.status_code == 401 and response.headers["www-authenticate"].startswith("Bearer")


async def test_nested_json_in_a_bearer_token_is_a_401(client) -> None:  # type: ignore[no-untyped-def]
    kid = await _a_kid(client)
    forged = [
        _b64_raw(b"[" * 3000) + ".e30.x",
        _b64_raw(b"{" * 3000) + ".e30.x",
        _b64json({"alg": "RS256", "kid": kid}) + "." + _b64_raw(b"[" * 3000) + ".eA",
        _b64json({"alg": "RS256", "kid": kid, "x": "a" * 9000}) + ".e30.eA",  # header over 8 KB
        _b64json({"alg": "RS256", "kid": kid}) + "." + "a" * 70_000 + ".eA",  # payload over 64 KB
    ]
    for token in forged:
        for route in ("/psc/v1/me", OIDC + "/userinfo"):
            response = await client.get(route, headers={"Authorization": f"Bearer {token}"})
            assert response.status_code == 401, (route, response.text[:200])
            assert 'error="invalid_token"' in response.headers["www-authenticate"]
