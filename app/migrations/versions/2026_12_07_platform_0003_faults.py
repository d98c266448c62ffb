"""platform: fault rules (issue 15), keyed by a tenant column (``default`` until tenants exist)

Revision ID: platform_0003
Revises: platform_0002
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "platform_0003"
down_revision = "platform_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sandbox_fault_rule",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("tenant", sa.String(length=64), server_default="default", nullable=False),
        sa.Column("target", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("delay_ms", sa.Integer(), nullable=True),
        sa.Column("answer", sa.String(length=8), nullable=True),
        sa.Column("count", sa.Integer(), nullable=True),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("probability", sa.Float(), nullable=True),
        sa.Column("seed", sa.String(length=128), nullable=True),
        sa.Column("client", sa.String(length=128), nullable=True),
        sa.Column("calls", sa.Integer(), server_default="0", nullable=False),
        sa.Column("injected", sa.Integer(), server_default="0", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sandbox_fault_rule")),
    )
    op.create_index(op.f("ix_sandbox_fault_rule_tenant"), "sandbox_fault_rule", ["tenant"])


def downgrade() -> None:
    op.drop_index(op.f("ix_sandbox_fault_rule_tenant"), table_name="sandbox_fault_rule")
    op.drop_table("sandbox_fault_rule")
