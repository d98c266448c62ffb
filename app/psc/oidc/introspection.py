"""Token introspection (RFC 7662) and revocation (RFC 7009), for authenticated clients."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from app.api.deps import SessionDep, SettingsDep
from app.faults import rules as fault_rules
from app.faults import service as faults
from app.psc.exceptions import InvalidRequest
from app.psc.oidc.http import NO_STORE, OIDC, AnyClientForm, ConfidentialClientForm, json_response
from app.psc.revocation import revoke_token
from app.psc.verification import introspect as introspect_token

router = APIRouter(tags=["psc"])


@router.post(OIDC + "/token/introspect", summary="Token introspection (RFC 7662)", operation_id="psc_introspect")
async def introspect(request: Request, session: SessionDep, settings: SettingsDep,
                     caller: ConfidentialClientForm) -> Response:
    if not caller.form.get("token"):
        raise InvalidRequest("token is required", rule="PSC:introspect.missing")
    # fault injection (/sandbox/v1/faults): 503, or the token treated as expired / revoked: RFC 7662 §2.2
    # answers any token that is not active with {"active": false}
    injection = await faults.check(request, "psc.introspect", actor=f"psc:{caller.client.client_id}")
    if injection is not None:
        if injection.kind in (fault_rules.EXPIRED_TOKEN, fault_rules.REVOKED_TOKEN):
            return json_response({"active": False})
        raise faults.unavailable(injection)
    return json_response(await introspect_token(session, settings, token=caller.form["token"]))


@router.post(OIDC + "/revoke", summary="Token revocation (RFC 7009)", operation_id="psc_revoke")
async def revoke(session: SessionDep, settings: SettingsDep, caller: AnyClientForm) -> Response:
    if not caller.form.get("token"):
        raise InvalidRequest("token is required", rule="PSC:revoke.missing")
    await revoke_token(session, settings, client=caller.client, token=caller.form["token"])
    return Response(status_code=200, headers=NO_STORE)
