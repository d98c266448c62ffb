"""platform: the journal of requests and SMTP sessions

Revision ID: platform_0001
Revises:
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "platform_0001"
down_revision = None
branch_labels = ("platform",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sandbox_journal_entry",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("request_id", sa.String(length=128), nullable=False),
        sa.Column("protocol", sa.String(length=16), nullable=False),
        sa.Column("client", sa.String(length=128), nullable=True),
        sa.Column("method", sa.String(length=16), nullable=False),
        sa.Column("path", sa.String(length=2048), nullable=False),
        sa.Column("query", sa.String(length=2048), nullable=True),
        sa.Column("operation", sa.String(length=128), nullable=True),
        sa.Column("service", sa.String(length=16), nullable=True),
        sa.Column("status", sa.Integer(), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("rule", sa.String(length=256), nullable=True),
        sa.Column("detail", sa.String(length=1024), nullable=True),
        sa.Column("duration_ms", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sandbox_journal_entry")),
    )
    op.create_index(op.f("ix_sandbox_journal_entry_at"), "sandbox_journal_entry", ["at"])
    op.create_index(op.f("ix_sandbox_journal_entry_request_id"), "sandbox_journal_entry", ["request_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_sandbox_journal_entry_request_id"), table_name="sandbox_journal_entry")
    op.drop_index(op.f("ix_sandbox_journal_entry_at"), table_name="sandbox_journal_entry")
    op.drop_table("sandbox_journal_entry")
