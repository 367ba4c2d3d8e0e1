"""Tables of notifications: what the people working in the CRM are told, who has read it, and the outbox of
webhooks that carry campaign and delivery events to a configured URL.

A notification is one event (a campaign finished, too many failures, new dead letters, a stale feature
snapshot), written once: its `dedupe_key` is unique, so a scan that sees the same event again adds nothing.
Who sees it is decided by role (`min_role` and every role above it) plus, for campaign events, the
campaign's creator (`user_id`). Read state is per user, a row in `notification_reads`. Each webhook keeps
its `webhook_id` and exact body across retries, so the receiver can recognise a repeat.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    Table,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB

from engine.schema.base import created_at, metadata, one_of

NOTIFICATION_KINDS = ("campaign_completed", "campaign_failed", "delivery_failures", "dead_letters", "snapshot_stale")
SEVERITIES = ("info", "warning", "error")
ROLES = ("viewer", "analyst", "marketer", "admin")


notifications = Table(
    "notifications",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("kind", Text, nullable=False),
    Column("severity", Text, nullable=False),
    Column("title", Text, nullable=False),
    Column("body", Text, nullable=False),
    Column("campaign_id", BigInteger, ForeignKey("campaigns.id", ondelete="CASCADE")),
    Column("min_role", Text, nullable=False),  # the lowest role that sees it
    Column("user_id", BigInteger, ForeignKey("users.id", ondelete="SET NULL")),  # also seen by this user
    Column("dedupe_key", Text, nullable=False, unique=True),
    Column("detail", JSONB, nullable=False, server_default=text("'{}'::jsonb")),  # the figures behind the text
    created_at(),
    CheckConstraint(one_of("kind", NOTIFICATION_KINDS), name="kind"),
    CheckConstraint(one_of("severity", SEVERITIES), name="severity"),
    CheckConstraint(one_of("min_role", ROLES), name="min_role"),
)
Index("ix_notifications_kind_id", notifications.c.kind, notifications.c.id)

notification_reads = Table(
    "notification_reads",
    metadata,
    Column("notification_id", BigInteger, ForeignKey("notifications.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", BigInteger, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("read_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)
Index("ix_notification_reads_user_id", notification_reads.c.user_id)

notification_webhooks = Table(
    "notification_webhooks",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("notification_id", BigInteger, ForeignKey("notifications.id", ondelete="CASCADE"), nullable=False),
    Column("webhook_id", Text, nullable=False, unique=True),  # the `webhook-id` header, the same on every attempt
    Column("payload", Text, nullable=False),  # the exact body posted (and signed) on every attempt
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("delivered_at", DateTime(timezone=True)),
    Column("gave_up_at", DateTime(timezone=True)),  # after the last allowed attempt failed
    Column("last_error", Text),
    created_at(),
)
Index("ix_notification_webhooks_next_attempt_at", notification_webhooks.c.next_attempt_at)
