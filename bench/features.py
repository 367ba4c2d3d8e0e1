"""Feature materialization benchmark: read Postgres + compute + publish a snapshot, time and peak memory.

Synthetic customers, orders and events are generated with numpy/Polars and COPYed straight into the
tables of a fresh database (not through the API), then vacuumed so every measurement reads settled pages.
Each measurement runs in a fresh process of its own, so its peak resident memory is its own:

- materialize: `materialize_features` as the Dagster asset runs it (read, compute, publish, prune);
- load: `latest_version` and `latest_snapshot`, what the API does when a new version appears;
- baseline: the order totals by hand, `COPY (SELECT customer_id, amount, ordered_at ...) TO STDOUT` as CSV
  parsed by Polars and a Polars `group_by`; `ratio` is the whole materialization over this;
- the engine's own order totals (binary COPY + group_by), and the alternative it rejected: summing in
  Postgres (`GROUP BY`, one row per customer out).

    python -m bench.features [--customers N] [--orders N] [--events N] [--quick]
"""

from __future__ import annotations

import argparse
import io
import multiprocessing
import resource
import shutil
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import psycopg2

from bench.common import report, use_fresh_services
from engine.connections import get_engine, psycopg_connection
from engine.features.compute import SPEND_STATUS, WINDOW_DAYS, order_totals, read_completed_orders
from engine.features.materialize import materialize_features
from engine.features.snapshot import latest_snapshot, latest_version
from engine.features.sources import parse_utc, read_transaction

NOW = datetime(2026, 11, 25, tzinfo=UTC)
CHUNK = 1_000_000
CITIES = ["Mumbai", "Delhi", "Bengaluru", "Hyderabad", "Chennai", "Kolkata", "Pune", "Ahmedabad", "Jaipur", "Kochi"]
NAMES = ["Aarav", "Diya", "Rohan", "Priya", "Sara", "John", "Maria", "Imran", "Meera", "Karan"]
EVENT_NAMES = ["Product Viewed", "Added To Cart", "Email Opened", "App Opened"]
STATUSES = ["completed", "refunded", "cancelled", "pending"]
STATUS_WEIGHTS = [0.9, 0.05, 0.03, 0.02]
TWO_YEARS_S = 730 * 86_400


def _times(rng: np.random.Generator, rows: int, span_s: int) -> pl.Series:
    seconds = rng.integers(0, span_s, rows)
    return pl.Series((NOW.timestamp() - seconds) * 1_000_000, dtype=pl.Int64).cast(pl.Datetime("us", "UTC"))


def _customers(rng: np.random.Generator, first: int, rows: int) -> pl.DataFrame:
    ids = np.arange(first, first + rows)
    tiers = rng.choice(["bronze", "silver", "gold"], rows)
    return pl.DataFrame(
        {
            "id": ids,
            "external_id": [f"c{n}" for n in ids],
            "email": [f"user{n}@example.com" for n in ids],
            "first_name": rng.choice(NAMES, rows),
            "city": rng.choice(CITIES, rows, p=np.linspace(2, 1, len(CITIES)) / np.linspace(2, 1, len(CITIES)).sum()),
            "country": ["IN"] * rows,
            "timezone": ["Asia/Kolkata"] * rows,
            "signed_up_at": _times(rng, rows, TWO_YEARS_S),
            "email_consent": rng.random(rows) < 0.85,
            "sms_consent": rng.random(rows) < 0.6,
            "tier": tiers,
            "age": rng.integers(18, 70, rows),
        }
    ).select(
        pl.exclude("tier", "age"),
        traits=pl.concat_str(pl.lit('{"loyalty_tier": "'), "tier", pl.lit('", "age": '), "age", pl.lit("}")),
    )


def _orders(rng: np.random.Generator, first: int, rows: int, customers: int) -> pl.DataFrame:
    ids = np.arange(first, first + rows)
    return pl.DataFrame(
        {
            "external_id": [f"o{n}" for n in ids],
            "customer_id": rng.integers(1, customers + 1, rows),
            "amount": np.round(rng.uniform(100, 10_000, rows), 2),
            "currency": ["INR"] * rows,
            "status": rng.choice(STATUSES, rows, p=STATUS_WEIGHTS),
            "ordered_at": _times(rng, rows, TWO_YEARS_S),
        }
    )


def _events(rng: np.random.Generator, first: int, rows: int, customers: int) -> pl.DataFrame:
    ids = np.arange(first, first + rows)
    return pl.DataFrame(
        {
            "message_id": [f"e{n}" for n in ids],
            "customer_id": rng.integers(1, customers + 1, rows),
            "type": ["track"] * rows,
            "name": rng.choice(EVENT_NAMES, rows, p=[0.55, 0.2, 0.15, 0.1]),
            "sku": rng.integers(1, 100, rows),
            "occurred_at": _times(rng, rows, 120 * 86_400),
        }
    ).select(
        pl.exclude("sku", "occurred_at"),
        properties=pl.concat_str(
            pl.lit('{"sku": "SKU-'), "sku", pl.lit('", "price": '), pl.col("sku") * 10 + 99, pl.lit("}")
        ),
        occurred_at="occurred_at",
    )


def load_data(customers: int, orders: int, events: int) -> None:
    """Generate and COPY the rows in chunks, as a bulk load by a superuser may: foreign-key triggers skipped
    (the ids are right by construction) and secondary indexes built once at the end, not row by row."""
    rng = np.random.default_rng(7)
    tables: list[tuple[str, int, Callable[[int, int], pl.DataFrame]]] = [
        ("customers", customers, lambda first, rows: _customers(rng, first, rows)),
        ("orders", orders, lambda first, rows: _orders(rng, first, rows, customers)),
        ("events", events, lambda first, rows: _events(rng, first, rows, customers)),
    ]
    with get_engine().begin() as conn:
        pg = psycopg_connection(conn)
        pg.execute("SET LOCAL session_replication_role = replica")
        pg.execute("SET LOCAL maintenance_work_mem = '1GB'")
        rebuild = _drop_secondary_indexes(pg, [table for table, _, _ in tables])
        for table, total, make in tables:
            for first in range(1, total + 1, CHUNK):
                frame = make(first, min(CHUNK, total - first + 1))
                columns = ", ".join(frame.columns)
                with pg.cursor() as cursor, cursor.copy(f"COPY {table} ({columns}) FROM STDIN (FORMAT csv)") as copy:
                    copy.write(frame.write_csv(include_header=False))
        for statement in rebuild:
            pg.execute(statement)
    with get_engine().connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("VACUUM (FREEZE, ANALYZE) customers, orders, events")


def _drop_secondary_indexes(pg: Any, tables: list[str]) -> list[str]:
    """Drop the tables' indexes and unique constraints other than primary keys; the statements that restore them."""
    constraints = pg.execute(
        "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE contype = 'u' AND conrelid::regclass::text = ANY(%s)",
        [tables],
    ).fetchall()
    indexes = pg.execute(
        "SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) FROM pg_index i "
        "WHERE i.indrelid::regclass::text = ANY(%s) "
        "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)",
        [tables],
    ).fetchall()
    for table, name, _ in constraints:
        pg.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
    for name, _ in indexes:
        pg.execute(f"DROP INDEX {name}")
    restore = [f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}' for table, name, definition in constraints]
    return restore + [definition for _, definition in indexes]


def _materialize(snapshots_dir: str) -> dict[str, Any]:
    done = materialize_features(get_engine(), Path(snapshots_dir), now=NOW)
    return {
        "seconds": done.seconds,
        "read_s": done.read_s,
        "compute_s": done.compute_s,
        "publish_s": done.publish_s,
        "prune_s": done.prune_s,
        "rows": done.snapshot.row_count,
        "events": done.snapshot.event_count,
        "columns": len(done.snapshot.columns),
        "parquet_mb": (done.snapshot.features_path.stat().st_size + done.snapshot.events_path.stat().st_size) / 1e6,
    }


def _load() -> dict[str, Any]:
    latest_version(get_engine())  # the API asks on a warm pool; the first call also opens the connection
    started = time.perf_counter()
    latest_version(get_engine())
    version_s = time.perf_counter() - started
    started = time.perf_counter()
    snapshot = latest_snapshot(get_engine())
    assert snapshot is not None
    return {"seconds": time.perf_counter() - started, "version_s": version_s, "rows": snapshot.features.height}


def _baseline() -> dict[str, Any]:
    """By hand: every completed order out of Postgres as CSV, then the order totals with a Polars group_by."""
    started = time.perf_counter()
    connection = psycopg2.connect(get_engine().url.set(drivername="postgresql").render_as_string(hide_password=False))
    with connection, connection.cursor() as cursor:
        cursor.execute("SET TimeZone = 'UTC'")
        buffer = io.BytesIO()
        query = f"SELECT customer_id, amount, ordered_at FROM orders WHERE status = '{SPEND_STATUS}'"
        cursor.copy_expert(f"COPY ({query}) TO STDOUT (FORMAT csv)", buffer)
    connection.close()
    buffer.seek(0)
    orders = pl.read_csv(buffer, has_header=False, new_columns=["customer_id", "amount", "ordered_at"]).with_columns(
        pl.col("ordered_at").str.to_datetime("%Y-%m-%d %H:%M:%S%#z", time_unit="us", time_zone="UTC")
    )
    copied = time.perf_counter()
    in_window = {days: pl.col("ordered_at") >= NOW - timedelta(days=days) for days in WINDOW_DAYS}
    totals = (
        orders.lazy()
        .filter(pl.col("ordered_at") <= NOW)
        .group_by("customer_id")
        .agg(
            pl.len().alias("order_count"),
            pl.col("amount").sum().alias("total_spend"),
            pl.col("ordered_at").min().alias("first_order_at"),
            pl.col("ordered_at").max().alias("last_order_at"),
            *(in_window[days].sum().alias(f"orders_{days}d") for days in WINDOW_DAYS),
            *(pl.col("amount").filter(in_window[days]).sum().alias(f"spend_{days}d") for days in WINDOW_DAYS),
        )
        .collect()
    )
    return {
        "seconds": time.perf_counter() - started,
        "copy_s": copied - started,
        "group_by_s": time.perf_counter() - copied,
        "rows_copied": orders.height,
        "customers": totals.height,
    }


def _engine_orders() -> dict[str, Any]:
    """The engine's way to the same totals: binary COPY of the completed orders, then its Polars group_by."""
    started = time.perf_counter()
    with read_transaction(get_engine()) as reader:
        orders = read_completed_orders(reader, NOW)
    totals = order_totals(orders.lazy(), NOW).collect()
    return {"seconds": time.perf_counter() - started, "customers": totals.height}


_WINDOW_AGGREGATES = "".join(
    f", count(*) FILTER (WHERE ordered_at >= %(now)s - interval '{days} days')"
    f", sum(amount) FILTER (WHERE ordered_at >= %(now)s - interval '{days} days')"
    for days in WINDOW_DAYS
)
PUSHDOWN_QUERY = f"""
SELECT customer_id, count(*), sum(amount), min(ordered_at), max(ordered_at){_WINDOW_AGGREGATES}
FROM orders WHERE status = %(status)s AND ordered_at <= %(now)s GROUP BY customer_id
"""


def _pushdown() -> dict[str, Any]:
    """The alternative: the same totals summed by Postgres (GROUP BY), one row per customer coming out."""
    schema: dict[str, pl.DataType] = {"customer_id": pl.Int64(), "order_count": pl.Int64(), "total_spend": pl.Float64()}
    schema |= {"first_order_at": pl.String(), "last_order_at": pl.String()}
    for days in WINDOW_DAYS:
        schema |= {f"orders_{days}d": pl.Int64(), f"spend_{days}d": pl.Float64()}
    started = time.perf_counter()
    with read_transaction(get_engine()) as reader:
        totals = reader.frame(PUSHDOWN_QUERY, pl.Schema(schema), {"now": NOW, "status": SPEND_STATUS})
    totals = totals.with_columns(parse_utc("first_order_at"), parse_utc("last_order_at"))
    return {"seconds": time.perf_counter() - started, "customers": totals.height}


def peak_rss_mb() -> float:
    """This process's peak resident memory. Linux's VmHWM belongs to the process image, whereas ru_maxrss
    carries over the parent's peak through fork and exec (every phase would report the data generator's)."""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _order_totals_three_ways() -> dict[str, Any]:
    """The baseline first, so this process's peak memory up to then is the baseline's own."""
    baseline = _baseline()
    baseline["peak_rss_mb"] = peak_rss_mb()
    return {"baseline": baseline, "engine": _engine_orders(), "pushdown": _pushdown()}


def _in_child(phase: Callable[..., dict[str, Any]], args: tuple[Any, ...], results: Any) -> None:
    figures = phase(*args)
    figures.setdefault("peak_rss_mb", peak_rss_mb())
    results.put(figures)


def measure(phase: Callable[..., dict[str, Any]], *args: Any) -> dict[str, Any]:
    """Run one phase in a fresh process; its figures and its own peak resident memory."""
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    child = context.Process(target=_in_child, args=(phase, args, results))
    child.start()
    figures: dict[str, Any] = results.get()
    child.join()
    if child.exitcode != 0:
        raise RuntimeError(f"{phase.__name__} failed")
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--orders", type=int, default=10_000_000)
    parser.add_argument("--events", type=int, default=2_000_000)
    parser.add_argument("--quick", action="store_true", help="50k customers, 500k orders, 100k events")
    args = parser.parse_args()
    sizes = (50_000, 500_000, 100_000) if args.quick else (args.customers, args.orders, args.events)
    customers, orders, events = sizes

    use_fresh_services("xeno_bench_features")
    started = time.perf_counter()
    load_data(customers, orders, events)
    load_s = time.perf_counter() - started
    print(f"generated and COPYed {customers:,} customers, {orders:,} orders, {events:,} events in {load_s:.1f} s")

    snapshots_dir = tempfile.mkdtemp(prefix="xeno-bench-snapshots-")
    try:
        materialized = measure(_materialize, snapshots_dir)
        loaded = measure(_load)
    finally:
        shutil.rmtree(snapshots_dir, ignore_errors=True)
    three_ways = measure(_order_totals_three_ways)
    baseline, engine_orders, pushdown = three_ways["baseline"], three_ways["engine"], three_ways["pushdown"]

    m = materialized
    print(
        f"materialize: {m['seconds']:.2f} s (read {m['read_s']:.2f}, compute {m['compute_s']:.2f}, "
        f"publish {m['publish_s']:.2f}, prune {m['prune_s']:.2f}), peak {m['peak_rss_mb']:.0f} MB"
    )
    print(
        f"load the newest snapshot: {loaded['seconds']:.2f} s (latest_version {loaded['version_s'] * 1000:.1f} ms), "
        f"peak {loaded['peak_rss_mb']:.0f} MB"
    )
    print(f"order totals of {baseline['rows_copied']:,} completed orders:")
    print(
        f"  baseline, CSV COPY + hand-written Polars group_by: {baseline['seconds']:.2f} s "
        f"(copy {baseline['copy_s']:.2f}, group_by {baseline['group_by_s']:.2f}), peak {baseline['peak_rss_mb']:.0f} MB"
    )
    print(f"  engine, binary COPY + Polars group_by:            {engine_orders['seconds']:.2f} s")
    print(f"  GROUP BY in Postgres, one row per customer out:   {pushdown['seconds']:.2f} s")
    report({
        "bench": "features",
        "customers": customers,
        "orders": orders,
        "events": events,
        "materialize_s": round(m["seconds"], 3),
        "read_s": round(m["read_s"], 3),
        "compute_s": round(m["compute_s"], 3),
        "publish_s": round(m["publish_s"], 3),
        "peak_rss_mb": round(m["peak_rss_mb"]),
        "baseline_s": round(baseline["seconds"], 3),
        "ratio": round(m["seconds"] / baseline["seconds"], 3),
        "order_totals_engine_s": round(engine_orders["seconds"], 3),
        "order_totals_pushdown_s": round(pushdown["seconds"], 3),
        "engine_order_totals_vs_baseline": round(engine_orders["seconds"] / baseline["seconds"], 3),
        "pushdown_vs_baseline": round(pushdown["seconds"] / baseline["seconds"], 3),
        "parquet_mb": round(m["parquet_mb"], 1),
        "columns": m["columns"],
        "load_snapshot_s": round(loaded["seconds"], 3),
        "latest_version_ms": round(loaded["version_s"] * 1000, 2),
        "load_data_s": round(load_s, 1),
    })  # fmt: skip


if __name__ == "__main__":
    main()
