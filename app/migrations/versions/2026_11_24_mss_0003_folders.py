"""mss: folders (IMAP mailboxes), a delivery's folder and flags, UIDs never reused

- ``mss_folder``: one row per folder of a mailbox (INBOX included, created on demand); its id is the
  folder's UIDVALIDITY (RFC 3501 §2.3.1.1).
- ``mss_delivery.folder_id`` (NULL = the mailbox's INBOX, so the rows the SMTP paths insert are in the
  INBOX) and ``mss_delivery.flags`` (IMAP flags other than ``\\Seen``; existing rows get ``[]``).
- ``ix_mss_delivery_mailbox_folder`` (mailbox_id, folder_id, id), what a folder's listing reads, replaces
  ``ix_mss_delivery_mailbox_id`` (its first column serves the lookups by mailbox).
- On SQLite both tables are ``AUTOINCREMENT``: a delivery's id is an IMAP UID and a folder's id a
  UIDVALIDITY, neither may be reused, and a plain ``INTEGER PRIMARY KEY`` reuses the highest deleted rowid.
  ``mss_delivery`` is rebuilt for that (batch mode; its rows and ids copied as they are). PostgreSQL
  sequences never go back: nothing to do there.

Revision ID: mss_0003
Revises: mss_0002
Create Date: 2026-11-24
"""

from __future__ import annotations

from typing import Literal

import sqlalchemy as sa
from alembic import op

revision = "mss_0003"
down_revision = "mss_0002"
branch_labels = None
depends_on = None


def _recreate() -> Literal["always", "auto"]:
    return "always" if op.get_bind().dialect.name == "sqlite" else "auto"


def upgrade() -> None:
    op.create_table(
        "mss_folder",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("mailbox_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("special_use", sa.String(length=16), nullable=True),
        sa.Column("subscribed", sa.Boolean(), nullable=False),
        sa.Column("highest_removed_uid", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["mailbox_id"], ["mss_mailbox.id"], name=op.f("fk_mss_folder_mailbox_id_mss_mailbox"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mss_folder")),
        sa.UniqueConstraint("mailbox_id", "name", name=op.f("uq_mss_folder_mailbox_id_name")),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("mss_delivery", recreate=_recreate(),
                              table_kwargs={"sqlite_autoincrement": True}) as batch:
        batch.add_column(sa.Column("folder_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("flags", sa.JSON(), server_default=sa.text("'[]'"), nullable=False))
        batch.create_foreign_key(op.f("fk_mss_delivery_folder_id_mss_folder"), "mss_folder", ["folder_id"], ["id"],
                                 ondelete="CASCADE")
        batch.drop_index(op.f("ix_mss_delivery_mailbox_id"))
        batch.create_index("ix_mss_delivery_mailbox_folder", ["mailbox_id", "folder_id", "id"])


def downgrade() -> None:
    with op.batch_alter_table("mss_delivery", recreate=_recreate(),
                              table_kwargs={"sqlite_autoincrement": False}) as batch:
        batch.drop_index("ix_mss_delivery_mailbox_folder")
        batch.create_index(op.f("ix_mss_delivery_mailbox_id"), ["mailbox_id"])
        batch.drop_constraint(op.f("fk_mss_delivery_folder_id_mss_folder"), type_="foreignkey")
        batch.drop_column("flags")
        batch.drop_column("folder_id")
    op.drop_table("mss_folder")
