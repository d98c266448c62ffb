"""Token introspection (RFC 7662) and revocation (RFC 7009), for authenticated clients."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from app.api.deps import SessionDep, SettingsDep
from app.psc.clients import authenticate_client
from app.psc.exceptions import InvalidRequest
from app.psc.oidc.http import NO_STORE, OIDC, AuthorizationHeader, json_response, read_form
from app.psc.revocation import revoke_token
from app.psc.verification import introspect as introspect_token

router = APIRouter(tags=["psc"])


@router.post(OIDC + "/token/introspect", summary="Token introspection (RFC 7662)", operation_id="psc_introspect")
async def introspect(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    authorization: AuthorizationHeader = None,
) -> JSONResponse:
    form = await read_form(request)
    await authenticate_client(session, settings, authorization=authorization, form=form, allow_public=False)
    if not form.get("token"):
        raise InvalidRequest("token is required", rule="PSC:introspect.missing")
    return json_response(await introspect_token(session, settings, token=form["token"]))


@router.post(OIDC + "/revoke", summary="Token revocation (RFC 7009)", operation_id="psc_revoke")
async def revoke(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    authorization: AuthorizationHeader = None,
) -> Response:
    form = await read_form(request)
    client = await authenticate_client(session, settings, authorization=authorization, form=form)
    if not form.get("token"):
        raise InvalidRequest("token is required", rule="PSC:revoke.missing")
    await revoke_token(session, settings, client=client, token=form["token"])
    return Response(status_code=200, headers=NO_STORE)
