"""The console's Pro Santé Connect page: clients (and a form creating one), professionals, login sessions and
CIBA requests (the pending ones approved or denied here, as the e-CPS app would). Every change goes through
the PSC service functions the control API calls."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import FormData

from app.api.deps import SessionDep
from app.api.journal import note_refusal
from app.console.access import check_csrf, require_sign_in
from app.console.pages import HEADERS, ConsoleRoute, error_page, render
from app.db import as_utc, utcnow
from app.psc import service as psc_service
from app.tenancy import tenant_path

router = APIRouter(prefix="/console/psc", route_class=ConsoleRoute, include_in_schema=False,
                   dependencies=[Depends(require_sign_in)])

GRANT_TYPES = ("authorization_code", "refresh_token", "client_credentials",
               "urn:openid:params:grant-type:ciba")
AUTH_METHODS = ("client_secret_basic", "client_secret_post", "none", "private_key_jwt")


async def _page(request: Request, session: AsyncSession, *, created: dict[str, Any] | None = None,
                error: str | None = None, form: dict[str, Any] | None = None, status_code: int = 200) -> Response:
    now = utcnow()
    ciba = await psc_service.list_ciba(session)
    return render(request, "psc.html", {
        "page": "psc", "clients": await psc_service.list_clients(session),
        "professionals": await psc_service.list_professionals(session),
        "sessions": await psc_service.list_sessions(session), "now": now, "as_utc": as_utc,
        "pending": [c for c in ciba if c.status == "pending" and as_utc(c.expires_at) > now],
        "decided": [c for c in ciba if not (c.status == "pending" and as_utc(c.expires_at) > now)],
        "grant_types": GRANT_TYPES, "auth_methods": AUTH_METHODS, "created": created, "error": error,
        "form": form or {"grant_types": ["authorization_code", "refresh_token"],
                         "token_endpoint_auth_method": "client_secret_basic"},
    }, status_code=status_code)


@router.get("", name="console_psc")
async def psc_page(request: Request, session: SessionDep) -> Response:
    return await _page(request, session)


def client_metadata(form: FormData) -> dict[str, Any]:
    """RFC 7591 client metadata from the form's fields (empty fields left out: the service's defaults apply)."""
    data: dict[str, Any] = {
        "grant_types": [g for g in form.getlist("grant_types") if isinstance(g, str)],
        "token_endpoint_auth_method": form.get("token_endpoint_auth_method") or "client_secret_basic",
        "redirect_uris": [line.strip() for line in str(form.get("redirect_uris") or "").splitlines() if line.strip()],
        "require_pkce": form.get("require_pkce") == "on",
    }
    for name in ("client_id", "client_name", "client_secret", "scope"):
        value = str(form.get(name) or "").strip()
        if value:
            data[name] = value
    if "urn:openid:params:grant-type:ciba" in data["grant_types"]:
        data["backchannel_token_delivery_mode"] = "poll"
    return data


@router.post("/clients", name="console_psc_create_client")
async def create_client(request: Request, session: SessionDep,
                        form: FormData = Depends(check_csrf)) -> Response:  # noqa: B008
    data = client_metadata(form)
    try:
        metadata = psc_service.ClientCreate.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        note_refusal(request, rule="platform:request-validation", detail=problems, status=422)
        return await _page(request, session, error=problems, form=data, status_code=422)
    try:
        created = await psc_service.create_client(session, data=metadata)
    except psc_service.ControlRefusal as exc:
        note_refusal(request, rule=exc.rule, detail=exc.description, status=400)
        await session.rollback()
        return await _page(request, session, error=f"{exc.description} ({exc.rule})", form=data, status_code=400)
    return await _page(request, session, created=created, status_code=201)


@router.post("/ciba/{auth_req_id}", name="console_psc_decide_ciba")
async def decide_ciba(request: Request, auth_req_id: str, session: SessionDep,
                      form: FormData = Depends(check_csrf)) -> Response:  # noqa: B008
    if form.get("action") not in ("approve", "deny"):
        return error_page(request, 400, "action must be approve or deny", "console:ciba-action")
    await psc_service.decide_ciba(session, auth_req_id=auth_req_id, approve=form.get("action") == "approve")
    return RedirectResponse(tenant_path("/console/psc#ciba"), status_code=303, headers=HEADERS)
