"""campaigns and the communication log, one row per recipient

Revision ID: 0004
Revises: 0002
Create Date: 2026-11-25 13:14:54.384841
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0004"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "campaigns",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("channel", sa.Text(), nullable=False),
        sa.Column("template", sa.Text(), nullable=False),
        sa.Column("subject", sa.Text(), nullable=True),
        sa.Column("segment_id", sa.BigInteger(), nullable=True),
        sa.Column("audience_rule", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("frozen_rule", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("snapshot_version", sa.Text(), nullable=True),
        sa.Column("audience_size", sa.Integer(), nullable=True),
        sa.Column("status", sa.Text(), server_default="draft", nullable=False),
        sa.Column("failure_reason", sa.Text(), nullable=True),
        sa.Column("scheduled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("launched_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("published_through", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("created_by", sa.BigInteger(), nullable=True),
        sa.Column("parent_campaign_id", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("channel IN ('sms', 'email')", name=op.f("ck_campaigns_channel")),
        sa.CheckConstraint(
            "status IN ('draft', 'scheduled', 'sending', 'paused', 'completed', 'cancelled', 'failed')",
            name=op.f("ck_campaigns_status"),
        ),
        sa.CheckConstraint(
            "segment_id IS NOT NULL OR audience_rule IS NOT NULL OR parent_campaign_id IS NOT NULL",
            name=op.f("ck_campaigns_audience"),
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_campaigns_created_by_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["parent_campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_campaigns_parent_campaign_id_campaigns"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaigns")),
    )
    op.create_index("ix_campaigns_created_at", "campaigns", ["created_at"], unique=False)
    op.create_index("ix_campaigns_status_scheduled_at", "campaigns", ["status", "scheduled_at"], unique=False)
    op.create_table(
        "communication_log",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("campaign_id", sa.BigInteger(), nullable=False),
        sa.Column("customer_id", sa.BigInteger(), nullable=False),
        sa.Column("channel", sa.Text(), nullable=False),
        sa.Column("address", sa.Text(), nullable=True),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("subject", sa.Text(), nullable=True),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("vendor_message_id", sa.Text(), nullable=True),
        sa.Column("idempotency_key", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("not_before", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("queued_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("failed_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'queued', 'sent', 'delivered', 'failed', 'skipped')",
            name=op.f("ck_communication_log_status"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_communication_log")),
        sa.UniqueConstraint("campaign_id", "customer_id", name=op.f("uq_communication_log_campaign_id_customer_id")),
        postgresql_with={"fillfactor": "70"},
    )
    op.create_index(
        "ix_communication_log_created_at", "communication_log", ["created_at"], unique=False, postgresql_using="brin"
    )


def downgrade() -> None:
    op.drop_index("ix_communication_log_created_at", table_name="communication_log", postgresql_using="brin")
    op.drop_table("communication_log")
    op.drop_index("ix_campaigns_status_scheduled_at", table_name="campaigns")
    op.drop_index("ix_campaigns_created_at", table_name="campaigns")
    op.drop_table("campaigns")
