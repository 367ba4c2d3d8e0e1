"""The campaign AI routes in the API: insights through the AI queue, the send-time suggestion at once, the
call log, and the answers for campaigns that do not exist or have not been launched."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import redis
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from api.ai.audience import audience_evaluator
from api.main import create_app
from engine.ai import queue
from engine.ai.jobs import HANDLERS
from engine.auth.roles import Role
from engine.segments import parse_rule
from engine.segments.polars_backend import PolarsEvaluator
from engine.segments.store import create_segment, delete_segment
from engine.settings import get_settings
from tests.engine.ai.history import (
    assert_every_number_is_a_cited_fact,
    campaign_with_history,
    draft_campaign,
    launched_campaign,
    log_messages,
    outcomes,
    publish_customers,
    sent_at_local_hour,
)
from tests.engine.campaigns.helpers import EVERYONE, features
from tests.fixtures.users import auth_headers

EVALUATOR = PolarsEvaluator(features(50, timezone="Asia/Kolkata"), now=datetime(2026, 11, 25, tzinfo=UTC))


@pytest.fixture
def client(database: Engine, redis_client: redis.Redis) -> Iterator[TestClient]:
    """The API with 50 customers in Kolkata as its current snapshot."""
    app = create_app()
    app.dependency_overrides[audience_evaluator] = lambda: EVALUATOR
    with TestClient(app) as test_client:
        yield test_client


def test_an_analyst_gets_a_launched_campaigns_insights_off_the_request_path(
    client: TestClient, database: Engine, redis_client: redis.Redis
) -> None:
    campaign_id = launched_campaign(database)
    log_messages(database, campaign_id, outcomes(range(1, 101), delivered=90))
    headers = auth_headers(database, Role.analyst)

    started = client.post(f"/v1/ai/campaigns/{campaign_id}/insights", headers=headers)
    waiting = client.get(f"/v1/ai/jobs/{started.json()['id']}", headers=headers)
    queue.work_once(database, redis_client, get_settings(), HANDLERS)
    done = client.get(f"/v1/ai/jobs/{started.json()['id']}", headers=headers).json()

    assert started.status_code == 202
    assert (started.json()["kind"], waiting.json()["status"]) == ("insights", "queued")
    assert done["status"] == "done"
    result = done["result"]
    assert result["campaign_id"] == campaign_id
    assert result["insights"][0] == {
        "text": "90 of the 100 messages with a known outcome were delivered: a delivery rate of 90% (82–95% with 95% "
        "confidence).",
        "fact_ids": ["overall"],
    }
    assert result["facts"][0]["values"]["rate"] == 90
    assert result["notes"] == ["No feature snapshot has been published, so there are no spend, recency or city groups."]
    [call] = client.get("/v1/ai/calls", params={"kind": "insights"}, headers=headers).json()["calls"]
    assert call["id"] == result["call_id"]


def test_with_a_snapshot_the_insights_job_says_how_customer_groups_did_with_only_the_facts_numbers(
    client: TestClient, database: Engine, redis_client: redis.Redis, tmp_path: Path
) -> None:
    version = publish_customers(database, tmp_path)
    campaign_id, _ = campaign_with_history(database, version)
    headers = auth_headers(database, Role.analyst)

    started = client.post(f"/v1/ai/campaigns/{campaign_id}/insights", headers=headers)
    queue.work_once(database, redis_client, get_settings(), HANDLERS)
    done = client.get(f"/v1/ai/jobs/{started.json()['id']}", headers=headers).json()

    assert done["status"] == "done"
    result = done["result"]
    assert (result["snapshot_version"], result["notes"]) == (int(version), [])
    assert {"spend", "recency", "city"} <= {fact["kind"] for fact in result["facts"]}
    assert ["spend_high", "overall"] in [insight["fact_ids"] for insight in result["insights"]]
    assert_every_number_is_a_cited_fact(result)


def test_insights_for_a_campaign_that_does_not_exist_or_has_no_messages_are_refused(
    client: TestClient, database: Engine
) -> None:
    headers = auth_headers(database, Role.marketer)
    draft = draft_campaign(database)

    missing = client.post(f"/v1/ai/campaigns/{draft + 1}/insights", headers=headers)
    not_launched = client.post(f"/v1/ai/campaigns/{draft}/insights", headers=headers)

    assert (missing.status_code, missing.json()["error"]) == (404, "not_found")
    assert (not_launched.status_code, not_launched.json()["error"]) == (409, "conflict")
    assert "has not been launched yet" in not_launched.json()["detail"]


def test_the_send_time_is_suggested_at_once_with_its_evidence_and_the_call_logged(
    client: TestClient, database: Engine
) -> None:
    sent_at_local_hour(database, 10, 48)
    sent_at_local_hour(database, 14, 40)
    headers = auth_headers(database, Role.marketer)
    campaign_id = draft_campaign(database)

    answer = client.get(f"/v1/ai/campaigns/{campaign_id}/send-time", headers=headers)

    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["campaign_id"], body["hour"], body["runner_up"], body["basis"]) == (campaign_id, 10, 14, "audience")
    assert body["hours"][10] == {"hour": 10, "sent": 50, "delivered": 48, "rate": 96.0, "quiet": False, "enough": True}
    [call] = client.get("/v1/ai/calls", params={"kind": "send_time"}, headers=headers).json()["calls"]
    assert (call["id"], call["input"], call["output"]["hour"]) == (body["call_id"], {"campaign_id": campaign_id}, 10)


def test_without_a_history_the_send_time_answer_is_that_there_is_not_enough_evidence(
    client: TestClient, database: Engine
) -> None:
    answer = client.get(
        f"/v1/ai/campaigns/{draft_campaign(database)}/send-time", headers=auth_headers(database, Role.analyst)
    )

    assert answer.status_code == 200
    assert answer.json()["hour"] is None
    assert answer.json()["summary"].startswith("Not enough evidence to suggest a send hour: 0 messages")


def test_send_time_for_a_campaign_whose_segment_was_deleted_says_it_has_no_audience(
    client: TestClient, database: Engine
) -> None:
    sent_at_local_hour(database, 10, 48)
    sent_at_local_hour(database, 14, 40)
    segment = create_segment(database, name="Everyone", rule=parse_rule(EVERYONE), owner_id=None)
    campaign_id = draft_campaign(database, segment_id=segment.id)
    headers = auth_headers(database, Role.analyst)

    while_kept = client.get(f"/v1/ai/campaigns/{campaign_id}/send-time", headers=headers)
    delete_segment(database, segment.id)
    once_deleted = client.get(f"/v1/ai/campaigns/{campaign_id}/send-time", headers=headers)

    assert (while_kept.status_code, while_kept.json()["hour"], while_kept.json()["basis"]) == (200, 10, "audience")
    assert (once_deleted.status_code, once_deleted.json()["error"]) == (409, "conflict")
    assert once_deleted.json()["detail"] == (
        f"campaign {campaign_id} is for segment {segment.id}, which has been deleted, so it has no audience to "
        "suggest a send hour for (and cannot be launched): give it a segment or a rule first"
    )


def test_send_time_for_a_campaign_that_does_not_exist_is_not_found(client: TestClient, database: Engine) -> None:
    answer = client.get("/v1/ai/campaigns/42/send-time", headers=auth_headers(database, Role.analyst))

    assert answer.status_code == 404


@pytest.mark.parametrize(("method", "route"), [("POST", "insights"), ("GET", "send-time")])
def test_a_viewer_may_not_ask_for_campaign_insights_or_send_times(
    client: TestClient, database: Engine, method: str, route: str
) -> None:
    campaign_id = launched_campaign(database)

    answer = client.request(
        method, f"/v1/ai/campaigns/{campaign_id}/{route}", headers=auth_headers(database, Role.viewer)
    )

    assert answer.status_code == 403
