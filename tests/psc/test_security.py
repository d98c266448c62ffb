"""Security review findings of the PSC domain, each checked over HTTP (and each failing before its fix)."""

from __future__ import annotations

import base64
import json
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from joserfc import jws

from app.psc import memory, signing
from app.psc.keys import KeyRing, generate_private_jwk, import_jwk, public_jwk
from app.psc.models import Client
from tests.psc.helpers import CONFIDENTIAL_CLIENT, CONFIDENTIAL_SECRET, OIDC, REDIRECT_URI, token_response_for

GP = "810001000016"
TOKEN = OIDC + "/token"
ISSUER = "http://sandbox.test/auth/realms/esante-wallet"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _b64json(data: Any) -> str:
    return _b64(json.dumps(data).encode())


async def _register(client, **metadata: Any):  # type: ignore[no-untyped-def]
    return await client.post("/sandbox/v1/clients", json=metadata)


def _authorize_params(**extra: str) -> dict[str, str]:
    return {
        "client_id": "segur-sandbox-confidential",
        "redirect_uri": REDIRECT_URI,
        "response_type": "code",
        "scope": "openid scope_all",
        "state": "s1",
        **extra,
    }


# --- 1. redirect URI schemes, CSP ---------------------------------------------------------------


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
        response = await _register(client, **{field: [uri]})
        assert response.status_code == 400, (field, response.text)
        body = response.json()
        assert body["error"] == "invalid_redirect_uri" and body["rule"] == "PSC:client.redirect_uri"


async def test_native_and_web_redirect_uris_are_accepted(client) -> None:  # type: ignore[no-untyped-def]
    response = await _register(
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


async def test_form_post_page_has_a_strict_csp(client) -> None:  # type: ignore[no-untyped-def]
    created = await _register(
        client, client_id="fp-client", token_endpoint_auth_method="none", redirect_uris=["https://app.example/cb"]
    )
    assert created.status_code == 201, created.text
    response = await client.get(
        "/auth",
        params={
            "client_id": "fp-client",
            "redirect_uri": "https://app.example/cb",
            "response_type": "code",
            "response_mode": "form_post",
            "scope": "openid",
            "login_hint": GP,
            "code_challenge": "A" * 43,
            "code_challenge_method": "plain",
        },
    )
    assert response.status_code == 200, response.text
    csp = response.headers["content-security-policy"]
    directives = {d.split()[0]: d.split()[1:] for d in csp.split(";") if d.strip()}
    assert directives["form-action"] == ["https://app.example"]
    assert directives["default-src"] == ["'none'"]
    (nonce_source,) = directives["script-src"]
    assert nonce_source.startswith("'nonce-")
    nonce = nonce_source[len("'nonce-") : -1]
    assert f'<script nonce="{nonce}">' in response.text
    assert "onload=" not in response.text  # an inline handler would need 'unsafe-inline'


async def test_html_pages_have_a_csp(client) -> None:  # type: ignore[no-untyped-def]
    login = await client.get("/auth", params=_authorize_params())
    assert login.status_code == 200
    csp = login.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "form-action 'self'" in csp and "frame-ancestors 'none'" in csp
    error = await client.get("/auth", params={"client_id": "nobody"})
    assert error.status_code == 400 and "default-src 'self'" in error.headers["content-security-policy"]


# --- 2. deeply nested / oversized JWT segments ----------------------------------------------------


async def _a_kid(client) -> str:  # type: ignore[no-untyped-def]
    keys = (await client.get(OIDC + "/certs")).json()["keys"]
    return next(k["kid"] for k in keys if k.get("alg") == "RS256")


async def test_nested_json_in_a_bearer_token_is_a_401(client) -> None:  # type: ignore[no-untyped-def]
    kid = await _a_kid(client)
    forged = [
        _b64(b"[" * 3000) + ".e30.x",
        _b64(b"{" * 3000) + ".e30.x",
        _b64json({"alg": "RS256", "kid": kid}) + "." + _b64(b"[" * 3000) + ".eA",
        _b64json({"alg": "RS256", "kid": kid, "x": "a" * 9000}) + ".e30.eA",  # header over 8 KB
        _b64json({"alg": "RS256", "kid": kid}) + "." + "a" * 70_000 + ".eA",  # payload over 64 KB
    ]
    for token in forged:
        for route in ("/psc/v1/me", OIDC + "/userinfo"):
            response = await client.get(route, headers={"Authorization": f"Bearer {token}"})
            assert response.status_code == 401, (route, response.text[:200])
            assert 'error="invalid_token"' in response.headers["www-authenticate"]


async def test_nested_json_elsewhere_is_never_a_500(client) -> None:  # type: ignore[no-untyped-def]
    nested = _b64(b"[" * 3000) + ".e30.x"
    nested_payload = _b64json({"alg": "RS256"}) + "." + _b64(b"[" * 3000) + ".x"
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


# --- 3. private_key_jwt: exp, iat, nbf; registered jwks -------------------------------------------


@pytest.fixture
async def pkjwt(client):  # type: ignore[no-untyped-def]
    key = generate_private_jwk("ES256")
    created = await _register(
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


async def test_client_assertion_good_exp_is_accepted(client, pkjwt) -> None:  # type: ignore[no-untyped-def]
    response = await _client_credentials(client, _assertion(pkjwt))
    assert response.status_code == 200, response.text


class FromNow:
    """A time claim ``offset`` seconds from when the test runs (not from collection, which may be long before)."""

    def __init__(self, offset: int, kind: type = int) -> None:
        self.offset, self.kind = offset, kind

    def resolve(self) -> object:
        return self.kind(int(time.time()) + self.offset)

    def __repr__(self) -> str:
        return f"now{self.offset:+d}"


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
    response = await _register(
        client, token_endpoint_auth_method="private_key_jwt", jwks=jwks, grant_types=["client_credentials"]
    )
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "invalid_client_metadata"


async def test_private_keys_are_refused_in_jwks(client) -> None:  # type: ignore[no-untyped-def]
    response = await _register(
        client,
        token_endpoint_auth_method="private_key_jwt",
        jwks={"keys": [generate_private_jwk("ES256")]},
        grant_types=["client_credentials"],
    )
    assert response.status_code == 400 and response.json()["error"] == "invalid_client_metadata"


async def test_a_stored_bad_jwks_is_a_401_not_a_500(client, session, pkjwt) -> None:  # type: ignore[no-untyped-def]
    # a row registered before the check existed: every key fails to import, one verifies
    row = await session.get(Client, "pkjwt-sec")
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


# --- 4. logout redirects --------------------------------------------------------------------------


async def test_logout_does_not_redirect_on_a_bare_client_id(client) -> None:  # type: ignore[no-untyped-def]
    created = await _register(
        client,
        client_id="evil-rp",
        redirect_uris=["https://evil.example/cb"],
        post_logout_redirect_uris=["https://evil.example/"],
    )
    assert created.status_code == 201
    params = {"client_id": "evil-rp", "post_logout_redirect_uri": "https://evil.example/", "state": "x"}
    get = await client.get(OIDC + "/logout", params=params)
    assert get.status_code == 200 and "location" not in get.headers
    post = await client.post(OIDC + "/logout", data=params)
    assert post.status_code == 200 and "location" not in post.headers and "déconnecté" in post.text


async def test_logout_hint_of_another_client_does_not_open_its_uris(client) -> None:  # type: ignore[no-untyped-def]
    await _register(client, client_id="evil-rp", post_logout_redirect_uris=["https://evil.example/"])
    tokens = await token_response_for(client, GP)  # the public client's id_token
    response = await client.get(
        OIDC + "/logout",
        params={"id_token_hint": tokens["id_token"], "post_logout_redirect_uri": "https://evil.example/"},
    )
    assert response.status_code == 200 and "location" not in response.headers
    # a redirect URI (not a post-logout one) is not a logout target either
    tokens = await token_response_for(client, GP)
    response = await client.get(
        OIDC + "/logout", params={"id_token_hint": tokens["id_token"], "post_logout_redirect_uri": REDIRECT_URI}
    )
    assert response.status_code == 200 and "location" not in response.headers


async def test_cross_site_get_logout_needs_confirmation(client) -> None:  # type: ignore[no-untyped-def]
    tokens = await token_response_for(client, GP)  # leaves the PSC_SESSION cookie in the client
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
    page = await client.get(OIDC + "/logout")
    assert page.status_code == 200 and 'method="post"' in page.text
    assert (await client.get("/psc/v1/me", headers=bearer)).status_code == 200  # still logged in
    confirmed = await client.post(OIDC + "/logout", data={})
    assert confirmed.status_code == 200 and "déconnecté" in confirmed.text
    assert (await client.get("/psc/v1/me", headers=bearer)).status_code == 401


# --- 5. max_age -----------------------------------------------------------------------------------


@pytest.mark.parametrize("max_age", ["²", "٣", "9" * 5000, "-1", "1.5", " 1", "1\n"])
async def test_bad_max_age_is_invalid_request(client, max_age: str) -> None:  # type: ignore[no-untyped-def]
    await token_response_for(client, GP)  # a live session: max_age is only read with one
    response = await client.get("/auth", params=_authorize_params(max_age=max_age))
    assert response.status_code == 302, response.text[:300]
    query = parse_qs(urlsplit(response.headers["location"]).query)
    assert query["error"] == ["invalid_request"]


async def test_good_max_age_still_works(client) -> None:  # type: ignore[no-untyped-def]
    await token_response_for(client, GP)
    response = await client.get("/auth", params=_authorize_params(max_age="3600"))
    assert response.status_code == 302 and "code" in parse_qs(urlsplit(response.headers["location"]).query)


# --- 6. NUL in the session cookie -----------------------------------------------------------------


@pytest.mark.parametrize("cookie", ['PSC_SESSION="\\000abc"', "PSC_SESSION=" + "a" * 300])
async def test_odd_session_cookie_on_logout(client, cookie: str) -> None:  # type: ignore[no-untyped-def]
    client.cookies.clear()
    get = await client.get(OIDC + "/logout", headers={"Cookie": cookie})
    assert get.status_code == 200
    post = await client.post(OIDC + "/logout", headers={"Cookie": cookie}, data={})
    assert post.status_code == 200 and "déconnecté" in post.text
    authorize = await client.get("/auth", params=_authorize_params(prompt="none"), headers={"Cookie": cookie})
    assert authorize.status_code == 302


# --- 7. lengths of stored parameters --------------------------------------------------------------


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


@pytest.mark.parametrize(
    ("name", "value"), [("nonce", "n" * 600), ("acr_values", "x" * 300), ("scope", "openid " * 400)]
)
async def test_authorize_over_long_parameters(client, name: str, value: str) -> None:  # type: ignore[no-untyped-def]
    response = await client.get("/auth", params=_authorize_params(login_hint=GP, **{name: value}))
    assert response.status_code == 302
    query = parse_qs(urlsplit(response.headers["location"]).query)
    assert query["error"] == ["invalid_request"] and name in query["error_description"][0]


async def test_over_long_professional_names(client) -> None:  # type: ignore[no-untyped-def]
    for data in (
        {"SubjectNameID": "ANS-LONG-1", "given_name": "A" * 300, "family_name": "B"},
        {"SubjectNameID": "ANS-LONG-2", "given_name": "A", "family_name": "B" * 300},
        {
            "SubjectNameID": "ANS-LONG-3",
            "given_name": "A",
            "family_name": "B",
            "SubjectRefPro": {"exercices": [{"codeProfession": "1" * 20, "activities": []}]},
        },
    ):
        response = await client.post("/sandbox/v1/professionals", json=data)
        assert response.status_code == 422, response.text


# --- 8. key ring reloads --------------------------------------------------------------------------


async def test_unknown_kids_and_certs_do_not_reload_the_key_ring(fast_paths, client, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    assert (await client.get(OIDC + "/certs")).status_code == 200  # the ring is loaded (and now fresh)
    builds: list[int] = []
    real_build = KeyRing.build.__func__  # type: ignore[attr-defined]

    def counting(cls, stored):  # type: ignore[no-untyped-def]
        builds.append(1)
        return real_build(cls, stored)

    monkeypatch.setattr(KeyRing, "build", classmethod(counting))
    for i in range(5):
        token = _b64json({"alg": "RS256", "kid": f"unknown-{i}"}) + ".e30.eA"
        response = await client.get("/psc/v1/me", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401
    for _ in range(5):
        assert (await client.get(OIDC + "/certs")).status_code == 200
    assert len(builds) <= 1, len(builds)
    # a ring older than the interval is reloaded on an unknown kid (rotation by another worker)
    for cached in signing.RINGS.values():
        cached.loaded_at -= signing.UNKNOWN_KID_RELOAD_INTERVAL + 1
    before = len(builds)
    token = _b64json({"alg": "RS256", "kid": "unknown-late"}) + ".e30.eA"
    assert (await client.get("/psc/v1/me", headers={"Authorization": f"Bearer {token}"})).status_code == 401
    assert len(builds) == before + 1


# --- 5 (same pattern): a "$"-anchored PKCE pattern let a final newline through -------------------


async def test_code_challenge_with_a_final_newline_is_refused(client) -> None:  # type: ignore[no-untyped-def]
    response = await client.get(
        "/auth", params=_authorize_params(login_hint=GP, code_challenge="A" * 43 + "\n", code_challenge_method="plain")
    )
    assert response.status_code == 302
    query = parse_qs(urlsplit(response.headers["location"]).query)
    assert query["error"] == ["invalid_request"] and "code" not in query
