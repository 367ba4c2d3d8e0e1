"""Segments benchmark: previews of one rule over synthetic customers, by every engine, in one run.

Synthetic feature snapshots of the catalog's shape (city and country as Polars `Enum`s) and a matching
events frame are generated with NumPy and Polars, not through the API. One rule with nested AND/OR over
numbers, a set (city), a date window and a behavioural condition is evaluated by:

- the engine (`PolarsEvaluator`): the count, and the preview the rule builder shows (count, per-clause
  counts and a 10-customer sample), with the behavioural condition's events already grouped (as in the
  API, which keeps one evaluator per snapshot) and from cold (a new evaluator: events grouped too);
- hand-written Polars for the same predicate, three ways (one expression, filters then a semi-join, and a
  hand-written preview); the best is the baseline every ratio is against;
- DuckDB, with the engine's SQL, over the frames as Arrow and over the snapshot's Parquet file;
- Postgres, with the engine's SQL, without and then with indexes (features loaded with COPY by the
  snapshot publisher, events with COPY);
- the API: `POST /v1/segments/preview` over HTTP on loopback (uvicorn in a subprocess, the snapshot
  published and loaded once), the figure the builder feels.

Times are medians of `--repeat` runs after one warm-up, the in-process ones run in turns (so a busy
machine slows them alike); peak memory is this process's (and the API's).

    python -m bench.segments [--sizes 1000000,10000000] [--postgres-sizes 1000000] [--api-size 1000000]
                             [--repeat N] [--quick]
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import httpx
import numpy as np
import polars as pl
from sqlalchemy import BigInteger, Column, DateTime, MetaData, Table, Text, text
from sqlalchemy.dialects.postgresql import JSONB

from bench.common import api_process, report, use_fresh_services
from engine.auth.roles import Role
from engine.auth.sessions import start_session
from engine.auth.users import record_sign_in
from engine.connections import get_engine, psycopg_connection
from engine.features.catalog import catalog_for_schema
from engine.features.snapshot import SnapshotInfo, publish_snapshot, snapshot_table
from engine.segments import parse_rule
from engine.segments.audience import preview
from engine.segments.duckdb_backend import DuckDbEvaluator
from engine.segments.polars_backend import PolarsEvaluator
from engine.segments.sql_backend import SqlEvaluator
from engine.services.supervisor import free_port
from engine.settings import get_settings

NOW = datetime(2026, 11, 1, tzinfo=UTC)
CITIES = (
    "Mumbai", "Delhi", "Bengaluru", "Chennai", "Kolkata", "Pune", "Hyderabad", "Jaipur", "Agra", "Surat",
    "London", "Manchester", "Paris", "Lyon", "Berlin", "Munich", "New York", "Austin", "Toronto", "Sydney",
)  # fmt: skip
COUNTRIES = ("IN", "GB", "FR", "DE", "US", "CA", "AU")
EVENT_NAMES = ("Product Viewed", "Added to Cart", "purchase", "Signed In", "Email Opened")
FIRST_NAMES = ("Ada", "Ravi", "Mei", "Sam", "Noor", "Ivan", "Lena", "Omar")
LAST_NAMES = ("Lovelace", "Shah", "Lin", "Okafor", "Khan", "Petrov", "Silva", "Novak")
DAY_US = 86_400 * 1_000_000

RULE = {
    "and": [
        {
            "or": [
                {"field": "total_spend", "op": ">", "value": 300},
                {
                    "and": [
                        {"field": "order_count", "op": ">=", "value": 5},
                        {"field": "average_order_value", "op": ">", "value": 60},
                    ]
                },
            ]
        },
        {"field": "city", "op": "in", "value": ["Mumbai", "Delhi", "London", "Paris"]},
        {"field": "last_order_at", "op": "within last days", "value": 90},
        {"event": "Product Viewed", "op": "at least", "count": 1, "within_days": 30},
    ]
}


def synthetic_features(customers: int, seed: int = 7) -> pl.DataFrame:
    """A feature snapshot of `customers` rows, ids 1..n, with nulls where a real one has them."""
    rng = np.random.default_rng(seed)
    ids = np.arange(1, customers + 1, dtype=np.int64)
    orders = rng.poisson(3.0, customers).astype(np.int64)
    spend = np.round(orders * rng.gamma(2.0, 40.0, customers), 2)
    no_orders = pl.Series(orders == 0)
    signup_days = rng.integers(0, 1500, customers)
    last_order_days = np.minimum(rng.exponential(120.0, customers).astype(np.int64), signup_days)
    first_order_days = np.maximum(last_order_days, (signup_days * rng.random(customers)).astype(np.int64))
    now_us = int(NOW.timestamp() * 1_000_000)

    def moment(days: np.ndarray) -> pl.Series:
        return pl.Series(now_us - days * DAY_US - rng.integers(0, DAY_US, customers)).cast(pl.Datetime("us", "UTC"))

    def pick(values: tuple[str, ...], dtype: pl.DataType, weights: np.ndarray | None = None) -> pl.Series:
        return pl.Series(values, dtype=dtype).gather(rng.choice(len(values), customers, p=weights))

    windows = {}
    for days in (30, 90, 365):
        share = np.clip(days / np.maximum(signup_days, 1), 0, 1)
        count = np.where(last_order_days <= days, rng.binomial(orders, share), 0)
        windows[f"orders_{days}d"] = count
        windows[f"spend_{days}d"] = np.round(spend * count / np.maximum(orders, 1), 2)
    return pl.DataFrame(
        {
            "customer_id": ids,
            "external_id": pl.Series(ids).cast(pl.String).str.zfill(8),
            "email": pl.Series(ids).cast(pl.String),
            "phone": pl.Series(ids + 447_700_000_000).cast(pl.String),
            "first_name": pick(FIRST_NAMES, pl.String()),
            "last_name": pick(LAST_NAMES, pl.String()),
            "city": pick(CITIES, pl.Enum(CITIES), _zipf(len(CITIES))),
            "country": pick(COUNTRIES, pl.Enum(COUNTRIES)),
            "timezone": pl.Series([None] * customers, dtype=pl.Categorical()),
            "signed_up_at": moment(signup_days),
            "signup_age_days": signup_days,
            "email_consent": rng.random(customers) < 0.7,
            "sms_consent": rng.random(customers) < 0.4,
            "total_spend": spend,
            "order_count": orders,
            "average_order_value": pl.Series(np.round(spend / np.maximum(orders, 1), 2)).set(no_orders, None),
            "first_order_at": moment(first_order_days).set(no_orders, None),
            "last_order_at": moment(last_order_days).set(no_orders, None),
            "days_since_last_order": pl.Series(last_order_days).set(no_orders, None),
            **windows,
        }
    ).with_columns(
        external_id="cus_" + pl.col("external_id"),
        email="customer" + pl.col("email") + "@example.com",
        phone="+" + pl.col("phone"),
    )


def synthetic_events(customers: int, per_customer: float = 3.0, seed: int = 11) -> pl.DataFrame:
    """Events of the last year for customers 1..n, as a snapshot keeps them (no anonymous ones)."""
    rng = np.random.default_rng(seed)
    total = int(customers * per_customer)
    now_us = int(NOW.timestamp() * 1_000_000)
    names = pl.Series(EVENT_NAMES, dtype=pl.Enum(EVENT_NAMES))
    return pl.DataFrame(
        {
            "customer_id": rng.integers(1, customers + 1, total),
            "name": names.gather(rng.choice(len(EVENT_NAMES), total, p=(0.45, 0.2, 0.1, 0.15, 0.1))),
            "occurred_at": pl.Series(now_us - rng.integers(0, 365 * DAY_US, total)).cast(pl.Datetime("us", "UTC")),
            "properties": pl.Series(["{}"]).gather(np.zeros(total, dtype=np.int64)),
        }
    )


def publish_synthetic_snapshot(customers: int, folder: Path) -> None:
    """Publish a feature snapshot of `customers` synthetic customers and their events, taken at NOW, its files
    under `folder`."""
    publish_snapshot(get_engine(), folder, synthetic_features(customers), synthetic_events(customers), taken_at=NOW,
                     source_totals={})  # fmt: skip


def _zipf(count: int) -> np.ndarray:
    weights = 1 / np.arange(1, count + 1)
    return np.asarray(weights / weights.sum())


def timed(work: Callable[[], Any], repeat: int) -> float:
    """The median milliseconds of `repeat` runs after one warm-up."""
    return timed_in_turns({"work": work}, repeat)["work"]


def timed_in_turns(works: dict[str, Callable[[], Any]], repeat: int) -> dict[str, float]:
    """The median milliseconds of each, run in turns after one warm-up each, so that whatever else the
    machine is doing slows them all alike and their ratios hold."""
    for work in works.values():
        work()
    times: dict[str, list[float]] = {name: [] for name in works}
    for _ in range(repeat):
        for name, work in works.items():
            started = time.perf_counter()
            work()
            times[name].append(time.perf_counter() - started)
    return {name: statistics.median(spent) * 1000 for name, spent in times.items()}


class HandWritten:
    """The rule written by hand in Polars, as someone who knows the data would."""

    def __init__(self, features: pl.DataFrame, events: pl.DataFrame) -> None:
        self.features, self.events = features, events
        since_90, since_30 = NOW - timedelta(days=90), NOW - timedelta(days=30)
        cities = pl.Series(["Mumbai", "Delhi", "London", "Paris"], dtype=features.schema["city"])
        self.clauses = {
            "spend": pl.col("total_spend") > 300,
            "loyal": (pl.col("order_count") >= 5) & (pl.col("average_order_value") > 60),
            "city": pl.col("city").is_in(cities.implode()),
            "recent": pl.col("last_order_at").is_between(pl.lit(since_90), pl.lit(NOW)),
        }
        self.viewed = (pl.col("name") == "Product Viewed") & pl.col("occurred_at").is_between(
            pl.lit(since_30), pl.lit(NOW)
        )
        self.viewers = self.viewer_ids()

    def viewer_ids(self) -> pl.Series:
        return self.events.lazy().filter(self.viewed).select(pl.col("customer_id").unique()).collect().to_series()

    def predicate(self, viewers: pl.Series) -> pl.Expr:
        c = self.clauses
        return (c["spend"] | c["loyal"]) & c["city"] & c["recent"] & pl.col("customer_id").is_in(viewers.implode())

    def count_one_expression(self) -> int:
        return int(self.features.select(self.predicate(self.viewers).sum()).item())

    def count_filter_then_semi_join(self) -> int:
        c = self.clauses
        narrowed = self.features.lazy().filter((c["spend"] | c["loyal"]) & c["city"] & c["recent"])
        viewers = self.viewers.to_frame("customer_id").lazy()
        return int(narrowed.join(viewers, on="customer_id", how="semi").select(pl.len()).collect().item())

    def count_from_cold(self) -> int:
        return int(self.features.select(self.predicate(self.viewer_ids()).sum()).item())

    def preview(self) -> tuple[int, dict[str, int], pl.DataFrame]:
        """Count, a count per clause and the first ten members, in one query as the engine does it."""
        c = self.clauses
        viewer = pl.col("customer_id").is_in(self.viewers.implode())
        parts = {**c, "viewer": viewer, "spend_or_loyal": c["spend"] | c["loyal"]}
        whole = parts["spend_or_loyal"] & c["city"] & c["recent"] & viewer
        answer = self.features.select(
            *(expr.sum().alias(name) for name, expr in parts.items()),
            whole.sum().alias("all"),
            pl.arg_where(whole).head(10).implode().alias("first"),
        )
        return int(answer["all"][0]), answer.drop("first").row(0, named=True), self.features[answer["first"][0]]


def measure_in_process(features: pl.DataFrame, events: pl.DataFrame, repeat: int, folder: Path) -> dict[str, Any]:
    """The engine, hand-written Polars and DuckDB on the same frames."""
    customers = features.height
    rule = parse_rule(RULE)
    catalog = catalog_for_schema(features.schema)
    engine = PolarsEvaluator(features, events, now=NOW, catalog=catalog)
    hand = HandWritten(features, events)
    size = engine.count(rule)
    assert size == hand.count_one_expression() == hand.count_filter_then_semi_join() == hand.preview()[0]
    assert preview(engine, rule).clause_counts[""] == size

    times = timed_in_turns(
        {
            "hand_polars_one_expression": hand.count_one_expression,
            "hand_polars_filter_then_semi_join": hand.count_filter_then_semi_join,
            "hand_polars_from_cold": hand.count_from_cold,
            "hand_polars_preview": hand.preview,
            "engine_count": lambda: engine.count(rule),
            "engine_preview": lambda: preview(engine, rule),
            "engine_count_from_cold": lambda: PolarsEvaluator(features, events, now=NOW, catalog=catalog).count(rule),
        },
        repeat,
    )
    features_path, events_path = folder / f"features_{customers}.parquet", folder / f"events_{customers}.parquet"
    features.write_parquet(features_path)
    events.write_parquet(events_path)
    over_arrow = duckdb.connect()
    over_arrow.register("features", features.to_arrow())
    over_arrow.register("events", events.with_columns(pl.col("name").cast(pl.String)).to_arrow())
    duck_arrow = DuckDbEvaluator(over_arrow, now=NOW, catalog=catalog)
    duck_parquet = DuckDbEvaluator.over_parquet(str(features_path), str(events_path), now=NOW, catalog=catalog)
    assert duck_arrow.count(rule) == duck_parquet.count(rule) == size
    times |= timed_in_turns(
        {"duckdb_over_arrow": lambda: duck_arrow.count(rule), "duckdb_over_parquet": lambda: duck_parquet.count(rule)},
        repeat,
    )
    return {"customers": customers, "events": events.height, "audience": size, **times}


def measure_postgres(info: SnapshotInfo, events: pl.DataFrame, repeat: int) -> dict[str, float]:
    """The engine's SQL in Postgres over the published snapshot's table, without and with indexes."""
    db = get_engine()
    evaluator = SqlEvaluator(db, snapshot_table(db, info), _load_events(events), now=NOW)
    events_table = evaluator.compiler.events
    rule = parse_rule(RULE)
    figures = {"postgres_no_indexes": timed(lambda: evaluator.count(rule), repeat)}
    with db.begin() as conn:
        for column in ("total_spend", "order_count", "city", "last_order_at"):
            conn.execute(text(f'CREATE INDEX ON {info.table_name} ("{column}")'))
        conn.execute(text(f"CREATE INDEX ON {events_table.name} (name, occurred_at, customer_id)"))
        conn.execute(text(f"ANALYZE {info.table_name}"))
        conn.execute(text(f"ANALYZE {events_table.name}"))
    figures["postgres_with_indexes"] = timed(lambda: evaluator.count(rule), repeat)
    return figures


def _load_events(events: pl.DataFrame) -> Table:
    table = Table(
        "bench_segment_events",
        MetaData(),
        Column("customer_id", BigInteger),
        Column("name", Text),
        Column("properties", JSONB, nullable=False),
        Column("occurred_at", DateTime(timezone=True), nullable=False),
    )
    db = get_engine()
    table.drop(db, checkfirst=True)
    table.create(db)
    with db.begin() as conn, psycopg_connection(conn).cursor() as cursor:
        with cursor.copy(f"COPY {table.name} ({', '.join(events.columns)}) FROM STDIN (FORMAT csv)") as copy:
            for chunk in events.iter_slices(500_000):
                copy.write(chunk.write_csv(include_header=False))
        cursor.execute(f"ANALYZE {table.name}")
    return table


def measure_api(repeat: int) -> dict[str, float]:
    """Previews through HTTP: the API in a subprocess answering from the published snapshot."""
    with get_engine().begin() as conn:
        analyst = record_sign_in(conn, "bench@shop.example", "Bench", Role.analyst)
        token = start_session(conn, get_settings(), analyst, "bench").access_token
    port = free_port()
    with api_process(port) as child, httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=120) as client:
        headers = {"Authorization": f"Bearer {token}"}
        body = {"rule": RULE, "sample_size": 10}
        started = time.perf_counter()
        first = client.post("/v1/segments/preview", json=body, headers=headers)
        first_s = time.perf_counter() - started
        if first.status_code != 200:
            raise RuntimeError(f"the API answered {first.status_code}: {first.text}")
        times = []
        for _ in range(max(repeat, 20)):
            started = time.perf_counter()
            client.post("/v1/segments/preview", json=body, headers=headers).raise_for_status()
            times.append((time.perf_counter() - started) * 1000)
        peak_kb = _peak_kb(child.pid)
    times.sort()
    return {
        "api_first_preview_s": first_s,
        "api_preview_ms": statistics.median(times),
        "api_preview_p95_ms": times[int(len(times) * 0.95) - 1],
        "api_peak_memory_mb": peak_kb / 1024,
    }


def _peak_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def peak_memory_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def print_table(figures: dict[str, Any]) -> None:
    baseline = min(figures["hand_polars_one_expression"], figures["hand_polars_filter_then_semi_join"])
    print(f"\n{figures['customers']:,} customers, {figures['events']:,} events; the rule matches "
          f"{figures['audience']:,} (generated in {figures['generated_s']:.1f} s)")  # fmt: skip
    print(f"  {'':38}{'ms':>9}  {'x best hand-written Polars':>26}")
    for name, value in figures.items():
        if isinstance(value, float) and name.endswith(("_expression", "_join", "_cold", "_preview", "_count", "_arrow",
                                                       "_parquet", "_indexes", "_preview_ms")):  # fmt: skip
            print(f"  {name:38}{value:9.2f}  {value / baseline:26.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000000,10000000", help="customer counts, comma-separated")
    parser.add_argument("--postgres-sizes", default="1000000", help="the sizes Postgres is measured at too")
    parser.add_argument("--api-size", type=int, default=1_000_000, help="the size previewed through the API (0: none)")
    parser.add_argument("--repeat", type=int, default=15, help="timed runs per measurement (median reported)")
    parser.add_argument("--quick", action="store_true", help="100k customers everywhere, 5 runs: under a minute")
    args = parser.parse_args()
    sizes = [100_000] if args.quick else [int(size) for size in args.sizes.split(",")]
    postgres_sizes = {100_000} if args.quick else {int(size) for size in args.postgres_sizes.split(",") if size}
    api_size = 100_000 if args.quick else args.api_size
    repeat = 5 if args.quick else args.repeat

    use_fresh_services("xeno_bench_segments")
    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as folder:
        for customers in sizes:
            started = time.perf_counter()
            features, events = synthetic_features(customers), synthetic_events(customers)
            generated_s = time.perf_counter() - started
            figures = {**measure_in_process(features, events, repeat, Path(folder)), "generated_s": generated_s}
            if customers in postgres_sizes or customers == api_size:
                started = time.perf_counter()
                info = publish_snapshot(
                    get_engine(), Path(folder) / "snapshots", features, events, taken_at=NOW, source_totals={}
                )
                figures["published_s"] = time.perf_counter() - started
                if customers in postgres_sizes:
                    figures |= measure_postgres(info, events, repeat)
                if customers == api_size:
                    figures |= measure_api(repeat)
            del features, events
            figures["peak_memory_mb"] = peak_memory_mb()
            print_table(figures)
            results.append(figures)
            sys.stdout.flush()
    report(_summary(results))


def _summary(results: list[dict[str, Any]]) -> dict[str, Any]:
    summary: dict[str, Any] = {"bench": "segments"}
    for figures in results:
        label = (
            f"{figures['customers'] // 1000}k"
            if figures["customers"] < 1_000_000
            else f"{figures['customers'] // 1_000_000}m"
        )
        baseline = min(figures["hand_polars_one_expression"], figures["hand_polars_filter_then_semi_join"])
        summary[label] = {key: round(value, 3) if isinstance(value, float) else value for key, value in figures.items()}
        summary[label]["engine_count_vs_best_hand_polars"] = round(figures["engine_count"] / baseline, 2)
        summary[label]["engine_preview_vs_hand_preview"] = round(
            figures["engine_preview"] / figures["hand_polars_preview"], 2
        )
        if "postgres_with_indexes" in figures:
            summary[label]["postgres_with_indexes_vs_engine_preview"] = round(
                figures["postgres_with_indexes"] / figures["engine_preview"], 1
            )
    return summary


if __name__ == "__main__":
    main()
