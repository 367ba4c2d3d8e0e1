"""Live progress: `GET /v1/campaigns/{id}/events` streams the counts as they change and ends with the campaign."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import redis
from sqlalchemy import Engine, text

from tests.engine.campaigns.helpers import delivery_settings, features, launch
from tests.fixtures.users import auth_headers


def _events(lines: Iterator[str]) -> Iterator[dict[str, object]]:
    """The `progress` events' data, as the stream sends them."""
    event = None
    for line in lines:
        if line.startswith("event: "):
            event = line.removeprefix("event: ")
        elif line.startswith("data: ") and event == "progress":
            yield json.loads(line.removeprefix("data: "))


def test_progress_streams_while_sending_and_ends_with_the_campaign(
    live_api: str, database: Engine, redis_client: redis.Redis
) -> None:
    report = launch(database, redis_client, delivery_settings(), features(4))
    headers = auth_headers(database, "viewer", "watcher@shop.example")
    url = f"{live_api}/v1/campaigns/{report.campaign_id}/events"

    seen = []
    with httpx.stream("GET", url, headers=headers, timeout=30) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        events = _events(response.iter_lines())
        seen.append(next(events))
        _deliver(database, report.campaign_id, customers=2)
        seen.append(next(events))
        _deliver(database, report.campaign_id, customers=3, complete=True)  # completed, one receipt still due
        seen.append(next(events))
        _deliver(database, report.campaign_id, customers=4)  # ... which comes late
        seen.extend(events)  # the stream ends by itself once the campaign is completed and every message final

    assert [(event["status"], event["counts"]["queued"], event["counts"]["delivered"]) for event in seen] == [  # type: ignore[index]
        ("sending", 4, 0),
        ("sending", 2, 2),
        ("completed", 1, 3),
        ("completed", 0, 4),
    ]


def _deliver(db: Engine, campaign_id: int, *, customers: int, complete: bool = False) -> None:
    with db.begin() as conn:
        conn.execute(
            text(
                "UPDATE communication_log SET status = 'delivered', delivered_at = now() "
                "WHERE campaign_id = :id AND customer_id <= :customers"
            ),
            {"id": campaign_id, "customers": customers},
        )
        if complete:
            conn.execute(text("UPDATE campaigns SET status = 'completed' WHERE id = :id"), {"id": campaign_id})


def test_progress_ends_when_the_watchers_session_ends(
    live_api: str, database: Engine, redis_client: redis.Redis
) -> None:
    report = launch(database, redis_client, delivery_settings(), features(2))
    headers = auth_headers(database, "viewer", "leaver@shop.example")
    url = f"{live_api}/v1/campaigns/{report.campaign_id}/events"

    with httpx.stream("GET", url, headers=headers, timeout=30) as response:
        events = _events(response.iter_lines())
        assert next(events)["status"] == "sending"
        with database.begin() as conn:  # signed out elsewhere, or revoked by an admin
            conn.execute(
                text(
                    "UPDATE auth_sessions SET revoked_at = now() "
                    "WHERE user_id = (SELECT id FROM users WHERE email = 'leaver@shop.example')"
                )
            )
        remaining = list(events)  # the stream ends by itself although the campaign is still sending

    assert remaining == []
