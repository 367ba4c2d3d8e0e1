"""Suppression list, consent history and subscription topics; campaigns name their topic

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06 10:55:00
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

REASONS = "'hard_bounce', 'complaint', 'unsubscribed', 'stop', 'invalid_address', 'manual'"


def upgrade() -> None:
    op.create_table(
        "suppressions",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("channel", sa.Text(), nullable=False),
        sa.Column("address_hash", sa.Text(), nullable=False),
        sa.Column("address", sa.Text(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("customer_id", sa.BigInteger(), nullable=True),
        sa.Column("campaign_id", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(f"reason IN ({REASONS})", name=op.f("ck_suppressions_reason")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_suppressions")),
        sa.UniqueConstraint("channel", "address_hash", name=op.f("uq_suppressions_channel_address_hash")),
    )
    op.create_index("ix_suppressions_created_at", "suppressions", ["created_at"])
    op.create_table(
        "topics",
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), server_default="", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("key ~ '^[a-z0-9][a-z0-9-]{0,62}$'", name=op.f("ck_topics_key")),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_topics")),
    )
    op.create_table(
        "topic_optouts",
        sa.Column("customer_id", sa.BigInteger(), nullable=False),
        sa.Column("topic", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_topic_optouts_customer_id_customers"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["topic"],
            ["topics.key"],
            name=op.f("fk_topic_optouts_topic_topics"),
            ondelete="CASCADE",
            onupdate="CASCADE",
        ),
        sa.PrimaryKeyConstraint("customer_id", "topic", name=op.f("pk_topic_optouts")),
    )
    op.create_table(
        "consent_changes",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("customer_id", sa.BigInteger(), nullable=False),
        sa.Column("channel", sa.Text(), nullable=True),
        sa.Column("topic", sa.Text(), nullable=True),
        sa.Column("subscribed", sa.Boolean(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("detail", postgresql.JSONB(astext_type=sa.Text()), server_default="{}", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("channel IS NOT NULL OR topic IS NOT NULL", name=op.f("ck_consent_changes_subject")),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_consent_changes_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consent_changes")),
    )
    op.create_index("ix_consent_changes_customer_id_id", "consent_changes", ["customer_id", "id"])
    op.add_column("campaigns", sa.Column("topic", sa.Text(), nullable=True))
    op.create_foreign_key(
        op.f("fk_campaigns_topic_topics"), "campaigns", "topics", ["topic"], ["key"], onupdate="CASCADE"
    )


def downgrade() -> None:
    op.drop_constraint(op.f("fk_campaigns_topic_topics"), "campaigns", type_="foreignkey")
    op.drop_column("campaigns", "topic")
    op.drop_index("ix_consent_changes_customer_id_id", table_name="consent_changes")
    op.drop_table("consent_changes")
    op.drop_table("topic_optouts")
    op.drop_table("topics")
    op.drop_index("ix_suppressions_created_at", table_name="suppressions")
    op.drop_table("suppressions")
