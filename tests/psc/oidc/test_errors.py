"""The OIDC face's error mapper (app/psc/oidc/errors.py) and the control API's (app/psc/control.py): every
domain error gets the status and shape the endpoints answered before the error model."""

from __future__ import annotations

import json

import httpx
import pytest
from starlette.requests import Request

from app.psc import exceptions
from app.psc.control import STATUS, control_refusal
from app.psc.exceptions import ControlRefusal, InvalidClient, InvalidClientMetadata, InvalidGrant, TokenError
from app.psc.oidc.errors import bearer_refusal, oauth_refusal


def _request(path: str) -> Request:
    return Request({"type": "http", "method": "POST", "path": path, "headers": [], "query_string": b""})


async def test_an_oauth_refusal_is_rfc6749_json_with_no_store() -> None:
    response = await oauth_refusal(_request("/auth/x"), InvalidGrant("unknown code", rule="PSC:code.unknown"))
    assert response.status_code == 400
    assert json.loads(response.body) == {"error": "invalid_grant", "error_description": "unknown code"}
    assert response.headers["cache-control"] == "no-store" and "www-authenticate" not in response.headers


@pytest.mark.parametrize("basic", [True, False])
async def test_invalid_client_is_a_401_challenging_basic_when_basic_was_tried(basic: bool) -> None:
    response = await oauth_refusal(_request("/auth/x"), InvalidClient("bad", rule="PSC:client.secret", basic=basic))
    assert response.status_code == 401
    assert json.loads(response.body)["error"] == "invalid_client"
    assert response.headers.get("www-authenticate") == ('Basic realm="esante-wallet"' if basic else None)


def test_a_refused_bearer_token_is_the_platforms_auth_error() -> None:
    error = bearer_refusal(TokenError("the token has been revoked", "PSC:token.revoked"))
    assert (error.status, error.description, error.rule, error.error) == (
        401, "the token has been revoked", "PSC:token.revoked", "invalid_token",
    )


def test_every_control_refusal_has_a_status() -> None:
    kinds = {cls for cls in vars(exceptions).values() if isinstance(cls, type) and issubclass(cls, ControlRefusal)}
    assert kinds - {ControlRefusal} == set(STATUS)


async def test_a_control_refusal_is_problem_json() -> None:
    response = await control_refusal(
        _request("/sandbox/v1/clients"), InvalidClientMetadata("jwks: bad", rule="PSC:client.jwks")
    )
    body = json.loads(response.body)
    assert response.status_code == 400 and response.media_type == "application/problem+json"
    assert body["type"] == "urn:ietf:params:oauth:error:invalid_client_metadata"
    assert (body["title"], body["detail"], body["rule"]) == ("Invalid client metadata", "jwks: bad", "PSC:client.jwks")
    assert (body["error"], body["error_description"]) == ("invalid_client_metadata", "jwks: bad")


@pytest.mark.parametrize(("path", "error_field"), [
    ("/auth/realms/esante-wallet/throwaway", "error"),  # OAuth shape
    ("/psc/throwaway", "detail"),  # RFC 9457 problem
])
async def test_a_token_error_nobody_caught_is_a_401_not_a_500(path: str, error_field: str) -> None:
    from fastapi import FastAPI

    from app.api.errors import install_exception_handlers
    from app.psc.domain import DOMAIN

    throwaway = FastAPI()
    install_exception_handlers(throwaway)
    for kind, handler in DOMAIN.exception_handlers.items():
        throwaway.add_exception_handler(kind, handler)

    @throwaway.get(path)
    async def forgot_to_catch() -> None:
        raise TokenError("the token has expired", "PSC:token.exp")

    transport = httpx.ASGITransport(app=throwaway, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://sandbox") as http:
        response = await http.get(path)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == (
        'Bearer realm="segur-sandbox", error="invalid_token", error_description="the token has expired"'
    )
    assert error_field in response.json()
    if error_field == "detail":
        assert response.json()["detail"] == "the token has expired" and response.json()["rule"] == "PSC:token.exp"
