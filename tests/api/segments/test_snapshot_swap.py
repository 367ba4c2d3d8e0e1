"""A newly published snapshot replaces the one in memory, and requests are answered all the while."""

from __future__ import annotations

import threading
import time
from typing import Any

from fastapi.testclient import TestClient

from api.snapshot import PublishedSnapshot
from tests.api.segments import data
from tests.api.segments.conftest import Shelf


def preview_of_big_spenders(client: TestClient, headers: dict[str, str]) -> Any:
    answer = client.post("/v1/segments/preview", json={"rule": data.BIG_SPENDERS}, headers=headers)
    assert answer.status_code == 200, answer.text
    return answer.json()


def answer_from(client: TestClient, headers: dict[str, str], version: str, deadline_s: float = 10) -> Any:
    deadline = time.monotonic() + deadline_s
    while (preview := preview_of_big_spenders(client, headers))["snapshot"]["version"] != version:
        assert time.monotonic() < deadline, f"still answering from {preview['snapshot']['version']}"
        time.sleep(0.02)
    return preview


def test_a_published_snapshot_is_answered_from_within_seconds(
    client: TestClient, analyst: dict[str, str], shelf: Shelf, published: PublishedSnapshot
) -> None:
    assert preview_of_big_spenders(client, analyst)["size"] == 3

    shelf.publish(data.features(spend_change={2: 900.0, 6: 700.0}), data.event_frame())

    assert answer_from(client, analyst, "v2")["size"] == 5


def test_requests_are_answered_from_the_old_snapshot_while_the_new_one_loads(
    client: TestClient, analyst: dict[str, str], shelf: Shelf, published: PublishedSnapshot
) -> None:
    preview_of_big_spenders(client, analyst)
    shelf.loads_wait_for, shelf.loading = threading.Event(), threading.Event()
    shelf.publish(data.features(spend_change={2: 900.0}), data.event_frame())
    time.sleep(0.1)
    preview_of_big_spenders(client, analyst)  # starts the check that finds v2 and loads it
    assert shelf.loading.wait(5)

    started = time.monotonic()
    during = [preview_of_big_spenders(client, analyst) for _ in range(5)]
    elapsed = time.monotonic() - started

    assert {preview["snapshot"]["version"] for preview in during} == {"v1"}
    assert elapsed < 2
    shelf.loads_wait_for.set()
    assert answer_from(client, analyst, "v2")["size"] == 4
