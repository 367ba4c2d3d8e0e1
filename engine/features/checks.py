"""Checks that a published snapshot is sound, held against what Postgres counted when it was read.

The totals in the snapshot's `feature_snapshots` row were counted by Postgres in the same read transaction
as the snapshot's data, so the checks stay right while ingestion goes on; and they read the published table
(and file), so they catch a table that was damaged or loaded short after the fact.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import pairwise

import polars as pl
from sqlalchemy import Engine, func, or_, select

from engine.features.compute import WINDOW_DAYS
from engine.features.snapshot import SnapshotInfo, snapshot_table


@dataclass(frozen=True)
class CheckOutcome:
    """Whether a check passed, in a sentence, with the figures it compared."""

    passed: bool
    description: str
    figures: dict[str, float]


def row_count_matches_customers(db: Engine, info: SnapshotInfo) -> CheckOutcome:
    """One row per customer, in the table and in the file."""
    table = snapshot_table(db, info)
    with db.connect() as conn:
        rows = int(conn.scalar(select(func.count()).select_from(table)) or 0)
        distinct = int(conn.scalar(select(func.count(table.c.customer_id.distinct()))) or 0)
    file_rows = int(pl.scan_parquet(info.features_path).select(pl.len()).collect().item())
    customers = int(info.source_totals["customers"])
    passed = rows == distinct == file_rows == customers
    return CheckOutcome(
        passed,
        f"{rows} rows ({distinct} customers) in {info.table_name} and {file_rows} in the file, "
        f"for {customers} customers in Postgres",
        {"table_rows": rows, "distinct_customers": distinct, "file_rows": file_rows, "customers": customers},
    )


def spend_is_never_negative(db: Engine, info: SnapshotInfo) -> CheckOutcome:
    """No customer has a negative total, window spend or average order value."""
    table = snapshot_table(db, info)
    spend_columns = ["total_spend", "average_order_value", *(f"spend_{days}d" for days in WINDOW_DAYS)]
    negative = or_(*(table.c[name] < 0 for name in spend_columns))
    with db.connect() as conn:
        count = int(conn.scalar(select(func.count()).select_from(table).where(negative)) or 0)
    return CheckOutcome(count == 0, f"{count} customers with negative spend", {"negative_rows": count})


def orders_agree_with_postgres(db: Engine, info: SnapshotInfo) -> CheckOutcome:
    """The order counts and spend add up to Postgres' totals, and no window holds more orders than a wider one."""
    table = snapshot_table(db, info)
    counts = [table.c.order_count, *(table.c[f"orders_{days}d"] for days in reversed(WINDOW_DAYS))]
    misordered = or_(*(narrow > wide for wide, narrow in pairwise(counts)))
    with db.connect() as conn:
        orders, spend = conn.execute(
            select(func.coalesce(func.sum(table.c.order_count), 0), func.coalesce(func.sum(table.c.total_spend), 0))
        ).one()
        windows_wrong = int(conn.scalar(select(func.count()).select_from(table).where(misordered)) or 0)
    expected_orders = int(info.source_totals["orders"])
    expected_spend = float(info.source_totals["spend"])
    passed = (
        int(orders) == expected_orders
        and math.isclose(float(spend), expected_spend, rel_tol=1e-9, abs_tol=0.01)
        and windows_wrong == 0
    )
    return CheckOutcome(
        passed,
        f"{orders} orders and {float(spend):.2f} spent in the snapshot, {expected_orders} and "
        f"{expected_spend:.2f} in Postgres; {windows_wrong} customers with a window larger than a wider one",
        {
            "snapshot_orders": int(orders),
            "postgres_orders": expected_orders,
            "snapshot_spend": float(spend),
            "postgres_spend": expected_spend,
            "customers_with_inconsistent_windows": windows_wrong,
        },
    )
