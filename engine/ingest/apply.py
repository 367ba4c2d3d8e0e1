"""Writing a batch of records to Postgres in one transaction: COPY into staging tables, then upserts.

Applying the same batch twice changes nothing the second time: customers and orders are keyed by their
external ids, events by their message ids. Updates to one customer that arrive out of order are settled
by the source timestamp: the newest wins, and an older update only fills fields that are still unset.

Several batches may be applied at once (a consumer's appliers, several consumers): rows are written in key order,
so two transactions that update the same customers or orders wait for each other rather than deadlock.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Self

import orjson
from psycopg import Connection as PgConnection
from psycopg import Cursor
from psycopg.errors import UniqueViolation
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
CREATE TEMP TABLE IF NOT EXISTS stage_named (external_id text, customer_id bigint) ON COMMIT DELETE ROWS;
DELETE FROM stage_customers; DELETE FROM stage_orders; DELETE FROM stage_events; DELETE FROM stage_named;
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

# The customers a batch's orders and events name, by external id.
NAMED = """
SELECT customer_external_id AS external_id FROM stage_orders
UNION SELECT customer_external_id FROM stage_events WHERE customer_external_id IS NOT NULL
"""

# The customers a batch names, locked against deletion until it commits (events hold no foreign key to customers,
# migration 0019): an erasure, which locks its customer for update and then deletes their events before them, waits
# for the batch, so no event is committed naming a customer who is gone. One statement for the whole batch, in
# id order; other ingest transactions' locks and updates of these rows do not conflict with it. Their ids are kept
# in `stage_named`, which the statements after it join instead of the whole customers table. Run again after the
# missing customers are inserted, it names those another batch inserted in between.
NAME_CUSTOMERS = f"""
INSERT INTO stage_named (external_id, customer_id)
SELECT c.external_id, c.id FROM customers c
WHERE c.external_id IN ({NAMED})
  AND NOT EXISTS (SELECT 1 FROM stage_named n WHERE n.external_id = c.external_id)
ORDER BY c.id
FOR KEY SHARE
"""

# Orders and events may name a customer we have not heard of yet: they get a bare customer row, which a later
# identify or customer update fills in, and is named in `stage_named`. Only the names not found are inserted, in
# order, so consumers inserting the same new customers at once wait for each other rather than deadlock; one that
# another batch inserted first is left to `NAME_CUSTOMERS`.
INSERT_MISSING_CUSTOMERS = f"""
WITH added AS (
    INSERT INTO customers (external_id)
    SELECT named.external_id FROM ({NAMED}) AS named
    WHERE NOT EXISTS (SELECT 1 FROM stage_named n WHERE n.external_id = named.external_id)
    ORDER BY named.external_id
    ON CONFLICT (external_id) DO NOTHING
    RETURNING external_id, id
)
INSERT INTO stage_named (external_id, customer_id) SELECT external_id, id FROM added
"""

UPSERT_ORDERS = """
INSERT INTO orders AS o (
    external_id, customer_id, amount, currency, status, items, ordered_at, source_updated_at
)
SELECT s.external_id, n.customer_id, s.amount, s.currency, s.status, s.items, s.ordered_at, s.ts
FROM stage_orders s JOIN stage_named n ON n.external_id = s.customer_external_id ORDER BY s.external_id
ON CONFLICT (external_id) DO UPDATE SET
    customer_id = EXCLUDED.customer_id, amount = EXCLUDED.amount, currency = EXCLUDED.currency,
    status = EXCLUDED.status, items = EXCLUDED.items, ordered_at = EXCLUDED.ordered_at,
    source_updated_at = EXCLUDED.source_updated_at, updated_at = now()
WHERE o.source_updated_at IS NULL OR EXCLUDED.source_updated_at >= o.source_updated_at
"""

# Events whose message id is new, in the order they came: the order COPY wrote them into the emptied staging table
# (a join's order is the planner's choice), so ids follow arrival. A message id twice in a batch is staged once
# (`_first_of_each_message`), and one already stored is skipped by the lookup, which costs a fifth less than ON
# CONFLICT's speculative insertion. Only a batch applied at the same moment can insert one of them in between: the
# unique index then refuses it, and the batch's events are inserted again with `INSERT_EVENTS_ON_CONFLICT`.
INSERT_EVENTS = """
INSERT INTO events (message_id, customer_id, anonymous_id, type, name, properties, context, occurred_at)
SELECT s.message_id, n.customer_id, s.anonymous_id, s.type, s.name, s.properties, s.context, s.occurred_at
FROM stage_events s LEFT JOIN stage_named n ON n.external_id = s.customer_external_id
WHERE NOT EXISTS (SELECT 1 FROM events e WHERE e.message_id = s.message_id)
ORDER BY s.ctid
"""
INSERT_EVENTS_ON_CONFLICT = INSERT_EVENTS + "ON CONFLICT (message_id) DO NOTHING\n"

# An alias ties what an anonymous visitor did to the customer they turned out to be.
ATTACH_ALIASED_EVENTS = """
UPDATE events e SET customer_id = n.customer_id
FROM stage_events s JOIN stage_named n ON n.external_id = s.customer_external_id
WHERE s.type = 'alias' AND e.anonymous_id = s.properties ->> 'previous_id' AND e.customer_id IS NULL
"""


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


def _first_of_each_message(events: Iterable[EventRecord]) -> list[EventRecord]:
    """The events, each message id kept at its first occurrence only (as inserting them in turn would keep it)."""
    first: dict[str, EventRecord] = {}
    for event in events:
        first.setdefault(event["message_id"], event)
    return list(first.values())


def _insert_events(conn: Connection, cursor: Cursor[Any]) -> int:
    """Insert the staged events not stored yet; how many were inserted."""
    try:
        with conn.begin_nested():
            cursor.execute(INSERT_EVENTS)
    except UniqueViolation:  # a batch applied at the same moment stored one of them first
        cursor.execute(INSERT_EVENTS_ON_CONFLICT)
    return cursor.rowcount


def _copy(pg: PgConnection, table: str, rows: Iterable[tuple[Any, ...]]) -> None:
    with pg.cursor() as cursor, cursor.copy(f"COPY {table} FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def _name_customers(cursor: Cursor[Any], orders: Sequence[OrderRecord], events: Sequence[EventRecord]) -> None:
    """Lock the customers the staged orders and events name, insert those missing, and keep their ids in
    `stage_named`; those another batch inserted meanwhile are named once it has committed."""
    names = {order["customer_external_id"] for order in orders}
    names.update(event["customer_external_id"] for event in events if event["customer_external_id"])
    cursor.execute(NAME_CUSTOMERS)
    named = cursor.rowcount
    cursor.execute(INSERT_MISSING_CUSTOMERS)
    if named + cursor.rowcount < len(names):
        cursor.execute(NAME_CUSTOMERS)


def apply_batch(conn: Connection, batch: Batch) -> ApplyCounts:
    """Write `batch` inside the caller's transaction; raises if Postgres refuses any of it."""
    pg = psycopg_connection(conn)
    customers = _fold_customers(batch["customers"])
    orders = _newest_orders(batch["orders"])
    events = _first_of_each_message(batch["events"])
    with pg.cursor() as cursor:
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
            _name_customers(cursor, orders, events)
        record_touched_customers(conn)  # for the next feature delta; before orders move customers
        if orders:
            cursor.execute(UPSERT_ORDERS)
            counts.applied += cursor.rowcount
        if events:
            counts.applied += _insert_events(conn, cursor)
            if any(event["type"] == "alias" for event in events):
                cursor.execute(ATTACH_ALIASED_EVENTS)
    records = len(batch["customers"]) + len(batch["orders"]) + len(batch["events"])
    counts.duplicates = records - counts.applied - counts.erased
    return counts
