"""platform: the journal's actor (the calling software's identity) and facts (what the conformance rules need)

- ``sandbox_journal_entry.actor``: ``psc:<client_id>``, ``ins:<IDAM>``, ``dmp:<LPS>``, ``mss:<login>``,
  indexed (the conformance report reads one actor's entries, and lists the actors seen).
- ``sandbox_journal_entry.facts``: compact JSON text, small, never secret (app.api.journal.note_facts).

Revision ID: platform_0002
Revises: platform_0001
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "platform_0002"
down_revision = "platform_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("sandbox_journal_entry", sa.Column("actor", sa.String(length=128), nullable=True))
    op.add_column("sandbox_journal_entry", sa.Column("facts", sa.Text(), nullable=True))
    op.create_index(op.f("ix_sandbox_journal_entry_actor"), "sandbox_journal_entry", ["actor"])


def downgrade() -> None:
    op.drop_index(op.f("ix_sandbox_journal_entry_actor"), table_name="sandbox_journal_entry")
    with op.batch_alter_table("sandbox_journal_entry") as batch:
        batch.drop_column("facts")
        batch.drop_column("actor")
