"""The console's front page (``/``: what runs, the store, the URLs a vendor sets, the tenants, the test
professionals and patients), the tenants' forms (create, delete) and the sign-in form (``/console/login``, when
``SEGUR_CONTROL_TOKEN`` is set).

Every tenant has its console at ``/t/{tenant}/`` (app.tenancy): the same pages over its own world. The tenants'
forms call the control API's own functions (:mod:`app.api.tenants`), so a form does what
``POST``/``DELETE /sandbox/v1/tenants`` does, and is journaled like it."""

from __future__ import annotations

import hmac
import time
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import FormData

from app.api import tenants
from app.api.deps import SessionDep, SettingsDep
from app.api.errors import ProblemError
from app.api.journal import note_refusal
from app.api.models import Tenant
from app.api.urls import absolute_url
from app.config import Settings
from app.console.access import SESSION_COOKIE, check_csrf, cookie_options, require_sign_in, session_value, token_of
from app.console.pages import HEADERS, ConsoleRoute, error_page, render
from app.ins import service as ins_service
from app.mss import service as mss_service
from app.psc import service as psc_service
from app.tenancy import DEFAULT_TENANT, current_tenant, tenant_path

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False, dependencies=[Depends(require_sign_in)])
open_router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)

PATIENTS_SHOWN = 200


def store_text(settings: Settings) -> tuple[str, str]:
    """The store's engine and its URL without the password."""
    url = make_url(settings.database_url)
    return url.get_backend_name(), url.render_as_string(hide_password=True)


def listeners(state: Any, settings: Settings) -> list[dict[str, Any]]:
    """The listeners running now, with the ports they are bound to (an ephemeral port is known only once bound)."""
    rows: list[dict[str, Any]] = [{"name": "HTTP", "where": settings.public_base_url, "note": "API, console, /docs"}]
    smtp_host = settings.smtp_host
    imap_host = settings.mss_imap_host or settings.smtp_host
    for name, host, attribute, note in (
        ("SMTP", smtp_host, "smtp_port", "STARTTLS"), ("SMTPS", smtp_host, "smtps_port", "TLS implicite"),
        ("IMAP", imap_host, "imap_port", "STARTTLS"), ("IMAPS", imap_host, "imaps_port", "TLS implicite"),
    ):
        port = getattr(state, attribute, None)
        if port:
            rows.append({"name": name, "where": f"{host}:{port}", "note": note})
    return rows


def base_urls(state: Any, settings: Settings) -> list[tuple[str, str, str]]:
    """(service, what, value) of every URL and address a vendor's software is given, in the current tenant (its
    ``/t/{tenant}`` base URL; its mail logins ``<tenant>/<login>``)."""
    base = absolute_url(settings, "/").rstrip("/")
    issuer = psc_service.issuer(settings)
    smtp = getattr(state, "smtp_port", None) or settings.smtp_port
    imap = getattr(state, "imap_port", None)
    rows = [
        ("Pro Santé Connect", "issuer", issuer),
        ("Pro Santé Connect", "discovery", issuer + "/.well-known/openid-configuration"),
        ("Pro Santé Connect", "authorization endpoint", psc_service.authorize_url(settings)),
        ("Pro Santé Connect", "token endpoint", issuer + "/protocol/openid-connect/token"),
        ("INSi", "SOAP endpoint", base + "/lps"),
        ("INSi", "WSDL", base + "/lps?wsdl"),
        ("INSi", "JSON facade", base + "/insi/v1"),
        ("DMP", "FHIR (PDSm / MHD)", base + "/dmp/fhir"),
        ("DMP", "SOAP XDS.b registry", base + "/si-dmp-server/v2/services/registry"),
        ("DMP", "SOAP XDS.b repository", base + "/si-dmp-server/v2/services/repository"),
        ("DMP", "SOAP patients (TD0.2, TD1.1)", base + "/si-dmp-server/v2/services/patients"),
        ("MSSanté", "SMTP", f"{settings.smtp_host}:{smtp}"),
    ]
    tenant = current_tenant()
    if tenant != DEFAULT_TENANT:
        rows.append(("MSSanté", "login SMTP AUTH / IMAP", f"{tenant}/<login>"))
    if imap:
        rows.append(("MSSanté", "IMAP", f"{settings.mss_imap_host or settings.smtp_host}:{imap}"))
    rows += [
        ("MSSanté", "autoconfig", base + "/mail/config-v1.1.xml"),
        ("MSSanté", "API", base + "/mss/v1"),
        ("Annuaire Santé", "FHIR", base + "/fhir/v2"),
        ("Sandbox", "control API", base + "/sandbox/v1"),
        ("Sandbox", "OpenAPI", base + "/docs"),
    ]
    return rows


@router.get("/", name="overview")
async def overview(request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    professionals = await psc_service.list_professionals(session)
    mailboxes = await mss_service.list_mailboxes(session)
    per_mailbox = {m.owner_subject: m.address for m in mailboxes if m.type == "PER" and m.owner_subject}
    persons = await ins_service.list_persons(session, limit=PATIENTS_SHOWN)
    engine, store_url = store_text(settings)
    return render(request, "overview.html", {
        "page": "overview", "listeners": listeners(request.app.state, settings), "engine": engine,
        "store_url": store_url, "urls": base_urls(request.app.state, settings),
        "tenants": await tenant_rows(session, settings), "tenant_form": {}, "tenant_error": None,
        "professionals": [(p, per_mailbox.get(p.subject_name_id)) for p in professionals],
        "persons": [p for p in persons if p.ins_actif is not None], "patients_shown": PATIENTS_SHOWN,
    })


async def tenant_rows(session: AsyncSession, settings: Settings) -> list[dict[str, Any]]:
    """The tenants that exist, the default one first: name, console path, base URL, how it was seeded."""
    rows: list[dict[str, Any]] = [{"name": DEFAULT_TENANT, "console": "/", "base_url": settings.public_base_url,
                                   "seeded": "", "created_at": None, "deletable": False}]
    for row in (await session.scalars(select(Tenant).order_by(Tenant.name))).all():
        rows.append({"name": row.name, "console": tenant_path("/", row.name), "seeded": row.seeded,
                     "base_url": absolute_url(settings, "", tenant=row.name).rstrip("/"),
                     "created_at": row.created_at, "deletable": True})
    return rows


@router.post("/console/tenants", name="console_tenants_create")
async def create_tenant(request: Request, session: SessionDep, settings: SettingsDep,
                        form: FormData = Depends(check_csrf)) -> Response:  # noqa: B008
    """A new tenant (``POST /sandbox/v1/tenants``), seeded with the fixtures or empty; back to the overview."""
    fields = {"name": str(form.get("name") or "").strip()[:64], "seed": str(form.get("seed") or "fixtures")}
    try:
        body = tenants.TenantCreate.model_validate(fields)
        await tenants.create_tenant(request, Response(), session, settings, body)
    except ValidationError:
        return error_page(request, 422, "Amorçage inconnu : « fixtures » ou « empty » (seed is fixtures or empty).",
                          "sandbox:tenant-seed")
    except ProblemError as err:
        return error_page(request, err.status, err.detail, err.rule)
    return RedirectResponse(tenant_path("/#tenants"), status_code=303, headers=HEADERS)


@router.post("/console/tenants/delete", name="console_tenants_delete")
async def delete_tenant(request: Request, session: SessionDep,
                        form: FormData = Depends(check_csrf)) -> Response:  # noqa: B008
    """Delete a tenant and all its data (``DELETE /sandbox/v1/tenants/{name}``), once the box saying so is ticked;
    then the default tenant's overview (the console the form was in may be the one deleted)."""
    name = str(form.get("name") or "")[:64]
    if form.get("confirm") != "yes":
        return error_page(request, 400, f"Cochez la case de confirmation pour supprimer le tenant « {name} » et "
                          "toutes ses données (tick the confirmation box to delete).", "console:tenant-confirm")
    try:
        await tenants.delete_tenant(request, session, name)
    except ProblemError as err:
        return error_page(request, err.status, err.detail, err.rule)
    return RedirectResponse("/#tenants", status_code=303, headers=HEADERS)


def _safe_next(value: object) -> str:
    """Only a path of this site (never ``//host`` or a scheme): no open redirect after sign-in."""
    if isinstance(value, str) and value.startswith("/") and not value.startswith(("//", "/\\")):
        return value
    return tenant_path("/")


@open_router.get("/console/login", name="console_login")
async def login_form(request: Request) -> Response:
    if token_of(request) is None:
        return RedirectResponse(tenant_path("/"), status_code=303, headers=HEADERS)
    return render(request, "login.html", {"page": None, "next": _safe_next(request.query_params.get("next")),
                                          "error": None})


@open_router.post("/console/login", name="console_sign_in")
async def sign_in(request: Request, form: FormData = Depends(check_csrf)) -> Response:  # noqa: B008
    token = token_of(request)
    target = _safe_next(form.get("next"))
    if token is None:
        return RedirectResponse(target, status_code=303, headers=HEADERS)
    given = form.get("token")
    if not isinstance(given, str) or not hmac.compare_digest(given.strip().encode(), token.encode()):
        note_refusal(request, rule="console:sign-in", detail="wrong control token", status=401)
        return render(request, "login.html", {"page": None, "next": target,
                                              "error": "Jeton refusé (wrong token)."}, status_code=401)
    response = RedirectResponse(target, status_code=303, headers=HEADERS)
    response.set_cookie(SESSION_COOKIE, session_value(token, now=int(time.time())), **cookie_options(request))
    return response


@open_router.post("/console/logout", name="console_sign_out")
async def sign_out(request: Request, form: FormData = Depends(check_csrf)) -> Response:  # noqa: B008
    response = RedirectResponse(tenant_path("/console/login" if token_of(request) else "/"), status_code=303,
                                headers=HEADERS)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
