"""campaigns.settled_counts: a finished campaign's message counts, kept once none of its messages can change

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-25 16:35:00
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("campaigns", sa.Column("settled_counts", postgresql.JSONB(astext_type=sa.Text()), nullable=True))


def downgrade() -> None:
    op.drop_column("campaigns", "settled_counts")
