"""Tables of saved segments: each segment's rule and owner, and its member set at every feature snapshot.

`segment_sizes` is the segment's history: one row per segment and snapshot version with the size, how many
entered and left since the segment's previous row, and the member set itself, stored compactly as a
compressed bitmap over customer ids (`engine.segments.member_sets`). A row per member instead would add
millions of rows per snapshot for a handful of large segments; the bitmap is at most one bit per customer
id before compression, is written as one value, and two of them diff in milliseconds.

Customer search (`engine.customers.search`) matches prefixes of names, e-mails, phones and external ids,
case-insensitively; the expression indexes declared here serve it (`text_pattern_ops`, so `LIKE 'ada%'`
uses them whatever the database's collation, and no extension is needed).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    LargeBinary,
    Table,
    Text,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB

from engine.schema.base import created_at, metadata, updated_at
from engine.schema.ingest import customers

segments = Table(
    "segments",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("name", Text, nullable=False, unique=True),
    Column("description", Text, nullable=False, server_default=""),
    Column("rule", JSONB, nullable=False),
    Column("owner_id", BigInteger, ForeignKey("users.id", ondelete="SET NULL")),
    created_at(),
    updated_at(),
)

segment_sizes = Table(
    "segment_sizes",
    metadata,
    Column("segment_id", BigInteger, ForeignKey("segments.id", ondelete="CASCADE"), primary_key=True),
    Column("snapshot_version", BigInteger, primary_key=True),  # feature_snapshots.version (no key: pruned)
    Column("snapshot_taken_at", DateTime(timezone=True), nullable=False),
    Column("size", BigInteger, nullable=False),
    # Against the segment's previous row; unset on its first.
    Column("entered_count", BigInteger),
    Column("left_count", BigInteger),
    Column("members", LargeBinary, nullable=False),
    Column("rule", JSONB, nullable=False),  # the rule as evaluated for this row
    Column("recorded_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)
Index("ix_segment_sizes_segment_id_snapshot_taken_at", segment_sizes.c.segment_id, segment_sizes.c.snapshot_taken_at)

# Customer search: `engine.customers.search` compares `LIKE 'prefix%'` on exactly these expressions.
SEARCHABLE_TEXT = {
    "first_name": func.lower(customers.c.first_name),
    "last_name": func.lower(customers.c.last_name),
    "email": func.lower(customers.c.email),
    "phone": customers.c.phone,
    "external_id": func.lower(customers.c.external_id),
}
for _name, _expression in SEARCHABLE_TEXT.items():
    Index(
        f"ix_customers_search_{_name}",
        _expression.label(_name),
        postgresql_ops={_name: "text_pattern_ops"},
    )
