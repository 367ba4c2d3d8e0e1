"""Tables of campaigns: the campaigns themselves and the communication log, one row per recipient.

The log is the record of every message: who it went to, what it said, and each step of its way
(pending → queued → sent → delivered | failed, or skipped with the reason). Campaign counts, the
frequency cap and "retry the failed" all read it. The log has no foreign keys: a recipient's row keeps their
customer id so a launched campaign's history outlives changes to the customers table, and its campaign
id unchecked because checking it per row doubled the time to COPY a million recipients (campaigns with
a log are never deleted). A BRIN index on `created_at` serves the frequency cap's "messages in the last
N days" for next to nothing per insert.
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
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB

from engine.channels import CHANNEL_NAMES
from engine.schema.base import created_at, metadata, one_of, updated_at

CAMPAIGN_STATUSES = ("draft", "scheduled", "sending", "paused", "completed", "cancelled", "failed")
MESSAGE_STATUSES = ("pending", "queued", "sent", "delivered", "failed", "skipped")
FAILURE_KINDS = ("transient", "permanent")  # engine.campaigns.failures decides which


campaigns = Table(
    "campaigns",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("name", Text, nullable=False),
    Column("channel", Text, nullable=False),
    Column("template", Text, nullable=False),
    Column("subject", Text),  # e-mail only; a template too
    Column("html_template", Text),  # channels with an HTML part (e-mail) only: its template; null: made from the text
    # The subscription topic it belongs to: customers who left the topic are skipped (engine.consent).
    Column("topic", Text, ForeignKey("topics.key", onupdate="CASCADE")),
    # The audience: a saved segment, or a rule given inline.
    Column("segment_id", BigInteger),
    Column("audience_rule", JSONB),
    # Frozen at launch: the rule that was evaluated, on which feature snapshot, and how many it matched.
    Column("frozen_rule", JSONB),
    Column("snapshot_version", Text),
    Column("audience_size", Integer),
    Column("status", Text, nullable=False, server_default="draft"),
    Column("failure_reason", Text),
    Column("scheduled_at", DateTime(timezone=True)),
    Column("launched_at", DateTime(timezone=True)),
    Column("completed_at", DateTime(timezone=True)),
    # A finished campaign's counts by status, kept once every message is final (they can no longer change),
    # so campaign history does not count a million-row log again on every read.
    Column("settled_counts", JSONB),
    # The highest log id the launch has put on the delivery stream, so a relaunch resumes after it, and when the
    # launch finished putting them there (until then, the launch is run again if its run dies).
    Column("published_through", BigInteger, nullable=False, server_default="0"),
    Column("published_at", DateTime(timezone=True)),
    # Launch attempts: `schedule_seq` counts the times the campaign was scheduled, so each scheduling gets launch
    # runs of its own; `launch_attempts` runs of it ended without launching, the last for `launch_error`.
    Column("schedule_seq", Integer, nullable=False, server_default="0"),
    Column("launch_attempts", Integer, nullable=False, server_default="0"),
    Column("launch_error", Text),
    Column("created_by", BigInteger, ForeignKey("users.id", ondelete="SET NULL")),
    # "Retry the failed": a follow-up campaign to the failed recipients of this one.
    Column("parent_campaign_id", BigInteger, ForeignKey("campaigns.id", ondelete="SET NULL")),
    created_at(),
    updated_at(),
    CheckConstraint(one_of("status", CAMPAIGN_STATUSES), name="status"),
    CheckConstraint(one_of("channel", CHANNEL_NAMES), name="channel"),
    CheckConstraint(
        "segment_id IS NOT NULL OR audience_rule IS NOT NULL OR parent_campaign_id IS NOT NULL", name="audience"
    ),
)
Index("ix_campaigns_status_scheduled_at", campaigns.c.status, campaigns.c.scheduled_at)
Index("ix_campaigns_created_at", campaigns.c.created_at)

communication_log = Table(
    "communication_log",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("campaign_id", BigInteger, nullable=False),
    Column("customer_id", BigInteger, nullable=False),
    Column("channel", Text, nullable=False),
    Column("address", Text),  # the phone number or e-mail address it went to
    Column("message", Text),  # rendered; empty for skipped recipients
    Column("subject", Text),
    Column("html", Text),  # the rendered, sanitised HTML template; null: the HTML part is made from the message
    Column("status", Text, nullable=False),
    Column("reason", Text),  # why it was skipped or failed
    # A failed message's failure is transient (a retry may succeed) or permanent; "retry the failed" re-sends
    # only transient ones. Set with the failure, from its reason or the vendor's flag.
    Column("failure_kind", Text),
    Column("vendor_message_id", Text),
    # Stable per row, so a retried send is recognised by the vendor and never sent twice.
    Column("idempotency_key", Text, nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("not_before", DateTime(timezone=True)),  # quiet hours: pending until then
    created_at(),
    Column("queued_at", DateTime(timezone=True)),
    Column("sent_at", DateTime(timezone=True)),
    Column("delivered_at", DateTime(timezone=True)),
    Column("failed_at", DateTime(timezone=True)),
    # When the vendor was last asked about this message because its receipt had not come (engine.campaigns.reconcile).
    Column("receipt_checked_at", DateTime(timezone=True)),
    UniqueConstraint("campaign_id", "customer_id"),
    CheckConstraint(one_of("status", MESSAGE_STATUSES), name="status"),
    CheckConstraint(one_of("failure_kind", FAILURE_KINDS), name="failure_kind"),
    # Rows are updated twice after insert (sent, then delivered); room on the page keeps those updates HOT.
    postgresql_with={"fillfactor": "70"},
)
Index("ix_communication_log_created_at", communication_log.c.created_at, postgresql_using="brin")
# Provider status webhooks find their message by the provider's id (api.receipts.providers).
Index(
    "ix_communication_log_vendor_message_id",
    communication_log.c.vendor_message_id,
    postgresql_where=communication_log.c.vendor_message_id.isnot(None),
)
