"""Fault rules in the store, and this worker's memory of them.

Every face asks :func:`check` on each call, so the question "is there a rule for this target?" is answered
from memory, with no round trip to the store when there is none (the PSC token path stays as it was). The
rule set is loaded once per store and tenant (:mod:`app.tenancy`: the rules of a tenant are its own, an
injection set in one never fires in another) and forgotten whenever one of the tenant's rules is created or
deleted (:data:`TOPIC_FAULTS`, published in the transaction that writes it, relayed to the other workers by
:mod:`app.events`) or the tenant is reset or deleted, or the PostgreSQL listener reconnects; while it is down
the rules are read from the store on every call.

A call a rule matches is counted in the store (one ``UPDATE ... RETURNING``, atomic across workers): that
count is the k of the rule's next-N trigger and of its seeded draw.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import utcnow
from app.events import TOPIC_RESET, events_for, publish
from app.faults import rules
from app.faults.models import FaultRuleRow
from app.tenancy import DEFAULT_TENANT, current_tenant, use_tenant

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import async_sessionmaker

TOPIC_FAULTS = "faults.rules"
"""Key: ``<tenant>:<id>`` of a rule created or deleted (``<tenant>:*`` for all of the tenant's); a key without a
tenant (an older worker's) makes every tenant's rules forgotten."""


def rule_of(row: FaultRuleRow) -> rules.Rule:
    return rules.Rule(
        id=row.id, target=row.target, kind=row.kind, delay_ms=row.delay_ms, answer=row.answer, count=row.count,
        starts_at=row.starts_at, ends_at=row.ends_at, probability=row.probability, seed=row.seed,
        client=row.client, tenant=row.tenant,
    )


# --- the control API's service --------------------------------------------------------------------

def _event_key(tenant: str, rule_id: int | str) -> str:
    return f"{tenant}:{rule_id}"


async def add_rule(session: AsyncSession, *, rule: rules.Rule) -> FaultRuleRow:
    """Keep ``rule`` in the current tenant, whatever ``rule.tenant`` says (validated first:
    :class:`~app.faults.rules.RuleError`)."""
    rules.validate(rule)
    row = FaultRuleRow(
        tenant=current_tenant(), target=rule.target, kind=rule.kind, delay_ms=rule.delay_ms, answer=rule.answer,
        count=rule.count, starts_at=rule.starts_at, ends_at=rule.ends_at, probability=rule.probability,
        seed=rule.seed, client=rule.client, calls=0, injected=0, created_at=utcnow(),
    )
    session.add(row)
    await session.flush()
    await publish(session, TOPIC_FAULTS, _event_key(row.tenant, row.id))
    return row


async def list_rules(session: AsyncSession) -> list[FaultRuleRow]:
    """The current tenant's rules (the session's tenant criteria, :mod:`app.tenancy`), oldest first."""
    return list((await session.scalars(select(FaultRuleRow).order_by(FaultRuleRow.id))).all())


async def get_rule(session: AsyncSession, *, rule_id: int) -> FaultRuleRow | None:
    """One rule of the current tenant (None for another tenant's: ids are numbered across the store)."""
    row = await session.get(FaultRuleRow, rule_id)
    return row if row is not None and row.tenant == current_tenant() else None


async def delete_rule(session: AsyncSession, *, row: FaultRuleRow) -> None:
    await session.delete(row)
    await session.flush()
    await publish(session, TOPIC_FAULTS, _event_key(row.tenant, row.id))


async def delete_rules(session: AsyncSession) -> int:
    """Delete every rule of the current tenant."""
    rows = await list_rules(session)
    for row in rows:
        await session.delete(row)
    await session.flush()
    await publish(session, TOPIC_FAULTS, _event_key(current_tenant(), "*"))
    return len(rows)


# --- the faces' check -----------------------------------------------------------------------------

@dataclass(frozen=True)
class Injection:
    """A fault to answer now: the rule, and which of its matching calls this is."""

    rule: rules.Rule
    k: int

    @property
    def kind(self) -> str:
        return self.rule.kind

    @property
    def name(self) -> str:
        """The journal's ``rule`` for it: ``fault:<id>``."""
        return f"fault:{self.rule.id}"

    def facts(self) -> dict[str, Any]:
        return {"injected": True, "fault": self.rule.id, "fault_kind": self.rule.kind, "fault_call": self.k}


Targets = dict[str, tuple[rules.Rule, ...]]


class FaultMemory:
    """One store's rules, as this worker knows them: per tenant, by target; a tenant absent until (re)loaded."""

    def __init__(self, database_url: str) -> None:
        self.events = events_for(database_url)
        self.by_tenant: dict[str, Targets] = {}
        self.generation = 0
        self.events.subscribe(TOPIC_FAULTS, self._forget_rule)
        self.events.subscribe(TOPIC_RESET, self._forget_tenant)
        self.events.on_resync(self._resync)

    def _forget(self, tenant: str | None) -> None:
        """Forget ``tenant``'s rules (every tenant's for None); a load under way when this happens is not kept."""
        if tenant is None:
            self.by_tenant = {}
        else:
            self.by_tenant.pop(tenant, None)
        self.generation += 1

    def _forget_rule(self, key: str) -> None:
        tenant, separator, _ = key.rpartition(":")
        self._forget(tenant if separator else None)

    def _forget_tenant(self, key: str) -> None:
        """A tenant's reset or deletion (its name; ``""`` for the default tenant)."""
        self._forget(key or DEFAULT_TENANT)

    async def _resync(self) -> None:
        """The PostgreSQL listener (re)connected: a change notified while it was down never reached this worker,
        so the rules are read again on the next call."""
        self._forget(None)

    def drop(self, rule_id: int, tenant: str) -> None:
        """Forget a rule that cannot fire any more (this worker's shortcut; the row stays listed)."""
        known = self.by_tenant.get(tenant)
        if known is not None:
            self.by_tenant[tenant] = {t: tuple(r for r in rs if r.id != rule_id) for t, rs in known.items()}

    async def rules_for(self, sessionmaker: async_sessionmaker[AsyncSession], target: str,
                        tenant: str) -> Sequence[rules.Rule]:
        known = self.by_tenant.get(tenant)
        if known is None or not self.events.relayed:
            known = await self._load(sessionmaker, tenant)
        return known.get(target, ())

    async def _load(self, sessionmaker: async_sessionmaker[AsyncSession], tenant: str) -> Targets:
        generation = self.generation
        with use_tenant(tenant):
            async with sessionmaker() as session:
                rows = (await session.scalars(select(FaultRuleRow).order_by(FaultRuleRow.id))).all()
        loaded: dict[str, list[rules.Rule]] = {}
        for row in rows:
            loaded.setdefault(row.target, []).append(rule_of(row))
        known = {target: tuple(found) for target, found in loaded.items()}
        if generation == self.generation:  # else a change arrived while loading: the next call loads again
            self.by_tenant[tenant] = known
        return known


_MEMORIES: dict[str, FaultMemory] = {}


def memory_for(database_url: str) -> FaultMemory:
    """The store's memory, looked up by the URL as given (no parsing on the hot path), one per store."""
    memory = _MEMORIES.get(database_url)
    if memory is None:
        key = events_for(database_url).key
        memory = next((m for m in _MEMORIES.values() if m.events.key == key), None) or FaultMemory(database_url)
        _MEMORIES[database_url] = memory
    return memory


async def count_call(sessionmaker: async_sessionmaker[AsyncSession], rule: rules.Rule) -> int | None:
    """Count one matching call of ``rule`` in the store: its k (None when the rule is gone)."""
    async with sessionmaker() as session, session.begin():  # the current tenant's row (the session's criteria)
        k = await session.scalar(update(FaultRuleRow).where(FaultRuleRow.id == rule.id)
                                 .values(calls=FaultRuleRow.calls + 1).returning(FaultRuleRow.calls))
        if k is not None and rules.fires(rule, k):
            await session.execute(update(FaultRuleRow).where(FaultRuleRow.id == rule.id)
                                  .values(injected=FaultRuleRow.injected + 1))
    return k


async def find_injection(sessionmaker: async_sessionmaker[AsyncSession], database_url: str, target: str, *,
                         actor: str | None) -> Injection | None:
    """The fault to inject in this call of ``target`` in the current tenant, if one of its rules fires (oldest
    rule first)."""
    tenant = current_tenant()
    memory = memory_for(database_url)
    candidates = await memory.rules_for(sessionmaker, target, tenant)
    if not candidates:
        return None
    now = utcnow()
    for rule in candidates:
        if not rules.matches(rule, target, actor=actor, now=now, tenant=tenant):
            if rule.ends_at is not None and now >= rule.ends_at:
                memory.drop(rule.id, tenant)
            continue
        k = await count_call(sessionmaker, rule)
        if k is None:
            memory.drop(rule.id, tenant)
            continue
        if rules.exhausted(rule, k, now):
            memory.drop(rule.id, tenant)
        if rules.fires(rule, k):
            return Injection(rule, k)
    return None
