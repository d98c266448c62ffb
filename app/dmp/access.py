"""Who calls and how, and whether the DMP's access rules let them: the DMP and the caller's standing on it
read in one query, then :func:`app.dmp.rules.check_access`; a refusal on an existing DMP is traced."""

from __future__ import annotations

from functools import cache
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.dmp import rules
from app.dmp.context import AccessContext, RecordLike
from app.dmp.exceptions import XDS_UNKNOWN_PATIENT, DmpError, Kind
from app.dmp.models import DmpAuthorisation, DmpBlockedProfessional, DmpRecord
from app.dmp.traces import trace_refusal


async def caller_on(session: AsyncSession, record: RecordLike | None, ctx: AccessContext) -> rules.Caller:
    if record is None or ctx.rpps is None:
        return rules.Caller(rpps=ctx.rpps)
    status, blocked = await caller_standing(session, dmp_id=record.id, rpps=ctx.rpps)
    return rules.Caller(rpps=ctx.rpps, authorisation=rules.Authorisation(status or "NON_EXISTE"), blocked=blocked)


async def caller_standing(session: AsyncSession, *, dmp_id: int, rpps: str) -> tuple[str | None, bool]:
    """The caller's authorisation status on a DMP (None: none) and whether the patient blocked them."""
    status = (await session.execute(select(DmpAuthorisation.status).where(
        DmpAuthorisation.dmp_id == dmp_id, DmpAuthorisation.rpps == rpps))).scalar_one_or_none()
    blocked = (await session.execute(select(DmpBlockedProfessional.id).where(
        DmpBlockedProfessional.dmp_id == dmp_id, DmpBlockedProfessional.rpps == rpps))).first() is not None
    return status, blocked


def state_of(record: RecordLike | None) -> rules.DmpState:
    if record is None:
        return rules.DmpState(exists=False)
    opt_outs = set()
    if record.opt_out_bris_de_glace:
        opt_outs.add(rules.OptOut.BRIS_DE_GLACE)
    if record.opt_out_centre_15:
        opt_outs.add(rules.OptOut.CENTRE_15)
    return rules.DmpState(exists=True, open=bool(record.active), opt_outs=frozenset(opt_outs))


def standing_subqueries() -> tuple[Any, Any]:
    """The caller's authorisation status and block on the DMP of the enclosing query (``:rpps``)."""
    status = (select(DmpAuthorisation.status).where(DmpAuthorisation.dmp_id == DmpRecord.id,
                                                    DmpAuthorisation.rpps == bindparam("rpps")).scalar_subquery())
    blocked = (select(DmpBlockedProfessional.id).where(DmpBlockedProfessional.dmp_id == DmpRecord.id,
                                                       DmpBlockedProfessional.rpps == bindparam("rpps")).exists())
    return status, blocked


@cache
def _standing_query() -> Any:
    """The DMP of ``:ins`` and the caller's standing on it: built once, values bound at execution."""
    return select(DmpRecord, *standing_subqueries()).where(DmpRecord.ins == bindparam("ins"))


async def authorise(session: AsyncSession, *, ins: str, ctx: AccessContext, action: rules.Action,
                    known_to_ins: bool | None = None, transaction: str | None = None,
                    ) -> tuple[DmpRecord, rules.Caller, rules.Decision]:
    """Load the DMP and the caller's standing on it in one query, then apply :func:`rules.check_access`."""
    row = (await session.execute(_standing_query(), {"ins": ins, "rpps": ctx.rpps or ""})).first()
    record = row[0] if row else None
    caller, decision = await decide(session, ins=ins, record=record, status=row[1] if row else None,
                                     blocked=bool(row[2]) if row else False, ctx=ctx, action=action,
                                     known_to_ins=known_to_ins, transaction=transaction)
    assert record is not None
    return record, caller, decision


async def decide(session: AsyncSession, *, ins: str, record: RecordLike | None, status: str | None, blocked: bool,
                  ctx: AccessContext, action: rules.Action, known_to_ins: bool | None, transaction: str | None,
                  ) -> tuple[rules.Caller, rules.Decision]:
    """:func:`rules.check_access` on what :func:`authorise` (or :mod:`app.dmp.standing`) read."""
    if record is None and known_to_ins is False:
        raise unknown_ins(ins)
    if record is None or not ctx.rpps:
        caller = rules.Caller(rpps=ctx.rpps)
    else:
        caller = rules.Caller(rpps=ctx.rpps, authorisation=rules.Authorisation(status or "NON_EXISTE"),
                              blocked=blocked)
    decision = rules.check_access(action=action, dmp=state_of(record), caller=caller, mode=ctx.mode,
                                  reason=ctx.reason)
    if not decision:
        if record is not None:
            await trace_refusal(session, record=record, ctx=ctx, decision=decision,
                                transaction=transaction or TRANSACTIONS[action], action=ACTIONS[action])
        raise decision.refusal()
    return caller, decision


def unknown_ins(ins: str) -> DmpError:
    return DmpError(Kind.NOT_FOUND, f"INS {ins} is unknown to the INS service: only an INS returned by INSi may be "
                    "used for the DMP (EX_GEN-1530)",
                    french=f"L'INS {ins} est inconnu du service INS : seul un INS renvoyé par l'INSi peut servir pour "
                           "le DMP (EX_GEN-1530)",
                    rule="INS:unknown", xds_code=XDS_UNKNOWN_PATIENT)


# The transaction and action codes a refused access is traced with (IHE ITI-67, ITI-65, metadata update).
TRANSACTIONS = {rules.Action.CONSULT: "ITI-67", rules.Action.FEED: "ITI-65", rules.Action.UPDATE: "PATCH"}
ACTIONS = {rules.Action.CONSULT: "E", rules.Action.FEED: "C", rules.Action.UPDATE: "U"}
