"""What a feeding (ITI-65, ITI-105) checks before it files anything: the patient is known to the INS service,
the DMP exists and is open, the caller may feed it (:func:`app.dmp.rules.check_access`).

Fast path (``settings.fast_paths``): the DMP, the caller's authorisation and block and the INS identity's
kind in one statement (:func:`app.ins.service.identity_kind_subquery`), built once. Plain path:
:func:`app.ins.service.find_identity`, then the DMP and the caller's standing in their own queries. Both
answer the same, in the same order: INS unknown and no DMP, then the access rules (a refusal on an existing
DMP is traced), then INS unknown.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.dmp import rules
from app.dmp.access import caller_standing, decide, standing_subqueries, unknown_ins
from app.dmp.context import AccessContext, RecordRow
from app.dmp.models import DmpRecord
from app.dmp.submission import PatientId
from app.ins import service as ins_service


async def feed_standing(session: AsyncSession, *, patient: PatientId, ctx: AccessContext, transaction: str,
                        fast: bool) -> RecordRow:
    """The DMP the caller may feed for ``patient``, or the domain's refusal."""
    if fast:
        record, known, status, blocked = await _read_in_one_query(session, patient=patient, ctx=ctx)
    else:
        record, known, status, blocked = await _read_plainly(session, patient=patient, ctx=ctx)
    await decide(session, ins=patient.ins, record=record, status=status, blocked=blocked, ctx=ctx,
                 action=rules.Action.FEED, known_to_ins=known, transaction=transaction)
    if not known:
        raise unknown_ins(patient.ins)
    assert record is not None
    return record


async def _is_known(session: AsyncSession, patient: PatientId) -> bool:
    return await ins_service.find_identity(session, ins=patient.ins, oid=f"urn:oid:{patient.oid}") is not None


@cache
def _feed_standing_query() -> Any:
    """The DMP, the caller's authorisation and block, and the INS identity's kind: one statement, built once
    (values travel as parameters). The identity is read as find_identity reads it (first row of the INS)."""
    status, blocked = standing_subqueries()
    kind = ins_service.identity_kind_subquery()
    return select(DmpRecord.id, DmpRecord.ins, DmpRecord.ins_oid, DmpRecord.active, DmpRecord.opt_out_bris_de_glace,
                  DmpRecord.opt_out_centre_15, status, blocked, kind).where(DmpRecord.ins == bindparam("ins"))


Standing = tuple[RecordRow | None, bool, str | None, bool]  # (the DMP, known to INS, authorisation, blocked)


async def _read_in_one_query(session: AsyncSession, *, patient: PatientId, ctx: AccessContext) -> Standing:
    lookup = ins_service.lookup_key(patient.ins, f"urn:oid:{patient.oid}")
    row = (await session.execute(_feed_standing_query(), {
        "ins": patient.ins, "rpps": ctx.rpps or "", "ins_number": lookup[0] if lookup else "",
        "ins_key": lookup[1] if lookup else ""})).first()
    if row is None:
        return None, await _is_known(session, patient), None, False  # no DMP: the INS service decides
    record = RecordRow(row[0], row[1], row[2], bool(row[3]), bool(row[4]), bool(row[5]))
    known = lookup is not None and row[8] is not None and row[8] == lookup[2]
    return record, known, row[6], bool(row[7])


async def _read_plainly(session: AsyncSession, *, patient: PatientId, ctx: AccessContext) -> Standing:
    known = await _is_known(session, patient)
    found = (await session.execute(select(DmpRecord).where(DmpRecord.ins == patient.ins))).scalar_one_or_none()
    if found is None:
        return None, known, None, False
    record = RecordRow(found.id, found.ins, found.ins_oid, bool(found.active), bool(found.opt_out_bris_de_glace),
                       bool(found.opt_out_centre_15))
    if not ctx.rpps:
        return record, known, None, False
    status, blocked = await caller_standing(session, dmp_id=found.id, rpps=ctx.rpps)
    return record, known, status, blocked

