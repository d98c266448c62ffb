"""ins: tenants (issue 15): a tenant column on every INS table; IDAMs and Carte Vitale serial numbers unique
within their tenant; the person lookups (INS number, traits) indexed by tenant first

Revision ID: ins_0002
Revises: ins_0001
Create Date: 2026-12-07
"""

from __future__ import annotations

from typing import Literal

import sqlalchemy as sa
from alembic import op

revision = "ins_0002"
down_revision = "ins_0001"
branch_labels = None
depends_on = None

TABLES = ("ins_person", "ins_matricule", "ins_card", "ins_idam")


def _recreate() -> Literal["always", "auto"]:
    return "always" if op.get_bind().dialect.name == "sqlite" else "auto"


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("tenant", sa.String(length=64), server_default="default", nullable=False))
    op.drop_index("ix_ins_person_traits", table_name="ins_person")
    op.create_index("ix_ins_person_traits", "ins_person", ["tenant", "nom_naissance", "date_naissance", "sexe"])
    op.drop_index("ix_ins_person_ins_number", table_name="ins_person")
    op.create_index("ix_ins_person_ins_number", "ins_person", ["tenant", "ins_number"])
    with op.batch_alter_table("ins_card", recreate=_recreate()) as batch:
        batch.drop_constraint("uq_ins_card_numero_serie", type_="unique")
        batch.create_unique_constraint("uq_ins_card_tenant_numero_serie", ["tenant", "numero_serie"])
    with op.batch_alter_table("ins_idam", recreate=_recreate()) as batch:
        batch.drop_constraint("pk_ins_idam", type_="primary")
        batch.create_primary_key("pk_ins_idam", ["tenant", "idam"])


def downgrade() -> None:
    for table in reversed(TABLES):
        op.execute(sa.text(f"DELETE FROM {table} WHERE tenant <> 'default'"))
    with op.batch_alter_table("ins_idam", recreate=_recreate()) as batch:
        batch.drop_constraint("pk_ins_idam", type_="primary")
        batch.create_primary_key("pk_ins_idam", ["idam"])
    with op.batch_alter_table("ins_card", recreate=_recreate()) as batch:
        batch.drop_constraint("uq_ins_card_tenant_numero_serie", type_="unique")
        batch.create_unique_constraint("uq_ins_card_numero_serie", ["numero_serie"])
    op.drop_index("ix_ins_person_ins_number", table_name="ins_person")
    op.create_index("ix_ins_person_ins_number", "ins_person", ["ins_number"])
    op.drop_index("ix_ins_person_traits", table_name="ins_person")
    op.create_index("ix_ins_person_traits", "ins_person", ["nom_naissance", "date_naissance", "sexe"])
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_column("tenant")
