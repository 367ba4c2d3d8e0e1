"""Provider status webhooks find their message by the provider's id

Twilio, Postmark and Meta report a message's fate by the id they answered when they took it
(communication_log.vendor_message_id); a partial index makes that lookup one index probe.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-06 12:20:00
"""

from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_communication_log_vendor_message_id",
        "communication_log",
        ["vendor_message_id"],
        postgresql_where="vendor_message_id IS NOT NULL",
    )


def downgrade() -> None:
    op.drop_index("ix_communication_log_vendor_message_id", table_name="communication_log")
