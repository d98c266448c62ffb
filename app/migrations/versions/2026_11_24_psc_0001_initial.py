"""psc: signing keys, clients, professionals, sessions, codes, tokens, revocations, CIBA requests

Revision ID: psc_0001
Revises: platform_0001
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "psc_0001"
down_revision = "platform_0001"
branch_labels = ("psc",)
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "psc_signing_key",
        sa.Column("kid", sa.String(128), nullable=False),
        sa.Column("alg", sa.String(8), nullable=False),
        sa.Column("private_jwk", sa.JSON(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("publish_until", TZ, nullable=True),
        sa.PrimaryKeyConstraint("kid", name=op.f("pk_psc_signing_key")),
    )
    op.create_table(
        "psc_client",
        sa.Column("client_id", sa.String(255), nullable=False),
        sa.Column("secret_sha256", sa.String(64), nullable=True),
        sa.Column("token_endpoint_auth_method", sa.String(32), nullable=False),
        sa.Column("access_token_alg", sa.String(8), nullable=False),
        sa.Column("client_metadata", sa.JSON(), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.PrimaryKeyConstraint("client_id", name=op.f("pk_psc_client")),
    )
    op.create_table(
        "psc_professional",
        sa.Column("subject_name_id", sa.String(64), nullable=False),
        sa.Column("rpps", sa.String(11), nullable=True),
        sa.Column("given_name", sa.String(255), nullable=False),
        sa.Column("family_name", sa.String(255), nullable=False),
        sa.Column("profession_code", sa.String(8), nullable=False),
        sa.Column("userinfo", sa.JSON(), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.PrimaryKeyConstraint("subject_name_id", name=op.f("pk_psc_professional")),
    )
    op.create_table(
        "psc_session",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("subject_name_id", sa.String(64), nullable=False),
        sa.Column("auth_time", TZ, nullable=False),
        sa.Column("expires_at", TZ, nullable=False),
        sa.Column("ended_at", TZ, nullable=True),
        sa.ForeignKeyConstraint(
            ["subject_name_id"], ["psc_professional.subject_name_id"],
            name=op.f("fk_psc_session_subject_name_id_psc_professional"), ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_psc_session")),
    )
    op.create_index(op.f("ix_psc_session_subject_name_id"), "psc_session", ["subject_name_id"])
    op.create_table(
        "psc_authorization_code",
        sa.Column("code_sha256", sa.String(64), nullable=False),
        sa.Column("client_id", sa.String(255), nullable=False),
        sa.Column("redirect_uri", sa.Text(), nullable=False),
        sa.Column("subject_name_id", sa.String(64), nullable=False),
        sa.Column("session_id", sa.String(64), nullable=False),
        sa.Column("scope", sa.Text(), nullable=False),
        sa.Column("nonce", sa.Text(), nullable=True),
        sa.Column("code_challenge", sa.String(128), nullable=True),
        sa.Column("code_challenge_method", sa.String(8), nullable=True),
        sa.Column("auth_time", TZ, nullable=False),
        sa.Column("expires_at", TZ, nullable=False),
        sa.Column("used_at", TZ, nullable=True),
        sa.PrimaryKeyConstraint("code_sha256", name=op.f("pk_psc_authorization_code")),
    )
    op.create_table(
        "psc_token",
        sa.Column("jti", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("grant_id", sa.String(64), nullable=False),
        sa.Column("client_id", sa.String(255), nullable=False),
        sa.Column("subject_name_id", sa.String(64), nullable=True),
        sa.Column("session_id", sa.String(64), nullable=True),
        sa.Column("scope", sa.Text(), nullable=False),
        sa.Column("expires_at", TZ, nullable=False),
        sa.Column("used_at", TZ, nullable=True),
        sa.PrimaryKeyConstraint("jti", name=op.f("pk_psc_token")),
    )
    op.create_index(op.f("ix_psc_token_grant_id"), "psc_token", ["grant_id"])
    op.create_index(op.f("ix_psc_token_session_id"), "psc_token", ["session_id"])
    op.create_table(
        "psc_revoked_token",
        sa.Column("jti", sa.String(64), nullable=False),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column("revoked_at", TZ, nullable=False),
        sa.Column("expires_at", TZ, nullable=True),
        sa.PrimaryKeyConstraint("jti", name=op.f("pk_psc_revoked_token")),
    )
    op.create_table(
        "psc_ciba_request",
        sa.Column("auth_req_id", sa.String(64), nullable=False),
        sa.Column("client_id", sa.String(255), nullable=False),
        sa.Column("subject_name_id", sa.String(64), nullable=False),
        sa.Column("scope", sa.Text(), nullable=False),
        sa.Column("binding_message", sa.Text(), nullable=True),
        sa.Column("acr_values", sa.String(255), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("interval", sa.Integer(), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("expires_at", TZ, nullable=False),
        sa.Column("last_polled_at", TZ, nullable=True),
        sa.PrimaryKeyConstraint("auth_req_id", name=op.f("pk_psc_ciba_request")),
    )


def downgrade() -> None:
    op.drop_table("psc_ciba_request")
    op.drop_table("psc_revoked_token")
    op.drop_index(op.f("ix_psc_token_session_id"), table_name="psc_token")
    op.drop_index(op.f("ix_psc_token_grant_id"), table_name="psc_token")
    op.drop_table("psc_token")
    op.drop_table("psc_authorization_code")
    op.drop_index(op.f("ix_psc_session_subject_name_id"), table_name="psc_session")
    op.drop_table("psc_session")
    op.drop_table("psc_professional")
    op.drop_table("psc_client")
    op.drop_table("psc_signing_key")
