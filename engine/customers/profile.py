"""A customer's profile: who they are, what they bought and did, their current features and segments.

Attributes, orders and events come from Postgres (the newest first, a bounded number of each); features
and segment membership come from the feature snapshot in memory, evaluated for this one customer, so
the profile shows the segments they are in by each segment's current rule.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import polars as pl
from sqlalchemy import Engine, select

from engine.schema import customers, events, orders
from engine.segments.errors import RuleError
from engine.segments.polars_backend import PolarsEvaluator
from engine.segments.store import SavedSegment
from engine.segments.validation import parse_rule

ORDER_COLUMNS = ("id", "external_id", "amount", "currency", "status", "items", "ordered_at")
EVENT_COLUMNS = ("id", "type", "name", "properties", "occurred_at")


@dataclass(frozen=True)
class CustomerRecord:
    """The customer's row, and their newest orders and events."""

    attributes: dict[str, Any]
    orders: list[dict[str, Any]]
    events: list[dict[str, Any]]


def customer_record(
    db: Engine, customer_id: int, *, orders_limit: int = 50, events_limit: int = 50
) -> CustomerRecord | None:
    """None when there is no such customer."""
    with db.connect() as conn:
        attributes = conn.execute(select(customers).where(customers.c.id == customer_id)).mappings().one_or_none()
        if attributes is None:
            return None
        newest_orders = conn.execute(
            select(*(orders.c[name] for name in ORDER_COLUMNS))
            .where(orders.c.customer_id == customer_id)
            .order_by(orders.c.ordered_at.desc(), orders.c.id.desc())
            .limit(orders_limit)
        ).mappings()
        newest_events = conn.execute(
            select(*(events.c[name] for name in EVENT_COLUMNS))
            .where(events.c.customer_id == customer_id)
            .order_by(events.c.occurred_at.desc(), events.c.id.desc())
            .limit(events_limit)
        ).mappings()
        return CustomerRecord(
            dict(attributes), [dict(row) for row in newest_orders], [dict(row) for row in newest_events]
        )


def snapshot_row(features: pl.DataFrame, customer_id: int) -> pl.DataFrame:
    """The customer's row of a feature snapshot sorted by `customer_id` (empty when they are not in it)."""
    ids = features.get_column("customer_id")
    position = int(ids.search_sorted(customer_id))
    row = features.slice(position, 1)
    return row if row.height and row.item(0, "customer_id") == customer_id else features.clear()


def segments_containing(
    evaluator: PolarsEvaluator, customer_id: int, segments: Iterable[SavedSegment]
) -> list[SavedSegment]:
    """The saved segments whose rule matches the customer on the evaluator's snapshot (by the segments' order).

    A rule that no longer fits the snapshot's catalog matches nobody.
    """
    row = snapshot_row(evaluator.features, customer_id)
    if row.is_empty():
        return []
    containing = []
    for segment in segments:
        try:
            rule = parse_rule(segment.rule, evaluator.catalog)
        except RuleError:
            continue
        if row.select(evaluator.compile(rule)).item():
            containing.append(segment)
    return containing
