"""Applying deltas to a loaded snapshot by key gives what replacing each touched customer's row would: rows written
over, customers removed and added (after the others or among them), categories a delta brings, and the later delta
winning; the frame the deltas were applied to is left as it was (older answers still read it)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.features.snapshot import DeltaInfo, updated_events, updated_features

CITIES = ["Delhi", "Mumbai", "Pune", "Kochi"]
TAKEN_AT = datetime(2026, 1, 1, tzinfo=UTC)

Rows = dict[int, tuple[float, str | None]]
ids = st.sets(st.integers(1, 40), max_size=25)


def rows(cities: list[str]) -> st.SearchStrategy[Rows]:
    city = st.sampled_from([None, *cities])
    return ids.flatmap(
        lambda keys: st.fixed_dictionaries({key: st.tuples(st.floats(0, 1000, allow_nan=False), city) for key in keys})
    )


SNAPSHOT_CITIES = CITIES[:2]  # a delta may bring the others


def frame(rows: Rows, cities: list[str]) -> pl.DataFrame:
    keys = sorted(rows)
    return pl.DataFrame(
        {
            "customer_id": pl.Series(keys, dtype=pl.Int64),
            "total_spend": pl.Series([rows[key][0] for key in keys], dtype=pl.Float64),
            "city": pl.Series([rows[key][1] for key in keys], dtype=pl.Enum(cities)),
        }
    )


def published(folder: Path, n: int, rows: Rows, removed: set[int]) -> DeltaInfo:
    features_path, events_path = folder / f"customer_features_d{n}.parquet", folder / f"events_d{n}.parquet"
    frame(rows, sorted({city for _, city in rows.values() if city})).write_parquet(features_path)
    pl.DataFrame(
        {"customer_id": pl.Series(sorted(rows), dtype=pl.Int64), "name": [f"seen by {n}"] * len(rows)}
    ).write_parquet(events_path)
    return DeltaInfo(n, TAKEN_AT, n, len(rows), features_path, events_path, sorted(removed - set(rows)), [])


def as_rows(features: pl.DataFrame) -> list[dict[str, Any]]:
    return features.with_columns(pl.col("city").cast(pl.String)).to_dicts()


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(base=rows(SNAPSHOT_CITIES), changes=st.lists(st.tuples(rows(CITIES), ids), min_size=1, max_size=3))
def test_applying_deltas_by_key_equals_replacing_each_touched_customer(
    tmp_path_factory: Any, base: Rows, changes: list[tuple[Rows, set[int]]]
) -> None:
    folder = tmp_path_factory.mktemp("deltas")
    snapshot = frame(base, SNAPSHOT_CITIES)
    before = snapshot.clone()
    infos = [published(folder, n, delta_rows, removed) for n, (delta_rows, removed) in enumerate(changes, start=1)]
    expected = dict(base)
    for delta_rows, removed in changes:
        for key in removed | set(delta_rows):
            expected.pop(key, None)
        expected.update(delta_rows)

    updated = updated_features(snapshot, infos)

    assert as_rows(updated) == as_rows(frame(expected, CITIES))
    assert updated.get_column("customer_id").is_sorted()
    assert snapshot.equals(before)


def test_a_touched_customers_events_are_the_newest_deltas_and_others_stay(tmp_path: Path) -> None:
    events = pl.DataFrame({"customer_id": pl.Series([1, 2, None, 3], dtype=pl.Int64), "name": ["a", "b", "c", "d"]})
    first = published(tmp_path, 1, {2: (1.0, None), 3: (1.0, None)}, set())
    second = published(tmp_path, 2, {3: (2.0, None)}, set())

    updated = updated_events(events, [first, second])

    assert sorted(updated.rows(), key=str) == sorted(
        [(1, "a"), (None, "c"), (2, "seen by 1"), (3, "seen by 2")], key=str
    )
