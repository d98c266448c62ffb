"""The userinfo endpoint (OIDC Core §5.3) in PSC's shape: the stored document as JSON, or a signed JWT for
a client registered with ``userinfo_signed_response_alg``.

A hot path: no dependency machinery; answered from this worker's memory when it can be
(:func:`app.psc.verification.userinfo_from_memory`, nothing on the plain path), else with a session."""

from __future__ import annotations

import json

from fastapi import APIRouter, Request
from fastapi.responses import Response

from app.api.journal import note_facts
from app.faults import service as faults
from app.psc import tokens
from app.psc.auth import bearer_token
from app.psc.exceptions import TokenError
from app.psc.oidc.errors import bearer_refusal
from app.psc.oidc.http import OIDC
from app.psc.realm import issuer
from app.psc.signing import get_keyring
from app.psc.verification import userinfo_for, userinfo_from_memory

router = APIRouter(tags=["psc"])


async def _userinfo_route(request: Request) -> Response:
    settings = request.app.state.settings
    token_value = bearer_token(request.headers.get("authorization"))  # none: the normal 401, no fault counted
    try:
        known = userinfo_from_memory(settings, token_value)
        if known is None:
            async with request.app.state.sessionmaker() as session:
                known = await userinfo_for(session, settings, token_value)
    except TokenError as exc:
        raise bearer_refusal(exc) from None
    info, claims = known
    # fault injection (/sandbox/v1/faults), once the token is verified: its client is the actor (psc:<azp>, as
    # the token endpoint names it), so a `client` restriction matches; a refused token keeps its real answer
    azp = claims.get("azp")
    actor = f"psc:{azp}" if isinstance(azp, str) and azp else None
    note_facts(request, actor=actor)
    injection = await faults.check(request, "psc.userinfo", actor=actor)
    if injection is not None:
        raise faults.refuse(injection)
    alg = claims["_client"].get("userinfo_signed_response_alg")
    if not alg:
        return Response(info, media_type="application/json")  # the stored JSON text, as is
    async with request.app.state.sessionmaker() as session:
        ring = await get_keyring(session, settings)
    body = {**json.loads(info), "iss": issuer(settings), "aud": azp}
    return Response(tokens.sign(ring, body, alg=alg), media_type="application/jwt")


@router.get(
    OIDC + "/userinfo", summary="Userinfo in PSC's shape (JSON, or JWT per client)", operation_id="psc_userinfo"
)
async def userinfo_get(request: Request) -> Response:
    return await _userinfo_route(request)


@router.post(OIDC + "/userinfo", summary="Userinfo (POST)", operation_id="psc_userinfo_post")
async def userinfo_post(request: Request) -> Response:
    return await _userinfo_route(request)
