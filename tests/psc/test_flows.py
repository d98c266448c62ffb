"""End-to-end OIDC flows over HTTP with Authlib's client: code + PKCE, refresh, client credentials,
private_key_jwt, CIBA, logout, introspection, revocation, discovery, JWKS, key rotation."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
from urllib.parse import parse_qs, urlsplit

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet

from app.db import as_utc
from app.psc import service, tokens
from app.psc.keys import generate_private_jwk, import_jwk, public_jwk
from tests.psc.helpers import (
    CONFIDENTIAL_CLIENT,
    CONFIDENTIAL_SECRET,
    OIDC,
    PUBLIC_CLIENT,
    REALM,
    REDIRECT_URI,
    access_token_for,
    token_response_for,
)

GP = "810001000016"
MULTI_SITE = "810001000115"
TOKEN = OIDC + "/token"
ISSUER = "http://sandbox.test" + REALM


def _claims(token: str) -> dict:
    return json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))


def _header(token: str) -> dict:
    return json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))


async def _jwks(client) -> KeySet:  # type: ignore[no-untyped-def]
    return KeySet.import_key_set((await client.get(OIDC + "/certs")).json())


async def _code_via_authlib(client, oauth, *, nonce: str, **extra: str) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    verifier = secrets.token_urlsafe(48)
    url, state = oauth.create_authorization_url(
        "http://sandbox.test/auth", code_verifier=verifier, nonce=nonce, acr_values="eidas1", **extra
    )
    response = await client.get(url)
    assert response.status_code == 302, response.text
    return response.headers["location"], verifier


# --- discovery and keys ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["openid-configuration", "wallet-openid-configuration"])
async def test_discovery(client, name: str) -> None:  # type: ignore[no-untyped-def]
    doc = (await client.get(f"{REALM}/.well-known/{name}")).json()
    assert doc["issuer"] == ISSUER
    assert doc["authorization_endpoint"] == "http://sandbox.test/auth"
    assert doc["token_endpoint"] == ISSUER + "/protocol/openid-connect/token"
    assert doc["jwks_uri"].endswith("/protocol/openid-connect/certs")
    assert doc["backchannel_authentication_endpoint"].endswith("/ext/ciba/auth")
    assert {"openid", "scope_all", "rpps", "eidas1"} <= set(doc["scopes_supported"])
    assert doc["code_challenge_methods_supported"] == ["plain", "S256"]
    assert "urn:openid:params:grant-type:ciba" in doc["grant_types_supported"]
    assert doc["authorization_response_iss_parameter_supported"] is True
    assert doc["backchannel_token_delivery_modes_supported"] == ["poll"]
    assert {"client_secret_basic", "client_secret_post", "private_key_jwt"} <= set(
        doc["token_endpoint_auth_methods_supported"]
    )


async def test_authorize_answers_at_the_keycloak_path_too(client) -> None:  # type: ignore[no-untyped-def]
    response = await client.get(
        OIDC + "/auth",
        params={
            "client_id": PUBLIC_CLIENT,
            "redirect_uri": REDIRECT_URI,
            "response_type": "code",
            "code_challenge": "x" * 43,
        },
    )
    assert response.status_code == 200 and "Pro Santé Connect" in response.text


async def test_jwks_publishes_public_keys_with_kid(client) -> None:  # type: ignore[no-untyped-def]
    keys = (await client.get(OIDC + "/certs")).json()["keys"]
    assert {k["alg"] for k in keys} >= {"RS256", "ES256"}
    for key in keys:
        assert key["kid"] and key["use"] == "sig" and "d" not in key


# --- authorization code + PKCE ---------------------------------------------------------------------


async def test_code_flow_with_pkce_authlib(client, public_oauth) -> None:  # type: ignore[no-untyped-def]
    nonce = secrets.token_hex(16)
    location, verifier = await _code_via_authlib(client, public_oauth, nonce=nonce, login_hint=GP)
    query = parse_qs(urlsplit(location).query)
    assert query["iss"] == [ISSUER] and query["session_state"]
    token = await public_oauth.fetch_token(TOKEN, authorization_response=location, code_verifier=verifier)
    assert token["token_type"].lower() == "bearer" and token["expires_in"] == 300
    assert token["refresh_expires_in"] > 0 and token["session_state"] == query["session_state"][0]
    assert token["scope"] == "openid scope_all"
    id_token = jwt.decode(token["id_token"], await _jwks(client), algorithms=["RS256"])
    claims = id_token.claims
    assert claims["iss"] == ISSUER and claims["aud"] == PUBLIC_CLIENT and claims["azp"] == PUBLIC_CLIENT
    assert claims["acr"] == "eidas1" and claims["nonce"] == nonce and claims["typ"] == "ID"
    assert claims["sid"] == token["session_state"] and abs(claims["auth_time"] - time.time()) < 60
    digest = hashlib.sha256(token["access_token"].encode()).digest()
    assert claims["at_hash"] == base64.urlsafe_b64encode(digest[:16]).rstrip(b"=").decode()
    access = _claims(token["access_token"])
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


async def test_form_post_response_mode(client) -> None:  # type: ignore[no-untyped-def]
    params = {
        "client_id": PUBLIC_CLIENT,
        "redirect_uri": REDIRECT_URI,
        "response_type": "code",
        "response_mode": "form_post",
        "login_hint": GP,
        "code_challenge": "f" * 43,
        "state": "st",
    }
    response = await client.get("/auth", params=params)
    assert response.status_code == 200 and f'action="{REDIRECT_URI}"' in response.text
    assert 'name="code"' in response.text and 'name="iss"' in response.text and 'value="st"' in response.text


async def test_prompt_none_uses_the_session_cookie(client) -> None:  # type: ignore[no-untyped-def]
    base = {
        "client_id": PUBLIC_CLIENT,
        "redirect_uri": REDIRECT_URI,
        "response_type": "code",
        "code_challenge": "c" * 43,
        "state": "s",
    }
    response = await client.get("/auth", params={**base, "prompt": "none"})
    query = parse_qs(urlsplit(response.headers["location"]).query)
    assert query["error"] == ["login_required"] and query["state"] == ["s"] and query["iss"] == [ISSUER]
    first = await client.get("/auth", params={**base, "login_hint": GP})
    assert "code" in parse_qs(urlsplit(first.headers["location"]).query)
    assert client.cookies.get("PSC_SESSION")
    again = await client.get("/auth", params={**base, "prompt": "none"})
    assert "code" in parse_qs(urlsplit(again.headers["location"]).query)
    client.cookies.clear()


async def test_interactive_login_page_with_ecps_confirmation(client) -> None:  # type: ignore[no-untyped-def]
    verifier = "v" * 43
    base = {
        "client_id": PUBLIC_CLIENT,
        "redirect_uri": REDIRECT_URI,
        "response_type": "code",
        "code_challenge": verifier,
        "state": "xyz",
        "scope": "openid scope_all",
    }
    page = await client.get("/auth", params=base)
    assert page.status_code == 200 and "Claire" in page.text and GP in page.text
    confirm = await client.post("/auth", data={**base, "subject_name_id": GP, "psc_action": "select"})
    assert confirm.status_code == 200 and "e-CPS" in confirm.text and "Fontaine" in confirm.text
    denied = await client.post("/auth", data={**base, "subject_name_id": GP, "psc_action": "deny"})
    assert parse_qs(urlsplit(denied.headers["location"]).query)["error"] == ["access_denied"]
    done = await client.post("/auth", data={**base, "subject_name_id": GP, "psc_action": "confirm"})
    query = parse_qs(urlsplit(done.headers["location"]).query)
    answer = await client.post(
        TOKEN,
        data={
            "grant_type": "authorization_code",
            "code": query["code"][0],
            "redirect_uri": REDIRECT_URI,
            "client_id": PUBLIC_CLIENT,
            "code_verifier": verifier,
        },
    )
    assert answer.status_code == 200
    client.cookies.clear()


# --- authorization errors ------------------------------------------------------------------------


async def test_authorize_errors_without_valid_redirect_are_an_error_page(client) -> None:  # type: ignore[no-untyped-def]
    unknown = await client.get(
        "/auth", params={"client_id": "nobody", "redirect_uri": REDIRECT_URI, "response_type": "code"}
    )
    assert unknown.status_code == 400 and "location" not in unknown.headers
    evil = await client.get(
        "/auth", params={"client_id": PUBLIC_CLIENT, "response_type": "code", "redirect_uri": REDIRECT_URI + "/../evil"}
    )
    assert evil.status_code == 400 and "location" not in evil.headers
    prefix = await client.get(
        "/auth", params={"client_id": PUBLIC_CLIENT, "response_type": "code", "redirect_uri": REDIRECT_URI + "x"}
    )
    assert prefix.status_code == 400


@pytest.mark.parametrize(
    ("extra", "error"),
    [
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"code_challenge": None}, "invalid_request"),
        ({"code_challenge_method": "S512"}, "invalid_request"),
        ({"scope": "openid admin"}, "invalid_scope"),
        ({"response_mode": "fragment"}, "invalid_request"),
        ({"login_hint": "899999999999"}, "access_denied"),
    ],
)
async def test_authorize_errors_are_redirected(client, extra: dict, error: str) -> None:  # type: ignore[no-untyped-def]
    params = {
        "client_id": PUBLIC_CLIENT,
        "redirect_uri": REDIRECT_URI,
        "response_type": "code",
        "code_challenge": "c" * 43,
        "state": "st8",
        "login_hint": GP,
        **extra,
    }
    response = await client.get("/auth", params={k: v for k, v in params.items() if v is not None})
    assert response.status_code == 302
    query = parse_qs(urlsplit(response.headers["location"]).query)
    assert query["error"] == [error] and query["state"] == ["st8"] and query["iss"] == [ISSUER]


# --- code binding and replay ---------------------------------------------------------------------


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


# --- refresh -------------------------------------------------------------------------------------


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


# --- client credentials and client authentication --------------------------------------------------


async def test_client_credentials_basic_and_post(client, oauth_factory) -> None:  # type: ignore[no-untyped-def]
    for method in ("client_secret_basic", "client_secret_post"):
        oauth = oauth_factory(
            client_id=CONFIDENTIAL_CLIENT, client_secret=CONFIDENTIAL_SECRET, token_endpoint_auth_method=method
        )
        token = await oauth.fetch_token(TOKEN, grant_type="client_credentials")
        await oauth.aclose()
        assert token["token_type"].lower() == "bearer" and "refresh_token" not in token
        claims = _claims(token["access_token"])
        assert claims["azp"] == CONFIDENTIAL_CLIENT and claims["typ"] == "Bearer"
        assert _header(token["access_token"])["alg"] == "RS256"
        # a service-account token is not a professional
        me = await client.get("/psc/v1/me", headers={"Authorization": f"Bearer {token['access_token']}"})
        assert me.status_code == 401


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
    assert _header(ok.json()["access_token"])["alg"] == "ES256"
    replay = await client.post(TOKEN, data=form)
    assert replay.status_code == 401 and replay.json()["error"] == "invalid_client"
    secret = await client.post(TOKEN, data={"grant_type": "client_credentials"}, auth=("pkjwt-client", "x"))
    assert secret.status_code == 401


# --- userinfo as JWT, introspection, revocation ---------------------------------------------------


async def test_userinfo_signed_jwt_for_configured_client(client) -> None:  # type: ignore[no-untyped-def]
    created = await client.post(
        "/sandbox/v1/clients",
        json={
            "client_id": "jwt-userinfo",
            "token_endpoint_auth_method": "none",
            "redirect_uris": [REDIRECT_URI],
            "userinfo_signed_response_alg": "ES256",
            "access_token_signed_response_alg": "ES256",
        },
    )
    assert created.status_code == 201 and "client_secret" not in created.json()
    access = await access_token_for(client, GP, client_id="jwt-userinfo")
    assert _header(access)["alg"] == "ES256"
    response = await client.get(OIDC + "/userinfo", headers={"Authorization": f"Bearer {access}"})
    assert response.headers["content-type"].startswith("application/jwt")
    claims = jwt.decode(response.text, await _jwks(client), algorithms=["ES256"]).claims
    assert claims["SubjectNameID"] == GP and claims["aud"] == "jwt-userinfo" and claims["iss"] == ISSUER


async def test_introspection_and_revocation(client, confidential_oauth) -> None:  # type: ignore[no-untyped-def]
    tokens = await token_response_for(client, GP, client_id=CONFIDENTIAL_CLIENT)
    access = tokens["access_token"]
    info = (await confidential_oauth.introspect_token(OIDC + "/token/introspect", token=access)).json()
    assert info["active"] is True and info["client_id"] == CONFIDENTIAL_CLIENT and info["username"] == GP
    assert (await confidential_oauth.introspect_token(OIDC + "/token/introspect", token="junk")).json() == {
        "active": False
    }
    revoked = await confidential_oauth.revoke_token(OIDC + "/revoke", token=access)
    assert revoked.status_code == 200
    info = (await confidential_oauth.introspect_token(OIDC + "/token/introspect", token=access)).json()
    assert info == {"active": False}
    me = await client.get("/psc/v1/me", headers={"Authorization": f"Bearer {access}"})
    assert me.status_code == 401 and me.headers["www-authenticate"].startswith("Bearer")
    # revoking the refresh token kills the grant (RFC 7009 §2.1)
    await confidential_oauth.revoke_token(
        OIDC + "/revoke", token=tokens["refresh_token"], token_type_hint="refresh_token"
    )
    again = await client.post(
        TOKEN,
        data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
        auth=(CONFIDENTIAL_CLIENT, CONFIDENTIAL_SECRET),
    )
    assert again.status_code == 400
    # an unknown token is not an error (RFC 7009 §2.2)
    assert (await confidential_oauth.revoke_token(OIDC + "/revoke", token="nonsense")).status_code == 200


# --- logout --------------------------------------------------------------------------------------


async def test_rp_initiated_logout(client) -> None:  # type: ignore[no-untyped-def]
    tokens = await token_response_for(client, GP)
    response = await client.get(
        OIDC + "/logout",
        params={
            "id_token_hint": tokens["id_token"],
            "post_logout_redirect_uri": "http://localhost:8080/",
            "state": "bye",
        },
    )
    assert response.status_code == 302 and response.headers["location"] == "http://localhost:8080/?state=bye"
    me = await client.get("/psc/v1/me", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert me.status_code == 401
    refresh = await client.post(
        TOKEN,
        data={"grant_type": "refresh_token", "client_id": PUBLIC_CLIENT, "refresh_token": tokens["refresh_token"]},
    )
    assert refresh.status_code == 400
    evil = await client.get(
        OIDC + "/logout",
        params={"id_token_hint": tokens["id_token"], "post_logout_redirect_uri": "https://evil.example/"},
    )
    # an unregistered target is not followed: the session ends, the logged-out page says why
    assert evil.status_code == 200 and "location" not in evil.headers
    assert "déconnecté" in evil.text and "post_logout_redirect_uri ignored" in evil.text
    # without id_token_hint, GET asks for confirmation; the POST of that page logs out
    plain = await client.get(OIDC + "/logout")
    assert plain.status_code == 200 and 'method="post"' in plain.text and "déconnecté" not in plain.text
    confirmed = await client.post(OIDC + "/logout", data={})
    assert confirmed.status_code == 200 and "déconnecté" in confirmed.text


# --- CIBA ----------------------------------------------------------------------------------------


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


# --- key rotation --------------------------------------------------------------------------------


async def test_key_rotation_keeps_old_tokens_valid(client) -> None:  # type: ignore[no-untyped-def]
    before = await access_token_for(client, GP)
    old_kid = _header(before)["kid"]
    rotated = await client.post("/sandbox/v1/signing-keys", json={"alg": "RS256"})
    assert rotated.status_code == 201
    new_kid = rotated.json()["kid"]
    kids = {k["kid"] for k in (await client.get(OIDC + "/certs")).json()["keys"]}
    assert {old_kid, new_kid} <= kids
    after = await access_token_for(client, GP)
    assert _header(after)["kid"] == new_kid
    for token in (before, after):
        me = await client.get("/psc/v1/me", headers={"Authorization": f"Bearer {token}"})
        assert me.status_code == 200


# --- control API ---------------------------------------------------------------------------------


async def test_control_api_clients_and_professionals(client) -> None:  # type: ignore[no-untyped-def]
    created = await client.post(
        "/sandbox/v1/clients", json={"redirect_uris": ["https://app.example/cb"], "grant_types": ["client_credentials"]}
    )
    assert created.status_code == 201
    doc = created.json()
    assert doc["client_id"] and doc["client_secret"] and doc["token_endpoint_auth_method"] == "client_secret_basic"
    token = await client.post(
        TOKEN,
        data={"grant_type": "client_credentials", "scope": "openid"},
        auth=(doc["client_id"], doc["client_secret"]),
    )
    assert token.status_code == 200
    listed = (await client.get("/sandbox/v1/clients")).json()
    assert {c["client_id"] for c in listed} >= {PUBLIC_CLIENT, CONFIDENTIAL_CLIENT, doc["client_id"]}
    assert all("client_secret" not in c for c in listed)
    dup = await client.post("/sandbox/v1/clients", json={"client_id": PUBLIC_CLIENT})
    assert dup.status_code == 409
    bad_public = await client.post(
        "/sandbox/v1/clients", json={"token_endpoint_auth_method": "none", "grant_types": ["client_credentials"]}
    )
    assert bad_public.status_code == 400

    pro = {
        "SubjectNameID": "810001000990",
        "given_name": "Alice",
        "family_name": "Durand",
        "SubjectRefPro": {
            "exercices": [
                {
                    "codeProfession": "60",
                    "activities": [
                        {"raisonSocialeSite": "CABINET INFIRMIER DURAND", "identifiantTechniqueDeLaStructure": "R1"}
                    ],
                }
            ]
        },
    }
    made = await client.post("/sandbox/v1/professionals", json=pro)
    assert made.status_code == 201, made.text
    body = made.json()
    assert body["SubjectRole"] == ["60^1.2.250.1.213.1.1.5.5"] and body["codeCivilite"] == ""
    assert body["SubjectRefPro"]["exercices"][0]["activities"][0]["numeroFinessSite"] == ""
    access = await access_token_for(client, "810001000990")
    me = (await client.get("/psc/v1/me", headers={"Authorization": f"Bearer {access}"})).json()
    assert me["profession_code"] == "60" and me["rpps"] == "10001000990"
    assert (await client.post("/sandbox/v1/professionals", json=pro)).status_code == 409
    bad_key = await client.post("/sandbox/v1/professionals", json={**pro, "SubjectNameID": "810001000991"})
    assert bad_key.status_code == 422
    assert (await client.get("/sandbox/v1/professionals/810001000990")).status_code == 200
    assert len((await client.get("/sandbox/v1/professionals")).json()) >= 13


async def test_rotated_key_leaves_the_jwks_after_its_window(app, client, session) -> None:  # type: ignore[no-untyped-def]
    from datetime import timedelta

    from sqlalchemy import select, update

    from app.db import utcnow
    from app.psc.models import SigningKey

    old = await access_token_for(client, GP)
    old_kid = _header(old)["kid"]
    async with app.state.sessionmaker() as own, own.begin():
        new_kid = await service.rotate_signing_key(own, app.state.settings)
    row = (await session.scalars(select(SigningKey).where(SigningKey.kid == old_kid))).one()
    settings = app.state.settings
    window = max(settings.psc_access_token_ttl, settings.psc_id_token_ttl, settings.psc_refresh_token_ttl)
    assert row.active is False and row.publish_until is not None
    assert (as_utc(row.publish_until) - utcnow()).total_seconds() >= window
    await session.execute(
        update(SigningKey).where(SigningKey.kid == old_kid).values(publish_until=utcnow() - timedelta(seconds=1))
    )
    await session.commit()
    kids = {k["kid"] for k in (await client.get(OIDC + "/certs")).json()["keys"]}
    assert new_kid in kids and old_kid not in kids
    me = await client.get("/psc/v1/me", headers={"Authorization": f"Bearer {old}"})
    assert me.status_code == 401


async def test_fault_injection_missing_or_lower_acr(client) -> None:  # type: ignore[no-untyped-def]
    for acr, expected in (("", None), ("eidas0", "eidas0")):
        client_id = f"acr-test-{acr or 'none'}"
        created = await client.post(
            "/sandbox/v1/clients",
            json={
                "client_id": client_id,
                "token_endpoint_auth_method": "none",
                "redirect_uris": [REDIRECT_URI],
                "sandbox_id_token_acr": acr,
            },
        )
        assert created.status_code == 201
        answer = await token_response_for(client, GP, client_id=client_id)
        assert _claims(answer["id_token"]).get("acr") == expected


async def test_max_age_forces_a_new_login(client) -> None:  # type: ignore[no-untyped-def]
    base = {
        "client_id": PUBLIC_CLIENT,
        "redirect_uri": REDIRECT_URI,
        "response_type": "code",
        "code_challenge": "c" * 43,
    }
    await client.get("/auth", params={**base, "login_hint": GP})
    fresh = await client.get("/auth", params={**base, "prompt": "none", "max_age": "3600"})
    assert "code" in parse_qs(urlsplit(fresh.headers["location"]).query)
    import asyncio

    await asyncio.sleep(1.1)
    stale = await client.get("/auth", params={**base, "prompt": "none", "max_age": "0"})
    assert parse_qs(urlsplit(stale.headers["location"]).query)["error"] == ["login_required"]
    client.cookies.clear()


async def test_seed_is_idempotent(app, session) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import func, select

    from app.psc.models import Client, Professional, SigningKey

    async def counts() -> tuple[int, int, int]:
        return tuple(
            [  # type: ignore[return-value]
                await session.scalar(select(func.count()).select_from(model))
                for model in (Client, Professional, SigningKey)
            ]
        )

    before = await counts()
    await service.seed(session, app.state.settings)
    await service.seed(session, app.state.settings)
    assert await counts() == before
    await session.rollback()


async def test_pages_escape_what_the_client_sent(client) -> None:  # type: ignore[no-untyped-def]
    evil = '"><script>alert(1)</script>'
    params = {
        "client_id": PUBLIC_CLIENT,
        "redirect_uri": REDIRECT_URI,
        "response_type": "code",
        "response_mode": "form_post",
        "login_hint": GP,
        "code_challenge": "f" * 43,
        "state": evil,
    }
    response = await client.get("/auth", params=params)
    assert "<script>alert" not in response.text and "&lt;script&gt;" in response.text
    page = await client.get("/auth", params={**params, "login_hint": "", "nonce": evil})
    assert page.status_code == 200 and "<script>alert" not in page.text
    client.cookies.clear()
