"""mes: tenants (issue 15): a tenant column on every Mon espace santé table but the signing keys; a patient's
representations, notifications and settings are keyed within their tenant

Revision ID: mes_0002
Revises: mes_0001
Create Date: 2026-12-07
"""

from __future__ import annotations

from typing import Literal

import sqlalchemy as sa
from alembic import op

revision = "mes_0002"
down_revision = "mes_0001"
branch_labels = None
depends_on = None

TABLES = ("mes_challenge", "mes_web_session", "mes_token_revocation", "mes_representation", "mes_notification",
          "mes_notification_setting")


def _recreate() -> Literal["always", "auto"]:
    return "always" if op.get_bind().dialect.name == "sqlite" else "auto"


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("tenant", sa.String(length=64), server_default="default", nullable=False))
    with op.batch_alter_table("mes_representation", recreate=_recreate()) as batch:
        batch.drop_constraint("uq_mes_representation_representative_ins_minor_ins", type_="unique")
        batch.create_unique_constraint("uq_mes_representation_tenant_representative_ins_minor_ins",
                                       ["tenant", "representative_ins", "minor_ins"])
    with op.batch_alter_table("mes_notification", recreate=_recreate()) as batch:
        batch.drop_constraint("uq_mes_notification_ins_source", type_="unique")
        batch.create_unique_constraint("uq_mes_notification_tenant_ins_source", ["tenant", "ins", "source"])
        batch.drop_index("ix_mes_notification_ins_id")
        batch.create_index("ix_mes_notification_ins_id", ["tenant", "ins", "id"])
    with op.batch_alter_table("mes_notification_setting", recreate=_recreate()) as batch:
        batch.drop_constraint("pk_mes_notification_setting", type_="primary")
        batch.create_primary_key("pk_mes_notification_setting", ["tenant", "ins"])


def downgrade() -> None:
    for table in TABLES:
        op.execute(sa.text(f"DELETE FROM {table} WHERE tenant <> 'default'"))
    with op.batch_alter_table("mes_notification_setting", recreate=_recreate()) as batch:
        batch.drop_constraint("pk_mes_notification_setting", type_="primary")
        batch.create_primary_key("pk_mes_notification_setting", ["ins"])
    with op.batch_alter_table("mes_notification", recreate=_recreate()) as batch:
        batch.drop_index("ix_mes_notification_ins_id")
        batch.create_index("ix_mes_notification_ins_id", ["ins", "id"])
        batch.drop_constraint("uq_mes_notification_tenant_ins_source", type_="unique")
        batch.create_unique_constraint("uq_mes_notification_ins_source", ["ins", "source"])
    with op.batch_alter_table("mes_representation", recreate=_recreate()) as batch:
        batch.drop_constraint("uq_mes_representation_tenant_representative_ins_minor_ins", type_="unique")
        batch.create_unique_constraint("uq_mes_representation_representative_ins_minor_ins",
                                       ["representative_ins", "minor_ins"])
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_column("tenant")
