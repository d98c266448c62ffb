"""How the console answers: its Jinja2 templates (autoescaped), the headers of every page (a
Content-Security-Policy that loads nothing from elsewhere and runs only the console's own script), its error
page, and :class:`ConsoleRoute`, which turns a domain's refusal into that page instead of the domain's JSON."""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates

from app.api.journal import note_refusal
from app.console.access import (
    CSRF_COOKIE,
    CsrfRefused,
    NulRefused,
    SignInRequired,
    cookie_options,
    csrf_token,
    token_of,
)
from app.dmp import service as dmp_service
from app.ins import service as ins_service
from app.mss import service as mss_service
from app.psc import service as psc_service
from app.tenancy import DEFAULT_TENANT, current_tenant, tenant_path, tenant_prefix

HERE = Path(__file__).resolve().parent
templates = Jinja2Templates(directory=str(HERE / "templates"))
templates.env.filters["pretty"] = lambda value: json.dumps(value, indent=2, ensure_ascii=False, default=str)
# Every site-absolute path a page writes (links, forms, the script, polling URLs) starts with ``{{ prefix() }}``:
# the tenant's ``/t/{name}`` (app.tenancy), nothing for the default tenant. Called at render time, in the request.
templates.env.globals["prefix"] = tenant_prefix

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "object-src 'self'; frame-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
HEADERS = {"Content-Security-Policy": CSP, "X-Frame-Options": "DENY", "Cache-Control": "no-store",
           "Referrer-Policy": "same-origin"}

NAV = (
    ("/", "overview", "Vue d'ensemble"),
    ("/console/psc", "psc", "Pro Santé Connect"),
    ("/console/ins", "ins", "INS"),
    ("/console/dmp", "dmp", "DMP"),
    ("/console/mss", "mss", "MSSanté"),
    ("/console/faults", "faults", "Pannes"),
    ("/console/journal", "journal", "Journal"),
    ("/console/reports", "reports", "Rapports"),
)


def render(request: Request, name: str, context: dict[str, Any], *, status_code: int = 200) -> HTMLResponse:
    """A console page; sets the CSRF cookie when this browser had none."""
    tenant = current_tenant()
    values = {"csrf": csrf_token(request), "nav": NAV, "protected": token_of(request) is not None,
              "tenant": None if tenant == DEFAULT_TENANT else tenant, **context}
    response = templates.TemplateResponse(request, name, values, status_code=status_code, headers=HEADERS)
    fresh = getattr(request.state, "new_csrf", None)
    if fresh is not None:
        response.set_cookie(CSRF_COOKIE, fresh, **cookie_options(request))
    return response


def error_page(request: Request, status: int, message: str, rule: str | None) -> HTMLResponse:
    """The console's error page; the journal gets the rule and the message."""
    note_refusal(request, rule=rule, detail=message, status=status)
    return render(request, "error.html", {"page": None, "status": status, "message": message, "rule": rule},
                  status_code=status)


def render_generic(request: Request, status: int, message: str, rule: str | None) -> Response:
    """What the platform answers under ``/console`` for an unknown route, a wrong method, a bad form (its
    ``Domain.error_renderers``-style hook)."""
    return error_page(request, status, message, rule)


async def sign_in_required(request: Request, exc: SignInRequired) -> Response:
    note_refusal(request, rule="console:sign-in", detail="no console session", status=401)
    if request.method == "GET" and not request.url.path.startswith("/console/live/"):
        return RedirectResponse(tenant_path(f"/console/login?{_next(exc.next_path)}"), status_code=303,
                                headers=HEADERS)
    return render(request, "error.html", {"page": None, "status": 401, "rule": "console:sign-in",
                                          "message": "Connexion requise : saisissez le jeton SEGUR_CONTROL_TOKEN."},
                  status_code=401)


def _next(path: str) -> str:
    return urlencode({"next": path})


async def csrf_refused(request: Request, exc: CsrfRefused) -> Response:
    return error_page(request, 403, "Jeton CSRF absent ou invalide : rechargez la page et recommencez "
                      "(CSRF token missing or invalid).", "console:csrf")


async def nul_refused(request: Request, exc: NulRefused) -> Response:
    return error_page(request, 422, str(exc), "platform:nul-character")


DOMAIN_ERRORS: tuple[type[Exception], ...] = (
    psc_service.ControlRefusal, ins_service.InsError, dmp_service.DmpError, mss_service.MssError,
)


def status_of(exc: Exception) -> int:
    """The HTTP status of a domain refusal shown by the console: unknown things 404, collisions 409, else 400."""
    kind = getattr(getattr(exc, "kind", None), "name", "")
    name = type(exc).__name__
    rule = str(getattr(exc, "rule", ""))
    if kind == "NOT_FOUND" or name.startswith("Unknown") or name == "NotFound" or rule.endswith("unknown"):
        return 404
    if kind == "CONFLICT" or name.endswith(("Exists", "Decided", "Expired", "Conflict")):
        return 409
    return 400


def message_of(exc: Exception) -> str:
    french = getattr(exc, "french", None)
    return f"{french} — {exc}" if french else str(exc)


class ConsoleRoute(APIRoute):
    """A console route: a domain's refusal (after the request's session rolled back) is the console's error page,
    naming the rule, rather than the control API's problem JSON."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                return await handler(request)
            except DOMAIN_ERRORS as exc:
                return error_page(request, status_of(exc), message_of(exc), getattr(exc, "rule", None))

        return handle
