"""One error type per protocol, one handler for each, and a fallback that still speaks the protocol.

A route raises the error of the protocol it speaks (:class:`FhirError` on a FHIR route,
:class:`OAuthError` on an OAuth route, :class:`ProblemError` on a plain JSON API). Errors nobody raised
on purpose — an unknown route, a wrong method, a body over the limit, a request that fails
validation, an unexpected exception — are rendered in the shape of the protocol the path belongs to
(:func:`render_generic`). Every refusal carries the rule that refused it, which the journal records.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from html import escape
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse, Response

from app.api.journal import note_refusal, request_id_of

logger = logging.getLogger("segur.errors")

FHIR_JSON = "application/fhir+json"
PROBLEM_JSON = "application/problem+json"
SOAP_XML = "application/soap+xml"


class SandboxError(Exception):
    """Base of the protocol errors; ``rule`` names the rule that refused the request."""

    status: int = 400
    rule: str | None = None
    headers: Mapping[str, str] | None = None

    def message(self) -> str:
        return str(self)


class ProblemError(SandboxError):
    """RFC 9457 problem details (``application/problem+json``)."""

    def __init__(
        self,
        status: int,
        title: str,
        detail: str,
        *,
        type: str | None = None,  # noqa: A002 - the RFC 9457 member name
        rule: str | None = None,
        extra: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status, self.title, self.detail = status, title, detail
        self.type, self.rule, self.extra, self.headers = type, rule, dict(extra or {}), headers


class OAuthError(SandboxError):
    """RFC 6749 §5.2 error response ``{"error", "error_description"}``."""

    def __init__(
        self,
        error: str,
        description: str,
        *,
        status: int = 400,
        rule: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(description)
        self.error, self.description, self.status = error, description, status
        self.rule, self.headers = rule, headers


class FhirError(SandboxError):
    """A FHIR ``OperationOutcome``; ``details_code`` carries an IHE XDS error code where one exists.

    ``diagnostics`` is the English text (logs, journal); ``french``, when given, is rendered first in
    ``issue.diagnostics`` (``"<français> — <English>"``), as the DMP documentation promises both."""

    def __init__(
        self,
        status: int,
        code: str,
        diagnostics: str,
        *,
        rule: str | None = None,
        expression: str | Sequence[str] | None = None,
        details_code: str | None = None,
        severity: str = "error",
        headers: Mapping[str, str] | None = None,
        french: str | None = None,
    ) -> None:
        super().__init__(diagnostics)
        self.status, self.code, self.diagnostics = status, code, diagnostics
        self.rule, self.details_code, self.severity, self.headers = rule, details_code, severity, headers
        self.french = french
        if isinstance(expression, str):
            expression = [expression]
        self.expression = list(expression or [])

    @property
    def issues(self) -> list[FhirError]:
        """The refusals this error stands for, one OperationOutcome issue each (itself, here)."""
        return [self]

    def issue(self) -> dict[str, Any]:
        return outcome_issue(code=self.code, diagnostics=self.diagnostics, severity=self.severity,
                             expression=self.expression, details_code=self.details_code, rule=self.rule,
                             french=self.french)


# Which status answers a request refused for several reasons: a malformed or invalid submission (400)
# must be fixed whatever else is wrong; then what the server cannot process (422), methods it does not
# allow (405), and last a uniqueId conflict (409), which only means something for an otherwise valid
# submission. Statuses not listed come after, in the order met.
STATUS_PRECEDENCE = (400, 422, 405, 404, 409)


class FhirErrors(FhirError):
    """Several independent refusals of one request: one ``OperationOutcome`` with one issue each.

    The status, code and rule (journal) are those of the most important issue (:data:`STATUS_PRECEDENCE`,
    then the first met); ``diagnostics`` is its English text plus the number of other issues."""

    def __init__(self, errors: Sequence[FhirError]) -> None:
        flat = [issue for error in errors for issue in error.issues]
        if not flat:
            raise ValueError("FhirErrors needs at least one error")
        rank = {status: i for i, status in enumerate(STATUS_PRECEDENCE)}
        primary = min(flat, key=lambda e: rank.get(e.status, len(rank)))  # min keeps the first of equals
        others = len(flat) - 1
        suffix = f" (and {others} other issue{'s' if others > 1 else ''})" if others else ""
        super().__init__(primary.status, primary.code, primary.diagnostics + suffix, rule=primary.rule,
                         expression=primary.expression, details_code=primary.details_code,
                         severity=primary.severity, headers=primary.headers, french=primary.french)
        self.primary, self._issues = primary, flat

    @property
    def issues(self) -> list[FhirError]:
        return list(self._issues)


class FhirIssues:
    """Collects the independent refusals of one request, to answer them all at once.

    ``with issues.check(): ...`` runs one check and keeps its :class:`FhirError` instead of raising it
    (the checks that depend on it go in the same block: they are skipped once it fails);
    :meth:`raise_any` then raises one error (the error itself when there is one, :class:`FhirErrors`
    when there are several)."""

    def __init__(self) -> None:
        self.errors: list[FhirError] = []

    def __bool__(self) -> bool:
        return bool(self.errors)

    def add(self, error: FhirError) -> None:
        self.errors.extend(error.issues)

    @contextmanager
    def check(self) -> Iterator[None]:
        try:
            yield
        except FhirError as error:
            self.add(error)

    def raise_any(self) -> None:
        if len(self.errors) == 1:
            raise self.errors[0]
        if self.errors:
            raise FhirErrors(self.errors)


class AuthError(SandboxError):
    """401 for a missing or refused bearer token (RFC 6750 §3), in the shape of the route."""

    status = 401

    def __init__(self, description: str, *, rule: str | None = None, error: str = "invalid_token") -> None:
        super().__init__(description)
        self.description, self.rule, self.error = description, rule, error

    @property
    def www_authenticate(self) -> str:
        safe = self.description.replace('"', "'")
        return f'Bearer realm="segur-sandbox", error="{self.error}", error_description="{safe}"'


class BodyTooLarge(SandboxError):
    status = 413

    def __init__(self, limit: int) -> None:
        super().__init__(f"request body larger than the limit of {limit} bytes (SEGUR_MAX_BODY_BYTES)")
        self.rule = "platform:max-body-bytes"


# --- rendering ------------------------------------------------------------------------------------

FHIR_PREFIXES = ("/dmp/fhir", "/fhir/")
OAUTH_PREFIXES = ("/auth", "/.well-known")
SOAP_PREFIXES = ("/lps",)

_FHIR_ISSUE_CODES = {
    400: "invalid", 401: "login", 403: "forbidden", 404: "not-found", 405: "not-supported",
    406: "not-supported", 409: "conflict", 410: "deleted", 412: "conflict", 413: "too-costly",
    415: "not-supported", 422: "processing", 429: "throttled", 503: "transient",
}
_OAUTH_CODES = {401: "invalid_client", 403: "access_denied", 500: "server_error", 503: "temporarily_unavailable"}


def outcome_issue(
    *, code: str, diagnostics: str, severity: str = "error", expression: Sequence[str] = (),
    details_code: str | None = None, rule: str | None = None, french: str | None = None,
) -> dict[str, Any]:
    """One ``OperationOutcome.issue``; with ``french``, diagnostics reads ``"<français> — <English>"``."""
    text = f"{french} — {diagnostics}" if french else diagnostics
    issue: dict[str, Any] = {"severity": severity, "code": code, "diagnostics": text}
    coding = []
    if details_code:
        # IHE ITI TF-3 §4.2.4.1 error codes (XDSRegistryMetadataError, ...), as MHD servers return them.
        coding.append({"system": "urn:oid:1.3.6.1.4.1.19376.1.2.27.1", "code": details_code})
    if rule:
        coding.append({"system": "urn:segur-sandbox:rule", "code": rule})
    if coding:
        issue["details"] = {"coding": coding, "text": details_code or rule}
    if expression:
        issue["expression"] = list(expression)
    return issue


def operation_outcome(
    *, code: str, diagnostics: str, severity: str = "error", expression: Sequence[str] = (),
    details_code: str | None = None, rule: str | None = None, french: str | None = None,
) -> dict[str, Any]:
    issue = outcome_issue(code=code, diagnostics=diagnostics, severity=severity, expression=expression,
                          details_code=details_code, rule=rule, french=french)
    return {"resourceType": "OperationOutcome", "issue": [issue]}


def fhir_response(status: int, body: Mapping[str, Any], headers: Mapping[str, str] | None = None) -> Response:
    return Response(
        json.dumps(body, ensure_ascii=False), status_code=status, media_type=FHIR_JSON, headers=headers
    )


def problem_response(
    request: Request, status: int, title: str, detail: str, *, type_: str | None = None,
    rule: str | None = None, extra: Mapping[str, Any] | None = None, headers: Mapping[str, str] | None = None,
) -> Response:
    body: dict[str, Any] = {
        "type": type_ or "about:blank",
        "title": title,
        "status": status,
        "detail": detail,
        "instance": request.url.path,
        "request_id": request_id_of(request),
    }
    if rule:
        body["rule"] = rule
    body.update(extra or {})
    return Response(
        json.dumps(body, ensure_ascii=False), status_code=status, media_type=PROBLEM_JSON, headers=headers
    )


def oauth_response(status: int, error: str, description: str, headers: Mapping[str, str] | None = None) -> Response:
    merged = {"Cache-Control": "no-store", "Pragma": "no-cache", **(headers or {})}
    return JSONResponse({"error": error, "error_description": description}, status_code=status, headers=merged)


def soap_fault_response(status: int, message: str) -> Response:
    """A bare SOAP 1.2 fault (W3C SOAP 1.2 part 1 §5.4); the INS domain renders its own richer faults."""
    role = "env:Sender" if status < 500 else "env:Receiver"
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope"><env:Body><env:Fault>'
        f"<env:Code><env:Value>{role}</env:Value></env:Code>"
        f'<env:Reason><env:Text xml:lang="fr">{escape(message)}</env:Text></env:Reason>'
        "</env:Fault></env:Body></env:Envelope>"
    )
    return Response(body, status_code=status, media_type=SOAP_XML)


def render_generic(
    request: Request, status: int, message: str, *, rule: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """Render an error nobody raised on purpose in the shape of the protocol the path belongs to."""
    note_refusal(request, rule=rule, detail=message, status=status)
    path = request.url.path
    for prefix, renderer in _error_renderers(request).items():
        if path.startswith(prefix):
            return renderer(request, status, message, rule)
    if path.startswith(FHIR_PREFIXES):
        body = operation_outcome(code=_FHIR_ISSUE_CODES.get(status, "exception"), diagnostics=message, rule=rule)
        return fhir_response(status, body, headers)
    if path.startswith(SOAP_PREFIXES):
        return soap_fault_response(status, message)
    if path.startswith(OAUTH_PREFIXES):
        return oauth_response(status, _OAUTH_CODES.get(status, "invalid_request"), message, headers)
    title = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Error"
    return problem_response(request, status, title, message, rule=rule, headers=headers)


def _error_renderers(request: Request) -> Mapping[str, Callable[..., Response]]:
    return getattr(request.app.state, "error_renderers", {})


# --- handlers -------------------------------------------------------------------------------------

async def _problem(request: Request, exc: ProblemError) -> Response:
    note_refusal(request, rule=exc.rule, detail=exc.detail, status=exc.status)
    return problem_response(
        request, exc.status, exc.title, exc.detail, type_=exc.type, rule=exc.rule, extra=exc.extra,
        headers=exc.headers,
    )


async def _oauth(request: Request, exc: OAuthError) -> Response:
    note_refusal(request, rule=exc.rule, detail=f"{exc.error}: {exc.description}", status=exc.status)
    return oauth_response(exc.status, exc.error, exc.description, exc.headers)


async def _fhir(request: Request, exc: FhirError) -> Response:
    note_refusal(request, rule=exc.rule, detail=exc.diagnostics, status=exc.status)
    body = {"resourceType": "OperationOutcome", "issue": [issue.issue() for issue in exc.issues]}
    return fhir_response(exc.status, body, exc.headers)


async def _auth(request: Request, exc: AuthError) -> Response:
    return render_generic(
        request, 401, exc.description, rule=exc.rule, headers={"WWW-Authenticate": exc.www_authenticate}
    )


async def _body_too_large(request: Request, exc: BodyTooLarge) -> Response:
    return render_generic(request, 413, str(exc), rule=exc.rule)


async def _http_exception(request: Request, exc: StarletteHTTPException) -> Response:
    if exc.status_code == 404 and exc.detail == "Not Found":
        message = f"no route {request.method} {request.url.path} in the sandbox (see /docs)"
        rule = "platform:route"
    elif exc.status_code == 405:
        message = f"method {request.method} is not allowed on {request.url.path}"
        rule = "platform:method"
    else:
        message, rule = str(exc.detail), None
    return render_generic(request, exc.status_code, message, rule=rule, headers=exc.headers)


async def _validation(request: Request, exc: RequestValidationError) -> Response:
    problems = []
    for error in exc.errors():
        location = ".".join(str(p) for p in error.get("loc", ()) if p != "body") or "body"
        problems.append(f"{location}: {error.get('msg', 'invalid')}")
    message = "invalid request: " + "; ".join(problems[:20])
    return render_generic(request, 400 if _is_malformed(exc) else 422, message, rule="platform:request-validation")


def _is_malformed(exc: RequestValidationError) -> bool:
    return any(error.get("type") == "json_invalid" for error in exc.errors())


async def _too_deep(request: Request, exc: RecursionError) -> Response:
    # Raised by the JSON and XML parsers on hostile nesting ("[" * 100000): the client's input, not a bug.
    return render_generic(request, 400, "the request body is nested too deeply to be parsed",
                          rule="platform:nesting-depth")


async def unexpected_error_response(request: Request, exc: BaseException) -> Response:
    logger.error(
        "unexpected error on %s %s (request %s)", request.method, request.url.path, request_id_of(request),
        exc_info=(type(exc), exc, exc.__traceback__),
    )
    message = f"internal error; quote request id {request_id_of(request)} when reporting it"
    return render_generic(request, 500, message, rule="platform:unexpected")


def install_exception_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ProblemError, _problem)  # type: ignore[arg-type]
    app.add_exception_handler(OAuthError, _oauth)  # type: ignore[arg-type]
    app.add_exception_handler(FhirError, _fhir)  # type: ignore[arg-type]
    app.add_exception_handler(AuthError, _auth)  # type: ignore[arg-type]
    app.add_exception_handler(BodyTooLarge, _body_too_large)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, _http_exception)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _validation)  # type: ignore[arg-type]
    app.add_exception_handler(RecursionError, _too_deep)  # type: ignore[arg-type]
