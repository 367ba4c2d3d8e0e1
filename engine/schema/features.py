"""Tables of customer feature snapshots: the list of published versions, and the schema holding their tables.

Each materialization of `customer_features` publishes a version: a table `features.customer_features_v<N>`
(in its own Postgres schema, so the snapshot tables never look like drift against this metadata), a view
`public.customer_features` on the newest, Parquet files, and a row here saying where they are and what
they hold. `engine.features.snapshot` writes and reads them.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    Identity,
    Integer,
    Table,
    Text,
    false,
    func,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

from engine.schema.base import created_at, metadata

FEATURES_SCHEMA = "features"  # the Postgres schema of the versioned snapshot tables

feature_snapshots = Table(
    "feature_snapshots",
    metadata,
    Column("version", BigInteger, Identity(), primary_key=True),
    created_at(),
    # The "now" the features were computed as of: windows, ages and recency are relative to it.
    Column("taken_at", DateTime(timezone=True), nullable=False),
    Column("row_count", BigInteger, nullable=False),
    Column("event_count", BigInteger, nullable=False),
    Column("table_name", Text, nullable=False),  # schema-qualified: features.customer_features_v<N>
    Column("features_path", Text, nullable=False),
    Column("events_path", Text, nullable=False),
    Column("columns", JSONB, nullable=False),  # [[column, Polars dtype], ...] in column order
    # What Postgres counted in the same read transaction (customers, completed orders, their spend):
    # the asset checks hold the published table to these.
    Column("source_totals", JSONB, nullable=False),
    # How many changes to the sources the read saw (`feature_source_changes.changes`, read in the same transaction).
    Column("source_changes", BigInteger),
)

# One row counting the committed changes to the feature sources (customers, orders, events): every transaction
# that writes them (an ingest batch) adds one before it commits. The features are behind while the count is
# higher than the newest snapshot's `source_changes`, and a refresh is asked for until they catch up.
feature_source_changes = Table(
    "feature_source_changes",
    metadata,
    Column("id", Integer, primary_key=True, server_default="1"),
    Column("changes", BigInteger, nullable=False, server_default="0"),
    Column("changed_at", DateTime(timezone=True)),
    CheckConstraint("id = 1", name="one_row"),
)

# Customers whose features an applied ingest batch may have changed, waiting to be recomputed: the ingest transaction
# adds them (`engine.features.deltas.record_touched_customers`) and the transaction publishing a delta takes them out.
# A queue, not a set: no key, so adding costs one heap write per customer and batch.
feature_touched_customers = Table(
    "feature_touched_customers",
    metadata,
    Column("customer_id", BigInteger, nullable=False),
    # Only events named the customer: their feature row stands, a delta re-reads their events alone.
    Column("events_only", Boolean, nullable=False, server_default=false()),
    # When its batch was applied: changes waiting long for a delta make the features behind (a full refresh is due).
    Column("queued_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

# Deltas on the newest snapshot: the recomputed feature rows of the customers some batches touched, as of
# `source_changes` (the count their read saw). A reader applies, in `id` order, the deltas newer than its snapshot
# (`source_changes` higher than the snapshot's); a delta no newer is never applied over it.
feature_deltas = Table(
    "feature_deltas",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    created_at(),
    Column("taken_at", DateTime(timezone=True), nullable=False),  # the "now" its rows were computed as of
    Column("source_changes", BigInteger, nullable=False),
    Column("row_count", Integer, nullable=False),
    Column("features_path", Text, nullable=False),
    Column("events_path", Text, nullable=False),
    # Customers it touched that no longer exist: readers drop their rows.
    Column("removed_ids", ARRAY(BigInteger), nullable=False, server_default="{}"),
    # Columns whose values it could not hold in the snapshot's types (a trait that changed type): the next full
    # refresh retypes them.
    Column("unfit_columns", JSONB, nullable=False, server_default="[]"),
)
