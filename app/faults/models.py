"""The fault rules' table (platform)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, Instant
from app.tenancy import TenantOwned


class FaultRuleRow(TenantOwned, Base):
    __tablename__ = "sandbox_fault_rule"
    __table_args__ = (Index("ix_sandbox_fault_rule_tenant", "tenant"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    target: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(32))
    delay_ms: Mapped[int | None] = mapped_column(Integer)
    answer: Mapped[str | None] = mapped_column(String(8))
    count: Mapped[int | None] = mapped_column(Integer)
    starts_at: Mapped[datetime | None] = mapped_column(Instant)
    ends_at: Mapped[datetime | None] = mapped_column(Instant)
    probability: Mapped[float | None] = mapped_column(Float)
    seed: Mapped[str | None] = mapped_column(String(128))
    client: Mapped[str | None] = mapped_column(String(128))
    calls: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    """Matching calls so far (the k of the k-th call's draw)."""
    injected: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(Instant)
