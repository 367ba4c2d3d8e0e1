"""Tables of consent: the suppression list, the history of consent changes, and subscription topics.

The suppression list holds the addresses nothing may be sent to on a channel (a hard bounce, a complaint, an
unsubscribe, a STOP reply, an invalid address), keyed by the SHA-256 of the normalized address, so it outlives the
customer: erasing them clears `address` and keeps the hash, and a later customer with that address is still not
messaged. It has no foreign keys for the same reason. Consent changes are kept as history (what changed, when,
from where); a customer's topics are the ones they left (everyone is in every topic until they leave it).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    ForeignKey,
    Identity,
    Index,
    PrimaryKeyConstraint,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB

from engine.schema.base import created_at, metadata, one_of

SUPPRESSION_REASONS = ("hard_bounce", "complaint", "unsubscribed", "stop", "invalid_address", "manual")

suppressions = Table(
    "suppressions",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("channel", Text, nullable=False),
    Column("address_hash", Text, nullable=False),  # hex SHA-256 of the normalized address (engine.consent.addresses)
    Column("address", Text),  # the normalized address; NULL once its customer is erased
    Column("reason", Text, nullable=False),
    Column("source", Text, nullable=False),  # where it came from: a receipt, an SMS reply, a link, a person
    Column("detail", Text),  # the provider's words, the reply's text, who added it
    Column("customer_id", BigInteger),
    Column("campaign_id", BigInteger),
    created_at(),
    UniqueConstraint("channel", "address_hash"),
    CheckConstraint(one_of("reason", SUPPRESSION_REASONS), name="reason"),
)
Index("ix_suppressions_created_at", suppressions.c.created_at)

topics = Table(
    "topics",
    metadata,
    Column("key", Text, primary_key=True),  # as campaigns name it: "offers", "order-updates"
    Column("name", Text, nullable=False),
    Column("description", Text, nullable=False, server_default=""),
    created_at(),
    CheckConstraint("key ~ '^[a-z0-9][a-z0-9-]{0,62}$'", name="key"),
)

topic_optouts = Table(
    "topic_optouts",
    metadata,
    Column("customer_id", BigInteger, ForeignKey("customers.id", ondelete="CASCADE"), nullable=False),
    Column("topic", Text, ForeignKey("topics.key", ondelete="CASCADE", onupdate="CASCADE"), nullable=False),
    created_at(),
    PrimaryKeyConstraint("customer_id", "topic"),
)
# Who left a topic, asked at every audience count and launch of a campaign on it, without reading everyone's opt-outs.
Index("ix_topic_optouts_topic_customer_id", topic_optouts.c.topic, topic_optouts.c.customer_id)

consent_changes = Table(
    "consent_changes",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("customer_id", BigInteger, ForeignKey("customers.id", ondelete="CASCADE"), nullable=False),
    Column("channel", Text),  # the channel whose consent changed; NULL for a topic, which spans channels
    Column("topic", Text),
    Column("subscribed", Boolean, nullable=False),
    Column("source", Text, nullable=False),  # unsubscribe link, preference page, SMS reply, receipt, API
    Column("detail", JSONB, nullable=False, server_default="{}"),  # campaign, message, reason, request
    created_at(),
    CheckConstraint("channel IS NOT NULL OR topic IS NOT NULL", name="subject"),
)
Index("ix_consent_changes_customer_id_id", consent_changes.c.customer_id, consent_changes.c.id)
