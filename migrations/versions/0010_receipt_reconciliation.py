"""communication_log.receipt_checked_at: when the vendor was last asked about a message still awaiting its receipt

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-26 12:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("communication_log", sa.Column("receipt_checked_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    op.drop_column("communication_log", "receipt_checked_at")
