"""Checks that a published snapshot is sound, held against what Postgres counted when it was read.

The totals in the snapshot's `feature_snapshots` row were counted by Postgres in the same read transaction
as the snapshot's data, so the checks stay right while ingestion goes on; and they read the published table
(and file), so they catch a table that was damaged or loaded short after the fact.

`incremental_state_agrees` holds the deltas to a full refresh: what readers held (the previous version and its
deltas) must equal the features recomputed from the refresh's read, customer by customer.
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


@dataclass(frozen=True)
class IncrementalState:
    """The features readers held when a full refresh read Postgres: the newest version with its deltas applied
    (as the refresh's transaction saw them), and the customers still queued for a delta then."""

    features: pl.DataFrame
    as_of: pl.DataFrame  # customer_id, as_of: the "now" each customer's row was computed as of
    pending: set[int]
    unfit_columns: set[str]
    version: int
    deltas: int


DISAGREEMENT_EXAMPLES = 5


def incremental_state_agrees(state: IncrementalState, expected: pl.DataFrame) -> CheckOutcome:
    """Every customer's row in the incremental state equals `expected`: its features recomputed from the data the
    full refresh read, as of the time the row was computed. Customers still queued for a delta are left out (their
    change is on its way), and so are columns a delta could not type (the refresh retypes them)."""
    columns = [name for name in state.features.columns if name in expected.columns and name not in state.unfit_columns]
    held = state.features.filter(~pl.col("customer_id").is_in(list(state.pending)))
    wanted = expected.filter(~pl.col("customer_id").is_in(list(state.pending)))
    paired = held.select(columns).join(wanted.select(columns), on="customer_id", how="full", suffix="_full")
    differs = [
        (name, _differ(pl.col(name), pl.col(f"{name}_full"), held.schema[name], wanted.schema[name]))
        for name in columns
        if name != "customer_id"
    ]
    presence = pl.col("customer_id").is_null() | pl.col("customer_id_full").is_null()
    wrong = paired.select(
        pl.coalesce("customer_id", "customer_id_full").alias("customer_id"),
        pl.concat_list(
            pl.when(presence).then(pl.lit("present")),
            *(pl.when(test).then(pl.lit(name)) for name, test in differs),
        )
        .list.drop_nulls()
        .alias("columns"),
    ).filter(pl.col("columns").list.len() > 0)
    examples = {row["customer_id"]: row["columns"] for row in wrong.head(DISAGREEMENT_EXAMPLES).iter_rows(named=True)}
    described = "; ".join(f"customer {cid}: {', '.join(names)}" for cid, names in examples.items())
    return CheckOutcome(
        wrong.height == 0,
        f"{wrong.height} of {held.height} customers in version {state.version} with {state.deltas} deltas differ "
        f"from a full refresh of the same data ({len(state.pending)} still queued for a delta)"
        + (f": {described}" if described else ""),
        {
            "customers_compared": held.height,
            "customers_differing": wrong.height,
            "customers_queued": len(state.pending),
            "deltas": state.deltas,
        },
    )


def _differ(held: pl.Expr, full: pl.Expr, held_type: pl.DataType, full_type: pl.DataType) -> pl.Expr:
    """Where two columns disagree: numbers within a rounding error of each other agree, anything else compares as
    text (a trait the refresh retyped, or a category with more values, still says the same)."""
    if held_type.is_numeric() and full_type.is_numeric():
        a, b = held.cast(pl.Float64), full.cast(pl.Float64)
        close = (a - b).abs() <= 1e-9 * pl.max_horizontal(a.abs(), b.abs(), pl.lit(1.0))
        return ~(close.fill_null(False) | (a.is_null() & b.is_null()))
    return held.cast(pl.String).ne_missing(full.cast(pl.String))
