"""mss: mss_message.raw stored out of line without a compression attempt (PostgreSQL)

PostgreSQL tries to compress (pglz) every bytea value over ~2 KB before it stores it out of line. A
message's raw bytes are mostly base64 of already compressed documents (PDF, the IHE_XDM.ZIP), which pglz
cannot shrink: the attempt cost about 2 ms of the database server's CPU per 145 KB message, more than
the whole insert, and the value was stored uncompressed anyway. ``STORAGE EXTERNAL`` keeps it out of line
and skips the attempt. SQLite has no such setting: nothing to do there.

Revision ID: mss_0002
Revises: mss_0001
Create Date: 2026-11-24
"""

from __future__ import annotations

from alembic import op

revision = "mss_0002"
down_revision = "mss_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE mss_message ALTER COLUMN raw SET STORAGE EXTERNAL")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE mss_message ALTER COLUMN raw SET STORAGE EXTENDED")
