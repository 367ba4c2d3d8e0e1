"""Channels from the registry: campaigns may use WhatsApp and webhook as well as SMS and e-mail

The names are spelled out here as they were at this revision (engine/channels is the live registry); a later
channel brings a migration of its own that replaces the constraint again.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06 10:52:00
"""

from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

CONSTRAINT = "ck_campaigns_channel"


def _allow(*channels: str) -> None:
    op.drop_constraint(op.f(CONSTRAINT), "campaigns", type_="check")
    names = ", ".join(f"'{channel}'" for channel in channels)
    op.create_check_constraint(op.f(CONSTRAINT), "campaigns", f"channel IN ({names})")


def upgrade() -> None:
    _allow("sms", "email", "whatsapp", "webhook")


def downgrade() -> None:
    # The older schema cannot hold campaigns on the newer channels: going back drops them.
    op.execute("DELETE FROM campaigns WHERE channel IN ('whatsapp', 'webhook')")
    _allow("sms", "email")
