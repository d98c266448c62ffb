"""The console's INS page: the simulated national base (persons and Cartes Vitale) and a trial search by
traits, run through the INS service exactly as the JSON facade runs it (same trait checks, same search, same
answer), without a certificate or an IDAM."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import FormData

from app.api.deps import SessionDep, SettingsDep
from app.api.journal import note_refusal
from app.console.access import check_csrf, require_sign_in
from app.console.pages import ConsoleRoute, render
from app.ins import service as ins_service

router = APIRouter(prefix="/console/ins", route_class=ConsoleRoute, include_in_schema=False,
                   dependencies=[Depends(require_sign_in)])

PAGE = 100
SEARCH_FIELDS = ("NomNaissance", "Prenom", "Sexe", "DateNaissance", "LieuNaissance")


async def _page(request: Request, session: AsyncSession, offset: int, *, search: dict[str, Any] | None = None,
                status_code: int = 200) -> Response:
    persons = await ins_service.list_persons(session, limit=PAGE + 1, offset=offset)
    return render(request, "ins.html", {
        "page": "ins", "persons": persons[:PAGE], "offset": offset, "more": len(persons) > PAGE, "size": PAGE,
        "cards": await ins_service.list_cards(session), "search": search or {"form": {}},
    }, status_code=status_code)


@router.get("", name="console_ins")
async def ins_page(request: Request, session: SessionDep,
                   offset: int = Query(0, ge=0, le=1_000_000)) -> Response:  # noqa: B008
    return await _page(request, session, offset)


@router.post("/search", name="console_ins_search")
async def trial_search(request: Request, session: SessionDep, settings: SettingsDep,
                       form: FormData = Depends(check_csrf)) -> Response:  # noqa: B008
    """rechercherInsAvecTraitsIdentite on the traits typed in: the INSi code and, for 00, the identity."""
    fields = {name: str(form.get(name) or "").strip() for name in SEARCH_FIELDS}
    search: dict[str, Any] = {"form": fields}
    try:
        query = ins_service.check_query(fields["NomNaissance"] or None, fields["Prenom"] or None,
                                        fields["Sexe"] or None, fields["DateNaissance"] or None,
                                        fields["LieuNaissance"] or None)
    except ins_service.InsError as exc:
        note_refusal(request, rule=exc.rule, detail=exc.message, status=400)
        search["error"] = {"message": exc.message, "rule": exc.rule, "field": exc.field}
        return await _page(request, session, 0, search=search, status_code=400)
    outcome = await ins_service.search_by_traits(session, query)
    if outcome.fault:
        search["fault"] = outcome.fault
    else:
        search["answer"] = ins_service.answer_body(outcome, settings, "INSI")
    return await _page(request, session, 0, search=search)
