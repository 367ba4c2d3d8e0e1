"""Deltas: a batch ingested moves its customers' features (and segment membership) without a full refresh; a delta
is never applied over a newer snapshot, one that fails leaves its customers queued, and a full refresh proves the
incremental state equal to itself, or says where it is not."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import redis
from sqlalchemy import Engine, text

from engine.features.deltas import publish_delta
from engine.features.freshness import features_current, features_lag
from engine.features.materialize import materialize_features
from engine.features.snapshot import latest_snapshot
from engine.segments.polars_backend import PolarsEvaluator
from engine.segments.validation import parse_rule
from tests.engine.features.data import NOW, customer, event, ingest, order

LATER = NOW + timedelta(minutes=5)
BIG_SPENDERS = parse_rule({"field": "total_spend", "op": ">=", "value": 100})
CART_VIEWERS = parse_rule({"event": "Cart Viewed"})


def members(db: Engine) -> set[str]:
    snapshot = latest_snapshot(db)
    assert snapshot is not None
    evaluator = PolarsEvaluator(snapshot.features, snapshot.events, now=snapshot.taken_at, catalog=snapshot.catalog)
    return set(evaluator.members(BIG_SPENDERS)["external_id"].to_list())


def queued(db: Engine) -> int:
    with db.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM feature_touched_customers")).scalar_one())


@pytest.fixture
def shop(database: Engine, redis_client: redis.Redis, tmp_path: Path) -> Path:
    """Two customers in a published snapshot, and nothing queued."""
    ingest(database, redis_client, customers=[customer("ada"), customer("bob")], orders=[order("o1", "ada", "150")])
    materialize_features(database, tmp_path, now=NOW)
    assert publish_delta(database, tmp_path, now=NOW) is not None  # what the refresh already read: no change
    return tmp_path


def test_an_order_moves_its_customer_into_a_segment_with_a_delta_and_no_full_refresh(
    database: Engine, redis_client: redis.Redis, shop: Path
) -> None:
    assert members(database) == {"ada"}
    ingest(database, redis_client, orders=[order("o2", "bob", "120")], events=[event("m1", "bob", "Cart Viewed")])
    assert not features_current(database)

    delta = publish_delta(database, shop, now=LATER)

    assert delta is not None
    assert (delta.row_count, queued(database)) == (1, 0)
    assert features_current(database)
    assert features_lag(database) is not None  # the snapshot itself has not read the order
    assert members(database) == {"ada", "bob"}
    snapshot = latest_snapshot(database)
    assert snapshot is not None
    assert (snapshot.version, snapshot.delta_id, snapshot.taken_at) == (1, delta.id, LATER)
    assert snapshot.events["customer_id"].to_list().count(snapshot.features["customer_id"][1]) == 1
    assert publish_delta(database, shop, now=LATER) is None  # nothing queued: nothing published


def test_a_new_customer_with_a_new_city_joins_through_a_delta(
    database: Engine, redis_client: redis.Redis, shop: Path
) -> None:
    ingest(database, redis_client, customers=[customer("cy", city="Kochi")], orders=[order("o3", "cy", "300")])
    publish_delta(database, shop, now=LATER)

    snapshot = latest_snapshot(database)
    assert snapshot is not None
    assert snapshot.features["external_id"].to_list() == ["ada", "bob", "cy"]
    assert snapshot.features.filter(pl.col("external_id") == "cy")["city"].cast(pl.String).to_list() == ["Kochi"]
    assert members(database) == {"ada", "cy"}


def test_an_event_reaches_a_behavioural_segment_through_a_delta_that_leaves_the_row_as_it_was(
    database: Engine, redis_client: redis.Redis, shop: Path
) -> None:
    before = latest_snapshot(database)
    ingest(database, redis_client, events=[event("m1", "bob", "Cart Viewed")])

    delta = publish_delta(database, shop, now=LATER)

    snapshot = latest_snapshot(database)
    assert delta is not None
    assert snapshot is not None
    assert before is not None
    assert (delta.row_count, delta.removed_ids, queued(database)) == (0, [], 0)
    assert snapshot.features.equals(before.features)
    evaluator = PolarsEvaluator(snapshot.features, snapshot.events, now=snapshot.taken_at, catalog=snapshot.catalog)
    assert set(evaluator.members(CART_VIEWERS)["external_id"].to_list()) == {"bob"}
    outcome = materialize_features(database, shop, now=LATER).incremental
    assert outcome is not None
    assert outcome.passed, outcome.description


def test_a_customer_an_event_names_first_gets_a_whole_row_through_a_delta(
    database: Engine, redis_client: redis.Redis, shop: Path
) -> None:
    ingest(database, redis_client, events=[event("m1", "cy", "Cart Viewed"), event("m2", "bob", "Cart Viewed")])

    delta = publish_delta(database, shop, now=LATER)

    snapshot = latest_snapshot(database)
    assert delta is not None
    assert snapshot is not None
    assert delta.row_count == 1
    assert snapshot.features["external_id"].to_list() == ["ada", "bob", "cy"]
    evaluator = PolarsEvaluator(snapshot.features, snapshot.events, now=snapshot.taken_at, catalog=snapshot.catalog)
    assert set(evaluator.members(CART_VIEWERS)["external_id"].to_list()) == {"bob", "cy"}


def test_a_delta_older_than_a_newer_full_snapshot_is_not_applied_over_it(
    database: Engine, redis_client: redis.Redis, shop: Path
) -> None:
    ingest(database, redis_client, orders=[order("o2", "bob", "120")])
    stale = publish_delta(database, shop, now=LATER)
    with database.begin() as conn:  # bob's order refunded behind the ingest path's back; a full refresh reads it
        conn.execute(text("UPDATE orders SET status = 'refunded' WHERE external_id = 'o2'"))
        conn.execute(text("UPDATE feature_source_changes SET changes = changes + 1"))
    materialize_features(database, shop, now=LATER + timedelta(minutes=1))

    snapshot = latest_snapshot(database)
    assert stale is not None
    assert snapshot is not None
    assert (snapshot.version, snapshot.deltas) == (2, ())
    assert members(database) == {"ada"}


def test_a_delta_that_fails_leaves_its_customers_queued_and_no_files(
    database: Engine, redis_client: redis.Redis, shop: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ingest(database, redis_client, orders=[order("o2", "bob", "120")])

    def broken(*_: Any) -> Any:
        raise OSError("disk full")

    monkeypatch.setattr("engine.features.deltas.event_frame", broken)
    with pytest.raises(OSError, match="disk full"):
        publish_delta(database, shop, now=LATER)
    assert queued(database) == 1
    assert list((shop / "deltas").glob("*d2*")) == []
    monkeypatch.undo()

    assert publish_delta(database, shop, now=LATER) is not None
    assert members(database) == {"ada", "bob"}


def test_a_full_refresh_finds_the_incremental_state_equal_to_itself(
    database: Engine, redis_client: redis.Redis, shop: Path
) -> None:
    ingest(
        database, redis_client, customers=[customer("cy", city="Kochi", tier="gold")], orders=[order("o2", "bob", "9")]
    )
    publish_delta(database, shop, now=LATER)
    ingest(database, redis_client, orders=[order("o3", "cy", "300", NOW - timedelta(days=40))])
    publish_delta(database, shop, now=LATER + timedelta(minutes=1))
    ingest(database, redis_client, orders=[order("o4", "ada", "1")])  # still queued when the refresh reads

    outcome = materialize_features(database, shop, now=LATER + timedelta(days=2)).incremental

    assert outcome is not None
    assert outcome.passed, outcome.description
    assert outcome.figures == {"customers_compared": 2, "customers_differing": 0, "customers_queued": 1, "deltas": 2}


def test_a_change_that_bypassed_the_queue_is_reported_as_a_disagreement(
    database: Engine, redis_client: redis.Redis, shop: Path
) -> None:
    with database.begin() as conn:  # written without telling the deltas
        conn.execute(text("UPDATE customers SET city = 'Pune' WHERE external_id = 'bob'"))

    outcome = materialize_features(database, shop, now=LATER).incremental

    assert outcome is not None
    assert not outcome.passed
    assert outcome.figures["customers_differing"] == 1
    assert ": city" in outcome.description
