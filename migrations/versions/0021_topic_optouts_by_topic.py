"""Opt-outs are found by topic

A campaign on a topic asks who left it at every audience count and launch (`engine.consent.suppression`), and a
topic renamed or deleted cascades to its opt-outs; the primary key leads with the customer, so each of them read
every opt-out of every topic.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-07 01:10:00
"""

from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_topic_optouts_topic_customer_id", "topic_optouts", ["topic", "customer_id"])


def downgrade() -> None:
    op.drop_index("ix_topic_optouts_topic_customer_id", table_name="topic_optouts")
