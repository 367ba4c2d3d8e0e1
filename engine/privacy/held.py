"""Where we hold data about a customer: their row, every table with a `customer_id` column, the feature snapshot,
and dead letters that name them.

Tables are found in the schema's metadata rather than listed, so a new domain's per-customer table (consent
history, journey state) is exported and erased without an edit here. Dead letters keep records as received
(text that may not even be JSON), so those that name the customer are found by their external id as JSON
writes it, quotes included.
"""

from __future__ import annotations

import orjson
from sqlalchemy import Column, Connection, Table, text

from engine.schema import customers, metadata

DEAD_LETTERS_NAMING = "strpos(payload, :named) > 0"  # bind `named` with `as_named(external_id)`
SNAPSHOT_ROW = "SELECT * FROM customer_features WHERE customer_id = :customer"


def as_named(external_id: str) -> str:
    """The external id as a dead letter's JSON would name it."""
    return orjson.dumps(external_id).decode()


def customer_tables() -> list[Table]:
    """The tables holding rows about one customer by `customer_id`, dependent tables first."""
    return [
        table
        for table in reversed(metadata.sorted_tables)
        if table is not customers and "customer_id" in table.c and _names_our_customers(table.c.customer_id)
    ]


def _names_our_customers(column: Column) -> bool:
    references = {key.column.table.name for key in column.foreign_keys}
    return references <= {customers.name}


def has_snapshot(conn: Connection) -> bool:
    """Whether a feature snapshot has been published (its view exists)."""
    return bool(conn.execute(text("SELECT to_regclass('public.customer_features') IS NOT NULL")).scalar_one())
