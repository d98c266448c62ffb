"""dmp: tenants (issue 15): a tenant column on every DMP table; a DMP per INS, documents' and submission sets'
entryUUIDs and documents' uniqueIds unique within their tenant (two pipelines submit the same test files)

The document -> submission set foreign key becomes (tenant, submission_set_id) without ``ON DELETE SET NULL``
(it would null the tenant too): a submission set is only ever deleted with its DMP, documents included.

Revision ID: dmp_0002
Revises: dmp_0001
Create Date: 2026-12-07
"""

from __future__ import annotations

from typing import Literal

import sqlalchemy as sa
from alembic import op

revision = "dmp_0002"
down_revision = "dmp_0001"
branch_labels = None
depends_on = None

TABLES = ("dmp_record", "dmp_authorisation", "dmp_blocked_professional", "dmp_submission_set", "dmp_binary",
          "dmp_binary_chunk", "dmp_document", "dmp_audit_event")


def _recreate() -> Literal["always", "auto"]:
    return "always" if op.get_bind().dialect.name == "sqlite" else "auto"


def upgrade() -> None:
    with op.batch_alter_table("dmp_document") as batch:
        batch.drop_constraint("fk_dmp_document_submission_set_id_dmp_submission_set", type_="foreignkey")
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("tenant", sa.String(length=64), server_default="default", nullable=False))
    with op.batch_alter_table("dmp_record", recreate=_recreate()) as batch:
        batch.drop_constraint("uq_dmp_record_ins", type_="unique")
        batch.create_unique_constraint("uq_dmp_record_tenant_ins", ["tenant", "ins"])
    with op.batch_alter_table("dmp_submission_set", recreate=_recreate()) as batch:
        batch.drop_constraint("pk_dmp_submission_set", type_="primary")
        batch.create_primary_key("pk_dmp_submission_set", ["tenant", "id"])
    with op.batch_alter_table("dmp_document", recreate=_recreate()) as batch:
        batch.drop_constraint("pk_dmp_document", type_="primary")
        batch.create_primary_key("pk_dmp_document", ["tenant", "id"])
        batch.drop_constraint("uq_dmp_document_unique_id", type_="unique")
        batch.create_unique_constraint("uq_dmp_document_tenant_unique_id", ["tenant", "unique_id"])
        batch.create_foreign_key("fk_dmp_document_tenant_dmp_submission_set", "dmp_submission_set",
                                 ["tenant", "submission_set_id"], ["tenant", "id"])
    with op.batch_alter_table("dmp_audit_event") as batch:
        batch.drop_index("ix_dmp_audit_event_ins_recorded")
        batch.create_index("ix_dmp_audit_event_ins_recorded", ["tenant", "ins", "recorded"])


def downgrade() -> None:
    for table in reversed(TABLES):
        op.execute(sa.text(f"DELETE FROM {table} WHERE tenant <> 'default'"))
    with op.batch_alter_table("dmp_audit_event") as batch:
        batch.drop_index("ix_dmp_audit_event_ins_recorded")
        batch.create_index("ix_dmp_audit_event_ins_recorded", ["ins", "recorded"])
    with op.batch_alter_table("dmp_document", recreate=_recreate()) as batch:
        batch.drop_constraint("fk_dmp_document_tenant_dmp_submission_set", type_="foreignkey")
        batch.drop_constraint("uq_dmp_document_tenant_unique_id", type_="unique")
        batch.create_unique_constraint("uq_dmp_document_unique_id", ["unique_id"])
        batch.drop_constraint("pk_dmp_document", type_="primary")
        batch.create_primary_key("pk_dmp_document", ["id"])
    with op.batch_alter_table("dmp_submission_set", recreate=_recreate()) as batch:
        batch.drop_constraint("pk_dmp_submission_set", type_="primary")
        batch.create_primary_key("pk_dmp_submission_set", ["id"])
    with op.batch_alter_table("dmp_record", recreate=_recreate()) as batch:
        batch.drop_constraint("uq_dmp_record_tenant_ins", type_="unique")
        batch.create_unique_constraint("uq_dmp_record_ins", ["ins"])
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_column("tenant")
    with op.batch_alter_table("dmp_document") as batch:
        batch.create_foreign_key("fk_dmp_document_submission_set_id_dmp_submission_set", "dmp_submission_set",
                                 ["submission_set_id"], ["id"], ondelete="SET NULL")
