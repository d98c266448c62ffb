"""Who may use the web console, and CSRF protection of its forms.

With ``SEGUR_CONTROL_TOKEN`` set, the console asks for the token once (a sign-in form) and keeps a session
cookie that never holds the token: ``<expiry>.<HMAC-SHA256(token, expiry)>``, verifiable by every worker with
no server-side state, and void as soon as the token changes. Without the setting the console is open, as the
control API is. Every form that changes state carries a CSRF token checked against a cookie of its own (the
double-submit pattern; both cookies ``HttpOnly``, ``SameSite=Strict``), in both modes. The cookie's pure
functions live in :mod:`app.api.console_session`; :func:`csrf_matches` is pure too.
"""

from __future__ import annotations

import hmac
import secrets
import time
from typing import Any

from fastapi import Request
from starlette.datastructures import FormData

from app.api.console_session import SESSION_COOKIE, session_valid, session_value
from app.api.deps import nul_in_url
from app.tenancy import tenant_path

__all__ = ["SESSION_COOKIE", "CsrfRefused", "NulRefused", "SignInRequired", "check_csrf", "cookie_options",
           "csrf_matches", "csrf_token", "require_sign_in", "session_value", "signed_in", "token_of"]

CSRF_COOKIE = "segur_console_csrf"
CSRF_FIELD = "csrf"
_CSRF_LENGTH = 43  # secrets.token_urlsafe(32)


class SignInRequired(Exception):
    """The control token is set and the request carries no valid console session."""

    def __init__(self, next_path: str) -> None:
        super().__init__("sign in with SEGUR_CONTROL_TOKEN")
        self.next_path = next_path


class CsrfRefused(Exception):
    """A state-changing form without the CSRF token of its cookie."""


class NulRefused(Exception):
    """U+0000 in a console request's path, query or form: PostgreSQL text cannot hold it (the control API refuses
    it too, ``platform:nul-character``)."""

    def __init__(self, where: str) -> None:
        super().__init__(f"{where} holds U+0000 (NUL), which no value may contain")


def csrf_matches(cookie: str | None, given: object) -> bool:
    """The form's CSRF field equals its cookie (both present and well formed)."""
    if not cookie or not isinstance(given, str) or len(cookie) != _CSRF_LENGTH:
        return False
    return hmac.compare_digest(cookie.encode(), given.encode())


def token_of(request: Request) -> str | None:
    return request.app.state.settings.control_token


def signed_in(request: Request) -> bool:
    token = token_of(request)
    return token is None or session_valid(token, request.cookies.get(SESSION_COOKIE), now=int(time.time()))


async def require_sign_in(request: Request) -> None:
    """Dependency of every console page: the console session when the control token is set; no NUL anywhere in
    the path or query."""
    if (where := nul_in_url(request)) is not None:
        raise NulRefused(where)
    if not signed_in(request):
        query = request.url.query
        raise SignInRequired(tenant_path(request.url.path) + (f"?{query}" if query else ""))


def csrf_token(request: Request) -> str:
    """The CSRF token of this browser (its cookie's), or a new one the response will set."""
    existing = request.cookies.get(CSRF_COOKIE)
    if existing and len(existing) == _CSRF_LENGTH:
        return existing
    fresh = getattr(request.state, "new_csrf", None)
    if fresh is None:
        fresh = request.state.new_csrf = secrets.token_urlsafe(32)
    return fresh


async def check_csrf(request: Request) -> FormData:
    """Dependency of every state-changing form: the form's fields, once its CSRF token matched its cookie."""
    form = await request.form()
    if not csrf_matches(request.cookies.get(CSRF_COOKIE), form.get(CSRF_FIELD)):
        raise CsrfRefused()
    if any(isinstance(value, str) and "\x00" in value for _, value in form.multi_items()):
        raise NulRefused("the form")
    return form


def cookie_options(request: Request) -> dict[str, Any]:
    """The console's cookies cover the whole site (``Path=/``), every tenant's console included: the control token
    is the sandbox's, not a tenant's, so one sign-in opens every tenant's console, as the control API accepts the
    same token under every ``/t/{tenant}``; a cookie per tenant path would also leave two cookies of one name
    (``/`` and ``/t/x``) for a browser to choose between."""
    secure = request.app.state.settings.public_base_url.startswith("https:")
    return {"httponly": True, "samesite": "strict", "secure": secure, "path": "/"}
