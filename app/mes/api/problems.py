"""The patient API's error mapper: :mod:`app.mes.exceptions` as RFC 9457 problem details (and, on the token
endpoint, RFC 6749 errors), each naming its rule for the journal."""

from __future__ import annotations

from fastapi import Request
from starlette.responses import Response

from app.api.errors import oauth_response, problem_response
from app.api.journal import note_refusal
from app.mes import exceptions as errors

TOKEN_PATH = "/mes/api/v1/token"


def status_of(exc: errors.MesError) -> tuple[int, str]:
    if isinstance(exc, errors.MesNotFound):
        return 404, "Not Found"
    if isinstance(exc, errors.MesConflict):
        return 409, "Conflict"
    if isinstance(exc, errors.MesForbiddenAction):
        return 403, "Forbidden"
    if isinstance(exc, errors.MesSignInError):
        return (401, "Unauthorized") if exc.error == "invalid_token" else (400, "Sign-in refused")
    if isinstance(exc, errors.MesInvalid):
        if exc.too_large:
            return 413, "Content Too Large"
        if exc.unsupported:
            return 415, "Unsupported Media Type"
        if exc.unprocessable:
            return 422, "Unprocessable Content"
    return 400, "Bad Request"


def problem_type(rule: str) -> str:
    return f"urn:segur-sandbox:mes:{rule.split(':', 1)[-1]}"


async def api_error_response(request: Request, exc: errors.MesError) -> Response:
    status, title = status_of(exc)
    note_refusal(request, rule=exc.rule, detail=exc.detail, status=status)
    if request.url.path == TOKEN_PATH:
        error = exc.error if isinstance(exc, errors.MesSignInError) else "invalid_request"
        return oauth_response(400, error, exc.detail)
    headers = None
    if status == 401:
        safe = exc.detail.replace('"', "'")
        headers = {"WWW-Authenticate": f'Bearer realm="mes", error="invalid_token", error_description="{safe}"'}
    return problem_response(request, status, title, exc.detail, type_=problem_type(exc.rule), rule=exc.rule,
                            extra={"detail_fr": exc.french}, headers=headers)
