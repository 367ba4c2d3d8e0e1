"""When a campaign launches: a time in the past is refused (a typo in the date must not send today; launching now
is said by leaving the time out), and a suggested send hour becomes the time to schedule it at."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from tests.api.campaigns.conftest import create

pytestmark = pytest.mark.usefixtures("published")


def test_a_schedule_time_in_the_past_is_refused_and_the_campaign_stays_a_draft(
    client: TestClient, marketer: dict[str, str]
) -> None:
    campaign = create(client, marketer)
    yesterday = (datetime.now(UTC) - timedelta(days=1)).isoformat()

    refused = client.post(f"/v1/campaigns/{campaign['id']}/schedule", json={"at": yesterday}, headers=marketer)

    assert refused.status_code == 422, refused.text
    [problem] = refused.json()["detail"]
    assert (problem["loc"], "is in the past" in problem["message"]) == ("body.at", True)
    assert client.get(f"/v1/campaigns/{campaign['id']}", headers=marketer).json()["status"] == "draft"
    now = client.post(f"/v1/campaigns/{campaign['id']}/schedule", json={"at": None}, headers=marketer)
    assert now.json()["status"] == "scheduled"


def test_a_suggested_hour_is_scheduled_at_its_next_occurrence_in_the_zone_picked(
    client: TestClient, marketer: dict[str, str]
) -> None:
    asked_at = datetime.now(UTC)  # before the API reads its clock: the lower bound holds on a slow machine
    answer = client.get("/v1/campaigns/next-launch-time", params={"hour": 10, "zone": "Asia/Kolkata"},
                        headers=marketer)  # fmt: skip

    assert answer.status_code == 200, answer.text
    at = datetime.fromisoformat(answer.json()["at"])
    assert (at.hour, at.minute, at.utcoffset()) == (10, 0, timedelta(hours=5, minutes=30))
    assert asked_at + timedelta(minutes=15) <= at <= datetime.now(UTC) + timedelta(days=1, minutes=15)
    campaign = create(client, marketer)
    scheduled = client.post(f"/v1/campaigns/{campaign['id']}/schedule", json={"at": at.isoformat()}, headers=marketer)
    assert datetime.fromisoformat(scheduled.json()["scheduled_at"]) == at


def test_an_unknown_time_zone_is_refused_naming_it(client: TestClient, marketer: dict[str, str]) -> None:
    answer = client.get("/v1/campaigns/next-launch-time", params={"hour": 10, "zone": "Mars/Olympus"},
                        headers=marketer)  # fmt: skip

    assert answer.status_code == 422
    assert "Mars/Olympus" in answer.json()["detail"]
