"""`/v1/notifications`: each user sees their own notifications, marks them read, and gets new ones live."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from engine.auth.roles import Role
from engine.auth.users import set_role
from engine.notifications.store import NewNotification
from engine.notifications.watch import notify
from engine.settings import get_settings
from tests.fixtures.users import signed_in


def notice(db: Engine, title: str, min_role: Role = Role.analyst, user_id: int | None = None) -> int:
    """A recorded notification (a dead-letter notice unless it names a creator), its id."""
    new = NewNotification(
        kind="dead_letters" if user_id is None else "campaign_completed",
        severity="warning",
        title=title,
        body=f"{title}, in more words.",
        dedupe_key=title,
        min_role=min_role,
        user_id=user_id,
        detail={"new": 1},
    )
    notification_id = notify(db, get_settings(), new, datetime.now(UTC))
    assert notification_id is not None
    return notification_id


def titles(page: dict[str, Any]) -> list[str]:
    return [item["title"] for item in page["items"]]


def test_the_list_is_newest_first_with_the_unread_count_and_marking_read_changes_it(
    database: Engine, api_client: TestClient
) -> None:
    _, headers = signed_in(database, Role.analyst)
    first = notice(database, "first")
    notice(database, "second")

    page = api_client.get("/v1/notifications", headers=headers).json()
    assert (titles(page), page["unread_count"], page["next_cursor"]) == (["second", "first"], 2, None)

    read = api_client.post(f"/v1/notifications/{first}/read", headers=headers)
    assert (read.status_code, read.json()["read"]) == (200, True)
    assert api_client.post(f"/v1/notifications/{first}/read", headers=headers).status_code == 200  # again: harmless
    unread = api_client.get("/v1/notifications", params={"unread_only": True}, headers=headers).json()
    assert (titles(unread), unread["unread_count"]) == (["second"], 1)

    assert api_client.post("/v1/notifications/read-all", headers=headers).json() == {"marked": 1, "unread_count": 0}
    assert api_client.get("/v1/notifications", headers=headers).json()["unread_count"] == 0


def test_read_state_is_each_users_own(database: Engine, api_client: TestClient) -> None:
    _, mine = signed_in(database, Role.analyst, "me@shop.example")
    _, theirs = signed_in(database, Role.analyst, "colleague@shop.example")
    notice(database, "new dead letters")

    api_client.post("/v1/notifications/read-all", headers=mine)

    assert api_client.get("/v1/notifications", headers=mine).json()["unread_count"] == 0
    assert api_client.get("/v1/notifications", headers=theirs).json()["unread_count"] == 1


def test_users_see_only_what_their_role_or_their_campaign_lets_them(database: Engine, api_client: TestClient) -> None:
    creator, as_creator = signed_in(database, Role.viewer, "creator@shop.example")
    _, as_viewer = signed_in(database, Role.viewer)
    _, as_analyst = signed_in(database, Role.analyst)
    _, as_marketer = signed_in(database, Role.marketer)
    notice(database, "pipeline trouble", Role.analyst)
    campaign_notice = notice(database, "campaign done", Role.marketer, user_id=creator.id)

    def seen(headers: dict[str, str]) -> list[str]:
        return titles(api_client.get("/v1/notifications", headers=headers).json())

    assert seen(as_viewer) == []
    assert seen(as_creator) == ["campaign done"]
    assert seen(as_analyst) == ["pipeline trouble"]
    assert seen(as_marketer) == ["campaign done", "pipeline trouble"]
    refused = api_client.post(f"/v1/notifications/{campaign_notice}/read", headers=as_analyst)
    assert (refused.status_code, refused.json()["error"]) == (404, "not_found")
    assert api_client.post("/v1/notifications/999999/read", headers=as_analyst).status_code == 404


def test_pages_follow_the_cursor_to_the_end(database: Engine, api_client: TestClient) -> None:
    _, headers = signed_in(database, Role.admin)
    for title in ("one", "two", "three"):
        notice(database, title)

    first = api_client.get("/v1/notifications", params={"limit": 2}, headers=headers).json()
    rest = api_client.get("/v1/notifications", params={"limit": 2, "before": first["next_cursor"]}, headers=headers)

    assert titles(first) == ["three", "two"]
    assert (titles(rest.json()), rest.json()["next_cursor"]) == (["one"], None)


def test_a_last_page_that_is_exactly_full_gives_no_next_cursor(database: Engine, api_client: TestClient) -> None:
    _, headers = signed_in(database, Role.admin)
    for title in ("one", "two"):
        notice(database, title)

    page = api_client.get("/v1/notifications", params={"limit": 2}, headers=headers).json()

    assert (titles(page), page["next_cursor"]) == (["two", "one"], None)


def events(lines: Iterator[str]) -> Iterator[dict[str, str]]:
    """Server-sent events as field dicts; a comment or `retry:` block comes through as an empty dict."""
    fields: dict[str, str] = {}
    for line in lines:
        if line == "":
            yield fields
            fields = {}
        elif not line.startswith(":"):
            name, _, value = line.partition(": ")
            fields[name] = value


def test_the_stream_sends_a_notification_made_after_it_opened_and_not_older_ones(
    database: Engine, live_api: str
) -> None:
    _, headers = signed_in(database, Role.analyst)
    notice(database, "before the stream")
    timeout = httpx.Timeout(10, read=20)
    with httpx.stream("GET", f"{live_api}/v1/notifications/stream", headers=headers, timeout=timeout) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        stream = events(response.iter_lines())
        assert next(stream) == {"retry": "3000"}  # the stream is open
        new_id = notice(database, "after the stream opened")

        event = next(event for event in stream if event)

    assert (event["event"], event["id"]) == ("notification", str(new_id))
    assert orjson.loads(event["data"])["title"] == "after the stream opened"


def test_a_stream_resumed_with_last_event_id_sends_what_was_missed(database: Engine, live_api: str) -> None:
    _, headers = signed_in(database, Role.analyst)
    seen = notice(database, "seen")
    notice(database, "missed")
    headers["Last-Event-ID"] = str(seen)
    timeout = httpx.Timeout(10, read=20)
    with httpx.stream("GET", f"{live_api}/v1/notifications/stream", headers=headers, timeout=timeout) as response:
        event = next(event for event in events(response.iter_lines()) if event.get("event"))

    assert orjson.loads(event["data"])["title"] == "missed"


def test_a_stream_stops_sending_what_a_lowered_role_no_longer_sees_and_ends_with_the_session(
    database: Engine, live_api: str
) -> None:
    user, headers = signed_in(database, Role.marketer)
    timeout = httpx.Timeout(10, read=20)
    with httpx.stream("GET", f"{live_api}/v1/notifications/stream", headers=headers, timeout=timeout) as response:
        stream = events(response.iter_lines())
        assert next(stream) == {"retry": "3000"}
        with database.begin() as conn:
            set_role(conn, user.id, Role.viewer)
        notice(database, "for marketers", Role.marketer)
        notice(database, "for everyone", Role.viewer)

        first = next(event for event in stream if event)
        with database.begin() as conn:
            conn.execute(text("UPDATE auth_sessions SET revoked_at = now() WHERE user_id = :id"), {"id": user.id})
        rest = [event for event in stream if event]  # ends once the session is found revoked

    assert orjson.loads(first["data"])["title"] == "for everyone"
    assert rest == []


def test_a_last_event_id_that_is_not_an_ascii_number_is_ignored_not_a_server_error(
    database: Engine, live_api: str
) -> None:
    _, signed = signed_in(database, Role.analyst)
    headers = {name.encode(): value.encode() for name, value in signed.items()}
    headers[b"Last-Event-ID"] = "²".encode("latin-1")  # a digit to str.isdigit, not to int()
    timeout = httpx.Timeout(10, read=20)
    with httpx.stream("GET", f"{live_api}/v1/notifications/stream", headers=headers, timeout=timeout) as response:
        assert response.status_code == 200
        assert next(events(response.iter_lines())) == {"retry": "3000"}
