"""Queued customers say whether only events touched them

Most of what ingest applies is behavioural events, which change no feature column (those come from the customer and
their orders), only the events a behavioural condition reads. A delta recomputing such a customer's whole row read
their orders at random places in the heap, most of its cost at a million customers; told that only events touched
them, it reads just their events (`engine.features.deltas`).

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-06 18:20:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "feature_touched_customers",
        sa.Column("events_only", sa.Boolean(), nullable=False, server_default=sa.false()),
    )


def downgrade() -> None:
    op.drop_column("feature_touched_customers", "events_only")
