"""The journal: every HTTP request and SMTP session, with its outcome and the rule that refused it.

It is the raw material of conformance reports, so it is written for every request, cheaply: entries
are buffered in memory as tuples and written in batches by a background task (and on demand before a
read), never on the request's own transaction. On PostgreSQL a batch is one binary ``COPY`` (about 3 µs a
row; the Core ``executemany`` it replaced cost about 100 µs of CPU per request, 20 % of a token request).
Bodies are never journaled; secrets in query strings are redacted.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode

from sqlalchemy import insert

from app.api.models import JournalEntry
from app.db import utcnow
from app.tenancy import current_tenant

if TYPE_CHECKING:
    from fastapi import FastAPI
    from sqlalchemy.ext.asyncio import AsyncEngine
    from starlette.requests import Request

logger = logging.getLogger("segur.journal")

_JOURNAL_INSERT = insert(JournalEntry.__table__)  # type: ignore[arg-type]  # a Table, typed as FromClause
JOURNAL_TABLE = JournalEntry.__tablename__
COLUMNS = ("at", "request_id", "protocol", "client", "method", "path", "query", "operation", "service", "status",
           "outcome", "rule", "detail", "duration_ms", "actor", "facts", "tenant")
"""The order of an entry's fields in the buffer (every column but the generated ``id``); the tenant is the
one of the exchange, taken when the entry is made (the writer's task has none of its own)."""
_TENANT_FIELD = COLUMNS.index("tenant")
_LENGTHS = tuple(getattr(JournalEntry.__table__.c[column].type, "length", None) for column in COLUMNS)
Entry = tuple[Any, ...]

CONTEXT_KEY = "segur.context"

# Query parameters whose values are secrets or one-time credentials (RFC 6749, RFC 7636, OIDC).
SENSITIVE_PARAMETERS = frozenset({
    "code", "client_secret", "password", "token", "access_token", "refresh_token", "id_token",
    "id_token_hint", "code_verifier", "client_assertion", "assertion", "api_key", "esante-api-key",
    "login_hint_token", "auth_req_id", "session_state",
})

SERVICE_PREFIXES = (
    ("/auth", "psc"), ("/.well-known", "psc"), ("/psc", "psc"), ("/lps", "ins"), ("/insi", "ins"), ("/dmp", "dmp"),
    ("/si-dmp-server", "dmp"),
    ("/mss", "mss"), ("/mail/", "mss"), ("/fhir/v2", "mss"), ("/sandbox", "sandbox"), ("/console", "console"),
)

UNJOURNALED_PREFIXES = ("/livez", "/readyz", "/console/live/", "/console/static/")
"""Requests the journal leaves out: health probes, and the web console's live polling and assets (a console left
open would otherwise write an entry a second)."""


@dataclass
class RequestContext:
    """What a request learns about itself on the way through, read back by the journal."""

    request_id: str
    rule: str | None = None
    detail: str | None = None
    status: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    actor: str | None = None
    facts: dict[str, Any] | None = None


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


MAX_FACTS_CHARS = 4096
"""A journal entry's facts, as JSON, stay under this size (:func:`facts_text` cuts them from the inside)."""


def note_facts(request: Request, *, actor: str | None = None, **facts: Any) -> None:
    """Record, for the journal, what the conformance rules (:mod:`app.conformance`) need to know of this
    request: ``actor`` is the calling software's identity (``psc:<client_id>``, ``ins:<IDAM>``,
    ``dmp:<LPS>``, ``mss:<login>``; the first noted wins), ``facts`` small JSON values, never a secret
    (no token, password, code or body). Called by a face only where a rule needs the fact."""
    context = context_of(request)
    if context is None:
        return
    if actor and not context.actor:
        context.actor = actor[:128]
    if facts:
        if context.facts is None:
            context.facts = {}
        context.facts.update(facts)


_CUTS = ((1024, 20), (256, 20), (64, 10), (16, 5))
"""The successive cuts of :func:`facts_text`: (longest string kept, most list items kept)."""


def _cut(value: Any, chars: int, items: int) -> Any:
    """``value`` with its strings cut to ``chars`` (an ellipsis added) and its lists to ``items``, at every depth;
    dictionaries keep all their keys (a rule reads them by name: ``checks`` ids, ``x_mss`` names)."""
    if isinstance(value, str):
        return value if len(value) <= chars else value[:chars] + "…"
    if isinstance(value, list):
        return [_cut(v, chars, items) for v in value[:items]]
    if isinstance(value, dict):
        return {k: _cut(v, chars, items) for k, v in value.items()}
    return value


def _dumps(facts: Any) -> str:
    return json.dumps(facts, separators=(",", ":"), ensure_ascii=False, default=str)


def facts_text(facts: Mapping[str, Any] | None) -> str | None:
    """The ``facts`` column's text: compact JSON, None when there is none, under :data:`MAX_FACTS_CHARS`.

    Facts that would pass it are cut from the inside first (a 4,800-character ``X-MSS-CODECDA``, a long
    recipient list: strings shortened, lists cut), so the small facts the rules read (``checks``, ``flow``,
    ``transaction``, ``insi_*``, the TLS facts...) stay and the entry still counts in its report; ``truncated``
    says so. Only if that is not enough are the largest facts left out, the smallest kept."""
    if not facts:
        return None
    text = _dumps(facts)
    if len(text) <= MAX_FACTS_CHARS:
        return text
    plain = json.loads(text)  # JSON values only, from here on
    for chars, items in _CUTS:
        cut = {**_cut(plain, chars, items), "truncated": True}
        text = _dumps(cut)
        if len(text) <= MAX_FACTS_CHARS:
            return text
    kept: dict[str, Any] = {"truncated": True}
    budget = MAX_FACTS_CHARS - len(_dumps(kept))
    for key, size, value in sorted(((k, len(_dumps({k: v})), v) for k, v in cut.items() if k != "truncated"),
                                   key=lambda item: item[1]):
        if size + 1 > budget:
            break
        kept[key] = value
        budget -= size + 1
    return _dumps(kept)


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


def outcome_of(status: int | None, *, rule: str | None = None) -> str:
    """``error`` for a 5xx, ``refused`` for a 4xx or for a refusal a protocol answers with 200 and a rule (an
    XDS.b ``RegistryResponse`` with ``status=Failure``, an HL7 V3 ``AE``), else ``ok``."""
    if status is None or status >= 500:
        return "error"
    return "refused" if status >= 400 or rule else "ok"


class JournalWriter:
    """Buffers entries and writes them in batches on the store."""

    def __init__(self, engine: AsyncEngine, *, interval: float = 0.5, batch_size: int = 500,
                 fast_paths: bool = True) -> None:
        self._engine = engine
        # The binary COPY goes through the driver's own connection (a shortcut past SQLAlchemy, README
        # "Performance decisions"); without fast paths, the Core executemany writes the same rows.
        self._copy = fast_paths and engine.dialect.name == "postgresql" and engine.dialect.driver == "asyncpg"
        self._interval = interval
        self._batch_size = batch_size
        self._buffer: list[Entry] = []
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self._wake = asyncio.Event()

    def add(self, entry: Mapping[str, Any]) -> None:
        self.add_row(tuple(entry.get(column) for column in COLUMNS))

    def add_row(self, row: Entry) -> None:
        """One entry, its fields in :data:`COLUMNS` order, each already within its column's size."""
        if any(type(value) is str and "\x00" in value for value in row):
            # a decoded path (/a%00b) or a quoted input: PostgreSQL text cannot hold NUL, and one such row
            # would fail its whole batch; so would a value the longer escape took past its column's size
            row = tuple(
                value.replace("\x00", "\\0")[:length] if type(value) is str else value
                for value, length in zip(row, _LENGTHS, strict=True)
            )
        self._buffer.append(row)
        if len(self._buffer) >= self._batch_size:
            self._wake.set()

    def discard_pending(self, tenant: str | None = None) -> None:
        """Drop the entries not written yet: ``tenant``'s only (its reset must not lose another tenant's), or
        every one."""
        if tenant is None:
            self._buffer = []
        else:
            self._buffer = [row for row in self._buffer if row[_TENANT_FIELD] != tenant]

    async def flush(self) -> None:
        """Write what is buffered now. Entries added while it writes wait for the next flush: under
        load, looping until the buffer is empty would write one row per request."""
        async with self._lock:
            pending, self._buffer = self._buffer, []
            for start in range(0, len(pending), self._batch_size):
                await self._write(pending[start:start + self._batch_size])

    async def _write(self, batch: list[Entry]) -> None:
        if self._copy:
            async with self._engine.connect() as connection:
                raw = await connection.get_raw_connection()
                # asyncpg's binary COPY, outside any transaction: the batch is one statement
                await raw.driver_connection.copy_records_to_table(  # type: ignore[union-attr]
                    JOURNAL_TABLE, records=batch, columns=COLUMNS
                )
            return
        # Core executemany on a plain connection: no ORM unit of work on this path.
        async with self._engine.begin() as connection:
            await connection.execute(_JOURNAL_INSERT, [dict(zip(COLUMNS, row, strict=True)) for row in batch])

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self._interval)
            self._wake.clear()
            try:
                await self.flush()
            except Exception:  # the journal must never take the sandbox down; what the flush held is dropped
                logger.exception("could not write journal entries; they were dropped")

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


def peer_text(peer: Any) -> str | None:
    """A socket's peer address as the journal's ``client`` says it (``host:port``) for SMTP and IMAP sessions."""
    if isinstance(peer, tuple) and peer:
        return f"{peer[0]}:{peer[1]}" if len(peer) > 1 else str(peer[0])
    return None if peer is None else str(peer)


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
    actor: str | None = None,
    facts: Mapping[str, Any] | None = None,
) -> None:
    """Journal one exchange that is not an HTTP request (an SMTP session, a command of one).

    ``outcome`` is ``ok``, ``refused`` or ``error``; ``status`` the protocol's own code (an SMTP reply
    code for SMTP); ``rule`` the rule that refused it; ``actor`` and ``facts`` as :func:`note_facts` says.
    Never pass a message body or a credential.
    """
    writer = writer_of(app)
    if writer is None:
        return
    writer.add_row((
        at or utcnow(), request_id[:128], protocol[:16], client[:128] if client else None, method[:16], path[:2048],
        None, operation[:128] if operation else None, service or service_of(path), status, outcome,
        rule[:256] if rule else None, detail[:1024] if detail else None, duration_ms,
        actor[:128] if actor else None, facts_text(facts), current_tenant(),
    ))
