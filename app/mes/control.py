"""Control API ``/sandbox/v1/mes``: what a harness uses to arrange the patient side — the one-time codes a patient
would receive by SMS, and legal representations. The patient API (``/mes/api/v1``) is what the patient does."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from app.api.deps import SessionDep, SettingsDep
from app.api.openapi_errors import error_responses
from app.mes import history, persons, signin

PREFIX = "/sandbox/v1/mes"
router = APIRouter(prefix=PREFIX, tags=["sandbox"])


class OneTimeCode(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "challenge": "0b5d7c1e-3f43-4d0a-9a55-0e2a1b7c9d10", "ins": "275126322074974", "code": "123456",
        "expires_at": "2026-12-07T18:05:00Z"}]})

    challenge: str
    ins: str
    code: str
    expires_at: str


class Representation(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "representative": "180098708555433", "minor": "212018708555384"}]})

    representative: str = Field(min_length=1, max_length=64, description="INS of the legal representative")
    minor: str = Field(min_length=1, max_length=64, description="INS of the person represented (while a minor)")


@router.get("/one-time-codes", response_model=list[OneTimeCode], operation_id="sandbox_mes_one_time_codes",
            summary="The one-time codes still open for a person (what the simulated SMS said), newest first")
async def one_time_codes(
    session: SessionDep,
    ins: Annotated[str, Query(min_length=1, max_length=64, description="The person's INS",
                              examples=["275126322074974"])],
) -> list[OneTimeCode]:
    return [OneTimeCode(challenge=c.id, ins=c.ins, code=c.code, expires_at=c.expires_at.isoformat())
            for c in await signin.latest_codes(session, ins=ins)]


@router.get("/representations", response_model=list[Representation], operation_id="sandbox_mes_representations",
            summary="Legal representations (a representative acts for a minor in Mon espace santé)")
async def list_representations(session: SessionDep) -> list[Representation]:
    return [Representation(representative=r.representative_ins, minor=r.minor_ins)
            for r in await persons.list_representations(session)]


@router.post("/representations", status_code=201, response_model=Representation,
             operation_id="sandbox_mes_add_representation", summary="Record a legal representation",
             responses=error_responses(PREFIX, 404, 409, 422))
async def add_representation(body: Representation, session: SessionDep) -> Representation:
    row = await persons.add_representation(session, representative_ins=body.representative, minor_ins=body.minor)
    return Representation(representative=row.representative_ins, minor=row.minor_ins)


@router.delete("/representations/{representative}/{minor}", status_code=204, response_class=Response,
               operation_id="sandbox_mes_remove_representation", summary="Remove a legal representation",
               responses=error_responses(PREFIX, 404))
async def remove_representation(representative: str, minor: str, session: SessionDep) -> Response:
    await persons.remove_representation(session, representative_ins=representative, minor_ins=minor)
    return Response(status_code=204)


class Dispatched(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"notifications": 2}]})

    notifications: int = Field(description="notifications made (and mailed where an address is set)")


@router.post("/notifications/dispatch", response_model=Dispatched, operation_id="sandbox_mes_dispatch_notifications",
             summary="Make the pending patient notifications now (and mail them), for one INS or every DMP",
             responses=error_responses(PREFIX, 404),
             description="Notifications are computed from the DMP's access traces when the patient side looks "
             "(docs/mes.md); a harness that waits for the notification mail calls this first.")
async def dispatch_notifications(
    session: SessionDep, settings: SettingsDep,
    ins: Annotated[str | None, Query(min_length=1, max_length=64, description="one patient (default: all)",
                                     examples=["275126322074974"])] = None,
) -> Dispatched:
    return Dispatched(notifications=await history.dispatch(session, settings, ins=ins))
