"""Platform tables: the tenants, and the journal of every HTTP request and SMTP/IMAP session."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, Instant
from app.tenancy import TenantOwned


class Tenant(Base):
    """A tenant (app.tenancy): a whole, isolated world; ``default`` is implicit and has no row."""

    __tablename__ = "sandbox_tenant"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(Instant)
    seeded: Mapped[str] = mapped_column(String(16))
    """What it was created with: ``fixtures`` (the same world as ``default``'s) or ``empty``."""


class JournalEntry(TenantOwned, Base):
    __tablename__ = "sandbox_journal_entry"
    __table_args__ = (Index("ix_sandbox_journal_entry_tenant_id", "tenant", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(Instant, index=True)
    request_id: Mapped[str] = mapped_column(String(128), index=True)
    protocol: Mapped[str] = mapped_column(String(16))
    client: Mapped[str | None] = mapped_column(String(128))
    method: Mapped[str] = mapped_column(String(16))
    path: Mapped[str] = mapped_column(String(2048))
    query: Mapped[str | None] = mapped_column(String(2048))
    operation: Mapped[str | None] = mapped_column(String(128))
    service: Mapped[str | None] = mapped_column(String(16))
    status: Mapped[int | None] = mapped_column(Integer)
    outcome: Mapped[str] = mapped_column(String(16))
    rule: Mapped[str | None] = mapped_column(String(256))
    detail: Mapped[str | None] = mapped_column(String(1024))
    duration_ms: Mapped[float | None] = mapped_column(Float)
    actor: Mapped[str | None] = mapped_column(String(128), index=True)
    """The calling software's identity, as the conformance report keys it (``psc:<client_id>``, ...)."""
    facts: Mapped[str | None] = mapped_column(Text)
    """What the conformance rules need of the exchange, as compact JSON (app.api.journal.note_facts)."""
