"""mss: trust space, mailboxes, messages, deliveries

Revision ID: mss_0001
Revises: platform_0001
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "mss_0001"
down_revision = "platform_0001"
branch_labels = ("mss",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "mss_fault",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("address", sa.String(length=320), nullable=False),
        sa.Column("stage", sa.String(length=8), nullable=False),
        sa.Column("reply", sa.String(length=512), nullable=False),
        sa.Column("remaining", sa.Integer(), nullable=False),
        sa.Column("disconnect", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mss_fault")),
    )
    op.create_index(op.f("ix_mss_fault_address"), "mss_fault", ["address"])
    op.create_table(
        "mss_tls_key",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("cert_pem", sa.Text(), nullable=False),
        sa.Column("key_pem", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_mss_tls_key")),
    )
    op.create_table(
        "mss_domain",
        sa.Column("name", sa.String(length=253), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("label", sa.String(length=256), nullable=True),
        sa.Column("structures", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_mss_domain")),
    )
    op.create_table(
        "mss_mailbox",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("address", sa.String(length=320), nullable=False),
        sa.Column("domain", sa.String(length=253), nullable=False),
        sa.Column("type", sa.String(length=8), nullable=False),
        sa.Column("display_name", sa.String(length=256), nullable=False),
        sa.Column("owner_subject", sa.String(length=64), nullable=True),
        sa.Column("owners", sa.JSON(), nullable=False),
        sa.Column("patient_ins", sa.String(length=15), nullable=True),
        sa.Column("patient_oid", sa.String(length=64), nullable=True),
        sa.Column("structure_id", sa.String(length=64), nullable=True),
        sa.Column("service", sa.String(length=256), nullable=True),
        sa.Column("description", sa.String(length=512), nullable=True),
        sa.Column("password_hash", sa.String(length=128), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["domain"], ["mss_domain.name"], name=op.f("fk_mss_mailbox_domain_mss_domain"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mss_mailbox")),
        sa.UniqueConstraint("address", name=op.f("uq_mss_mailbox_address")),
    )
    op.create_index(op.f("ix_mss_mailbox_domain"), "mss_mailbox", ["domain"])
    op.create_index(op.f("ix_mss_mailbox_owner_subject"), "mss_mailbox", ["owner_subject"])
    op.create_index(op.f("ix_mss_mailbox_patient_ins"), "mss_mailbox", ["patient_ins"])
    op.create_table(
        "mss_message",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("uid", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("related_id", sa.Integer(), nullable=True),
        sa.Column("transport", sa.String(length=8), nullable=False),
        sa.Column("envelope_from", sa.String(length=320), nullable=False),
        sa.Column("auth_identity", sa.String(length=320), nullable=True),
        sa.Column("message_id", sa.String(length=998), nullable=True),
        sa.Column("in_reply_to", sa.String(length=998), nullable=True),
        sa.Column("from_header", sa.Text(), nullable=True),
        sa.Column("subject", sa.Text(), nullable=True),
        sa.Column("date_header", sa.String(length=256), nullable=True),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("raw", sa.LargeBinary(), nullable=False),
        sa.Column("headers", sa.JSON(), nullable=False),
        sa.Column("parts", sa.JSON(), nullable=False),
        sa.Column("xdm", sa.JSON(), nullable=False),
        sa.Column("report", sa.JSON(), nullable=False),
        sa.Column("has_xdm", sa.Boolean(), nullable=False),
        sa.Column("conversation_closed", sa.Boolean(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["related_id"], ["mss_message.id"],
                                name=op.f("fk_mss_message_related_id_mss_message"), ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mss_message")),
        sa.UniqueConstraint("uid", name=op.f("uq_mss_message_uid")),
    )
    op.create_index(op.f("ix_mss_message_related_id"), "mss_message", ["related_id"])
    op.create_index(op.f("ix_mss_message_message_id"), "mss_message", ["message_id"])
    op.create_index(op.f("ix_mss_message_received_at"), "mss_message", ["received_at"])
    op.create_table(
        "mss_delivery",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=False),
        sa.Column("mailbox_id", sa.Integer(), nullable=True),
        sa.Column("recipient", sa.String(length=320), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("notify", sa.String(length=64), nullable=True),
        sa.Column("seen", sa.Boolean(), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("mdn_id", sa.Integer(), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["message_id"], ["mss_message.id"],
                                name=op.f("fk_mss_delivery_message_id_mss_message"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["mailbox_id"], ["mss_mailbox.id"],
                                name=op.f("fk_mss_delivery_mailbox_id_mss_mailbox"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["mdn_id"], ["mss_message.id"],
                                name=op.f("fk_mss_delivery_mdn_id_mss_message"), ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mss_delivery")),
    )
    op.create_index(op.f("ix_mss_delivery_message_id"), "mss_delivery", ["message_id"])
    op.create_index(op.f("ix_mss_delivery_mailbox_id"), "mss_delivery", ["mailbox_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_mss_delivery_mailbox_id"), table_name="mss_delivery")
    op.drop_index(op.f("ix_mss_delivery_message_id"), table_name="mss_delivery")
    op.drop_table("mss_delivery")
    op.drop_index(op.f("ix_mss_message_received_at"), table_name="mss_message")
    op.drop_index(op.f("ix_mss_message_message_id"), table_name="mss_message")
    op.drop_index(op.f("ix_mss_message_related_id"), table_name="mss_message")
    op.drop_table("mss_message")
    op.drop_index(op.f("ix_mss_mailbox_patient_ins"), table_name="mss_mailbox")
    op.drop_index(op.f("ix_mss_mailbox_owner_subject"), table_name="mss_mailbox")
    op.drop_index(op.f("ix_mss_mailbox_domain"), table_name="mss_mailbox")
    op.drop_table("mss_mailbox")
    op.drop_table("mss_domain")
    op.drop_table("mss_tls_key")
    op.drop_index(op.f("ix_mss_fault_address"), table_name="mss_fault")
    op.drop_table("mss_fault")
