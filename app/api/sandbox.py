"""The control API ``/sandbox/v1``: what a test harness uses to arrange the world and read what happened.

Domains add their own control routes (clients, professionals, persons, dmps, mailboxes, ...) under the
same prefix and tag.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, FastAPI, Query, Request
from pydantic import BaseModel, field_validator
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.api.deps import IsoInstant, SessionDep, SettingsDep
from app.api.errors import ProblemError
from app.api.journal import writer_of
from app.api.models import JournalEntry
from app.api.store import reset_store
from app.api.urls import absolute_url
from app.config import Settings
from app.db import as_utc
from app.tenancy import current_tenant

router = APIRouter(prefix="/sandbox/v1", tags=["sandbox"])


class ResetResult(BaseModel):
    status: Literal["reset"]
    tables_emptied: int
    duration_ms: float


class JournalEntryRead(BaseModel):
    id: int
    at: datetime
    request_id: str
    protocol: str
    client: str | None
    method: str
    path: str
    query: str | None
    operation: str | None
    service: str | None
    status: int | None
    outcome: str
    rule: str | None
    detail: str | None
    duration_ms: float | None
    actor: str | None = None
    facts: dict[str, Any] | None = None

    model_config = {"from_attributes": True}

    @field_validator("facts", mode="before")
    @classmethod
    def _facts(cls, value: Any) -> Any:
        return json.loads(value) if isinstance(value, str) else value

    @field_validator("at")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        return as_utc(value)


class JournalPage(BaseModel):
    total: int
    entries: list[JournalEntryRead]
    next: str | None


async def reset_sandbox(app: FastAPI, session: AsyncSession, settings: Settings) -> int:
    """The current tenant's world back to its fixtures, its journal's pending entries dropped with it (not the
    other tenants'); the number of tables emptied. What ``POST /sandbox/v1/reset`` and the web console's reset
    button do."""
    writer = writer_of(app)
    if writer is not None:
        await writer.flush()
        writer.discard_pending(current_tenant())
    return await reset_store(session, settings, app.state.domains)


@dataclass(frozen=True)
class JournalFilter:
    """What the journal is searched by (each ``None`` is no condition); ``rule`` may end with ``*`` (a prefix)."""

    service: str | None = None
    protocol: str | None = None
    outcome: str | None = None
    status: int | None = None
    operation: str | None = None
    rule: str | None = None
    path: str | None = None
    request_id: str | None = None
    client: str | None = None
    actor: str | None = None
    since: datetime | None = None
    until: datetime | None = None


async def read_journal(app: FastAPI, session: AsyncSession, flt: JournalFilter, *, limit: int,
                       before_id: int | None = None, after_id: int | None = None) -> tuple[int, list[JournalEntry]]:
    """The entries matching ``flt`` (pending ones written first), newest first: the total that match, and at most
    ``limit`` of them older than ``before_id`` / newer than ``after_id``. The journal API and the web console read
    it here. ``since`` must be before ``until`` (:class:`ProblemError` ``sandbox:journal-range``)."""
    writer = writer_of(app)
    if writer is not None:
        await writer.flush()
    since = as_utc(flt.since).astimezone(UTC) if flt.since else None
    until = as_utc(flt.until).astimezone(UTC) if flt.until else None
    if since and until and since >= until:
        raise ProblemError(400, "Bad Request", "`since` must be before `until`", rule="sandbox:journal-range")
    conditions = []
    for column, value in ((JournalEntry.service, flt.service), (JournalEntry.protocol, flt.protocol),
                          (JournalEntry.outcome, flt.outcome), (JournalEntry.status, flt.status),
                          (JournalEntry.operation, flt.operation), (JournalEntry.request_id, flt.request_id),
                          (JournalEntry.client, flt.client), (JournalEntry.actor, flt.actor)):
        if value is not None:
            conditions.append(column == value)
    rule = flt.rule
    if rule is not None:
        conditions.append(JournalEntry.rule.startswith(rule[:-1]) if rule.endswith("*") else JournalEntry.rule == rule)
    if flt.path is not None:
        conditions.append(JournalEntry.path.startswith(flt.path))
    if since is not None:
        conditions.append(JournalEntry.at >= since)
    if until is not None:
        conditions.append(JournalEntry.at < until)
    total = await session.scalar(select(func.count()).select_from(JournalEntry).where(*conditions)) or 0
    if before_id is not None:
        conditions.append(JournalEntry.id < before_id)
    if after_id is not None:
        conditions.append(JournalEntry.id > after_id)
    rows = (await session.scalars(
        select(JournalEntry).where(*conditions).order_by(JournalEntry.id.desc()).limit(limit)
    )).all()
    return total, list(rows)


@dataclass(frozen=True)
class ActorSeen:
    """A calling software the journal names, and its entries' count, first service, first and last times."""

    actor: str
    service: str
    entries: int
    first: datetime
    last: datetime


async def journal_actors(app: FastAPI, session: AsyncSession) -> list[ActorSeen]:
    """Every calling software the journal names (its ``actor``: ``psc:<client_id>``, ``mss:<login>``...; the
    conformance report's key), by name. ``GET /sandbox/v1/reports`` and the console's reports page list them."""
    writer = writer_of(app)
    if writer is not None:
        await writer.flush()
    rows = (await session.execute(
        select(JournalEntry.actor, func.min(JournalEntry.service), func.count(), func.min(JournalEntry.at),
               func.max(JournalEntry.at))
        .where(JournalEntry.actor.is_not(None)).group_by(JournalEntry.actor).order_by(JournalEntry.actor)
    )).all()
    return [ActorSeen(actor=str(actor), service=service or "", entries=count, first=as_utc(first), last=as_utc(last))
            for actor, service, count, first, last in rows]


@router.post(
    "/reset",
    summary="Put the store back to its fixtures",
    description="Deletes everything a test suite created (documents, messages, tokens, journal, ...) and "
    "loads the fixtures again. Signing keys are kept. What a CI job calls between suites.",
    response_model=ResetResult,
    operation_id="sandbox_reset",
)
async def reset(request: Request, session: SessionDep, settings: SettingsDep) -> ResetResult:
    started = time.perf_counter()
    emptied = await reset_sandbox(request.app, session, settings)
    return ResetResult(status="reset", tables_emptied=emptied,
                       duration_ms=round((time.perf_counter() - started) * 1000, 1))


@router.get(
    "/journal",
    summary="Every request and SMTP session, newest first, with its outcome and the rule that refused it",
    response_model=JournalPage,
    operation_id="sandbox_journal",
    responses={400: {"description": "`since` after `until` (sandbox:journal-range)"}},
)
async def journal(
    request: Request,
    session: SessionDep,
    service: Annotated[str | None, Query(description="psc, ins, dmp, mss, sandbox, platform")] = None,
    protocol: Annotated[str | None, Query(description="http or smtp")] = None,
    outcome: Annotated[Literal["ok", "refused", "error"] | None, Query()] = None,
    status: Annotated[int | None, Query(description="HTTP status or SMTP reply code")] = None,
    operation: Annotated[str | None, Query(description="operation id, e.g. `psc_token`")] = None,
    rule: Annotated[str | None, Query(description="rule id, or a prefix of it ending with `*`")] = None,
    path: Annotated[str | None, Query(description="path prefix, e.g. `/dmp/fhir`")] = None,
    request_id: Annotated[str | None, Query()] = None,
    client: Annotated[str | None, Query(description="network peer (address, or address:port for SMTP/IMAP)")] = None,
    actor: Annotated[str | None, Query(description="calling software, e.g. `psc:my-client`, `mss:login`")] = None,
    since: Annotated[IsoInstant | None, Query(description="ISO 8601, inclusive")] = None,
    until: Annotated[IsoInstant | None, Query(description="ISO 8601, exclusive")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    before_id: Annotated[int | None, Query(description="cursor: entries older than this id")] = None,
) -> JournalPage:
    flt = JournalFilter(service=service, protocol=protocol, outcome=outcome, status=status, operation=operation,
                        rule=rule, path=path, request_id=request_id, client=client, actor=actor, since=since,
                        until=until)
    total, rows = await read_journal(request.app, session, flt, limit=limit + 1, before_id=before_id)
    entries = [JournalEntryRead.model_validate(row) for row in rows[:limit]]
    next_url = None
    if len(rows) > limit:
        params = [(k, v) for k, v in request.query_params.multi_items() if k != "before_id"]
        next_url = absolute_url(request.app.state.settings, request.url.path,
                                [*params, ("before_id", entries[-1].id)])
    return JournalPage(total=total, entries=entries, next=next_url)
