"""Tables of ingestion: customers, orders, events, the dead letters of the ingest stream, and write keys."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Numeric,
    String,
    Table,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB

from engine.schema.base import created_at, metadata, updated_at

customers = Table(
    "customers",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("external_id", Text, nullable=False, unique=True),
    Column("email", Text),
    Column("phone", Text),
    Column("first_name", Text),
    Column("last_name", Text),
    Column("city", Text),
    Column("country", Text),
    Column("timezone", Text),
    Column("signed_up_at", DateTime(timezone=True)),
    Column("email_consent", Boolean),
    Column("sms_consent", Boolean),
    Column("traits", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    # The event time of the newest update applied: an older update only fills what is still unset.
    Column("source_updated_at", DateTime(timezone=True)),
    created_at(),
    updated_at(),
)
Index("ix_customers_email", customers.c.email)
Index("ix_customers_phone", customers.c.phone)

orders = Table(
    "orders",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("external_id", Text, nullable=False, unique=True),
    Column("customer_id", BigInteger, ForeignKey("customers.id", ondelete="CASCADE"), nullable=False),
    Column("amount", Numeric(14, 2), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("status", Text, nullable=False, server_default="completed"),
    Column("items", JSONB, nullable=False, server_default=text("'[]'::jsonb")),
    Column("ordered_at", DateTime(timezone=True), nullable=False),
    Column("source_updated_at", DateTime(timezone=True)),
    created_at(),
    updated_at(),
)
Index("ix_orders_customer_id_ordered_at", orders.c.customer_id, orders.c.ordered_at)

events = Table(
    "events",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("message_id", Text, nullable=False, unique=True),
    # No foreign key: checking one per inserted event cost a third of applying it. The ingest transaction locks
    # the customers a batch names instead, once per batch (migration 0019), and an erasure deletes the events.
    Column("customer_id", BigInteger),
    Column("anonymous_id", Text),
    Column("type", Text, nullable=False),
    Column("name", Text),
    Column("properties", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Column("context", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)
Index("ix_events_customer_id_name_occurred_at", events.c.customer_id, events.c.name, events.c.occurred_at)
# The alias that tied an anonymous visitor to a customer, found when more of the visitor's events arrive.
Index(
    "ix_events_alias_previous_id",
    events.c.properties["previous_id"].astext,
    postgresql_where=events.c.type == "alias",
)

ingest_dead_letters = Table(
    "ingest_dead_letters",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("stream_entry_id", Text, nullable=False),
    Column("kind", Text, nullable=False),
    Column("payload", Text, nullable=False),  # as received: it may not even be valid JSON
    Column("error", Text, nullable=False),
    Column("failed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("replayed_at", DateTime(timezone=True)),
)
# A record (or undecodable entry) is kept once per stream entry, however often that entry is handled: a consumer
# that dies after the commit and before the acknowledgement leaves it to the next, which records it again.
Index(
    "uq_ingest_dead_letters_once",
    ingest_dead_letters.c.stream_entry_id,
    ingest_dead_letters.c.kind,
    func.md5(ingest_dead_letters.c.payload),
    unique=True,
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("name", Text, nullable=False),
    # The first characters of the key, kept in clear to find the row; the rest is only hashed.
    Column("prefix", Text, nullable=False, unique=True),
    Column("key_hash", Text, nullable=False),
    Column("scope", Text, nullable=False, server_default="ingest"),
    created_at(),
    Column("last_used_at", DateTime(timezone=True)),
    Column("revoked_at", DateTime(timezone=True)),
)
