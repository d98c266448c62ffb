"""The control API of fault injection: ``/sandbox/v1/faults`` (create, list, read, delete)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Path, Request
from starlette.responses import Response

from app.api.deps import SessionDep
from app.api.errors import ProblemError, render_generic
from app.faults import rules, store
from app.faults.models import FaultRuleRow
from app.faults.schemas import FaultRuleCreate, FaultRuleRead, FaultRulesDeleted
from app.faults.service import InjectedUnavailable

if TYPE_CHECKING:
    from fastapi import FastAPI

router = APIRouter(prefix="/sandbox/v1", tags=["sandbox"])

_NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "no such rule (problem JSON)"}}


def read(row: FaultRuleRow) -> FaultRuleRead:
    return FaultRuleRead.model_validate(dict(
        id=row.id, target=row.target, kind=row.kind, delay_ms=row.delay_ms, answer=row.answer, count=row.count,
        from_=row.starts_at, until=row.ends_at, probability=row.probability, seed=row.seed, client=row.client,
        calls=row.calls, injected=row.injected, created_at=row.created_at,
    ))


@router.post("/faults", response_model=FaultRuleRead, status_code=201, operation_id="sandbox_faults_create",
             summary="Create a fault rule (INSi, DMP, PSC, SMTP, IMAP failures in the real services' shapes)",
             response_model_by_alias=True,
             responses={422: {"description": "a rule that cannot be applied (problem JSON naming the field)"}})
async def create_fault(session: SessionDep, body: FaultRuleCreate) -> FaultRuleRead:
    rule = rules.Rule(id=0, target=body.target, kind=body.kind, delay_ms=body.delay_ms, answer=body.answer,
                      count=body.count, starts_at=body.from_, ends_at=body.until, probability=body.probability,
                      seed=body.seed, client=body.client)
    try:
        row = await store.add_rule(session, rule=rule)
    except rules.RuleError as err:
        raise ProblemError(422, "Invalid fault rule", err.message, rule="faults:rule",
                           extra={"field": err.field}) from None
    return read(row)


@router.get("/faults", response_model=list[FaultRuleRead], operation_id="sandbox_faults_list",
            response_model_by_alias=True, summary="The fault rules, with their calls and injections so far")
async def list_faults(session: SessionDep) -> list[FaultRuleRead]:
    return [read(row) for row in await store.list_rules(session)]


@router.delete("/faults", response_model=FaultRulesDeleted, operation_id="sandbox_faults_delete_all",
               summary="Delete every fault rule")
async def delete_faults(session: SessionDep) -> FaultRulesDeleted:
    return FaultRulesDeleted(deleted=await store.delete_rules(session))


async def _rule(session: SessionDep, rule_id: int) -> FaultRuleRow:
    row = await store.get_rule(session, rule_id=rule_id)
    if row is None:
        raise ProblemError(404, "Unknown fault rule", f"no fault rule {rule_id}", rule="faults:unknown")
    return row


@router.get("/faults/{rule_id}", response_model=FaultRuleRead, operation_id="sandbox_faults_read",
            response_model_by_alias=True, summary="One fault rule", responses=_NOT_FOUND)
async def read_fault(session: SessionDep, rule_id: int = Path(ge=1, le=2**31 - 1)) -> FaultRuleRead:
    return read(await _rule(session, rule_id))


@router.delete("/faults/{rule_id}", status_code=204, operation_id="sandbox_faults_delete",
               summary="Delete one fault rule", responses=_NOT_FOUND)
async def delete_fault(session: SessionDep, rule_id: int = Path(ge=1, le=2**31 - 1)) -> Response:
    await store.delete_rule(session, row=await _rule(session, rule_id))
    return Response(status_code=204)


async def _unavailable(request: Request, exc: InjectedUnavailable) -> Response:
    return render_generic(request, exc.status, str(exc), rule=exc.rule, headers=exc.headers)


def install(app: FastAPI, *, dependencies: list) -> None:  # type: ignore[type-arg]
    """The control routes (behind the control API's dependencies) and the 503 handler of injected faults."""
    app.include_router(router, dependencies=dependencies)
    app.add_exception_handler(InjectedUnavailable, _unavailable)  # type: ignore[arg-type]
