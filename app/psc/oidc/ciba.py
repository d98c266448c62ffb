"""CIBA's backchannel authentication endpoint (CIBA Core §7, poll mode; PSC's CIBA page on
industriels.esante.gouv.fr). The tokens are polled at the token endpoint (:mod:`app.psc.grants.ciba`)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from app.api.deps import SessionDep, SettingsDep
from app.api.journal import note_facts
from app.psc.clients import granted_scope, require_grant
from app.psc.exceptions import InvalidRequest, InvalidScope
from app.psc.grants import GRANT_CIBA
from app.psc.grants.ciba import create_ciba_request
from app.psc.oidc.http import OIDC, PARAM_LIMITS, ConfidentialClientForm, json_response, too_long

router = APIRouter(tags=["psc"])


@router.post(
    OIDC + "/ext/ciba/auth", summary="CIBA backchannel authentication (poll mode)", operation_id="psc_ciba_auth"
)
async def ciba_auth(request: Request, session: SessionDep, settings: SettingsDep,
                    caller: ConfidentialClientForm) -> Response:
    """PSC: HTTP Basic client auth, form-encoded, poll mode only (industriels.esante.gouv.fr CIBA page)."""
    client, form = caller.client, caller.form
    # SC.PSC.08 (EX PSC 16), SC.PSC.01: what the conformance report checks of a CIBA request
    note_facts(request, actor=f"psc:{client.client_id}", flow="ciba", acr_values=form.get("acr_values"))
    require_grant(client, GRANT_CIBA)
    scope = form.get("scope", "")
    if "openid" not in scope.split():
        raise InvalidScope("CIBA requires the openid scope", rule="PSC:ciba.scope")
    granted = granted_scope(client, scope)
    overlong = too_long(form)
    if overlong is not None:
        raise InvalidRequest(f"{overlong} is longer than {PARAM_LIMITS[overlong]} characters", rule="PSC:form.length")
    if form.get("login_hint_token") or form.get("id_token_hint"):
        raise InvalidRequest("only login_hint (SubjectNameID) is supported", rule="PSC:ciba.hint")
    if not form.get("login_hint"):
        raise InvalidRequest("login_hint (SubjectNameID) is required", rule="PSC:ciba.hint")
    row = await create_ciba_request(
        session,
        settings,
        client=client,
        login_hint=form["login_hint"],
        scope=granted,
        binding_message=form.get("binding_message"),
        acr_values=form.get("acr_values"),
    )
    return json_response(
        {"auth_req_id": row.auth_req_id, "expires_in": settings.psc_ciba_expires_in, "interval": row.interval}
    )
