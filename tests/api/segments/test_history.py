"""A segment's size over time, and who entered and left it between snapshots, through the API."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from engine.features.snapshot import Snapshot
from engine.segments.history import record_all_sizes
from engine.segments.polars_backend import PolarsEvaluator
from tests.api.segments import data
from tests.api.segments.conftest import Publisher
from tests.api.segments.test_crud import save


def record_at_snapshot(database: Engine, snapshot: Snapshot) -> None:
    """What the `segment_sizes` asset does when a snapshot is published."""
    evaluator = PolarsEvaluator(snapshot.features, snapshot.events, now=snapshot.taken_at, catalog=snapshot.catalog)
    record_all_sizes(database, evaluator, version=snapshot.version, taken_at=snapshot.taken_at)


def test_sizes_over_time_and_who_entered_and_left(
    client: TestClient,
    analyst: dict[str, str],
    viewer: dict[str, str],
    database: Engine,
    publisher: Publisher,
    published: Snapshot,
) -> None:
    segment = save(client, analyst, "Big spenders", data.BIG_SPENDERS)  # 1, 4, 5 on v1
    later = publisher.publish(
        data.features(spend_change={2: 900.0, 6: 700.0, 4: 10.0}), taken_at=data.TAKEN_AT.replace(day=2)
    )
    record_at_snapshot(database, later)  # 1, 2, 5, 6

    sizes = client.get(f"/v1/segments/{segment['id']}/sizes", headers=viewer).json()["sizes"]
    changes = client.get(f"/v1/segments/{segment['id']}/changes", headers=analyst).json()

    assert [(s["snapshot_version"], s["size"], s["entered"], s["left"]) for s in sizes] == [
        (1, 3, None, None),
        (2, 4, 2, 1),
    ]
    assert (changes["since"]["snapshot_version"], changes["until"]["snapshot_version"]) == (1, 2)
    assert changes["entered"] == {"count": 2, "customer_ids": [2, 6]}
    assert changes["left"] == {"count": 1, "customer_ids": [4]}


def test_changes_can_be_asked_between_given_snapshots_and_listed_in_part(
    client: TestClient, analyst: dict[str, str], database: Engine, publisher: Publisher, published: Snapshot
) -> None:
    segment = save(client, analyst, "Big spenders", data.BIG_SPENDERS)
    record_at_snapshot(database, publisher.publish(data.features(spend_change={2: 900.0, 6: 700.0})))

    reversed_changes = client.get(
        f"/v1/segments/{segment['id']}/changes", params={"since": 2, "until": 1, "limit": 1}, headers=analyst
    ).json()
    unknown = client.get(f"/v1/segments/{segment['id']}/changes", params={"since": 7}, headers=analyst)

    assert reversed_changes["entered"] == {"count": 0, "customer_ids": []}
    assert reversed_changes["left"] == {"count": 2, "customer_ids": [2]}
    assert (unknown.status_code, unknown.json()["detail"]) == (
        404,
        f"segment {segment['id']} has no record for snapshot 7",
    )


def test_a_segment_with_one_snapshot_answers_no_changes_not_404(
    client: TestClient, analyst: dict[str, str], published: Snapshot
) -> None:
    segment = save(client, analyst, "Big spenders", data.BIG_SPENDERS)

    answer = client.get(f"/v1/segments/{segment['id']}/changes", headers=analyst)

    assert answer.status_code == 200, answer.text
    assert (answer.json()["since"], answer.json()["until"]["snapshot_version"]) == (None, 1)
    assert answer.json()["entered"] == answer.json()["left"] == {"count": 0, "customer_ids": []}
