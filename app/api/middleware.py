"""Request context: request id, body size limit, access log, journal, last-resort error handling.

A pure ASGI middleware (no ``BaseHTTPMiddleware``: it would buffer streamed responses such as ITI-68
retrievals, and costs a task per request).
"""

from __future__ import annotations

import json
import logging
import random
import re
import time
from collections.abc import Mapping

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.api.errors import BodyTooLarge, render_generic, unexpected_error_response
from app.api.journal import (
    COLUMNS,
    CONTEXT_KEY,
    UNJOURNALED_PREFIXES,
    RequestContext,
    facts_text,
    outcome_of,
    redact_query,
    service_of,
    writer_of,
)
from app.db import utcnow
from app.tenancy import current_tenant

access_logger = logging.getLogger("segur.access")

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")


def new_request_id() -> str:
    """32 hex digits, as ``uuid4().hex`` gave. A request id labels a request, it guards nothing: drawn from the
    ``random`` module (seeded from the OS, and again in a forked child), without the system call ``uuid4``
    makes each time; under load that call cost ~5 µs a request, 6 % of a userinfo answer (issue 16)."""
    return f"{random.getrandbits(128):032x}"


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp, *, max_body_bytes: int, access_log: bool, log_json: bool,
                 body_limits: Mapping[str, int] | None = None) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.body_limits = tuple((body_limits or {}).items())  # path prefix -> limit (Domain.body_limits)
        self.access_log = access_log
        self.log_json = log_json

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        started = time.perf_counter()
        headers = dict(scope.get("headers") or ())
        incoming = headers.get(b"x-request-id", b"").decode("latin-1")
        request_id = incoming if _REQUEST_ID.match(incoming) else new_request_id()
        context = RequestContext(request_id=request_id)
        scope[CONTEXT_KEY] = context
        response_started = False
        path = scope.get("path", "")
        limit = next((lim for prefix, lim in self.body_limits if path.startswith(prefix)), self.max_body_bytes)

        async def send_with_id(message: Message) -> None:
            nonlocal response_started
            if message["type"] == "http.response.start":
                response_started = True
                context.status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode())]
            await send(message)

        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        try:
            declared = headers.get(b"content-length")
            if declared is not None and declared.isdigit() and (len(declared) > 18 or int(declared) > limit):
                response = render_generic(Request(scope), 413, str(BodyTooLarge(limit)),
                                          rule="platform:max-body-bytes")
                await response(scope, receive, send_with_id)
            else:
                await self.app(scope, limited_receive, send_with_id)
        except Exception as exc:  # last resort: still answer in the protocol's shape, never a traceback
            if not response_started:
                response = await unexpected_error_response(Request(scope, receive), exc)
                await response(scope, receive, send_with_id)
            else:
                logging.getLogger("segur.errors").exception("error after the response started (%s)", request_id)
        finally:
            self._finish(scope, context, started)

    def _finish(self, scope: Scope, context: RequestContext, started: float) -> None:
        duration_ms = (time.perf_counter() - started) * 1000
        path: str = scope.get("path", "")
        client = scope.get("client")
        client_text = f"{client[0]}"[:128] if client else None
        route = scope.get("route")
        operation = (context.extra.get("operation") or getattr(route, "operation_id", None)
                     or getattr(route, "name", None))
        status = context.status
        query = scope.get("query_string", b"")
        method = scope.get("method", "")[:16]
        rule = context.rule[:256] if context.rule else None
        row = (
            utcnow(), context.request_id, "http", client_text, method, path[:2048],
            redact_query(query.decode("latin-1")) if query else None, operation[:128] if operation else None,
            service_of(path), status, outcome_of(status, rule=rule), rule,
            context.detail[:1024] if context.detail else None,
            round(duration_ms, 3), context.actor, facts_text(context.facts) if context.facts else None,
            current_tenant(),
        )
        app = scope.get("app")
        writer = writer_of(app) if app is not None else None
        if writer is not None and not path.startswith(UNJOURNALED_PREFIXES):
            writer.add_row(row)
        if self.access_log:
            if self.log_json:
                access_logger.info(json.dumps(
                    {k: v for k, v in zip(COLUMNS, row, strict=True) if k != "at"}, default=str))
            else:
                access_logger.info(
                    '%s %s %s %s %.1fms rid=%s%s', client_text or "-", method, path, status,
                    duration_ms, context.request_id, f" rule={rule}" if rule else "",
                )
