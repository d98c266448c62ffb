"""The PSC token and userinfo endpoints dispatched beside FastAPI's router (app.api.hotpaths) answer exactly as
through the router: the same statuses, headers, bodies, tokens and journal entries, request by request, success
and refusals alike (issue 16). ``both_paths``: one app with the fast paths, one without, on the same store."""

from __future__ import annotations

import base64
from typing import Any

import httpx
import pytest
from fastapi import APIRouter
from joserfc import jwt

from app.api.hotpaths import HotPathMiddleware
from app.api.middleware import RequestContextMiddleware
from tests.psc.helpers import (
    CONFIDENTIAL_CLIENT,
    CONFIDENTIAL_SECRET,
    GP,
    OIDC,
    TOKEN,
    access_token_for,
    jwks_of,
    jwt_claims,
)

BASIC = "Basic " + base64.b64encode(f"{CONFIDENTIAL_CLIENT}:{CONFIDENTIAL_SECRET}".encode()).decode()
WRONG = "Basic " + base64.b64encode(f"{CONFIDENTIAL_CLIENT}:not-the-secret".encode()).decode()
FORM = {"content-type": "application/x-www-form-urlencoded"}
VARYING_CLAIMS = {"iat", "exp", "jti", "auth_time", "nbf"}


def _token_requests(userinfo_token: str) -> list[tuple[str, str, dict[str, str], bytes]]:
    bearer = {"authorization": f"Bearer {userinfo_token}"}
    return [
        ("POST", TOKEN, {"authorization": BASIC, **FORM}, b"grant_type=client_credentials&scope=profile%20email"),
        ("POST", TOKEN, {"authorization": BASIC, **FORM}, b"grant_type=client_credentials"),
        ("POST", TOKEN, {**FORM}, f"grant_type=client_credentials&client_id={CONFIDENTIAL_CLIENT}"
                                  f"&client_secret={CONFIDENTIAL_SECRET}".encode()),
        ("POST", TOKEN, {"authorization": BASIC, **FORM}, b""),  # no grant_type
        ("POST", TOKEN, {"authorization": BASIC, **FORM}, b"grant_type=password"),
        ("POST", TOKEN, {"authorization": WRONG, **FORM}, b"grant_type=client_credentials"),
        ("POST", TOKEN, {"authorization": BASIC, "content-type": "application/json"}, b'{"grant_type": 1}'),
        ("POST", TOKEN, {"authorization": BASIC, **FORM}, b"grant_type=client_credentials&scope=a%00b"),
        # a field over python-multipart's 1 MB: Starlette's HTTPException, rendered by the application's handler
        ("POST", TOKEN, {"authorization": BASIC, **FORM}, b"grant_type=client_credentials&x=" + b"y" * 1_100_000),
        ("POST", TOKEN, {"authorization": BASIC, **FORM}, b"x=" + b"y" * (21 * 1024 * 1024)),  # over the body limit
        ("POST", TOKEN, {"authorization": BASIC, **FORM}, b"grant_type=authorization_code&code=nope"),
        # the form read as Starlette reads it: empty fields, a name without "=", "+" and escapes, Latin-1 bytes,
        # a repeated name (the last wins), a bad escape, too many fields, the media type's exact name
        ("POST", TOKEN, {"authorization": BASIC, **FORM},
         b"&&scope=profile+%65mail&grant_type=client_credentials&=&flag&x=%ZZ%C3%A9\xe9;y=1&scope=email&&"),
        ("POST", TOKEN, {"authorization": BASIC, **FORM},
         b"grant_type=authorization_code&code=%E2%82%AC+\xff&redirect_uri=a=b"),
        ("POST", TOKEN, {"authorization": BASIC, **FORM}, b"grant_type=client_credentials;scope=email"),
        ("POST", TOKEN, {"authorization": BASIC, **FORM}, b"grant_type=client_credentials" + b"&a=1" * 1000),
        ("POST", TOKEN, {"authorization": BASIC, "content-type": "application/x-www-form-urlencoded; charset=utf-8"},
         b"grant_type=client_credentials"),
        ("POST", TOKEN, {"authorization": BASIC, "content-type": "application/x-www-form-urlencodedx"},
         b"grant_type=client_credentials"),
        ("GET", TOKEN, {}, b""),  # not a hot method: the router's 405 either way
        ("POST", TOKEN + "/", {"authorization": BASIC, **FORM}, b"grant_type=client_credentials"),
        ("GET", OIDC + "/userinfo", bearer, b""),
        ("POST", OIDC + "/userinfo", bearer, b""),
        ("GET", OIDC + "/userinfo", {}, b""),
        ("GET", OIDC + "/userinfo", {"authorization": "Bearer not.a.token"}, b""),
        ("GET", OIDC + "/userinfo", {"authorization": f"Bearer {userinfo_token[:-4]}AAAA"}, b""),
        ("DELETE", OIDC + "/userinfo", bearer, b""),
    ]


def _comparable(response: httpx.Response) -> tuple[Any, ...]:
    """What must be the same on both paths: status, the headers a client reads, and the body — JSON without its
    request id, a token's claims without the instants and ids that differ from one issue to the next."""
    body: Any = response.content
    if response.headers.get("content-type", "").startswith(("application/json", "application/problem+json")):
        body = response.json()
        if isinstance(body, dict):
            body.pop("request_id", None)
            if "access_token" in body:
                claims = jwt_claims(body.pop("access_token"))
                body["access_token_claims"] = {k: v for k, v in claims.items() if k not in VARYING_CLAIMS}
    headers = {name: response.headers.get(name) for name in (
        "content-type", "cache-control", "pragma", "www-authenticate", "allow")}
    return response.status_code, headers, body


async def test_token_and_userinfo_answer_the_same_beside_the_router(both_paths: dict[bool, httpx.AsyncClient]) -> None:
    access = await access_token_for(both_paths[False], GP)
    answers: dict[bool, list[tuple[Any, ...]]] = {}
    journal: dict[bool, list[dict[str, Any]]] = {}
    keys = ("method", "path", "operation", "status", "outcome", "rule", "actor", "service", "facts")
    for fast, http in both_paths.items():
        answers[fast], journal[fast] = [], []
        for index, (method, path, headers, body) in enumerate(_token_requests(access)):
            request_id = f"hot-paths-{fast}-{index}"
            response = await http.request(method, path, headers={**headers, "x-request-id": request_id},
                                          content=body)
            answers[fast].append(_comparable(response))
            # each app's journal holds its own requests (read through it: its pending rows are written first)
            page = (await http.get("/sandbox/v1/journal", params={"request_id": request_id})).json()
            assert page["total"] == 1, (fast, index, page)
            journal[fast].append({k: page["entries"][0][k] for k in keys})
    for index, (fast, plain) in enumerate(zip(answers[True], answers[False], strict=True)):
        assert fast == plain, (index, fast, plain)
    # and the tokens signed beside the loop verify with the published keys
    token = (await both_paths[True].post(TOKEN, headers={"authorization": BASIC, **FORM},
                                         content=b"grant_type=client_credentials")).json()["access_token"]
    assert jwt.decode(token, await jwks_of(both_paths[True]), algorithms=["RS256"]).claims["azp"] == CONFIDENTIAL_CLIENT
    statuses = [answer[0] for answer in answers[True]]
    assert statuses == [200, 200, 200, 400, 400, 401, 400, 400, 400, 413, 400, 200, 400, 400, 400, 200, 400,
                        405, 307, 200, 200, 401, 401, 401, 405]
    # the journal names the same operation, outcome, rule, actor and facts for each request
    for index, (fast, plain) in enumerate(zip(journal[True], journal[False], strict=True)):
        assert fast == plain, (index, fast, plain)
    assert journal[True][0]["operation"] == "psc_token" and journal[True][19]["operation"] == "psc_userinfo"


def test_the_hot_routes_are_the_ones_the_domains_name(app, client) -> None:  # type: ignore[no-untyped-def]
    """One middleware, inside the request context and outside the router, holds PSC's three hot routes and
    INSi's two; with fast paths off it passes every request on (compared above)."""
    layers = []
    layer = app.middleware_stack
    while layer is not None:
        layers.append(layer)
        layer = getattr(layer, "app", None)
    hot = [layer for layer in layers if isinstance(layer, HotPathMiddleware)]
    assert len(hot) == 1
    assert sorted(hot[0].routes) == [("GET", OIDC + "/userinfo"), ("POST", OIDC + "/token"),
                                     ("POST", OIDC + "/userinfo"), ("POST", "/insi/v1/search-traits"), ("POST", "/lps")]
    assert isinstance(layers[layers.index(hot[0]) - 1], RequestContextMiddleware)
    assert not any(isinstance(layer, APIRouter) for layer in layers[:layers.index(hot[0])])


@pytest.mark.parametrize("tenant_prefix", ["", "/t/hot"])
async def test_a_token_beside_the_router_in_a_tenant(client: httpx.AsyncClient, tenant_prefix: str) -> None:
    """The tenant prefix is stripped outside: a tenant's token is issued by the hot path with its issuer."""
    if tenant_prefix:
        assert (await client.post("/sandbox/v1/tenants", json={"name": "hot"})).status_code == 201
    response = await client.post(tenant_prefix + TOKEN, headers={"authorization": BASIC, **FORM},
                                 content=b"grant_type=client_credentials")
    assert response.status_code == 200, response.text
    claims = jwt_claims(response.json()["access_token"])
    assert claims["iss"] == "http://sandbox.test" + tenant_prefix + "/auth/realms/esante-wallet"


@pytest.mark.parametrize("body", [
    {"access_token": "a.b.c", "expires_in": 300, "refresh_expires_in": 0, "token_type": "Bearer",
     "not-before-policy": 0, "scope": "profile email"},
    {"error": "invalid_grant", "error_description": "Code « périmé » \u2028 \x01 \"quoted\" \\ 😀", "n": None,
     "ok": True, "list": [1, 2.5, {"k": []}]},
])
def test_the_oidc_json_answers_are_starlettes_bytes(body: dict[str, Any]) -> None:
    """json_response writes with orjson on both paths: the bytes of Starlette's JSONResponse, and its headers."""
    from starlette.responses import JSONResponse

    from app.psc.oidc.http import NO_STORE, json_response

    ours, theirs = json_response(body, 400), JSONResponse(body, status_code=400, headers=NO_STORE)
    assert ours.body == theirs.body
    assert (ours.status_code, ours.headers.items()) == (theirs.status_code, theirs.headers.items())
