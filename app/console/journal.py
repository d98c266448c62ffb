"""The console's journal (filterable by service, network client, calling software (``actor``), outcome and time,
each entry linked to the page of what it touched, new entries appearing live), the reset button, and the list of
conformance reports (one per actor the journal names, linked to its entries). The journal is read, and the store
reset, by the functions the control API uses."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import FormData

from app.api.deps import SessionDep, SettingsDep
from app.api.sandbox import JournalFilter, journal_actors, read_journal, reset_sandbox
from app.console.access import check_csrf, require_sign_in
from app.console.links import target_of
from app.console.pages import HEADERS, ConsoleRoute, error_page, render, templates
from app.tenancy import tenant_path

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False, dependencies=[Depends(require_sign_in)])

SERVICES = ("psc", "ins", "dmp", "mss", "sandbox", "platform", "console")
OUTCOMES = ("ok", "refused", "error")
PAGE = 200
LIVE_MAX = 200


def _instant(value: str | None) -> datetime | None:
    """A time from the filter form (``datetime-local``, read as UTC) or ISO 8601, in UTC; ``None`` if empty,
    unreadable or without a UTC equivalent (``0001-01-01T00:00:00+14:00``: an OverflowError)."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
        return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    except (ValueError, OverflowError):
        return None


def journal_filter(params: dict[str, str]) -> JournalFilter:
    return JournalFilter(
        service=params.get("service") if params.get("service") in SERVICES else None,
        outcome=params.get("outcome") if params.get("outcome") in OUTCOMES else None,
        client=(params.get("client") or "").strip()[:128] or None,
        actor=(params.get("actor") or "").strip()[:128] or None,
        since=_instant(params.get("since")), until=_instant(params.get("until")),
    )


def _params(request: Request) -> dict[str, str]:
    return {k: request.query_params.get(k, "") for k in ("service", "client", "actor", "outcome", "since", "until")}


def _rows(entries: list[Any]) -> list[tuple[Any, str | None]]:
    return [(e, target_of(e.path, e.query, e.protocol)) for e in entries]


@router.get("/console/journal", name="console_journal")
async def journal_page(request: Request, session: SessionDep) -> Response:
    params = _params(request)
    flt = journal_filter(params)
    if flt.since and flt.until and flt.since >= flt.until:
        return error_page(request, 400, "« depuis » doit précéder « jusqu'à » (since must be before until)",
                          "sandbox:journal-range")
    total, entries = await read_journal(request.app, session, flt, limit=PAGE)
    live = urlencode({k: v for k, v in params.items() if v})
    return render(request, "journal.html", {
        "page": "journal", "params": params, "services": SERVICES, "outcomes": OUTCOMES, "total": total,
        "rows": _rows(entries), "last_id": entries[0].id if entries else 0, "live_query": live,
    })


@router.get("/console/live/journal", name="console_live_journal")
async def live_rows(request: Request, session: SessionDep,
                    after: int = Query(0, ge=0, le=2**62)) -> Response:  # noqa: B008
    """The journal's rows newer than ``after`` (HTML table rows, newest first) for the page's polling script;
    ``X-Last-Id`` is the newest id. Not journaled itself (``app.api.journal.UNJOURNALED_PREFIXES``)."""
    flt = journal_filter(_params(request))
    if flt.since and flt.until and flt.since >= flt.until:
        flt = JournalFilter()
    _, entries = await read_journal(request.app, session, flt, limit=LIVE_MAX, after_id=after)
    html = templates.get_template("journal_rows.html").render(rows=_rows(entries))
    return Response(html, media_type="text/html; charset=utf-8",
                    headers={**HEADERS, "X-Last-Id": str(entries[0].id if entries else after)})


@router.post("/console/reset", name="console_reset")
async def reset(request: Request, session: SessionDep, settings: SettingsDep,
                form: FormData = Depends(check_csrf)) -> Response:  # noqa: B008
    """The store back to its fixtures, once the box saying so is ticked (no JavaScript needed to confirm)."""
    if form.get("confirm") != "yes":
        return error_page(request, 400, "Cochez la case de confirmation pour remettre le bac à sable à zéro "
                          "(tick the confirmation box to reset).", "console:reset-confirm")
    await reset_sandbox(request.app, session, settings)
    return RedirectResponse(tenant_path("/console/journal?reset=1"), status_code=303, headers=HEADERS)


@router.get("/console/reports", name="console_reports")
async def reports_page(request: Request, session: SessionDep) -> Response:
    seen = sorted(await journal_actors(request.app, session), key=lambda a: -a.entries)  # busiest first
    return render(request, "reports.html", {
        "page": "reports",
        "clients": [(a.actor, a.entries, a.last, f"/sandbox/v1/reports/{quote(a.actor, safe='')}?format=html")
                    for a in seen],
    })
