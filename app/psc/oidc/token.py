"""The token endpoint (RFC 6749 §3.2): client authentication, then the grant named by ``grant_type``
(:mod:`app.psc.grants`), answered as Keycloak does (psc.md §5).

The hot path of the sandbox (client_credentials at thousands per second): no dependency machinery, and on
the fast path a session that touches the store only if the grant needs it (:func:`token_session`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.ext.asyncio import AsyncSession

from app.api.journal import note_facts
from app.db import LazySession
from app.faults import service as faults
from app.psc.clients import ClientLike, authenticate_client, require_grant
from app.psc.exceptions import InvalidRequest, OAuthRefusal, UnsupportedGrantType
from app.psc.grants import GRANT_CIBA
from app.psc.grants.authorization_code import exchange_code
from app.psc.grants.ciba import poll_ciba
from app.psc.grants.client_credentials import issue_client_credentials
from app.psc.grants.refresh_token import rotate_refresh
from app.psc.oidc.http import OIDC, json_response, read_form

router = APIRouter(tags=["psc"])
Form = Mapping[str, str]


def token_session(request: Request) -> LazySession | AsyncSession:
    """The token endpoint's session. Fast path: a :class:`LazySession`, opened on first use (a
    client_credentials grant answered from memory opens none). Plain path (``settings.fast_paths``
    false): a session opened now."""
    factory = request.app.state.sessionmaker
    return LazySession(factory) if request.app.state.settings.fast_paths else factory()


@router.post(
    OIDC + "/token",
    summary="Token endpoint",
    operation_id="psc_token",
    description="Grants: authorization_code (+PKCE), refresh_token (rotated), client_credentials, "
    "urn:openid:params:grant-type:ciba (poll). Client authentication: client_secret_basic, "
    "client_secret_post, private_key_jwt, or none for public clients.",
)
async def token(request: Request) -> Response:
    # Same transaction contract as SessionDep: commit before answering, roll back on error; but a refusal
    # whose effects must stay (a replay's revocations, a CIBA poll time) is committed first.
    settings = request.app.state.settings
    authorization = request.headers.get("authorization")
    session = token_session(request)
    try:
        response = await _token(request, session, settings, authorization)
    except OAuthRefusal as exc:
        await (session.commit() if exc.commit else session.rollback())
        raise
    except BaseException:
        await session.rollback()
        raise
    else:
        await session.commit()
    finally:
        await session.close()
    return response


async def _token(request: Request, session: Any, settings: Any, authorization: str | None) -> Response:
    form = await read_form(request)
    grant_type = form.get("grant_type") or ""
    grant = GRANTS.get(grant_type)
    if grant is None:
        if not grant_type:
            raise InvalidRequest("grant_type is required", rule="PSC:token.grant_type")
        raise UnsupportedGrantType(f"grant_type {grant_type!r} is not supported", rule="PSC:token.grant_type")
    client = await authenticate_client(
        session, settings, authorization=authorization, form=form, allow_public=grant.public_clients
    )
    require_grant(client, grant_type)
    # PSC Espace de Confiance FAQ: how the client authenticated at the token endpoint (conformance report)
    note_facts(request, actor=f"psc:{client.client_id}", grant_type=grant_type,
               client_auth=_auth_method(authorization, form))
    # fault injection (/sandbox/v1/faults): RFC 6749 §4.1.2.1 defines temporarily_unavailable for the
    # authorization endpoint only; the token endpoint answers it with HTTP 503, as Keycloak behind a gateway does
    injection = await faults.check(request, "psc.token")
    if injection is not None:
        raise faults.unavailable(injection)
    return json_response(await grant.answer(session, settings, client, form))


def _auth_method(authorization: str | None, form: Mapping[str, str]) -> str:
    """The client authentication the request used (OIDC Core §9 names), as the journal's facts say it."""
    if authorization is not None and authorization[:6].lower() == "basic ":
        return "client_secret_basic"
    if form.get("client_assertion"):
        return "private_key_jwt"
    return "client_secret_post" if form.get("client_secret") else "none"


# --- one translation per grant: the form's parameters to the grant's service call -------------------


async def _client_credentials(session: Any, settings: Any, client: ClientLike, form: Form) -> dict[str, Any]:
    return await issue_client_credentials(session, settings, client=client, scope=form.get("scope"))


async def _authorization_code(session: Any, settings: Any, client: ClientLike, form: Form) -> dict[str, Any]:
    if not form.get("code"):
        raise InvalidRequest("code is required", rule="PSC:code.missing")
    return await exchange_code(
        session,
        settings,
        client=client,
        code=form["code"],
        redirect_uri=form.get("redirect_uri"),
        code_verifier=form.get("code_verifier"),
    )


async def _refresh_token(session: Any, settings: Any, client: ClientLike, form: Form) -> dict[str, Any]:
    if not form.get("refresh_token"):
        raise InvalidRequest("refresh_token is required", rule="PSC:refresh.missing")
    return await rotate_refresh(
        session, settings, client=client, refresh_token=form["refresh_token"], scope=form.get("scope")
    )


async def _ciba(session: Any, settings: Any, client: ClientLike, form: Form) -> dict[str, Any]:
    if not form.get("auth_req_id"):
        raise InvalidRequest("auth_req_id is required", rule="PSC:ciba.missing")
    return await poll_ciba(session, settings, client=client, auth_req_id=form["auth_req_id"])


@dataclass(frozen=True)
class GrantFace:
    answer: Callable[[Any, Any, ClientLike, Form], Awaitable[dict[str, Any]]]
    public_clients: bool
    """Whether a public client (``token_endpoint_auth_method`` none) may use the grant."""


GRANTS = {
    "client_credentials": GrantFace(_client_credentials, public_clients=False),
    "authorization_code": GrantFace(_authorization_code, public_clients=True),
    "refresh_token": GrantFace(_refresh_token, public_clients=True),
    GRANT_CIBA: GrantFace(_ciba, public_clients=False),
}
