"""``/sandbox/v1/reports``: the clients the journal has seen, and each one's conformance report (JSON, JUnit
XML, HTML). Control routes (``SEGUR_CONTROL_TOKEN``), included by app.main with the control API's checks."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy import func, select

from app.api.deps import IsoInstant, SessionDep
from app.api.errors import ProblemError
from app.api.journal import writer_of
from app.api.models import JournalEntry
from app.api.sandbox import journal_actors
from app.api.urls import absolute_url
from app.conformance.model import Entry
from app.conformance.report import evaluate, html, junit
from app.db import as_utc

router = APIRouter(prefix="/sandbox/v1", tags=["sandbox"])

MAX_ENTRIES = 100_000
"""The most journal entries one report reads (the oldest first); a longer run is cut there."""
JUNIT_MEDIA_TYPE = "application/xml"
IDENTITY_PATTERN = r"^(psc|ins|dmp|mss):[^\x00-\x1f\ufffe\uffff]{1,124}$"
"""An identity as the journal names it: no character XML 1.0 refuses (the JUnit report quotes it); the journal
already turns a NUL into ``\\0``."""


class ClientSeen(BaseModel):
    client: str = Field(examples=["psc:my-lps"], description="`psc:<client_id>`, `ins:<IDAM>`, `dmp:<LPS>`, "
                        "`mss:<login>`")
    service: str = Field(examples=["psc"])
    entries: int = Field(examples=[42])
    first: datetime
    last: datetime
    report: str = Field(examples=["http://localhost:8000/sandbox/v1/reports/psc:my-lps"])


class ClientList(BaseModel):
    clients: list[ClientSeen]


class RequirementResult(BaseModel):
    number: int = Field(examples=[47])
    id: str = Field(examples=["SC.PSC.08 (EX PSC 16)"])
    service: str = Field(examples=["PSC"])
    title: str
    source: str = Field(examples=["SQ"])
    observability: Literal["S", "S*"]
    status: Literal["passed", "failed", "not_exercised"]
    message: str = Field(examples=["1 of 2 requests without acr_values=eidas1 (sent: None)"])
    entries: list[int] = Field(description="ids of the journal entries that show it (GET /sandbox/v1/journal)")


class Summary(BaseModel):
    passed: int
    failed: int
    not_exercised: int


class ConformanceReport(BaseModel):
    client: str = Field(examples=["psc:my-lps"])
    identities: list[str] = Field(examples=[["psc:my-lps", "ins:IDAM-LPS-01"]])
    since: datetime | None
    until: datetime | None
    generated_at: datetime
    entries: int = Field(description="journal entries read")
    summary: Summary
    requirements: list[RequirementResult]


async def _flushed(request: Request) -> None:
    writer = writer_of(request.app)
    if writer is not None:
        await writer.flush()


@router.get(
    "/reports",
    summary="The clients the journal has seen, each with the link to its conformance report",
    description="A client is the calling software as each face identifies it: `psc:<client_id>` (Pro Santé "
    "Connect), `ins:<IDAM>` (INSi), `dmp:<LPS_ID>` (the VIHF's LPS identity), `mss:<login>` (SMTP/IMAP). "
    "The journal is emptied by `POST /sandbox/v1/reset`, so these are the clients seen since the last reset.",
    response_model=ClientList,
    operation_id="sandbox_reports",
)
async def reports(request: Request, session: SessionDep) -> ClientList:
    settings = request.app.state.settings
    return ClientList(clients=[
        ClientSeen(client=seen.actor, service=seen.service, entries=seen.entries, first=seen.first, last=seen.last,
                   report=absolute_url(settings, f"/sandbox/v1/reports/{seen.actor}"))
        for seen in await journal_actors(request.app, session)
    ])


def _format(requested: str | None, accept: str) -> str:
    if requested is not None:
        return requested
    accept = accept.lower()
    if "text/html" in accept:
        return "html"
    if "xml" in accept:
        return "junit"
    return "json"


@router.get(
    "/reports/{client}",
    summary="The conformance report of a client: each server-observable Ségur requirement passed, failed "
    "(with the journal entries that show it) or not exercised",
    description="Evaluates the 49 server-observable requirements (`SC.INS/...`, `SC.DMP/...`, `SC.MSS/...`, "
    "`SC.PSC...`) on the client's journal entries, since the last reset (the reset empties the journal) or in "
    "`since`/`until`. `also` adds the same software's other identities (its INSi IDAM, its VIHF LPS id, its "
    "mailbox login) so the rules that join services (INSi before DMP, patient addresses from INSi) see them. "
    "`format` (or `Accept`): `json`, `junit` (JUnit XML: a testsuite per service, a testcase per requirement, "
    "`failure` when failed, `skipped` when not exercised) or `html`.",
    response_model=ConformanceReport,
    operation_id="sandbox_report",
    responses={
        200: {"content": {JUNIT_MEDIA_TYPE: {}, "text/html": {}}},
        400: {"description": "`since` after `until` (sandbox:report-range)"},
        404: {"description": "the journal has no entry of this client (sandbox:report-client)"},
    },
)
async def report(
    request: Request,
    session: SessionDep,
    client: Annotated[str, Path(description="e.g. `psc:my-lps`, `mss:dr.house@sandbox.mssante.fr`",
                                pattern=IDENTITY_PATTERN)],
    also: Annotated[list[Annotated[str, Field(pattern=IDENTITY_PATTERN)]] | None,
                    Query(max_length=8, description="the same software's other identities")] = None,
    since: Annotated[IsoInstant | None, Query(description="ISO 8601, inclusive (default: the last reset)")] = None,
    until: Annotated[IsoInstant | None, Query(description="ISO 8601, exclusive (default: now)")] = None,
    format: Annotated[Literal["json", "junit", "html"] | None,  # noqa: A002 - the query parameter's name
                      Query(description="default: from `Accept`, else json")] = None,
) -> Any:
    await _flushed(request)
    since = as_utc(since).astimezone(UTC) if since else None
    until = as_utc(until).astimezone(UTC) if until else None
    if since and until and since >= until:
        raise ProblemError(400, "Bad Request", "`since` must be before `until`", rule="sandbox:report-range")
    identities = list(dict.fromkeys([client, *(also or ())]))
    seen = await session.scalar(select(func.count()).select_from(JournalEntry)
                                .where(JournalEntry.actor.in_(identities)))
    if not seen:
        raise ProblemError(404, "Not Found", f"the journal has no entry of {client!r} since the last reset "
                           "(GET /sandbox/v1/reports lists the clients seen)", rule="sandbox:report-client")
    conditions: list[Any] = [JournalEntry.actor.in_(identities)]
    if since is not None:
        conditions.append(JournalEntry.at >= since)
    if until is not None:
        conditions.append(JournalEntry.at < until)
    rows = (await session.scalars(
        select(JournalEntry).where(*conditions).order_by(JournalEntry.id).limit(MAX_ENTRIES)
    )).all()
    result = evaluate([Entry.of(row) for row in rows], client=client, identities=identities, since=since,
                      until=until, now=datetime.now(UTC))
    chosen = _format(format, request.headers.get("accept", ""))
    if chosen == "junit":
        return Response(junit(result), media_type=JUNIT_MEDIA_TYPE)
    if chosen == "html":
        settings = request.app.state.settings
        return HTMLResponse(html(result, journal_url=absolute_url(settings, "/sandbox/v1/journal")))
    return ConformanceReport.model_validate(result.as_dict())
