"""A newly published snapshot replaces the one in memory, and requests are answered all the while."""

from __future__ import annotations

import time
from typing import Any

from fastapi.testclient import TestClient

from engine.features.snapshot import Snapshot
from tests.api.segments import data
from tests.api.segments.conftest import LoadGate, Publisher


def preview_of_big_spenders(client: TestClient, headers: dict[str, str]) -> Any:
    answer = client.post("/v1/segments/preview", json={"rule": data.BIG_SPENDERS}, headers=headers)
    assert answer.status_code == 200, answer.text
    return answer.json()


def answer_from(client: TestClient, headers: dict[str, str], version: int, deadline_s: float = 10) -> Any:
    deadline = time.monotonic() + deadline_s
    while (preview := preview_of_big_spenders(client, headers))["snapshot"]["version"] != version:
        assert time.monotonic() < deadline, f"still answering from {preview['snapshot']['version']}"
        time.sleep(0.02)
    return preview


def test_a_published_snapshot_is_answered_from_within_seconds(
    client: TestClient, analyst: dict[str, str], publisher: Publisher, published: Snapshot
) -> None:
    assert preview_of_big_spenders(client, analyst)["size"] == 3

    publisher.publish(data.features(spend_change={2: 900.0, 6: 700.0}))

    assert answer_from(client, analyst, 2)["size"] == 5


def test_requests_are_answered_from_the_old_snapshot_while_the_new_one_loads(
    client: TestClient, analyst: dict[str, str], publisher: Publisher, loads: LoadGate, published: Snapshot
) -> None:
    preview_of_big_spenders(client, analyst)
    loads.opened.clear()
    loads.started.clear()
    publisher.publish(data.features(spend_change={2: 900.0}))
    time.sleep(0.1)
    preview_of_big_spenders(client, analyst)  # starts the check that finds version 2 and loads it
    assert loads.started.wait(5)

    started = time.monotonic()
    during = [preview_of_big_spenders(client, analyst) for _ in range(5)]
    elapsed = time.monotonic() - started

    assert {preview["snapshot"]["version"] for preview in during} == {1}
    assert elapsed < 30, "the previews waited for the new snapshot to load"
    loads.opened.set()
    assert answer_from(client, analyst, 2)["size"] == 4
