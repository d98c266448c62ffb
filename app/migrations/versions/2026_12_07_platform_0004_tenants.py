"""platform: tenants (issue 15): the tenant registry, and the journal's tenant column

Revision ID: platform_0004
Revises: platform_0003
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "platform_0004"
down_revision = "platform_0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sandbox_tenant",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("seeded", sa.String(length=16), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_sandbox_tenant")),
    )
    with op.batch_alter_table("sandbox_journal_entry") as batch:
        batch.add_column(sa.Column("tenant", sa.String(length=64), server_default="default", nullable=False))
    op.create_index("ix_sandbox_journal_entry_tenant_id", "sandbox_journal_entry", ["tenant", "id"])


def downgrade() -> None:
    op.drop_index("ix_sandbox_journal_entry_tenant_id", table_name="sandbox_journal_entry")
    with op.batch_alter_table("sandbox_journal_entry") as batch:
        batch.drop_column("tenant")
    op.drop_table("sandbox_tenant")
