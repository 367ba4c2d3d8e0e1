"""Launch attempts on campaigns, and the count of source changes that tells when the features are behind

campaigns: `schedule_seq` (each scheduling gets launch runs of its own), `launch_attempts` and `launch_error`
(runs that ended without launching, and why the last did), `published_at` (when the launch finished putting the
messages on the delivery stream; campaigns launched before this migration are taken as published).
feature_snapshots.source_changes and the one-row table feature_source_changes: a snapshot records how many changes
to customers, orders and events it read, so a refresh is asked for until it has caught up.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06 09:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("campaigns", sa.Column("published_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("campaigns", sa.Column("schedule_seq", sa.Integer(), server_default="0", nullable=False))
    op.add_column("campaigns", sa.Column("launch_attempts", sa.Integer(), server_default="0", nullable=False))
    op.add_column("campaigns", sa.Column("launch_error", sa.Text(), nullable=True))
    op.execute("UPDATE campaigns SET published_at = launched_at WHERE launched_at IS NOT NULL")
    op.add_column("feature_snapshots", sa.Column("source_changes", sa.BigInteger(), nullable=True))
    op.create_table(
        "feature_source_changes",
        sa.Column("id", sa.Integer(), server_default="1", nullable=False),
        sa.Column("changes", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("id = 1", name=op.f("ck_feature_source_changes_one_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feature_source_changes")),
    )


def downgrade() -> None:
    op.drop_table("feature_source_changes")
    op.drop_column("feature_snapshots", "source_changes")
    op.drop_column("campaigns", "launch_error")
    op.drop_column("campaigns", "launch_attempts")
    op.drop_column("campaigns", "schedule_seq")
    op.drop_column("campaigns", "published_at")
