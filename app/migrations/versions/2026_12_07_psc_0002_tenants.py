"""psc: tenants (issue 15): a tenant column on every PSC table but the signing keys (one realm key set signs
for every tenant; a tenant's tokens are told apart by their issuer, ``.../t/{tenant}/...``); client ids and
professionals' SubjectNameIDs are unique within their tenant

Revision ID: psc_0002
Revises: psc_0001
Create Date: 2026-12-07
"""

from __future__ import annotations

from typing import Literal

import sqlalchemy as sa
from alembic import op

revision = "psc_0002"
down_revision = "psc_0001"
branch_labels = None
depends_on = None

TABLES = ("psc_client", "psc_professional", "psc_session", "psc_authorization_code", "psc_token",
          "psc_revoked_token", "psc_ciba_request")


def _recreate() -> Literal["always", "auto"]:
    return "always" if op.get_bind().dialect.name == "sqlite" else "auto"


def _tenant() -> sa.Column:
    return sa.Column("tenant", sa.String(length=64), server_default="default", nullable=False)


def upgrade() -> None:
    with op.batch_alter_table("psc_session") as batch:
        batch.drop_constraint("fk_psc_session_subject_name_id_psc_professional", type_="foreignkey")
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.add_column(_tenant())
    for table, key in (("psc_client", "client_id"), ("psc_professional", "subject_name_id")):
        with op.batch_alter_table(table, recreate=_recreate()) as batch:
            batch.drop_constraint(f"pk_{table}", type_="primary")
            batch.create_primary_key(f"pk_{table}", ["tenant", key])
    with op.batch_alter_table("psc_session") as batch:
        batch.create_foreign_key("fk_psc_session_tenant_psc_professional", "psc_professional",
                                 ["tenant", "subject_name_id"], ["tenant", "subject_name_id"], ondelete="CASCADE")


def downgrade() -> None:
    with op.batch_alter_table("psc_session") as batch:
        batch.drop_constraint("fk_psc_session_tenant_psc_professional", type_="foreignkey")
    for table, key in (("psc_client", "client_id"), ("psc_professional", "subject_name_id")):
        op.execute(sa.text(f"DELETE FROM {table} WHERE tenant <> 'default'"))
        with op.batch_alter_table(table, recreate=_recreate()) as batch:
            batch.drop_constraint(f"pk_{table}", type_="primary")
            batch.create_primary_key(f"pk_{table}", [key])
    for table in TABLES:
        op.execute(sa.text(f"DELETE FROM {table} WHERE tenant <> 'default'"))
        with op.batch_alter_table(table) as batch:
            batch.drop_column("tenant")
    with op.batch_alter_table("psc_session") as batch:
        batch.create_foreign_key("fk_psc_session_subject_name_id_psc_professional", "psc_professional",
                                 ["subject_name_id"], ["subject_name_id"], ondelete="CASCADE")
