"""mss: dispensations (a pharmacy dispensed to a patient), for Mon espace santé's pharmacy exception

``mss_dispensation``: the pharmacy's organisational mailbox, the patient's INS, when. A patient may start a
conversation with that mailbox for ``SEGUR_MSS_PHARMACY_WINDOW_DAYS`` after (app/mss/citizen.py).

Revision ID: mss_0004
Revises: mss_0003
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "mss_0004"
down_revision = "mss_0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "mss_dispensation",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("pharmacy_mailbox_id", sa.Integer(), nullable=False),
        sa.Column("patient_ins", sa.String(length=15), nullable=False),
        sa.Column("dispensed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["pharmacy_mailbox_id"], ["mss_mailbox.id"],
                                name=op.f("fk_mss_dispensation_pharmacy_mailbox_id_mss_mailbox"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mss_dispensation")),
    )
    op.create_index(op.f("ix_mss_dispensation_pharmacy_mailbox_id"), "mss_dispensation", ["pharmacy_mailbox_id"])
    op.create_index(op.f("ix_mss_dispensation_patient_ins"), "mss_dispensation", ["patient_ins"])


def downgrade() -> None:
    op.drop_index(op.f("ix_mss_dispensation_patient_ins"), table_name="mss_dispensation")
    op.drop_index(op.f("ix_mss_dispensation_pharmacy_mailbox_id"), table_name="mss_dispensation")
    op.drop_table("mss_dispensation")
