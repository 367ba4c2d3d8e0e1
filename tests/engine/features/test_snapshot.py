"""Publishing versions (table, view, files, row), loading the newest, swapping versions, and keeping only a few."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal
from sqlalchemy import Engine, inspect, text

from engine.features.materialize import materialize_features
from engine.features.snapshot import (
    latest_snapshot,
    latest_version,
    list_snapshots,
    load_snapshot,
    prune_snapshots,
    publish_snapshot,
    snapshot_info,
    snapshot_table,
)
from engine.segments.duckdb_backend import DuckDbEvaluator
from engine.segments.polars_backend import PolarsEvaluator
from engine.segments.sql_backend import SqlEvaluator
from engine.segments.validation import parse_rule
from tests.engine.features.data import NOW, add_customer, add_event, add_order, days_ago


@pytest.fixture
def snapshots_dir(tmp_path: Path) -> Path:
    return tmp_path / "snapshots"


def customers_with_orders(db: Engine) -> tuple[int, int]:
    ada = add_customer(db, "ada", city="London", email_consent=True, traits={"plan": "gold", "age": 36})
    bob = add_customer(db, "bob", city="Paris", traits={"plan": "gold", "age": 41})
    add_order(db, ada, "120.00", days_ago(3))
    add_event(db, ada, "Product Viewed", days_ago(1), {"sku": "TEE-M"})
    return ada, bob


def test_nothing_is_published_before_the_first_materialization(database: Engine) -> None:
    assert latest_version(database) is None
    assert latest_snapshot(database) is None
    assert snapshot_info(database) is None


def test_a_published_version_is_a_table_a_view_two_files_and_a_row(database: Engine, snapshots_dir: Path) -> None:
    ada, bob = customers_with_orders(database)

    info = materialize_features(database, snapshots_dir, now=NOW).snapshot

    assert (info.version, info.taken_at, info.row_count, info.event_count) == (1, NOW, 2, 1)
    assert info.table_name == "features.customer_features_v1"
    assert info.features_path == (snapshots_dir / "customer_features_v1.parquet").resolve()
    assert info.events_path.exists()
    assert info.features_path.exists()
    assert list(info.columns)[:2] == ["customer_id", "external_id"]
    assert info.columns["city"].startswith("Enum")
    assert info.source_totals == {"customers": 2, "orders": 1, "spend": 120.0}
    with database.connect() as conn:
        rows = conn.execute(text("SELECT customer_id, total_spend, city, trait_age FROM customer_features ORDER BY 1"))
        assert rows.all() == [(ada, 120.0, "London", 36), (bob, 0.0, "Paris", 41)]
    columns = {c["name"]: str(c["type"]) for c in inspect(database).get_columns("customer_features_v1", "features")}
    assert [columns[name] for name in ("signed_up_at", "total_spend", "order_count", "email_consent", "city")] == [
        "TIMESTAMP",
        "DOUBLE PRECISION",
        "BIGINT",
        "BOOLEAN",
        "TEXT",
    ]


def test_the_newest_version_loads_as_it_was_published(database: Engine, snapshots_dir: Path) -> None:
    customers_with_orders(database)
    info = materialize_features(database, snapshots_dir, now=NOW).snapshot

    snapshot = latest_snapshot(database)

    assert snapshot is not None
    assert (snapshot.version, snapshot.taken_at, snapshot.created_at) == (1, NOW, info.created_at)
    assert snapshot.features.schema["city"] == pl.Enum(["London", "Paris"])
    assert snapshot.features["customer_id"].is_sorted()
    assert snapshot.events.columns == ["customer_id", "name", "occurred_at", "properties"]
    assert {"trait_plan", "total_spend"} <= {feature.name for feature in snapshot.catalog}
    assert (snapshot.features.height, snapshot.events.height) == (2, 1)


def test_a_new_version_replaces_the_view_and_older_ones_still_load(database: Engine, snapshots_dir: Path) -> None:
    ada, bob = customers_with_orders(database)
    first = materialize_features(database, snapshots_dir, now=NOW).snapshot
    add_order(database, ada, "30.00", days_ago(1))
    carl = add_customer(database, "carl", traits={"vip": True})

    second = materialize_features(database, snapshots_dir, now=NOW).snapshot

    assert latest_version(database) == second.version == first.version + 1
    assert [info.version for info in list_snapshots(database)] == [second.version, first.version]
    with database.connect() as conn:
        spend: dict[int, float] = dict(
            conn.execute(text("SELECT customer_id, total_spend FROM customer_features")).tuples().all()
        )
        assert conn.scalar(text("SELECT trait_vip FROM customer_features WHERE customer_id = :c"), {"c": carl})
    assert spend == {ada: 150.0, bob: 0.0, carl: 0.0}
    old = load_snapshot(first)
    assert old.features.height == 2
    assert "trait_vip" not in old.catalog


def test_only_the_newest_versions_are_kept_with_their_tables_and_files(database: Engine, snapshots_dir: Path) -> None:
    customers_with_orders(database)
    versions = [materialize_features(database, snapshots_dir, now=NOW, keep=2).snapshot for _ in range(4)]
    (snapshots_dir / "events_v99.parquet.tmp").write_bytes(b"left by a publish that died")

    removed = prune_snapshots(database, snapshots_dir, keep=1)

    newest = versions[-1]
    assert removed == [versions[2].version]
    assert [info.version for info in list_snapshots(database)] == [newest.version]
    assert inspect(database).get_table_names(schema="features") == [f"customer_features_v{newest.version}"]
    assert sorted(path.name for path in snapshots_dir.iterdir()) == [
        f"customer_features_v{newest.version}.parquet",
        f"events_v{newest.version}.parquet",
    ]
    with pytest.raises(ValueError, match="at least one"):
        prune_snapshots(database, snapshots_dir, keep=0)


def test_a_publish_that_fails_leaves_no_version_table_or_file(database: Engine, snapshots_dir: Path) -> None:
    ada, _ = customers_with_orders(database)
    good = materialize_features(database, snapshots_dir, now=NOW).snapshot
    snapshot = load_snapshot(good)
    duplicated = pl.concat([snapshot.features, snapshot.features.filter(pl.col("customer_id") == ada)])

    with pytest.raises(Exception, match="duplicate key"):
        publish_snapshot(
            database, snapshots_dir, duplicated, snapshot.events, taken_at=NOW, source_totals=good.source_totals
        )

    assert latest_version(database) == good.version
    assert sorted(path.name for path in snapshots_dir.iterdir()) == [
        "customer_features_v1.parquet",
        "events_v1.parquet",
    ]
    with database.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM customer_features")) == 2


def test_every_segment_backend_reads_a_published_snapshot_alike(database: Engine, snapshots_dir: Path) -> None:
    ada, bob = customers_with_orders(database)
    add_event(database, bob, "Product Viewed", days_ago(40))
    info = materialize_features(database, snapshots_dir, now=NOW).snapshot
    snapshot = latest_snapshot(database)
    assert snapshot is not None
    big_london_spender = {
        "and": [
            {"field": "city", "op": "in", "value": ["London", "Oslo"]},
            {"field": "total_spend", "op": ">", "value": 100},
        ]
    }
    recent_gold_viewer = {
        "and": [
            {"field": "trait_plan", "op": "=", "value": "gold"},
            {"event": "Product Viewed", "op": "at least", "count": 1, "within_days": 30},
        ]
    }
    over_forty = {"field": "trait_age", "op": ">", "value": 40}
    rule = parse_rule({"or": [big_london_spender, recent_gold_viewer, over_forty]}, snapshot.catalog)

    evaluators = [
        PolarsEvaluator(snapshot.features, snapshot.events, now=NOW, catalog=snapshot.catalog),
        DuckDbEvaluator.over_parquet(str(info.features_path), str(info.events_path), now=NOW),
        SqlEvaluator(database, snapshot_table(database, info), now=NOW),
    ]

    assert [evaluator.member_ids(rule) for evaluator in evaluators] == [[ada, bob]] * 3
    counts = [evaluator.clause_counts(rule) for evaluator in evaluators]
    assert counts[0] == counts[1] == counts[2]
    assert_frame_equal(
        snapshot.features.with_columns(pl.col(pl.Enum).cast(pl.String)),
        pl.read_database(f"SELECT * FROM {info.table_name} ORDER BY customer_id", database).with_columns(
            pl.col(pl.Datetime).dt.convert_time_zone("UTC")
        ),
        check_dtypes=False,
    )


def test_an_empty_database_publishes_an_empty_snapshot(database: Engine, snapshots_dir: Path) -> None:
    info = materialize_features(database, snapshots_dir, now=NOW).snapshot

    snapshot = load_snapshot(info)
    assert (snapshot.features.height, snapshot.events.height) == (0, 0)
    assert snapshot.features.columns[:3] == ["customer_id", "external_id", "email"]
    with database.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM customer_features")) == 0
