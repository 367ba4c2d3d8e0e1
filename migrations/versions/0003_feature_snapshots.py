"""feature snapshots: the versions table and the schema of the snapshot tables

Revision ID: 0003
Revises: 0006
Create Date: 2026-11-25 14:10:00.000000
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0003"
# Chained after the newest revision so there is one head; see the feature-snapshot helper's report.
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("CREATE SCHEMA IF NOT EXISTS features")
    op.create_table(
        "feature_snapshots",
        sa.Column("version", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("taken_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("row_count", sa.BigInteger(), nullable=False),
        sa.Column("event_count", sa.BigInteger(), nullable=False),
        sa.Column("table_name", sa.Text(), nullable=False),
        sa.Column("features_path", sa.Text(), nullable=False),
        sa.Column("events_path", sa.Text(), nullable=False),
        sa.Column("columns", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("source_totals", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.PrimaryKeyConstraint("version", name=op.f("pk_feature_snapshots")),
    )


def downgrade() -> None:
    op.execute("DROP VIEW IF EXISTS customer_features")
    op.execute("DROP SCHEMA IF EXISTS features CASCADE")
    op.drop_table("feature_snapshots")
