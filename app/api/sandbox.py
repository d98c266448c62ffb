"""The control API ``/sandbox/v1``: what a test harness uses to arrange the world and read what happened.

Domains add their own control routes (clients, professionals, persons, dmps, mailboxes, ...) under the
same prefix and tag.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, field_validator
from sqlalchemy import func, select

from app.api.deps import IsoInstant, SessionDep, SettingsDep
from app.api.errors import ProblemError
from app.api.journal import writer_of
from app.api.models import JournalEntry
from app.api.store import reset_store
from app.api.urls import absolute_url
from app.db import as_utc

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
    writer = writer_of(request.app)
    if writer is not None:
        await writer.flush()
        writer.discard_pending()
    emptied = await reset_store(session, settings, request.app.state.domains)
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
    writer = writer_of(request.app)
    if writer is not None:
        await writer.flush()
    since = as_utc(since).astimezone(UTC) if since else None
    until = as_utc(until).astimezone(UTC) if until else None
    if since and until and since >= until:
        raise ProblemError(400, "Bad Request", "`since` must be before `until`", rule="sandbox:journal-range")
    conditions = []
    for column, value in ((JournalEntry.service, service), (JournalEntry.protocol, protocol),
                          (JournalEntry.outcome, outcome), (JournalEntry.status, status),
                          (JournalEntry.operation, operation), (JournalEntry.request_id, request_id),
                          (JournalEntry.client, client), (JournalEntry.actor, actor)):
        if value is not None:
            conditions.append(column == value)
    if rule is not None:
        conditions.append(JournalEntry.rule.startswith(rule[:-1]) if rule.endswith("*") else JournalEntry.rule == rule)
    if path is not None:
        conditions.append(JournalEntry.path.startswith(path))
    if since is not None:
        conditions.append(JournalEntry.at >= since)
    if until is not None:
        conditions.append(JournalEntry.at < until)
    total = await session.scalar(select(func.count()).select_from(JournalEntry).where(*conditions)) or 0
    if before_id is not None:
        conditions.append(JournalEntry.id < before_id)
    rows = (await session.scalars(
        select(JournalEntry).where(*conditions).order_by(JournalEntry.id.desc()).limit(limit + 1)
    )).all()
    entries = [JournalEntryRead.model_validate(row) for row in rows[:limit]]
    next_url = None
    if len(rows) > limit:
        params = [(k, v) for k, v in request.query_params.multi_items() if k != "before_id"]
        next_url = absolute_url(request.app.state.settings, request.url.path,
                                [*params, ("before_id", entries[-1].id)])
    return JournalPage(total=total, entries=entries, next=next_url)
