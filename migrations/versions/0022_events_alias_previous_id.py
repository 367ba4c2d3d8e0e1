"""Aliases are found by the anonymous id they tie to a customer

An event that names only an anonymous visitor now goes to the customer an earlier alias tied that visitor to (it
arrived late, or beside the alias: `engine.ingest.apply`). A partial index holds the aliases alone, so that lookup
reads neither the whole events table nor other events.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-07 01:45:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_events_alias_previous_id",
        "events",
        [sa.text("(properties ->> 'previous_id')")],
        postgresql_where=sa.text("type = 'alias'"),
    )


def downgrade() -> None:
    op.drop_index("ix_events_alias_previous_id", table_name="events")
