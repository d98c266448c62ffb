"""The HTML the OIDC face answers with: the login, confirmation, logout and error pages, and the answers
to the client's redirect URI (a 302, or the auto-submitting page of ``response_mode=form_post``). Every
page carries a Content-Security-Policy and refuses framing."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from app.api.journal import note_refusal
from app.psc.clients import redirect_origin
from app.psc.oidc.http import NO_STORE

templates = Jinja2Templates(directory=str(Path(__file__).resolve().parent.parent / "templates"))
# HTML pages load nothing from elsewhere; base.html has an inline <style>; forms post to this origin only.
PAGE_CSP = (
    "default-src 'self'; style-src 'self' 'unsafe-inline'; form-action 'self'; base-uri 'none'; "
    "frame-ancestors 'none'; object-src 'none'"
)


def page(
    request: Request,
    name: str,
    context: dict[str, Any],
    *,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
    csp: str = PAGE_CSP,
) -> HTMLResponse:
    """A template with a Content-Security-Policy (and no framing)."""
    all_headers = {**(headers or {}), "Content-Security-Policy": csp, "X-Frame-Options": "DENY"}
    return templates.TemplateResponse(request, name, context, status_code=status_code, headers=all_headers)


def error_page(request: Request, error: str, description: str, rule: str) -> HTMLResponse:
    """RFC 6749 §4.1.2.1: when the client or its redirect URI cannot be trusted, tell the user, not them."""
    note_refusal(request, rule=rule, detail=f"{error}: {description}", status=400)
    return page(request, "error.html", {"error": error, "description": description, "rule": rule}, status_code=400)


def redirect(request: Request, redirect_uri: str, mode: str, params: dict[str, str | None]) -> Response:
    """Back to the client: a 302 with ``params`` in the query, or (``form_post``) a page posting them."""
    values = [(k, v) for k, v in params.items() if v is not None]
    if mode == "form_post":
        # The auto-submitting page may post to the client's redirect URI only, and run only its own script.
        nonce = secrets.token_urlsafe(16)
        csp = (
            f"default-src 'none'; script-src 'nonce-{nonce}'; style-src 'unsafe-inline'; "
            f"form-action {redirect_origin(redirect_uri)}; base-uri 'none'; frame-ancestors 'none'"
        )
        return page(
            request,
            "form_post.html",
            {"redirect_uri": redirect_uri, "params": values, "csp_nonce": nonce},
            headers=NO_STORE,
            csp=csp,
        )
    separator = "&" if "?" in redirect_uri else "?"
    return RedirectResponse(redirect_uri + separator + urlencode(values), status_code=302, headers=NO_STORE)
