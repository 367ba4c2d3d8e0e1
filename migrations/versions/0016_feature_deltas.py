"""Incremental features: the customers ingest touched, and the deltas published on the newest snapshot

feature_touched_customers is a queue the ingest transaction adds the customers of each batch to; a delta's
transaction takes them out, recomputes their features and records the delta in feature_deltas (its rows live in
Parquet files beside the snapshots'), which readers apply on the snapshot they hold.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06 11:00:00
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "feature_touched_customers",
        sa.Column("customer_id", sa.BigInteger(), nullable=False),
        sa.Column("queued_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
    )
    op.create_table(
        "feature_deltas",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("taken_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source_changes", sa.BigInteger(), nullable=False),
        sa.Column("row_count", sa.Integer(), nullable=False),
        sa.Column("features_path", sa.Text(), nullable=False),
        sa.Column("events_path", sa.Text(), nullable=False),
        sa.Column("removed_ids", postgresql.ARRAY(sa.BigInteger()), server_default="{}", nullable=False),
        sa.Column("unfit_columns", postgresql.JSONB(), server_default="[]", nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feature_deltas")),
    )


def downgrade() -> None:
    op.drop_table("feature_deltas")
    op.drop_table("feature_touched_customers")
