"""End to end: the token endpoint (app/psc/oidc/token.py) and its grants: authorization code + PKCE,
refresh with rotation, client credentials; bad input never yields a 500."""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from urllib.parse import parse_qs, urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from joserfc import jwt

from app.psc import tokens
from tests.psc.helpers import (
    ASSERTION_TYPE,
    CONFIDENTIAL_CLIENT,
    CONFIDENTIAL_SECRET,
    GP,
    ISSUER,
    OIDC,
    PUBLIC_CLIENT,
    REDIRECT_URI,
    TOKEN,
    answers_to_token,
    b64url,
    b64url_json,
    jwks_of,
    jwt_claims,
    jwt_header,
    token_response_for,
)

MULTI_SITE = "810001000115"


async def _code_via_authlib(client, oauth, *, nonce: str, **extra: str) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    verifier = secrets.token_urlsafe(48)
    url, state = oauth.create_authorization_url(
        "http://sandbox.test/auth", code_verifier=verifier, nonce=nonce, acr_values="eidas1", **extra
    )
    response = await client.get(url)
    assert response.status_code == 302, response.text
    return response.headers["location"], verifier


async def _code(client, *, verifier: str = "k" * 43, client_id: str = PUBLIC_CLIENT) -> str:  # type: ignore[no-untyped-def]
    params = {
        "client_id": client_id,
        "redirect_uri": REDIRECT_URI,
        "response_type": "code",
        "code_challenge": tokens.b64url(hashlib.sha256(verifier.encode()).digest()),
        "code_challenge_method": "S256",
        "login_hint": GP,
        "scope": "openid scope_all",
    }
    response = await client.get("/auth", params=params)
    return parse_qs(urlsplit(response.headers["location"]).query)["code"][0]


FIELDS = [
    "grant_type",
    "code",
    "redirect_uri",
    "code_verifier",
    "client_id",
    "client_secret",
    "refresh_token",
    "auth_req_id",
    "scope",
    "client_assertion_type",
    "client_assertion",
    "token",
    "login_hint",
]


VALUES = st.one_of(
    st.text(max_size=80),
    st.sampled_from(
        [
            "authorization_code",
            "refresh_token",
            "client_credentials",
            "urn:openid:params:grant-type:ciba",
            "openid",
            "a.b.c",
            "e30.e30.e30",
            PUBLIC_CLIENT,
            CONFIDENTIAL_CLIENT,
            "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "",
        ]
    ),
)


FORMS = st.dictionaries(st.sampled_from(FIELDS), VALUES, max_size=6)


SLOW = settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))


async def test_code_flow_with_pkce_authlib(client, public_oauth) -> None:  # type: ignore[no-untyped-def]
    nonce = secrets.token_hex(16)
    location, verifier = await _code_via_authlib(client, public_oauth, nonce=nonce, login_hint=GP)
    query = parse_qs(urlsplit(location).query)
    assert query["iss"] == [ISSUER] and query["session_state"]
    token = await public_oauth.fetch_token(TOKEN, authorization_response=location, code_verifier=verifier)
    assert token["token_type"].lower() == "bearer" and token["expires_in"] == 300
    assert token["refresh_expires_in"] > 0 and token["session_state"] == query["session_state"][0]
    assert token["scope"] == "openid scope_all"
    id_token = jwt.decode(token["id_token"], await jwks_of(client), algorithms=["RS256"])
    claims = id_token.claims
    assert claims["iss"] == ISSUER and claims["aud"] == PUBLIC_CLIENT and claims["azp"] == PUBLIC_CLIENT
    assert claims["acr"] == "eidas1" and claims["nonce"] == nonce and claims["typ"] == "ID"
    assert claims["sid"] == token["session_state"] and abs(claims["auth_time"] - time.time()) < 60
    digest = hashlib.sha256(token["access_token"].encode()).digest()
    assert claims["at_hash"] == base64.urlsafe_b64encode(digest[:16]).rstrip(b"=").decode()
    access = jwt_claims(token["access_token"])
    assert access["typ"] == "Bearer" and access["azp"] == PUBLIC_CLIENT and access["aud"] == "account"
    assert access["preferred_username"] == GP and access["session_state"] == token["session_state"]
    # userinfo in PSC's shape
    info = (await public_oauth.get(OIDC + "/userinfo")).json()
    assert info["SubjectNameID"] == GP and info["SubjectRole"] == ["10^1.2.250.1.213.1.1.5.5"]
    assert info["SubjectRefPro"]["exercices"][0]["activities"][0]["raisonSocialeSite"]
    assert info["otherIds"] == [{"identifiant": GP, "origine": "RPPS", "qualite": 1}]


async def test_confidential_client_code_flow_with_plain_pkce(client, confidential_oauth) -> None:  # type: ignore[no-untyped-def]
    params = {
        "client_id": CONFIDENTIAL_CLIENT,
        "redirect_uri": REDIRECT_URI,
        "response_type": "code",
        "scope": "openid scope_all",
        "login_hint": MULTI_SITE,
        "code_challenge": "p" * 50,
        "code_challenge_method": "plain",
        "state": "s1",
    }
    location = (await client.get("/auth", params=params)).headers["location"]
    token = await confidential_oauth.fetch_token(TOKEN, authorization_response=location, code_verifier="p" * 50)
    info = (await confidential_oauth.get(OIDC + "/userinfo")).json()
    assert len(info["SubjectRefPro"]["exercices"][0]["activities"]) == 3
    assert token["id_token"]


async def test_code_replay_is_refused_and_revokes_issued_tokens(client) -> None:  # type: ignore[no-untyped-def]
    code = await _code(client)
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT_URI,
        "client_id": PUBLIC_CLIENT,
        "code_verifier": "k" * 43,
    }
    first = await client.post(TOKEN, data=form)
    assert first.status_code == 200
    access = first.json()["access_token"]
    assert (await client.get("/psc/v1/me", headers={"Authorization": f"Bearer {access}"})).status_code == 200
    replay = await client.post(TOKEN, data=form)
    assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"
    me = await client.get("/psc/v1/me", headers={"Authorization": f"Bearer {access}"})
    assert me.status_code == 401 and "revoked" in me.json()["detail"]
    refresh = await client.post(
        TOKEN,
        data={
            "grant_type": "refresh_token",
            "client_id": PUBLIC_CLIENT,
            "refresh_token": first.json()["refresh_token"],
        },
    )
    assert refresh.status_code == 400 and refresh.json()["error"] == "invalid_grant"


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"redirect_uri": "http://127.0.0.1/callback"}, "invalid_grant"),
        ({"code_verifier": "z" * 43}, "invalid_grant"),
        ({"code_verifier": None}, "invalid_grant"),
        ({"client_id": None, "_confidential": True}, "invalid_grant"),
        ({"code": "forged"}, "invalid_grant"),
        ({"grant_type": "password"}, "unsupported_grant_type"),
    ],
)
async def test_code_is_bound_to_client_redirect_and_verifier(client, change: dict, error: str) -> None:  # type: ignore[no-untyped-def]
    code = await _code(client)
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT_URI,
        "client_id": PUBLIC_CLIENT,
        "code_verifier": "k" * 43,
    }
    change = dict(change)
    auth = (CONFIDENTIAL_CLIENT, CONFIDENTIAL_SECRET) if change.pop("_confidential", False) else None
    form.update(change)
    response = await client.post(TOKEN, data={k: v for k, v in form.items() if v is not None}, auth=auth)
    assert response.status_code == 400 and response.json()["error"] == error, response.text
    # the legitimate exchange still works after a refused attempt
    good = await client.post(
        TOKEN,
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT_URI,
            "client_id": PUBLIC_CLIENT,
            "code_verifier": "k" * 43,
        },
    )
    assert good.status_code == 200


async def test_refresh_rotation_with_authlib(client, public_oauth) -> None:  # type: ignore[no-untyped-def]
    location, verifier = await _code_via_authlib(client, public_oauth, nonce="n", login_hint=GP)
    first = await public_oauth.fetch_token(TOKEN, authorization_response=location, code_verifier=verifier)
    second = await public_oauth.refresh_token(TOKEN, refresh_token=first["refresh_token"])
    assert second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] != first["access_token"] and second["id_token"]
    me = await client.get("/psc/v1/me", headers={"Authorization": f"Bearer {second['access_token']}"})
    assert me.status_code == 200
    # reuse of the rotated refresh token: refused, and the whole grant is revoked
    reuse = await client.post(
        TOKEN, data={"grant_type": "refresh_token", "client_id": PUBLIC_CLIENT, "refresh_token": first["refresh_token"]}
    )
    assert reuse.status_code == 400 and reuse.json()["error"] == "invalid_grant"
    me = await client.get("/psc/v1/me", headers={"Authorization": f"Bearer {second['access_token']}"})
    assert me.status_code == 401


async def test_refresh_token_of_another_client_is_refused(client) -> None:  # type: ignore[no-untyped-def]
    tokens = await token_response_for(client, GP)
    response = await client.post(
        TOKEN,
        data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
        auth=(CONFIDENTIAL_CLIENT, CONFIDENTIAL_SECRET),
    )
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"


async def test_client_credentials_basic_and_post(client, oauth_factory) -> None:  # type: ignore[no-untyped-def]
    for method in ("client_secret_basic", "client_secret_post"):
        oauth = oauth_factory(
            client_id=CONFIDENTIAL_CLIENT, client_secret=CONFIDENTIAL_SECRET, token_endpoint_auth_method=method
        )
        token = await oauth.fetch_token(TOKEN, grant_type="client_credentials")
        await oauth.aclose()
        assert token["token_type"].lower() == "bearer" and "refresh_token" not in token
        claims = jwt_claims(token["access_token"])
        assert claims["azp"] == CONFIDENTIAL_CLIENT and claims["typ"] == "Bearer"
        assert jwt_header(token["access_token"])["alg"] == "RS256"
        # a service-account token is not a professional
        me = await client.get("/psc/v1/me", headers={"Authorization": f"Bearer {token['access_token']}"})
        assert me.status_code == 401


@SLOW
@given(form=FORMS, basic=st.booleans())
async def test_token_endpoints_never_500(client, form: dict, basic: bool) -> None:  # type: ignore[no-untyped-def]
    auth = (CONFIDENTIAL_CLIENT, CONFIDENTIAL_SECRET) if basic else None
    for path in ("/token", "/ext/ciba/auth", "/token/introspect", "/revoke"):
        response = await client.post(OIDC + path, data=form, auth=auth)
        assert response.status_code < 500, (path, form, response.text)
        if response.status_code >= 400:
            assert "error" in response.json()


async def test_nested_json_elsewhere_is_never_a_500(client) -> None:  # type: ignore[no-untyped-def]
    nested = b64url(b"[" * 3000) + ".e30.x"
    nested_payload = b64url_json({"alg": "RS256"}) + "." + b64url(b"[" * 3000) + ".x"
    for assertion in (nested, nested_payload):
        response = await client.post(
            TOKEN,
            data={
                "grant_type": "client_credentials",
                "client_assertion_type": ASSERTION_TYPE,
                "client_assertion": assertion,
            },
        )
        assert response.status_code == 401 and response.json()["error"] == "invalid_client", response.text
    auth = (CONFIDENTIAL_CLIENT, CONFIDENTIAL_SECRET)
    for token in (nested, nested_payload):
        introspected = await client.post(OIDC + "/token/introspect", data={"token": token}, auth=auth)
        assert introspected.status_code == 200 and introspected.json() == {"active": False}
        refreshed = await client.post(TOKEN, data={"grant_type": "refresh_token", "refresh_token": token}, auth=auth)
        assert refreshed.status_code == 400 and refreshed.json()["error"] == "invalid_grant"
        logout = await client.get(OIDC + "/logout", params={"id_token_hint": token})
        assert logout.status_code == 400


async def test_the_fast_and_plain_token_endpoints_answer_alike(both_paths) -> None:  # type: ignore[no-untyped-def]
    """client_credentials (a LazySession that may open nothing, or a plain session), and its token refused
    alike by both paths: a service account is not a professional."""
    from tests.psc.helpers import CONFIDENTIAL_CLIENT, CONFIDENTIAL_SECRET

    bodies = {}
    for fast, http in both_paths.items():
        response = await http.post(
            OIDC + "/token",
            data={"grant_type": "client_credentials", "scope": "profile"},
            auth=(CONFIDENTIAL_CLIENT, CONFIDENTIAL_SECRET),
        )
        assert response.status_code == 200, response.text
        body = response.json()
        bodies[fast] = body
        claims = tokens.unverified_claims(body.pop("access_token"))
        assert claims["azp"] == CONFIDENTIAL_CLIENT and claims["preferred_username"].startswith("service-account-")
    assert bodies[True] == bodies[False]
    refused_auth = {}
    for fast, http in both_paths.items():
        response = await http.post(
            OIDC + "/token", data={"grant_type": "client_credentials"}, auth=(CONFIDENTIAL_CLIENT, "wrong")
        )
        refused_auth[fast] = (response.status_code, response.json(), response.headers.get("www-authenticate"))
    assert refused_auth[True] == refused_auth[False]
    assert refused_auth[True][0] == 401
    service_token = (
        await both_paths[True].post(
            OIDC + "/token",
            data={"grant_type": "client_credentials", "scope": "profile"},
            auth=(CONFIDENTIAL_CLIENT, CONFIDENTIAL_SECRET),
        )
    ).json()["access_token"]
    unknown = await answers_to_token(both_paths, service_token)
    assert unknown[True] == unknown[False]
    assert all(status == 401 and "health professional" in str(body) for _, status, body, _ in unknown[True])
