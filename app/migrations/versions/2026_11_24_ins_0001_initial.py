"""ins: persons of the simulated national base, their matricules, Cartes Vitale, IDAMs

Revision ID: ins_0001
Revises: platform_0001
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "ins_0001"
down_revision = "platform_0001"
branch_labels = ("ins",)
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "ins_person",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("nom_naissance", sa.String(100), nullable=False),
        sa.Column("liste_prenom", sa.String(255), nullable=False),
        sa.Column("sexe", sa.String(1), nullable=False),
        sa.Column("date_naissance", sa.String(10), nullable=False),
        sa.Column("lieu_naissance", sa.String(5), nullable=True),
        sa.Column("rang_naissance", sa.String(2), nullable=True),
        sa.Column("ins_number", sa.String(13), nullable=True),
        sa.Column("ins_key", sa.String(2), nullable=True),
        sa.Column("ins_kind", sa.String(3), nullable=True),
        sa.Column("ins_type", sa.String(8), nullable=True),
        sa.Column("ins_date_deb", sa.String(10), nullable=True),
        sa.Column("ins_date_fin", sa.String(10), nullable=True),
        sa.Column("histo", sa.JSON(), nullable=False),
        sa.Column("fault", sa.String(16), nullable=True),
        sa.Column("accept_invalid_key", sa.Boolean(), nullable=False),
        sa.Column("source", sa.Text(), nullable=True),
        sa.Column("created_at", TZ, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ins_person")),
    )
    op.create_index("ix_ins_person_traits", "ins_person", ["nom_naissance", "date_naissance", "sexe"])
    op.create_index("ix_ins_person_ins_number", "ins_person", ["ins_number"])
    # persons that simulate a fault answer it whatever the birth date: a small partial index (same SQL on
    # both engines; plain SQL so that no dialect-specific option loads the PostgreSQL dialect on SQLite)
    op.execute("CREATE INDEX ix_ins_person_fault ON ins_person (nom_naissance) WHERE fault IS NOT NULL")
    op.create_table(
        "ins_matricule",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(13), nullable=False),
        sa.Column("key", sa.String(2), nullable=False),
        sa.Column("kind", sa.String(3), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["person_id"], ["ins_person.id"], ondelete="CASCADE",
                                name=op.f("fk_ins_matricule_person_id_ins_person")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ins_matricule")),
    )
    op.create_index(op.f("ix_ins_matricule_number"), "ins_matricule", ["number"])
    op.create_table(
        "ins_card",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("numero_serie", sa.String(64), nullable=True),
        sa.Column("matricule_od", sa.String(13), nullable=False),
        sa.Column("beneficiaires", sa.JSON(), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ins_card")),
        sa.UniqueConstraint("numero_serie", name=op.f("uq_ins_card_numero_serie")),
    )
    op.create_index(op.f("ix_ins_card_matricule_od"), "ins_card", ["matricule_od"])
    op.create_table(
        "ins_idam",
        sa.Column("idam", sa.String(64), nullable=False),
        sa.Column("nom", sa.String(255), nullable=True),
        sa.Column("source", sa.Text(), nullable=True),
        sa.Column("created_at", TZ, nullable=False),
        sa.PrimaryKeyConstraint("idam", name=op.f("pk_ins_idam")),
    )


def downgrade() -> None:
    op.drop_table("ins_idam")
    op.drop_index(op.f("ix_ins_card_matricule_od"), table_name="ins_card")
    op.drop_table("ins_card")
    op.drop_index(op.f("ix_ins_matricule_number"), table_name="ins_matricule")
    op.drop_table("ins_matricule")
    op.drop_index("ix_ins_person_fault", table_name="ins_person")
    op.drop_index("ix_ins_person_ins_number", table_name="ins_person")
    op.drop_index("ix_ins_person_traits", table_name="ins_person")
    op.drop_table("ins_person")
