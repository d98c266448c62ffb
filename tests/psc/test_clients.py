"""Clients (app/psc/clients.py): registration checks (redirect URIs, jwks) and client authentication."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import pytest
from joserfc import jws, jwt

from app.psc import memory
from app.psc.keys import generate_private_jwk, import_jwk, public_jwk
from app.psc.models import Client
from tests.psc.helpers import (
    ASSERTION_TYPE,
    CONFIDENTIAL_CLIENT,
    GP,
    ISSUER,
    PUBLIC_CLIENT,
    TOKEN,
    jwt_header,
    register_client,
)


@pytest.fixture
async def pkjwt(client):  # type: ignore[no-untyped-def]
    key = generate_private_jwk("ES256")
    created = await register_client(
        client,
        client_id="pkjwt-sec",
        token_endpoint_auth_method="private_key_jwt",
        jwks={"keys": [public_jwk(key)]},
        grant_types=["client_credentials"],
        scope="openid scope_all",
    )
    assert created.status_code == 201, created.text
    return key


def _assertion(key: dict, **claims: Any) -> str:
    now = int(time.time())
    body = {
        "iss": "pkjwt-sec",
        "sub": "pkjwt-sec",
        "aud": ISSUER + "/protocol/openid-connect/token",
        "iat": now,
        "exp": now + 60,
        "jti": f"j-{time.monotonic_ns()}",
    }
    body.update(claims)
    body = {k: v for k, v in body.items() if v is not None}
    # json.dumps writes NaN, Infinity and 1e300 as Python does: what a hostile client would send
    payload = json.dumps(body).encode()
    return jws.serialize_compact({"alg": "ES256", "kid": key["kid"]}, payload, import_jwk(key), algorithms=["ES256"])


async def _client_credentials(client, assertion: str):  # type: ignore[no-untyped-def]
    return await client.post(
        TOKEN,
        data={
            "grant_type": "client_credentials",
            "scope": "openid",
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": assertion,
        },
    )


class FromNow:
    """A time claim ``offset`` seconds from when the test runs (not from collection, which may be long before)."""

    def __init__(self, offset: int, kind: type = int) -> None:
        self.offset, self.kind = offset, kind

    def resolve(self) -> object:
        return self.kind(int(time.time()) + self.offset)

    def __repr__(self) -> str:
        return f"now{self.offset:+d}"


@pytest.mark.parametrize(
    ("auth", "form", "status", "error"),
    [
        ((CONFIDENTIAL_CLIENT, "wrong"), {}, 401, "invalid_client"),
        (None, {"client_id": CONFIDENTIAL_CLIENT, "client_secret": "wrong"}, 401, "invalid_client"),
        (None, {"client_id": CONFIDENTIAL_CLIENT}, 401, "invalid_client"),
        (None, {"client_id": PUBLIC_CLIENT}, 401, "invalid_client"),
        (("ghost", "x"), {}, 401, "invalid_client"),
    ],
)
async def test_client_authentication_failures(client, auth, form, status, error) -> None:  # type: ignore[no-untyped-def]
    response = await client.post(TOKEN, data={"grant_type": "client_credentials", **form}, auth=auth)
    assert response.status_code == status and response.json()["error"] == error
    if auth is not None:
        assert response.headers["www-authenticate"].startswith("Basic")


async def test_private_key_jwt_and_es256_client(client, oauth_factory) -> None:  # type: ignore[no-untyped-def]
    key = generate_private_jwk("ES256")
    created = await client.post(
        "/sandbox/v1/clients",
        json={
            "client_id": "pkjwt-client",
            "token_endpoint_auth_method": "private_key_jwt",
            "jwks": {"keys": [public_jwk(key)]},
            "grant_types": ["client_credentials"],
            "scope": "openid scope_all",
            "access_token_signed_response_alg": "ES256",
        },
    )
    assert created.status_code == 201, created.text
    now = int(time.time())

    def assertion(jti: str) -> str:
        claims = {
            "iss": "pkjwt-client",
            "sub": "pkjwt-client",
            "aud": ISSUER + "/protocol/openid-connect/token",
            "iat": now,
            "exp": now + 60,
            "jti": jti,
        }
        return jwt.encode({"alg": "ES256", "kid": key["kid"]}, claims, import_jwk(key), algorithms=["ES256"])

    form = {
        "grant_type": "client_credentials",
        "scope": "openid",
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "client_assertion": assertion("a1"),
    }
    ok = await client.post(TOKEN, data=form)
    assert ok.status_code == 200, ok.text
    assert jwt_header(ok.json()["access_token"])["alg"] == "ES256"
    replay = await client.post(TOKEN, data=form)
    assert replay.status_code == 401 and replay.json()["error"] == "invalid_client"
    secret = await client.post(TOKEN, data={"grant_type": "client_credentials"}, auth=("pkjwt-client", "x"))
    assert secret.status_code == 401


@pytest.mark.parametrize(
    "uri",
    [
        "javascript://x/%0aalert(document.domain)",
        "JavaScript://x/%0aalert(1)",
        "javascript:alert(1)//:/",
        "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==://x",
        "vbscript://x/msgbox",
        "file:///etc/passwd",
        "myapp:/cb",  # a private-use scheme must be a reverse domain name (RFC 8252 §7.1)
        "https://app.example/cb#frag",
        "https://user@app.example/cb",
        "https:/app.example",
        "https://app.example/ cb",
    ],
)
async def test_dangerous_redirect_uris_are_refused(client, uri: str) -> None:  # type: ignore[no-untyped-def]
    for field in ("redirect_uris", "post_logout_redirect_uris"):
        response = await register_client(client, **{field: [uri]})
        assert response.status_code == 400, (field, response.text)
        body = response.json()
        assert body["error"] == "invalid_redirect_uri" and body["rule"] == "PSC:client.redirect_uri"


async def test_native_and_web_redirect_uris_are_accepted(client) -> None:  # type: ignore[no-untyped-def]
    response = await register_client(
        client,
        redirect_uris=["fr.vendor.app:/cb", "https://app.example/cb?x=1", "http://127.0.0.1:8080/cb"],
        post_logout_redirect_uris=["https://app.example/"],
    )
    assert response.status_code == 201, response.text


async def test_a_stored_javascript_redirect_uri_is_never_used(client, session) -> None:  # type: ignore[no-untyped-def]
    # a row registered before the check existed
    session.add(
        Client(
            client_id="legacy-js",
            secret_sha256=None,
            token_endpoint_auth_method="none",
            access_token_alg="RS256",
            client_metadata={
                "redirect_uris": ["javascript://x/%0aalert(1)"],
                "grant_types": ["authorization_code"],
                "scope": "openid scope_all",
                "token_endpoint_auth_method": "none",
            },
        )
    )
    await session.commit()
    response = await client.get(
        "/auth",
        params={
            "client_id": "legacy-js",
            "redirect_uri": "javascript://x/%0aalert(1)",
            "response_type": "code",
            "response_mode": "form_post",
            "scope": "openid",
            "login_hint": GP,
            "code_challenge": "A" * 43,
        },
    )
    assert response.status_code == 400 and "javascript" not in response.headers.get("location", "")
    assert "<form" not in response.text


async def test_client_assertion_good_exp_is_accepted(client, pkjwt) -> None:  # type: ignore[no-untyped-def]
    response = await _client_credentials(client, _assertion(pkjwt))
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    "claims",
    [
        {"exp": float("nan")},
        {"exp": float("inf")},
        {"exp": 1e300},
        {"exp": 10**30},
        {"exp": "9999999999"},
        {"exp": True},
        {"exp": None},
        {"exp": FromNow(-3600)},
        {"exp": FromNow(3600)},  # more than the maximum assertion lifetime away
        {"exp": FromNow(60, float)},
        {"iat": FromNow(3600)},
        {"iat": float("nan")},
        {"nbf": FromNow(3600)},
        {"nbf": "soon"},
    ],
    ids=lambda c: repr(c)[:40],
)
async def test_client_assertion_bad_times_are_refused(client, pkjwt, claims) -> None:  # type: ignore[no-untyped-def]
    claims = {name: value.resolve() if isinstance(value, FromNow) else value for name, value in claims.items()}
    response = await _client_credentials(client, _assertion(pkjwt, **claims))
    assert response.status_code == 401, response.text
    assert response.json()["error"] == "invalid_client"


@pytest.mark.parametrize(
    "jwks",
    [
        {"keys": 5},
        {"keys": "x"},
        {"keys": [5]},
        {"keys": [{"kty": "EC", "crv": "P-999", "x": "AA", "y": "AA"}]},
        {"keys": [{"kty": "RSA", "n": 5, "e": "AQAB"}]},
        {"keys": [{"kty": "oct", "k": "c2VjcmV0"}]},
        {"keys": [{"kty": "EC"}]},
        {"nokeys": []},
    ],
    ids=lambda j: json.dumps(j)[:40],
)
async def test_bad_jwks_are_refused_at_registration(client, jwks) -> None:  # type: ignore[no-untyped-def]
    response = await register_client(
        client, token_endpoint_auth_method="private_key_jwt", jwks=jwks, grant_types=["client_credentials"]
    )
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "invalid_client_metadata"


async def test_private_keys_are_refused_in_jwks(client) -> None:  # type: ignore[no-untyped-def]
    response = await register_client(
        client,
        token_endpoint_auth_method="private_key_jwt",
        jwks={"keys": [generate_private_jwk("ES256")]},
        grant_types=["client_credentials"],
    )
    assert response.status_code == 400 and response.json()["error"] == "invalid_client_metadata"


async def test_a_stored_bad_jwks_is_a_401_not_a_500(client, session, pkjwt) -> None:  # type: ignore[no-untyped-def]
    # a row registered before the check existed: every key fails to import, one verifies
    row = await session.get(Client, ("default", "pkjwt-sec"))
    good = public_jwk(pkjwt)
    bad = [{"kty": "EC", "crv": "P-999", "x": "AA", "y": "AA"}, {"kty": "RSA", "n": 5, "e": "AQAB"}]
    row.client_metadata = {**row.client_metadata, "jwks": {"keys": [*bad, good]}}
    await session.commit()
    memory.clear_client_cache()
    unnamed = {"alg": "ES256"}
    payload = json.loads(base64.urlsafe_b64decode(_assertion(pkjwt).split(".")[1] + "=="))
    assertion = jws.serialize_compact(unnamed, json.dumps(payload).encode(), import_jwk(pkjwt), algorithms=["ES256"])
    assert (await _client_credentials(client, assertion)).status_code == 200
    row.client_metadata = {**row.client_metadata, "jwks": {"keys": 5}}
    await session.commit()
    memory.clear_client_cache()
    response = await _client_credentials(client, _assertion(pkjwt))
    assert response.status_code == 401 and response.json()["error"] == "invalid_client"
