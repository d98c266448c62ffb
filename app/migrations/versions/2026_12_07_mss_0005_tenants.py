"""mss: tenants (issue 15): a tenant column on every MSSanté table but the TLS key; each tenant has its own
trust space (domains) and mailboxes (addresses unique within their tenant)

Revision ID: mss_0005
Revises: mss_0004
Create Date: 2026-12-07
"""

from __future__ import annotations

from typing import Literal

import sqlalchemy as sa
from alembic import op

revision = "mss_0005"
down_revision = "mss_0004"
branch_labels = None
depends_on = None

TABLES = ("mss_domain", "mss_mailbox", "mss_message", "mss_folder", "mss_delivery", "mss_fault", "mss_dispensation")


def _recreate() -> Literal["always", "auto"]:
    return "always" if op.get_bind().dialect.name == "sqlite" else "auto"


def upgrade() -> None:
    with op.batch_alter_table("mss_mailbox") as batch:
        batch.drop_constraint("fk_mss_mailbox_domain_mss_domain", type_="foreignkey")
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("tenant", sa.String(length=64), server_default="default", nullable=False))
    with op.batch_alter_table("mss_domain", recreate=_recreate()) as batch:
        batch.drop_constraint("pk_mss_domain", type_="primary")
        batch.create_primary_key("pk_mss_domain", ["tenant", "name"])
    with op.batch_alter_table("mss_mailbox", recreate=_recreate()) as batch:
        batch.drop_constraint("uq_mss_mailbox_address", type_="unique")
        batch.create_unique_constraint("uq_mss_mailbox_tenant_address", ["tenant", "address"])
        batch.create_foreign_key("fk_mss_mailbox_tenant_mss_domain", "mss_domain", ["tenant", "domain"],
                                 ["tenant", "name"], ondelete="CASCADE")


def downgrade() -> None:
    for table in reversed(TABLES):
        op.execute(sa.text(f"DELETE FROM {table} WHERE tenant <> 'default'"))
    with op.batch_alter_table("mss_mailbox", recreate=_recreate()) as batch:
        batch.drop_constraint("fk_mss_mailbox_tenant_mss_domain", type_="foreignkey")
        batch.drop_constraint("uq_mss_mailbox_tenant_address", type_="unique")
        batch.create_unique_constraint("uq_mss_mailbox_address", ["address"])
    with op.batch_alter_table("mss_domain", recreate=_recreate()) as batch:
        batch.drop_constraint("pk_mss_domain", type_="primary")
        batch.create_primary_key("pk_mss_domain", ["name"])
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_column("tenant")
    with op.batch_alter_table("mss_mailbox") as batch:
        batch.create_foreign_key("fk_mss_mailbox_domain_mss_domain", "mss_domain", ["domain"], ["name"],
                                 ondelete="CASCADE")
