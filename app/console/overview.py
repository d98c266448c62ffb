"""The console's front page (``/``: what runs, the store, the URLs a vendor sets, the test professionals and
patients) and its sign-in form (``/console/login``, when ``SEGUR_CONTROL_TOKEN`` is set)."""

from __future__ import annotations

import hmac
import time
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.engine import make_url
from starlette.datastructures import FormData

from app.api.deps import SessionDep, SettingsDep
from app.api.journal import note_refusal
from app.config import Settings
from app.console.access import SESSION_COOKIE, check_csrf, cookie_options, require_sign_in, session_value, token_of
from app.console.pages import HEADERS, ConsoleRoute, render
from app.ins import service as ins_service
from app.mss import service as mss_service
from app.psc import service as psc_service

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
    """(service, what, value) of every URL and address a vendor's software is given."""
    base = settings.public_base_url
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
        "professionals": [(p, per_mailbox.get(p.subject_name_id)) for p in professionals],
        "persons": [p for p in persons if p.ins_actif is not None], "patients_shown": PATIENTS_SHOWN,
    })


def _safe_next(value: object) -> str:
    """Only a path of this site (never ``//host`` or a scheme): no open redirect after sign-in."""
    if isinstance(value, str) and value.startswith("/") and not value.startswith(("//", "/\\")):
        return value
    return "/"


@open_router.get("/console/login", name="console_login")
async def login_form(request: Request) -> Response:
    if token_of(request) is None:
        return RedirectResponse("/", status_code=303, headers=HEADERS)
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
    response = RedirectResponse("/console/login" if token_of(request) else "/", status_code=303, headers=HEADERS)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
