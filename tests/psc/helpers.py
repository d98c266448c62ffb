"""Test helpers other domains use to get PSC access tokens through the real flow."""

from __future__ import annotations

import base64
import json
import secrets
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from joserfc.jwk import KeySet

from app.psc import pkce

PUBLIC_CLIENT = "segur-sandbox-public"
CONFIDENTIAL_CLIENT = "segur-sandbox-confidential"
CONFIDENTIAL_SECRET = "segur-sandbox-secret"
REDIRECT_URI = "http://localhost:8080/callback"
REALM = "/auth/realms/esante-wallet"
OIDC = REALM + "/protocol/openid-connect"


async def token_response_for(
    client: httpx.AsyncClient,
    subject_name_id: str,
    *,
    client_id: str = PUBLIC_CLIENT,
    scope: str = "openid scope_all",
    nonce: str | None = None,
) -> dict:
    """Code flow with PKCE S256 and ``login_hint`` (no HTML): the whole token response."""
    verifier = secrets.token_urlsafe(48)
    state = secrets.token_urlsafe(8)
    params = {
        "client_id": client_id,
        "redirect_uri": REDIRECT_URI,
        "response_type": "code",
        "scope": scope,
        "state": state,
        "nonce": nonce or secrets.token_hex(16),
        "acr_values": "eidas1",
        "login_hint": subject_name_id,
        "code_challenge": pkce.s256(verifier),
        "code_challenge_method": "S256",
    }
    response = await client.get("/auth", params=params)
    assert response.status_code == 302, response.text
    query = parse_qs(urlsplit(response.headers["location"]).query)
    assert "code" in query, query
    assert query["state"] == [state]
    form = {
        "grant_type": "authorization_code",
        "code": query["code"][0],
        "redirect_uri": REDIRECT_URI,
        "code_verifier": verifier,
        "client_id": client_id,
    }
    auth = None
    if client_id == CONFIDENTIAL_CLIENT:
        auth = (CONFIDENTIAL_CLIENT, CONFIDENTIAL_SECRET)
        form.pop("client_id")
    answer = await client.post(OIDC + "/token", data=form, auth=auth)
    assert answer.status_code == 200, answer.text
    return answer.json()


async def access_token_for(
    client: httpx.AsyncClient,
    subject_name_id: str,
    *,
    client_id: str = PUBLIC_CLIENT,
    scope: str = "openid scope_all",
) -> str:
    """A PSC access token for ``subject_name_id`` ("8" + RPPS), through the non-interactive code flow."""
    return (await token_response_for(client, subject_name_id, client_id=client_id, scope=scope))["access_token"]


# --- what the PSC tests share ------------------------------------------------------------------------

GP = "810001000016"
"""A general practitioner of the fixtures (Claire Fontaine)."""
TOKEN = OIDC + "/token"
ISSUER = "http://sandbox.test" + REALM
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def jwt_header(token: str) -> dict:
    return json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))


def jwt_claims(token: str) -> dict:
    return json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def b64url_json(data: Any) -> str:
    return b64url(json.dumps(data).encode())


async def jwks_of(client: httpx.AsyncClient) -> KeySet:
    return KeySet.import_key_set((await client.get(OIDC + "/certs")).json())


async def register_client(client: httpx.AsyncClient, **metadata: Any) -> httpx.Response:
    return await client.post("/sandbox/v1/clients", json=metadata)


def authorize_params(**extra: str) -> dict[str, str]:
    """An authorization request of the confidential client, with ``extra`` parameters."""
    return {
        "client_id": "segur-sandbox-confidential",
        "redirect_uri": REDIRECT_URI,
        "response_type": "code",
        "scope": "openid scope_all",
        "state": "s1",
        **extra,
    }


async def answers_to_token(clients: dict[bool, httpx.AsyncClient], token: str) -> dict[bool, list[tuple[object, ...]]]:
    """What each path answers to ``token`` on the routes that check it (twice: the second time, the fast
    path answers from memory), the request id left out."""
    answers: dict[bool, list[tuple[object, ...]]] = {}
    for fast, http in clients.items():
        seen = []
        for _ in range(2):
            for path in (OIDC + "/userinfo", "/psc/v1/me"):
                response = await http.get(path, headers={"Authorization": f"Bearer {token}"})
                body = response.json()
                body.pop("request_id", None)
                seen.append((path, response.status_code, body, response.headers.get("www-authenticate")))
        answers[fast] = seen
    return answers
