"""mes: the patient side (Mon espace santé) — sign-in challenges, page sessions, revoked tokens, signing key,
legal representations, notifications and their settings

Revision ID: mes_0001
Revises: platform_0001
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "mes_0001"
down_revision = "platform_0001"
branch_labels = ("mes",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "mes_challenge",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("ins", sa.String(length=15), nullable=False),
        sa.Column("code", sa.String(length=6), nullable=False),
        sa.Column("tries", sa.Integer(), nullable=False),
        sa.Column("used", sa.Boolean(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mes_challenge")),
    )
    op.create_index(op.f("ix_mes_challenge_ins"), "mes_challenge", ["ins"])
    op.create_table(
        "mes_web_session",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("ins", sa.String(length=15), nullable=False),
        sa.Column("csrf_token", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mes_web_session")),
    )
    op.create_index(op.f("ix_mes_web_session_ins"), "mes_web_session", ["ins"])
    op.create_table(
        "mes_token_revocation",
        sa.Column("jti", sa.String(length=64), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("jti", name=op.f("pk_mes_token_revocation")),
    )
    op.create_table(
        "mes_signing_key",
        sa.Column("kid", sa.String(length=64), nullable=False),
        sa.Column("private_jwk", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("kid", name=op.f("pk_mes_signing_key")),
    )
    op.create_table(
        "mes_representation",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("representative_ins", sa.String(length=15), nullable=False),
        sa.Column("minor_ins", sa.String(length=15), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mes_representation")),
        sa.UniqueConstraint("representative_ins", "minor_ins",
                            name=op.f("uq_mes_representation_representative_ins_minor_ins")),
    )
    op.create_index(op.f("ix_mes_representation_representative_ins"), "mes_representation", ["representative_ins"])
    op.create_index(op.f("ix_mes_representation_minor_ins"), "mes_representation", ["minor_ins"])
    op.create_table(
        "mes_notification",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("ins", sa.String(length=15), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("source", sa.String(length=128), nullable=False),
        sa.Column("title", sa.String(length=512), nullable=False),
        sa.Column("body", sa.String(length=2048), nullable=False),
        sa.Column("document_ids", sa.JSON(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("mailed_to", sa.String(length=320), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mes_notification")),
        sa.UniqueConstraint("ins", "source", name=op.f("uq_mes_notification_ins_source")),
    )
    op.create_index("ix_mes_notification_ins_id", "mes_notification", ["ins", "id"])
    op.create_table(
        "mes_notification_setting",
        sa.Column("ins", sa.String(length=15), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("audit_cursor", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("ins", name=op.f("pk_mes_notification_setting")),
    )


def downgrade() -> None:
    op.drop_table("mes_notification_setting")
    op.drop_index("ix_mes_notification_ins_id", table_name="mes_notification")
    op.drop_table("mes_notification")
    op.drop_index(op.f("ix_mes_representation_minor_ins"), table_name="mes_representation")
    op.drop_index(op.f("ix_mes_representation_representative_ins"), table_name="mes_representation")
    op.drop_table("mes_representation")
    op.drop_table("mes_signing_key")
    op.drop_table("mes_token_revocation")
    op.drop_index(op.f("ix_mes_web_session_ins"), table_name="mes_web_session")
    op.drop_table("mes_web_session")
    op.drop_index(op.f("ix_mes_challenge_ins"), table_name="mes_challenge")
    op.drop_table("mes_challenge")
