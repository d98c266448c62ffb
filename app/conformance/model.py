"""What the rules read (journal entries) and what they say (verdicts). Pure."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

Status = Literal["passed", "failed", "not_exercised"]

NEEDS_HOOK = "needs a scenario hook: the sandbox cannot provoke this situation yet"


@dataclass(frozen=True)
class Entry:
    """One journal entry as the rules see it (``app.api.models.JournalEntry`` without the database)."""

    id: int
    at: datetime
    service: str | None
    protocol: str = "http"
    method: str = "GET"
    path: str = "/"
    operation: str | None = None
    status: int | None = None
    outcome: str = "ok"
    rule: str | None = None
    actor: str | None = None
    facts: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, row: Any) -> Entry:
        """From a ``JournalEntry`` row (its ``facts`` column is JSON text)."""
        facts: Any = row.facts
        if isinstance(facts, str):
            try:
                facts = json.loads(facts)
            except ValueError:
                facts = {}
        return cls(id=row.id, at=row.at, service=row.service, protocol=row.protocol, method=row.method,
                   path=row.path, operation=row.operation, status=row.status, outcome=row.outcome, rule=row.rule,
                   actor=row.actor, facts=facts if isinstance(facts, dict) else {})

    def fact(self, name: str, default: Any = None) -> Any:
        return self.facts.get(name, default)


@dataclass(frozen=True)
class Verdict:
    status: Status
    message: str
    entries: tuple[int, ...] = ()

    @classmethod
    def passed(cls, message: str, entries: list[Entry] | tuple[Entry, ...] = ()) -> Verdict:
        return cls("passed", message, tuple(e.id for e in entries[:50]))

    @classmethod
    def failed(cls, message: str, entries: list[Entry] | tuple[Entry, ...]) -> Verdict:
        return cls("failed", message, tuple(e.id for e in entries[:50]))

    @classmethod
    def not_exercised(cls, why: str) -> Verdict:
        return cls("not_exercised", why)
