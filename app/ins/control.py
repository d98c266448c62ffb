"""The INS control API (``/sandbox/v1/persons|cards|idams|ins-fixtures``): what a test harness uses to arrange
the simulated national base. Included with the control API's own auth (the platform's control token).

It only translates JSON to the domain's calls (:mod:`app.ins.national_base`) and back; the domain's errors become
problem JSON through :func:`control_problem`, the one mapper of this face: a collision 409, a card naming an
unknown beneficiary 422, an unknown person or IDAM 404 (any other domain error 400).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response

from app.api.deps import SessionDep
from app.api.errors import ProblemError
from app.ins import national_base, search
from app.ins.exceptions import BeneficiaryUnknown, InsConflict, InsError, NotFound
from app.ins.individu import person_json
from app.ins.jsonbody import json_response
from app.ins.schemas import CardIn, FixtureFile, IdamIn, PersonIn
from app.shared.identifiers import OID_INS_NIA, OID_INS_NIR

control = APIRouter(prefix="/sandbox/v1", tags=["sandbox"])


def control_problem(err: InsError) -> ProblemError:
    """The problem JSON of a domain error on the control API."""
    if isinstance(err, NotFound):
        return ProblemError(404, "Not Found", err.message, rule=err.rule, extra={"field": err.field})
    if isinstance(err, BeneficiaryUnknown):
        return ProblemError(422, "Unprocessable", err.message, rule=err.rule, extra={"field": err.field})
    if isinstance(err, InsConflict):
        return ProblemError(409, "Conflict", err.message, rule=err.rule, extra={"field": err.field})
    # no other domain error is raised under the control API today; a refused value would be a 400
    return ProblemError(400, "Bad Request", err.message, rule=err.rule, extra={"field": err.field})


def _person_out(p: search.PersonRecord) -> dict:
    out = person_json(p, lambda r: OID_INS_NIA if r.kind == "NIA" else OID_INS_NIR)
    body = dict(out["TIQ"])
    body.pop("Prenom", None)
    if p.rang_naissance:
        body["RangNaissance"] = p.rang_naissance
    if "INSACTIF" in out:
        body["INSACTIF"] = out["INSACTIF"]
    body["INSHISTO"] = out["INSHISTO"]
    if p.fault:
        body["fault"] = p.fault
    return body


async def _person(ins: Annotated[str, Path(max_length=32)], session: SessionDep) -> search.PersonRecord:
    """Load-or-fail: the person whose active INS is ``ins``, or a 404 naming ``INS:person-unknown``."""
    try:
        return await national_base.get_person(session, ins)
    except InsError as err:
        raise control_problem(err) from None


async def _created(request: Request, session: AsyncSession, insert: Callable[..., Awaitable[Any]],
                   body: CardIn | IdamIn) -> Response:
    """A card or an IDAM written (``insert(session, [body])``), answered 201 with the body as received."""
    try:
        await insert(session, [body], skip_existing=False)
    except InsError as err:
        raise control_problem(err) from None
    return json_response(body.model_dump(exclude_none=True), 201, fast=request.app.state.settings.fast_paths)


CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {"description": "collides with the store (problem JSON naming the field and the rule)"}}


@control.post("/persons", status_code=201, summary="Add a test identity to the simulated national base",
              operation_id="sandbox_persons_create", responses=CONFLICT)
async def create_person(body: PersonIn, request: Request, session: SessionDep) -> Response:
    try:
        ids = await national_base.insert_persons(session, [body], skip_existing=False)
    except InsError as err:
        raise control_problem(err) from None
    rec = body.record(ids[0])
    return json_response(_person_out(rec), 201, fast=request.app.state.settings.fast_paths)


@control.get("/persons", summary="Test identities (INSi names)", operation_id="sandbox_persons_list")
async def list_persons(
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict:
    persons = await national_base.list_persons(session, limit=limit, offset=offset)
    return {"persons": [_person_out(p) for p in persons]}


@control.get("/persons/{ins}", summary="One test identity by its active INS (15 characters)",
             operation_id="sandbox_persons_get")
async def get_person(person: Annotated[search.PersonRecord, Depends(_person)]) -> dict:
    return _person_out(person)


@control.delete("/persons/{ins}", status_code=204, summary="Remove a test identity",
                operation_id="sandbox_persons_delete")
async def delete_person(ins: Annotated[str, Path(max_length=32)], session: SessionDep) -> Response:
    try:
        await national_base.delete_person(session, ins)
    except InsError as err:
        raise control_problem(err) from None
    return Response(status_code=204)


@control.post("/cards", status_code=201, summary="Add a simulated Carte Vitale (holder and beneficiaries)",
              operation_id="sandbox_cards_create",
              responses={**CONFLICT, 422: {"description": "request fails validation (rule platform:request-validation "
                                                       "names each field), or a beneficiary INS is no person of "
                                                       "the store (rule INS:card-beneficiary)"}})
async def create_card(body: CardIn, request: Request, session: SessionDep) -> Response:
    return await _created(request, session, national_base.insert_cards, body)


@control.get("/cards", summary="Simulated Cartes Vitale", operation_id="sandbox_cards_list")
async def list_cards(session: SessionDep) -> dict:
    return {"cards": await national_base.list_cards(session)}


@control.post("/idams", status_code=201, summary="Accept a software authorisation number (ContexteLPS IDAM)",
              operation_id="sandbox_idams_create", responses=CONFLICT)
async def create_idam(body: IdamIn, request: Request, session: SessionDep) -> Response:
    return await _created(request, session, national_base.insert_idams, body)


@control.get("/idams", summary="Accepted IDAMs", operation_id="sandbox_idams_list")
async def list_idams(session: SessionDep) -> dict:
    return {"idams": await national_base.list_idams(session)}


@control.delete("/idams/{idam}", status_code=204, summary="Stop accepting an IDAM", operation_id="sandbox_idams_delete")
async def delete_idam(idam: Annotated[str, Path(max_length=64)], session: SessionDep) -> Response:
    try:
        await national_base.delete_idam(session, idam)
    except InsError as err:
        raise control_problem(err) from None
    return Response(status_code=204)


@control.post("/ins-fixtures", summary="Load a fixture file (persons, cards, idams) idempotently",
              operation_id="sandbox_ins_fixtures_load", responses=CONFLICT)
async def load_fixtures(body: FixtureFile, session: SessionDep) -> dict:
    try:
        return {"added": await national_base.load_fixtures(session, body, skip_existing=True)}
    except InsError as err:
        raise control_problem(err) from None
