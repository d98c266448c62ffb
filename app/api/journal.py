"""The journal: every HTTP request and SMTP session, with its outcome and the rule that refused it.

It is the raw material of conformance reports, so it is written for every request, cheaply: entries
are buffered in memory and written in batches by a background task (and on demand before a read), never
on the request's own transaction. Bodies are never journaled; secrets in query strings are redacted.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode

from sqlalchemy import insert

from app.api.models import JournalEntry
from app.db import utcnow

if TYPE_CHECKING:
    from fastapi import FastAPI
    from sqlalchemy.ext.asyncio import AsyncEngine
    from starlette.requests import Request

logger = logging.getLogger("segur.journal")

_JOURNAL_INSERT = insert(JournalEntry.__table__)  # type: ignore[arg-type]  # a Table, typed as FromClause

CONTEXT_KEY = "segur.context"

# Query parameters whose values are secrets or one-time credentials (RFC 6749, RFC 7636, OIDC).
SENSITIVE_PARAMETERS = frozenset({
    "code", "client_secret", "password", "token", "access_token", "refresh_token", "id_token",
    "id_token_hint", "code_verifier", "client_assertion", "assertion", "api_key", "esante-api-key",
    "login_hint_token", "auth_req_id", "session_state",
})

SERVICE_PREFIXES = (
    ("/auth", "psc"), ("/.well-known", "psc"), ("/psc", "psc"), ("/lps", "ins"), ("/insi", "ins"), ("/dmp", "dmp"),
    ("/mss", "mss"), ("/mail/", "mss"), ("/fhir/v2", "mss"), ("/sandbox", "sandbox"),
)


@dataclass
class RequestContext:
    """What a request learns about itself on the way through, read back by the journal."""

    request_id: str
    rule: str | None = None
    detail: str | None = None
    status: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def context_of(request: Request) -> RequestContext | None:
    return request.scope.get(CONTEXT_KEY)


def request_id_of(request: Request) -> str:
    context = context_of(request)
    return context.request_id if context else "-"


def note_refusal(request: Request, *, rule: str | None, detail: str | None, status: int | None = None) -> None:
    """Record, for the journal, which rule refused this request (the first rule noted wins)."""
    context = context_of(request)
    if context is None:
        return
    if rule and not context.rule:
        context.rule = rule
    if detail and not context.detail:
        context.detail = detail[:1024]
    if status:
        context.status = status


def redact_query(query: str) -> str | None:
    if not query:
        return None
    pairs = parse_qsl(query, keep_blank_values=True)
    cleaned = [(k, "[redacted]" if k.lower() in SENSITIVE_PARAMETERS else v) for k, v in pairs]
    return urlencode(cleaned)[:2048]


def service_of(path: str) -> str:
    for prefix, service in SERVICE_PREFIXES:
        if path.startswith(prefix):
            return service
    return "platform"


def outcome_of(status: int | None) -> str:
    if status is None or status >= 500:
        return "error"
    return "refused" if status >= 400 else "ok"


class JournalWriter:
    """Buffers entries and writes them in batches on the store."""

    def __init__(self, engine: AsyncEngine, *, interval: float = 0.5, batch_size: int = 500) -> None:
        self._engine = engine
        self._interval = interval
        self._batch_size = batch_size
        self._buffer: list[dict[str, Any]] = []
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self._wake = asyncio.Event()

    def add(self, entry: Mapping[str, Any]) -> None:
        self._buffer.append(dict(entry))
        if len(self._buffer) >= self._batch_size:
            self._wake.set()

    def discard_pending(self) -> None:
        self._buffer = []

    async def flush(self) -> None:
        async with self._lock:
            while self._buffer:
                batch, self._buffer = self._buffer[: self._batch_size], self._buffer[self._batch_size:]
                # Core executemany on a plain connection: no ORM unit of work on this path.
                async with self._engine.begin() as connection:
                    await connection.execute(_JOURNAL_INSERT, batch)

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self._interval)
            self._wake.clear()
            try:
                await self.flush()
            except Exception:  # the journal must never take the sandbox down
                logger.exception("could not write %d journal entries; dropped", len(self._buffer))
                self._buffer = []

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="journal-writer")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        with contextlib.suppress(Exception):
            await self.flush()


def writer_of(app: FastAPI) -> JournalWriter | None:
    return getattr(app.state, "journal", None)


async def record(
    app: FastAPI,
    *,
    protocol: str,
    method: str,
    path: str,
    outcome: str,
    request_id: str,
    client: str | None = None,
    operation: str | None = None,
    service: str | None = None,
    status: int | None = None,
    rule: str | None = None,
    detail: str | None = None,
    duration_ms: float | None = None,
    at: datetime | None = None,
) -> None:
    """Journal one exchange that is not an HTTP request (an SMTP session, a command of one).

    ``outcome`` is ``ok``, ``refused`` or ``error``; ``status`` the protocol's own code (an SMTP reply
    code for SMTP); ``rule`` the rule that refused it. Never pass a message body or a credential.
    """
    writer = writer_of(app)
    if writer is None:
        return
    writer.add({
        "at": at or utcnow(), "request_id": request_id, "protocol": protocol, "client": client,
        "method": method[:16], "path": path[:2048], "query": None, "operation": operation,
        "service": service or service_of(path), "status": status, "outcome": outcome, "rule": rule,
        "detail": detail[:1024] if detail else None, "duration_ms": duration_ms,
    })
