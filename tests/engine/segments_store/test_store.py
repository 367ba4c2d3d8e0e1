"""Saved segments: created with an owner, read back with the same rule, renamed, and deleted with their history."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, delete, func, select

from engine.auth.roles import Role
from engine.auth.users import record_sign_in
from engine.schema import segment_sizes, users
from engine.segments import parse_rule
from engine.segments.history import record_size
from engine.segments.member_sets import MemberSet
from engine.segments.store import (
    SegmentNameTaken,
    create_segment,
    delete_segment,
    get_segment,
    list_segments,
    update_segment,
)

BIG_SPENDERS = {"field": "total_spend", "op": ">", "value": 1000}


def an_analyst(db: Engine) -> int:
    with db.begin() as conn:
        return record_sign_in(conn, "ana@shop.example", "Ana", Role.analyst).id


def test_a_saved_segment_reads_back_with_its_rule_owner_and_description(database: Engine) -> None:
    owner = an_analyst(database)

    saved = create_segment(
        database, name="Big spenders", rule=parse_rule(BIG_SPENDERS), owner_id=owner, description="over 1,000"
    )

    again = get_segment(database, saved.id)
    assert again == saved
    assert (again.name, again.description, again.rule, again.owner_email) == (
        "Big spenders",
        "over 1,000",
        BIG_SPENDERS,
        "ana@shop.example",
    )


def test_names_are_unique_on_create_and_on_rename(database: Engine) -> None:
    create_segment(database, name="Big spenders", rule=parse_rule(BIG_SPENDERS), owner_id=None)
    other = create_segment(database, name="Others", rule=parse_rule(BIG_SPENDERS), owner_id=None)

    with pytest.raises(SegmentNameTaken, match="Big spenders"):
        create_segment(database, name="Big spenders", rule=parse_rule(BIG_SPENDERS), owner_id=None)
    with pytest.raises(SegmentNameTaken):
        update_segment(database, other.id, name="Big spenders")


def test_an_update_changes_only_what_is_given(database: Engine) -> None:
    saved = create_segment(database, name="Big spenders", rule=parse_rule(BIG_SPENDERS), owner_id=None)
    lapsed = {"field": "days_since_last_order", "op": ">", "value": 90}

    changed = update_segment(database, saved.id, rule=parse_rule(lapsed))

    assert changed is not None
    assert (changed.name, changed.rule) == ("Big spenders", lapsed)
    assert changed.updated_at > saved.updated_at
    assert update_segment(database, saved.id + 100, name="nobody") is None


def test_segments_are_listed_by_name(database: Engine) -> None:
    for name in ("Lapsed", "Big spenders", "New"):
        create_segment(database, name=name, rule=parse_rule(BIG_SPENDERS), owner_id=None)

    assert [segment.name for segment in list_segments(database)] == ["Big spenders", "Lapsed", "New"]


def test_deleting_a_segment_deletes_its_size_history(database: Engine) -> None:
    saved = create_segment(database, name="Big spenders", rule=parse_rule(BIG_SPENDERS), owner_id=None)
    record_size(database, saved, MemberSet.of([1, 2]), version=1, taken_at=datetime(2026, 1, 1, tzinfo=UTC))

    assert delete_segment(database, saved.id)
    assert not delete_segment(database, saved.id)
    assert get_segment(database, saved.id) is None
    with database.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(segment_sizes)) == 0


def test_a_segment_outlives_its_owner(database: Engine) -> None:
    owner = an_analyst(database)
    saved = create_segment(database, name="Big spenders", rule=parse_rule(BIG_SPENDERS), owner_id=owner)

    with database.begin() as conn:
        conn.execute(delete(users).where(users.c.id == owner))

    kept = get_segment(database, saved.id)
    assert kept is not None
    assert (kept.owner_id, kept.owner_email) == (None, None)
