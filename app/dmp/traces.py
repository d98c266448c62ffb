"""Access traces, shown to the patient (reference/dmp.md §2.6): one per request, refusals included."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import utcnow
from app.dmp import rules
from app.dmp.context import AccessContext, RecordLike
from app.dmp.filters import DateRange, date_clauses
from app.dmp.models import DmpAuditEvent

# One Core insert, built once: its compiled form is cached, the values travel as parameters.
_INSERT_TRACE = insert(DmpAuditEvent.__table__)  # type: ignore[arg-type]


async def trace_refusal(session: AsyncSession, *, record: RecordLike, ctx: AccessContext, decision: rules.Decision,
                        transaction: str, action: str) -> None:
    """A refused access is traced too (the patient sees attempts, e.g. a refused break-glass), in its own
    transaction since the request's is rolled back. Outcome 4 (minor failure) with the reason."""
    bind = session.bind
    async with AsyncSession(bind=bind, expire_on_commit=False) as own, own.begin():
        own.add(DmpAuditEvent(
            recorded=utcnow(), ins=record.ins, ins_oid=record.ins_oid, transaction=transaction, action=action,
            outcome="4", outcome_text=f"{decision.rule}: {decision.message}"[:1024], agent_rpps=ctx.rpps,
            agent_name=_clip(ctx.name, 256), client_id=_clip(ctx.professional.client_id, 256),
            access_mode=ctx.mode.value, access_reason=_clip(ctx.reason, 1024), document_ids=[], query=None,
        ))


def trace_row(*, record: RecordLike, ctx: AccessContext, transaction: str, action: str,
              documents_ids: Sequence[str] = (), query: str | None = None, outcome_text: str | None = None,
              ) -> dict[str, Any]:
    return {
        "recorded": utcnow(), "ins": record.ins, "ins_oid": record.ins_oid, "transaction": transaction,
        "action": action, "outcome": "0", "outcome_text": _clip(outcome_text, 1024), "agent_rpps": ctx.rpps,
        "agent_name": _clip(ctx.name, 256), "client_id": _clip(ctx.professional.client_id, 256),
        "access_mode": ctx.mode.value, "access_reason": _clip(ctx.reason, 1024), "document_ids": list(documents_ids),
        "query": _clip(query, 2048),
    }


def _clip(value: str | None, limit: int) -> str | None:
    """A trace keeps what its column holds (a long reason header or query string is not a server error)."""
    return value[:limit] if value is not None and len(value) > limit else value


async def trace(
    session: AsyncSession, *, record: RecordLike, ctx: AccessContext, transaction: str, action: str,
    documents_ids: Sequence[str] = (), query: str | None = None, outcome_text: str | None = None,
) -> None:
    """An access trace, shown to the patient (reference/dmp.md §2.6). A Core insert: one per request, one
    statement object for all (its compiled form is cached; the values travel as parameters)."""
    await session.execute(_INSERT_TRACE, trace_row(
        record=record, ctx=ctx, transaction=transaction, action=action, documents_ids=documents_ids, query=query,
        outcome_text=outcome_text))


@dataclass(frozen=True)
class AuditSearch:
    """An access-trace search: the patient, when (each a date range), which transactions, one page."""

    ins: str
    recorded: Sequence[DateRange] = ()
    transactions: Sequence[str] = ()
    count: int = 20
    offset: int = 0


async def search_audit(session: AsyncSession, *, search: AuditSearch) -> tuple[list[DmpAuditEvent], int]:
    filters = [*date_clauses(DmpAuditEvent.recorded, search.recorded)]
    if search.transactions:
        filters.append(DmpAuditEvent.transaction.in_(list(search.transactions)))
    where = and_(DmpAuditEvent.ins == search.ins, *filters)
    total = (await session.execute(select(func.count()).select_from(DmpAuditEvent).where(where))).scalar_one()
    rows = (await session.execute(select(DmpAuditEvent).where(where)
                                  .order_by(DmpAuditEvent.recorded.desc(), DmpAuditEvent.id.desc())
                                  .limit(search.count).offset(search.offset))).scalars().all()
    return list(rows), total
