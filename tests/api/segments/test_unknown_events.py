"""A rule naming an event no customer has performed is previewed (it may be an event that has not happened yet),
but with a warning naming the events known, so a typo does not pass as an empty segment."""

from __future__ import annotations

from fastapi.testclient import TestClient

from engine.features.snapshot import Snapshot
from tests.api.segments.data import RECENT_BUYERS


def test_an_unknown_event_is_previewed_with_a_warning_listing_the_known_ones(
    client: TestClient, analyst: dict[str, str], published: Snapshot
) -> None:
    rule = {
        "and": [{"field": "total_spend", "op": ">=", "value": 0}, {"event": "purchse", "op": "at least", "count": 1}]
    }

    answer = client.post("/v1/segments/preview", json={"rule": rule}, headers=analyst)

    assert answer.status_code == 200, answer.text
    assert answer.json()["size"] == 0
    [warning] = answer.json()["warnings"]
    assert warning.startswith("and[1]: no customer has performed 'purchse' (did you mean 'purchase'?)")
    assert warning.endswith("the events known are 'purchase'")


def test_a_rule_on_known_events_has_no_warnings(
    client: TestClient, analyst: dict[str, str], published: Snapshot
) -> None:
    answer = client.post("/v1/segments/preview", json={"rule": RECENT_BUYERS}, headers=analyst)

    assert answer.json()["warnings"] == []
