"""Size history: each saved segment's size at every snapshot, and who entered and who left between two."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl
import pytest
from sqlalchemy import Engine

from engine.segments import parse_rule
from engine.segments.history import (
    HistoryMissing,
    evaluate_members,
    membership_changes,
    record_all_sizes,
    record_size,
    size_history,
)
from engine.segments.member_sets import MemberSet
from engine.segments.polars_backend import PolarsEvaluator
from engine.segments.store import create_segment

MONDAY = datetime(2026, 3, 2, tzinfo=UTC)
BIG_SPENDERS = {"field": "total_spend", "op": ">", "value": 100}


def snapshot(spend: dict[int, float], taken_at: datetime = MONDAY, **traits: pl.Series) -> PolarsEvaluator:
    features = pl.DataFrame({"customer_id": list(spend), "total_spend": list(spend.values()), **traits})
    return PolarsEvaluator(features, now=taken_at)


def test_each_snapshot_records_the_size_and_who_entered_and_left_since_the_previous(database: Engine) -> None:
    segment = create_segment(database, name="Big spenders", rule=parse_rule(BIG_SPENDERS), owner_id=None)
    monday = snapshot({1: 150, 2: 50, 3: 300, 4: 10})
    tuesday = snapshot({1: 150, 2: 120, 3: 90, 4: 200, 5: 500}, MONDAY + timedelta(days=1))

    record_all_sizes(database, monday, version=1, taken_at=MONDAY)
    record_all_sizes(database, tuesday, version=2, taken_at=MONDAY + timedelta(days=1))

    history = size_history(database, segment.id)
    assert [(r.snapshot_version, r.size, r.entered_count, r.left_count) for r in history] == [
        (1, 2, None, None),
        (2, 4, 3, 1),
    ]
    changes = membership_changes(database, segment.id)
    assert changes.since is not None
    assert (changes.since.snapshot_version, changes.until.snapshot_version) == (1, 2)
    assert (changes.entered.tolist(), changes.left.tolist()) == ([2, 4, 5], [3])


def test_changes_between_any_two_recorded_snapshots(database: Engine) -> None:
    segment = create_segment(database, name="Big spenders", rule=parse_rule(BIG_SPENDERS), owner_id=None)
    for day, members in enumerate(([1, 2], [2, 3], [3, 4])):
        record_size(database, segment, MemberSet.of(members), version=day + 1, taken_at=MONDAY + timedelta(day))

    first_to_last = membership_changes(database, segment.id, since_version=1, until_version=3)
    backwards = membership_changes(database, segment.id, since_version=3, until_version=1)

    assert (first_to_last.entered.tolist(), first_to_last.left.tolist()) == ([3, 4], [1, 2])
    assert (backwards.entered.tolist(), backwards.left.tolist()) == ([1, 2], [3, 4])
    with pytest.raises(HistoryMissing, match="no record for snapshot 9"):
        membership_changes(database, segment.id, since_version=9)


def test_a_segment_with_one_record_has_no_changes_yet_and_one_without_records_none_to_tell(database: Engine) -> None:
    segment = create_segment(database, name="Big spenders", rule=parse_rule(BIG_SPENDERS), owner_id=None)
    with pytest.raises(HistoryMissing, match="no size records yet"):
        membership_changes(database, segment.id)

    record_size(database, segment, MemberSet.of([1]), version=1, taken_at=MONDAY)

    changes = membership_changes(database, segment.id)
    assert (changes.since, changes.until.snapshot_version) == (None, 1)
    assert (changes.entered.tolist(), changes.left.tolist()) == ([], [])


def test_recording_a_snapshot_again_replaces_its_record(database: Engine) -> None:
    segment = create_segment(database, name="Big spenders", rule=parse_rule(BIG_SPENDERS), owner_id=None)
    record_size(database, segment, MemberSet.of([1, 2]), version=1, taken_at=MONDAY)
    later = MONDAY + timedelta(days=1)
    record_size(database, segment, MemberSet.of([1, 2, 3]), version=2, taken_at=later)

    again = record_size(database, segment, MemberSet.of([2, 3, 4, 5]), version=2, taken_at=later)

    assert (again.size, again.entered_count, again.left_count) == (4, 3, 1)
    assert [record.size for record in size_history(database, segment.id)] == [2, 4]
    changes = membership_changes(database, segment.id)
    assert (changes.entered.tolist(), changes.left.tolist()) == ([3, 4, 5], [1])


def test_a_rule_that_no_longer_fits_the_snapshot_is_refused_and_the_others_recorded(database: Engine) -> None:
    vip = {"field": "trait_vip", "op": "=", "value": True}
    with_trait = snapshot({1: 150, 2: 50}, trait_vip=pl.Series([True, False]))
    create_segment(database, name="VIPs", rule=parse_rule(vip, with_trait.catalog), owner_id=None)
    big = create_segment(database, name="Big spenders", rule=parse_rule(BIG_SPENDERS), owner_id=None)

    recording = record_all_sizes(database, snapshot({1: 150, 2: 50}), version=1, taken_at=MONDAY)

    assert [record.segment_id for record in recording.records] == [big.id]
    assert list(recording.refused.values()) == ["rule: trait_vip: unknown field"]


def test_members_are_the_rules_matches_on_the_snapshot() -> None:
    monday = snapshot({7: 150, 9: 50, 12: 300})

    assert evaluate_members(monday, parse_rule(BIG_SPENDERS)).ids().tolist() == [7, 12]
