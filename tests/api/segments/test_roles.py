"""Viewers read segments and their sizes; showing customers or changing segments needs an analyst."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from engine.features.snapshot import Snapshot
from tests.api.segments import data
from tests.api.segments.test_crud import save

VIEWER_READS = ["/v1/features", "/v1/segments/schema", "/v1/segments", "/v1/segments/{id}", "/v1/segments/{id}/sizes"]
ANALYST_ONLY: list[tuple[str, str, dict[str, Any] | None]] = [
    ("POST", "/v1/segments/preview", {"rule": data.BIG_SPENDERS}),
    ("POST", "/v1/segments", {"name": "Another", "rule": data.BIG_SPENDERS}),
    ("PATCH", "/v1/segments/{id}", {"description": "changed"}),
    ("GET", "/v1/segments/{id}/members", None),
    ("GET", "/v1/segments/{id}/export", None),
    ("GET", "/v1/segments/{id}/explain/1", None),
    ("GET", "/v1/segments/{id}/changes", None),
    ("GET", "/v1/customers", None),
    ("GET", "/v1/customers/1", None),
    ("DELETE", "/v1/segments/{id}", None),
]


@pytest.fixture
def segment_id(client: TestClient, analyst: dict[str, str], published: Snapshot) -> int:
    return int(save(client, analyst, "Big spenders", data.BIG_SPENDERS)["id"])


def test_a_viewer_reads_segments_sizes_and_the_catalog(
    client: TestClient, viewer: dict[str, str], segment_id: int
) -> None:
    for path in VIEWER_READS:
        answer = client.get(path.format(id=segment_id), headers=viewer)
        assert answer.status_code == 200, (path, answer.text)


def test_a_viewer_is_refused_what_shows_customers_or_changes_segments(
    client: TestClient, viewer: dict[str, str], segment_id: int
) -> None:
    for method, path, body in ANALYST_ONLY:
        answer = client.request(method, path.format(id=segment_id), json=body, headers=viewer)
        assert (answer.status_code, answer.json()["error"]) == (403, "forbidden"), (method, path)


def test_an_analyst_may_do_all_of_it(client: TestClient, analyst: dict[str, str], segment_id: int) -> None:
    for method, path, body in ANALYST_ONLY:
        answer = client.request(method, path.format(id=segment_id), json=body, headers=analyst)
        # The one 404: a segment recorded at one snapshot only has no changes yet.
        assert answer.status_code in (200, 201, 204) or path.endswith("/changes"), (method, path, answer.text)
        assert answer.status_code != 403


def test_a_write_key_cannot_read_segments(client: TestClient, write_key: str, segment_id: int) -> None:
    answer = client.get("/v1/segments", headers={"Authorization": f"Bearer {write_key}"})

    assert answer.status_code == 403
