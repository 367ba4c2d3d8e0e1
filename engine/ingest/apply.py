"""Writing a batch of records to Postgres in one transaction: COPY into staging tables, then upserts.

Applying the same batch twice changes nothing the second time: customers and orders are keyed by their
external ids, events by their message ids. Updates to one customer that arrive out of order are settled
by the source timestamp: the newest wins, and an older update only fills fields that are still unset.

Several batches may be applied at once (a consumer's appliers, several consumers): rows are written in key order,
so two transactions that update the same customers or orders wait for each other rather than deadlock. A batch with an
alias and one with anonymous events take turns (an advisory lock), so whichever commits second sees the other's rows
and ties the visitor's events to their customer.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Self

import orjson
from psycopg import Connection as PgConnection
from sqlalchemy import Connection

from engine.connections import psycopg_connection
from engine.features.freshness import record_touched_customers
from engine.ingest.records import CUSTOMER_FIELDS, TRACKING_SOURCE, Batch, CustomerRecord, EventRecord, OrderRecord

# Emptied on every apply, not only at the commit: a refused batch is split and its halves applied under
# savepoints of one transaction, and the rows a half that succeeded staged must not be applied again. DELETE, not
# TRUNCATE: the tables are empty but in that case, and TRUNCATE gives each table new files (~2 ms a batch).
STAGING_TABLES = """
CREATE TEMP TABLE IF NOT EXISTS stage_customers (
    external_id text, email text, phone text, first_name text, last_name text, city text, country text,
    timezone text, signed_up_at timestamptz, email_consent boolean, sms_consent boolean, traits jsonb,
    ts timestamptz
) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS stage_orders (
    external_id text, customer_external_id text, amount numeric(14, 2), currency text, status text,
    items jsonb, ordered_at timestamptz, ts timestamptz
) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS stage_events (
    message_id text, customer_external_id text, anonymous_id text, type text, name text,
    properties jsonb, context jsonb, occurred_at timestamptz
) ON COMMIT DELETE ROWS;
DELETE FROM stage_customers; DELETE FROM stage_orders; DELETE FROM stage_events;
"""

_INCOMING_IS_NEWER = "(c.source_updated_at IS NULL OR EXCLUDED.source_updated_at >= c.source_updated_at)"


def _newest_wins(column: str) -> str:
    return (
        f"{column} = CASE WHEN {_INCOMING_IS_NEWER} "
        f"THEN COALESCE(EXCLUDED.{column}, c.{column}) ELSE COALESCE(c.{column}, EXCLUDED.{column}) END"
    )


UPSERT_CUSTOMERS = f"""
INSERT INTO customers AS c (external_id, {", ".join(CUSTOMER_FIELDS)}, traits, source_updated_at)
SELECT external_id, {", ".join(CUSTOMER_FIELDS)}, traits, ts FROM stage_customers ORDER BY external_id
ON CONFLICT (external_id) DO UPDATE SET
    {", ".join(_newest_wins(column) for column in CUSTOMER_FIELDS)},
    traits = CASE WHEN {_INCOMING_IS_NEWER}
        THEN c.traits || EXCLUDED.traits ELSE EXCLUDED.traits || c.traits END,
    source_updated_at = GREATEST(c.source_updated_at, EXCLUDED.source_updated_at),
    updated_at = now()
"""

# Our own open and click events whose message is gone (its customer was erased after the event was made) are
# dropped before they could name the customer again; an integrator's events are never dropped here.
DROP_ERASED_TRACKING = f"""
DELETE FROM stage_events s
WHERE s.context ->> 'source' = '{TRACKING_SOURCE}'
  AND NOT CASE WHEN s.properties ->> 'message_id' ~ '^[0-9]{{1,18}}$'
      THEN EXISTS (SELECT 1 FROM communication_log l WHERE l.id = (s.properties ->> 'message_id')::bigint)
      ELSE false END
"""

# The customers a batch names, locked against deletion until it commits (events hold no foreign key to customers,
# migration 0019): an erasure, which locks its customer for update and then deletes their events before them, waits
# for the batch, so no event is committed naming a customer who is gone. One statement for the whole batch, in
# id order; other ingest transactions' locks and updates of these rows do not conflict with it.
LOCK_NAMED_CUSTOMERS = """
SELECT 1 FROM customers c
WHERE c.external_id IN (
    SELECT customer_external_id FROM stage_orders
    UNION SELECT customer_external_id FROM stage_events WHERE customer_external_id IS NOT NULL
)
ORDER BY c.id
FOR KEY SHARE
"""

# Orders and events may name a customer we have not heard of yet: they get a bare customer row,
# which a later identify or customer update fills in. Only the names not found are inserted (a lookup in the
# index is several times cheaper than an insert that conflicts, and most customers are known), in order, so
# consumers inserting the same new customers at once wait for each other rather than deadlock.
INSERT_MISSING_CUSTOMERS = """
INSERT INTO customers (external_id)
SELECT named.external_id FROM (
    SELECT customer_external_id AS external_id FROM stage_orders
    UNION SELECT customer_external_id FROM stage_events WHERE customer_external_id IS NOT NULL
) AS named
WHERE NOT EXISTS (SELECT 1 FROM customers c WHERE c.external_id = named.external_id)
ORDER BY named.external_id
ON CONFLICT (external_id) DO NOTHING
"""

UPSERT_ORDERS = """
INSERT INTO orders AS o (
    external_id, customer_id, amount, currency, status, items, ordered_at, source_updated_at
)
SELECT s.external_id, c.id, s.amount, s.currency, s.status, s.items, s.ordered_at, s.ts
FROM stage_orders s JOIN customers c ON c.external_id = s.customer_external_id ORDER BY s.external_id
ON CONFLICT (external_id) DO UPDATE SET
    customer_id = EXCLUDED.customer_id, amount = EXCLUDED.amount, currency = EXCLUDED.currency,
    status = EXCLUDED.status, items = EXCLUDED.items, ordered_at = EXCLUDED.ordered_at,
    source_updated_at = EXCLUDED.source_updated_at, updated_at = now()
WHERE o.source_updated_at IS NULL OR EXCLUDED.source_updated_at >= o.source_updated_at
"""

# An event naming no customer goes to the customer an earlier alias tied its anonymous visitor to, if any (an event
# that arrives late, or whose batch was applied beside the alias's: see ALIAS_LOCK).
INSERT_EVENTS = """
INSERT INTO events (message_id, customer_id, anonymous_id, type, name, properties, context, occurred_at)
SELECT s.message_id, COALESCE(c.id, (
    SELECT a.customer_id FROM events a
    WHERE a.type = 'alias' AND a.properties ->> 'previous_id' = s.anonymous_id AND a.customer_id IS NOT NULL
    ORDER BY a.occurred_at DESC LIMIT 1
)), s.anonymous_id, s.type, s.name, s.properties, s.context, s.occurred_at
FROM stage_events s LEFT JOIN customers c ON c.external_id = s.customer_external_id
ON CONFLICT (message_id) DO NOTHING
"""

# An alias ties what an anonymous visitor did to the customer they turned out to be.
ATTACH_ALIASED_EVENTS = """
UPDATE events e SET customer_id = c.id
FROM stage_events s JOIN customers c ON c.external_id = s.customer_external_id
WHERE s.type = 'alias' AND e.anonymous_id = s.properties ->> 'previous_id' AND e.customer_id IS NULL
"""

# A batch with an alias takes this lock alone, one with anonymous events shares it with its like, before it writes
# anything (so it holds no row another batch could be waiting for). Without it, an alias and the anonymous events it
# names, applied side by side, each missed the other's uncommitted rows and the events stayed unattached.
ALIAS_LOCK = "SELECT pg_advisory_xact_lock{mode}(hashtext('xeno.ingest.aliases'))"


@dataclass
class ApplyCounts:
    """What applying some records did."""

    applied: int = 0
    duplicates: int = 0
    dead_lettered: int = 0
    erased: int = 0  # our own tracking events of messages no longer held (their customer was erased): dropped

    def __iadd__(self, other: ApplyCounts) -> Self:
        self.applied += other.applied
        self.duplicates += other.duplicates
        self.dead_lettered += other.dead_lettered
        self.erased += other.erased
        return self


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()


def _fold_customers(records: Iterable[CustomerRecord]) -> list[CustomerRecord]:
    """One record per customer, as the updates would leave it applied in time order."""
    folded: dict[str, CustomerRecord] = {}
    for record in sorted(records, key=lambda r: r["ts"]):
        current = folded.get(record["external_id"])
        if current is None:
            folded[record["external_id"]] = {**record, "traits": dict(record.get("traits") or {})}
            continue
        for name in CUSTOMER_FIELDS:
            if record.get(name) is not None:
                current[name] = record[name]  # type: ignore[literal-required]
        current["traits"].update(record.get("traits") or {})
        current["ts"] = record["ts"]
    return list(folded.values())


def _newest_orders(records: Iterable[OrderRecord]) -> list[OrderRecord]:
    newest: dict[str, OrderRecord] = {}
    for record in records:
        known = newest.get(record["external_id"])
        if known is None or record["ts"] >= known["ts"]:
            newest[record["external_id"]] = record
    return list(newest.values())


def _customer_rows(records: Sequence[CustomerRecord]) -> Iterable[tuple[Any, ...]]:
    for r in records:
        yield (
            r["external_id"],
            *(r.get(name) for name in CUSTOMER_FIELDS),
            _json(r.get("traits") or {}),
            r["ts"],
        )


def _order_rows(records: Sequence[OrderRecord]) -> Iterable[tuple[Any, ...]]:
    for r in records:
        yield (
            r["external_id"], r["customer_external_id"], r["amount"], r["currency"], r["status"],
            _json(r["items"]), r["ordered_at"], r["ts"],
        )  # fmt: skip


def _event_rows(records: Sequence[EventRecord]) -> Iterable[tuple[Any, ...]]:
    for r in records:
        yield (
            r["message_id"], r["customer_external_id"], r["anonymous_id"], r["type"], r["name"],
            _json(r["properties"]), _json(r["context"]), r["occurred_at"],
        )  # fmt: skip


def _copy(pg: PgConnection, table: str, rows: Iterable[tuple[Any, ...]]) -> None:
    with pg.cursor() as cursor, cursor.copy(f"COPY {table} FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def apply_batch(conn: Connection, batch: Batch) -> ApplyCounts:
    """Write `batch` inside the caller's transaction; raises if Postgres refuses any of it."""
    pg = psycopg_connection(conn)
    customers = _fold_customers(batch["customers"])
    orders = _newest_orders(batch["orders"])
    events = batch["events"]
    aliases = any(event["type"] == "alias" for event in events)
    with pg.cursor() as cursor:
        if aliases:
            cursor.execute(ALIAS_LOCK.format(mode=""))
        elif any(event["customer_external_id"] is None for event in events):
            cursor.execute(ALIAS_LOCK.format(mode="_shared"))
        cursor.execute(STAGING_TABLES)
        counts = ApplyCounts()
        if customers:
            _copy(pg, "stage_customers", _customer_rows(customers))
            cursor.execute(UPSERT_CUSTOMERS)
            counts.applied += cursor.rowcount
        if orders or events:
            _copy(pg, "stage_orders", _order_rows(orders))
            _copy(pg, "stage_events", _event_rows(events))
            if any(event["context"].get("source") == TRACKING_SOURCE for event in events):
                cursor.execute(DROP_ERASED_TRACKING)
                counts.erased = cursor.rowcount
            cursor.execute(LOCK_NAMED_CUSTOMERS)
            cursor.execute(INSERT_MISSING_CUSTOMERS)
        record_touched_customers(conn)  # for the next feature delta; before orders move customers
        if orders:
            cursor.execute(UPSERT_ORDERS)
            counts.applied += cursor.rowcount
        if events:
            cursor.execute(INSERT_EVENTS)
            counts.applied += cursor.rowcount
            if aliases:
                cursor.execute(ATTACH_ALIASED_EVENTS)
    counts.duplicates = len(batch["customers"]) + len(batch["orders"]) + len(events) - counts.applied - counts.erased
    return counts
