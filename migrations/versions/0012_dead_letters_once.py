"""Dead letters are kept once per stream entry and record

A consumer that died after committing its dead letters and before acknowledging their entry left the entry to the
next consumer, which recorded them again (and a poison entry was dead-lettered again when the apply of the rest of
its batch failed). Duplicates already kept are removed first, keeping a replayed one if there is one, else the
oldest; then a unique index on (stream_entry_id, kind, md5(payload)) lets recording skip what is already kept.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06 12:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        DELETE FROM ingest_dead_letters d
        USING (
            SELECT id, row_number() OVER (
                PARTITION BY stream_entry_id, kind, md5(payload) ORDER BY replayed_at IS NULL, id
            ) AS nth
            FROM ingest_dead_letters
        ) ranked
        WHERE d.id = ranked.id AND ranked.nth > 1
        """
    )
    op.create_index(
        "uq_ingest_dead_letters_once",
        "ingest_dead_letters",
        ["stream_entry_id", "kind", sa.text("md5(payload)")],
        unique=True,
    )


def downgrade() -> None:
    op.drop_index("uq_ingest_dead_letters_once", table_name="ingest_dead_letters")
