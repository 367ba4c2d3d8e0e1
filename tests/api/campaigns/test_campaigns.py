"""Campaigns through the API: drafts checked on saving, previews, the lifecycle, the communication log,
"retry the failed", and who may do what."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from engine.auth.audit import list_entries
from engine.campaigns.failures import failure_kind
from engine.campaigns.launch import due_campaigns, give_up_launch, record_launch_attempts
from engine.consent import preferences
from engine.consent.suppression import suppress
from engine.features.snapshot import Snapshot
from engine.settings import Settings
from tests.api.campaigns.conftest import OFFER, create, launch_now
from tests.api.segments import data
from tests.fixtures.users import auth_headers

pytestmark = pytest.mark.usefixtures("published")


def test_a_saved_draft_is_read_back_and_listed_newest_first(client: TestClient, marketer: dict[str, str]) -> None:
    first = create(client, marketer, name="First")
    create(client, marketer, name="Second", audience_rule=None, segment_id=_segment(client, marketer))

    assert first["status"] == "draft"
    assert first["counts"]["total"] == 0
    assert client.get(f"/v1/campaigns/{first['id']}", headers=marketer).json()["template"] == OFFER
    listed = client.get("/v1/campaigns", headers=marketer).json()
    assert [campaign["name"] for campaign in listed] == ["Second", "First"]
    assert listed[0]["segment_id"] is not None
    assert listed[0]["audience_rule"] is None


def test_template_problems_are_refused_with_their_position(client: TestClient, marketer: dict[str, str]) -> None:
    body = {"name": "Oops", "channel": "email", "audience_rule": data.BIG_SPENDERS}
    unknown = client.post(
        "/v1/campaigns", json={**body, "template": "Hi\n  {{ frist_name }}!", "subject": "Hi"}, headers=marketer
    )
    broken_subject = client.post(
        "/v1/campaigns", json={**body, "template": OFFER, "subject": "Hi {{ first_name "}, headers=marketer
    )

    assert unknown.status_code == 422
    assert unknown.json()["error"] == "invalid_template"
    [problem] = unknown.json()["detail"]
    assert (problem["part"], problem["line"], problem["column"]) == ("template", 2, 6)
    assert "first_name" in problem["message"]  # the suggestion
    assert broken_subject.status_code == 422
    assert broken_subject.json()["detail"][0]["part"] == "subject"
    assert client.get("/v1/campaigns", headers=marketer).json() == []


@pytest.mark.parametrize(
    ("changes", "error", "words"),
    [
        ({"audience_rule": {"field": "total_spned", "op": ">", "value": 1}}, "invalid_rule", "total_spned"),
        ({"segment_id": 999_999}, "invalid_request", "no segment 999999"),
        ({"audience_rule": None}, "invalid_request", "either a segment_id or an audience_rule"),
        ({"subject": "Hello"}, "invalid_request", "only e-mail campaigns have a subject"),
        ({"html_template": "<p>Hi</p>"}, "invalid_request", "only e-mail campaigns have an HTML template"),
        ({"channel": "fax"}, "invalid_request", "channel"),
    ],
)
def test_an_unusable_campaign_is_refused_naming_the_problem(
    client: TestClient, marketer: dict[str, str], changes: dict[str, object], error: str, words: str
) -> None:
    body = {"name": "Diwali offer", "channel": "sms", "template": OFFER, "audience_rule": data.BIG_SPENDERS}

    response = client.post("/v1/campaigns", json={**body, **changes}, headers=marketer)

    assert response.status_code == 422
    assert response.json()["error"] == error
    assert words in str(response.json()["detail"])


def test_a_draft_changes_until_it_is_scheduled(client: TestClient, marketer: dict[str, str]) -> None:
    campaign = create(client, marketer)
    url = f"/v1/campaigns/{campaign['id']}"
    segment_id = _segment(client, marketer)

    changed = client.patch(url, json={"template": "Hello {{ city }}", "segment_id": segment_id}, headers=marketer)
    assert changed.status_code == 200, changed.text
    assert changed.json()["template"] == "Hello {{ city }}"
    assert (changed.json()["segment_id"], changed.json()["audience_rule"]) == (segment_id, None)
    assert changed.json()["name"] == "Diwali offer"
    bad = client.patch(url, json={"template": "{{ nope }}"}, headers=marketer)
    assert bad.status_code == 422
    assert client.get(url, headers=marketer).json()["template"] == "Hello {{ city }}"

    later = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    assert client.post(f"{url}/schedule", json={"at": later}, headers=marketer).json()["status"] == "scheduled"
    refused = client.patch(url, json={"name": "Renamed"}, headers=marketer)
    assert refused.status_code == 409
    assert "scheduled" in refused.json()["detail"]
    assert client.delete(url, headers=marketer).status_code == 409
    assert client.post(f"{url}/unschedule", headers=marketer).json()["status"] == "draft"
    assert client.delete(url, headers=marketer).status_code == 204
    assert client.get(url, headers=marketer).status_code == 404


def test_a_change_to_a_scheduled_campaign_is_a_conflict_whatever_it_says(
    client: TestClient, marketer: dict[str, str]
) -> None:
    campaign = create(client, marketer)
    url = f"/v1/campaigns/{campaign['id']}"
    client.post(f"{url}/schedule", json={"at": (datetime.now(UTC) + timedelta(days=1)).isoformat()}, headers=marketer)

    assert client.patch(url, json={"template": "{{ nope }}"}, headers=marketer).status_code == 409
    nulled = client.patch(f"/v1/campaigns/{create(client, marketer)['id']}", json={"name": None}, headers=marketer)
    assert nulled.status_code == 422
    assert "name cannot be null" in str(nulled.json()["detail"])


def test_a_schedule_time_needs_its_zone(client: TestClient, marketer: dict[str, str]) -> None:
    campaign = create(client, marketer)

    response = client.post(f"/v1/campaigns/{campaign['id']}/schedule", json={"at": "2030-01-01T10:00:00"},
                           headers=marketer)  # fmt: skip

    assert response.status_code == 422
    assert client.get(f"/v1/campaigns/{campaign['id']}", headers=marketer).json()["status"] == "draft"


def test_a_preview_renders_the_message_for_sample_members(client: TestClient, marketer: dict[str, str]) -> None:
    body = {
        "template": "Hi {{ first_name }}, you live in {{ city }}.",
        "subject": "{{ first_name }}, a gift",
        "audience_rule": data.BIG_SPENDERS,
        "sample_size": 2,
    }

    preview = client.post("/v1/campaigns/preview", json=body, headers=marketer)

    assert preview.status_code == 200, preview.text
    assert preview.json()["audience_size"] == 3
    assert preview.json()["messages"] == [
        {
            "customer_id": 1,
            "message": "Hi Ada, you live in London.",
            "subject": "Ada, a gift",
            "html": None,
            "error": None,
            "characters": None,
            "parts": None,
        },
        {
            "customer_id": 4,
            "message": "Hi Sam, you live in Mumbai.",
            "subject": "Sam, a gift",
            "html": None,
            "error": None,
            "characters": None,
            "parts": None,
        },
    ]
    saved = create(client, marketer, template="{{ first_name | default('friend') }}!", audience_rule=data.RECENT_BUYERS)
    messages = client.get(f"/v1/campaigns/{saved['id']}/preview", headers=marketer).json()["messages"]
    assert [message["message"] for message in messages] == [
        "Ada!\nReply STOP to opt out",
        "Noor!\nReply STOP to opt out",
    ]
    bad_subject = client.post("/v1/campaigns/preview", json={**body, "subject": "{{ nope }}"}, headers=marketer)
    assert bad_subject.status_code == 422
    assert bad_subject.json()["detail"][0]["part"] == "subject"


def test_an_sms_preview_shows_the_opt_out_line_the_launch_appends_and_counts_it_in_segments(
    client: TestClient, marketer: dict[str, str], database: Engine, redis_client: redis.Redis
) -> None:
    long = "Hi {{ first_name }}, " + "our biggest sale of the year starts now, " * 3 + "see you there"
    body = {"audience_rule": data.BIG_SPENDERS, "sample_size": 1, "channel": "sms"}

    def first(**changes: object) -> dict[str, Any]:
        answer = client.post("/v1/campaigns/preview", json={**body, **changes}, headers=marketer)
        assert answer.status_code == 200, answer.text
        message: dict[str, Any] = answer.json()["messages"][0]
        return message

    short, mentions_stop, two_parts = (
        first(template=OFFER),
        first(template="Text STOP to end these"),
        first(template=long),
    )
    by_email = first(template=OFFER, channel="email", subject="Hi")

    assert (short["message"], short["characters"], short["parts"]) == (
        "Hi Ada, here is 10% off!\nReply STOP to opt out", 46, 1,
    )  # fmt: skip
    assert (mentions_stop["message"], mentions_stop["parts"]) == ("Text STOP to end these", 1)
    assert (two_parts["characters"], two_parts["parts"]) == (144 + 22, 2)  # 144 alone would be one SMS
    assert (by_email["message"], by_email["parts"]) == ("Hi Ada, here is 10% off!", 1)
    campaign = create(client, marketer)
    previewed = client.get(f"/v1/campaigns/{campaign['id']}/preview", headers=marketer).json()["messages"][0]
    client.post(f"/v1/campaigns/{campaign['id']}/schedule", json={}, headers=marketer)
    launch_now(database, redis_client, campaign["id"])
    with database.connect() as conn:
        sent = conn.execute(
            text("SELECT message FROM communication_log WHERE campaign_id = :id AND customer_id = :customer"),
            {"id": campaign["id"], "customer": previewed["customer_id"]},
        ).scalar_one()
    assert previewed["message"] == sent == short["message"]


def test_an_html_template_is_saved_previewed_escaped_and_sanitised(
    client: TestClient, marketer: dict[str, str]
) -> None:
    html = '<p style="color:#111" onclick="steal()">Hi {{ first_name }}<script>steal()</script></p>\n{{ nope }}'
    body = {
        "name": "Styled",
        "channel": "email",
        "subject": "Hi",
        "template": OFFER,
        "audience_rule": data.BIG_SPENDERS,
    }

    unknown = client.post("/v1/campaigns", json={**body, "html_template": html}, headers=marketer)
    saved = client.post("/v1/campaigns", json={**body, "html_template": html.split("\n")[0]}, headers=marketer)

    assert unknown.status_code == 422
    [problem] = unknown.json()["detail"]
    assert (problem["part"], problem["line"], problem["column"]) == ("html_template", 2, 4)
    assert saved.status_code == 201, saved.text
    assert saved.json()["html_template"] == html.split("\n")[0]
    campaign_id = saved.json()["id"]
    preview = client.get(f"/v1/campaigns/{campaign_id}/preview?sample_size=1", headers=marketer).json()
    assert preview["messages"][0]["html"] == '<p style="color:#111">Hi Ada</p>'
    cleared = client.patch(f"/v1/campaigns/{campaign_id}", json={"html_template": ""}, headers=marketer)
    assert cleared.json()["html_template"] is None
    assert client.get(f"/v1/campaigns/{campaign_id}/preview", headers=marketer).json()["messages"][0]["html"] is None


def test_an_e_mail_with_only_an_html_template_gets_its_text_part_read_off_the_html(
    client: TestClient, marketer: dict[str, str], database: Engine, redis_client: redis.Redis
) -> None:
    html = (
        '<h1>Hi {{ first_name }}</h1><p>Our <b>Diwali sale</b> is on: <a href="https://shop.example/sale">shop now'
        "</a>.</p><ul><li>10% off</li><li>Free delivery</li></ul>"
    )
    body = {"name": "Designed", "channel": "email", "subject": "Hi", "template": "", "audience_rule": data.BIG_SPENDERS}
    text_of_ada = "Hi Ada\n\nOur Diwali sale is on: shop now (https://shop.example/sale).\n\n- 10% off\n- Free delivery"

    saved = client.post("/v1/campaigns", json={**body, "html_template": html}, headers=marketer)
    no_message = client.post("/v1/campaigns", json={**body, "channel": "sms", "subject": None}, headers=marketer)

    assert saved.status_code == 201, saved.text
    assert (no_message.status_code, no_message.json()["detail"][0]["part"]) == (422, "template")
    assert "write a message" in no_message.json()["detail"][0]["message"]
    campaign_id = saved.json()["id"]
    [previewed] = client.get(f"/v1/campaigns/{campaign_id}/preview?sample_size=1", headers=marketer).json()["messages"]
    assert previewed["message"] == text_of_ada
    client.post(f"/v1/campaigns/{campaign_id}/schedule", json={}, headers=marketer)
    launch_now(database, redis_client, campaign_id)
    with database.connect() as conn:
        logged = conn.execute(
            text("SELECT message, html FROM communication_log WHERE campaign_id = :id AND customer_id = 1"),
            {"id": campaign_id},
        ).one()
    assert logged.message == text_of_ada  # the e-mail's text/plain part
    assert logged.html.startswith("<h1>Hi Ada</h1>")


def test_an_html_template_may_be_as_long_as_a_designed_e_mail_and_past_the_limit_is_refused_naming_it(
    client: TestClient, marketer: dict[str, str]
) -> None:
    row = '<tr><td style="padding:8px">{{ first_name }}, this week only: 10% off everything in store</td></tr>'
    designed = "<table>" + row * 900 + "</table>"  # about 89 kB, as a long newsletter's markup
    body = {"name": "Newsletter", "channel": "email", "subject": "News", "template": OFFER,
            "audience_rule": data.BIG_SPENDERS}  # fmt: skip

    saved = client.post("/v1/campaigns", json={**body, "html_template": designed}, headers=marketer)
    too_long = client.post("/v1/campaigns", json={**body, "html_template": "x" * 102_401}, headers=marketer)

    assert 80_000 < len(designed) < 102_400
    assert saved.status_code == 201, saved.text
    [previewed] = client.get(f"/v1/campaigns/{saved.json()['id']}/preview?sample_size=1", headers=marketer).json()[
        "messages"
    ]
    assert (previewed["error"], previewed["html"].count("Ada, this week only")) == (None, 900)
    assert too_long.status_code == 422
    assert "102400" in too_long.text


def test_the_lifecycle_from_launch_to_cancel(
    client: TestClient, marketer: dict[str, str], database: Engine, redis_client: redis.Redis
) -> None:
    campaign = create(client, marketer)
    url = f"/v1/campaigns/{campaign['id']}"
    assert client.post(f"{url}/pause", headers=marketer).status_code == 409

    assert client.post(f"{url}/schedule", json={}, headers=marketer).json()["status"] == "scheduled"
    launch_now(database, redis_client, campaign["id"])
    sending = client.get(url, headers=marketer).json()
    assert (sending["status"], sending["audience_size"], sending["counts"]["queued"]) == ("sending", 3, 3)
    assert sending["frozen_rule"] == data.BIG_SPENDERS

    assert client.post(f"{url}/pause", headers=marketer).json()["status"] == "paused"
    assert client.post(f"{url}/resume", headers=marketer).json()["status"] == "sending"
    cancelled = client.post(f"{url}/cancel", headers=marketer).json()
    assert cancelled["status"] == "cancelled"
    assert cancelled["completed_at"] is not None

    target = f"campaign:{campaign['id']}"
    actions = [entry.action for entry in list_entries(database, limit=20) if entry.target == target]
    assert actions == [
        "campaign.cancelled",
        "campaign.resumed",
        "campaign.paused",
        "campaign.scheduled",
        "campaign.created",
    ]
    assert {entry.actor for entry in list_entries(database, limit=20)} >= {"marketer@shop.example"}


def test_a_launch_being_retried_shows_why_and_one_given_up_on_can_be_tried_again(
    client: TestClient, marketer: dict[str, str], database: Engine, redis_client: redis.Redis
) -> None:
    campaign = create(client, marketer)
    url = f"/v1/campaigns/{campaign['id']}"
    assert client.post(f"{url}/relaunch", headers=marketer).status_code == 409  # a draft has nothing to try again
    client.post(f"{url}/schedule", json={}, headers=marketer)
    [due] = due_campaigns(database, datetime.now(UTC))
    timed_out = "DagsterUserCodeUnreachableError: User code server request timed out"

    record_launch_attempts(database, due, 2, timed_out)  # as the pipelines record it between attempts
    retrying = client.get(url, headers=marketer).json()
    assert (retrying["status"], retrying["launch_attempts"], retrying["launch_error"]) == ("scheduled", 2, timed_out)

    assert give_up_launch(database, due, 5, timed_out)
    failed = client.get(url, headers=marketer).json()
    assert (failed["status"], failed["launch_attempts"]) == ("failed", 5)
    assert failed["failure_reason"] == f"the launch failed 5 times; the last attempt: {timed_out}"

    again = client.post(f"{url}/relaunch", headers=marketer).json()
    assert (again["status"], again["launch_attempts"], again["failure_reason"]) == ("scheduled", 0, None)
    launch_now(database, redis_client, campaign["id"])
    assert client.get(url, headers=marketer).json()["status"] == "sending"
    assert client.post(f"{url}/relaunch", headers=marketer).status_code == 409
    actions = [
        entry.action for entry in list_entries(database, limit=20) if entry.target == f"campaign:{campaign['id']}"
    ]
    assert actions[:2] == ["campaign.relaunched", "campaign.launch_given_up"]


def test_the_communication_log_is_filtered_and_paged(
    client: TestClient, marketer: dict[str, str], database: Engine, redis_client: redis.Redis
) -> None:
    campaign = _launched(client, marketer, database, redis_client)
    url = f"/v1/campaigns/{campaign['id']}"
    _settle(database, campaign["id"], failed={4: "invalid number"})

    first = client.get(f"{url}/messages", params={"limit": 2}, headers=marketer).json()
    rest = client.get(f"{url}/messages", params={"limit": 2, "cursor": first["next_cursor"]}, headers=marketer).json()
    failed = client.get(f"{url}/messages", params={"status": "failed"}, headers=marketer).json()["messages"]
    by_reason = client.get(f"{url}/messages", params={"reason": "INVALID"}, headers=marketer).json()["messages"]
    one = client.get(f"{url}/messages", params={"customer_id": 5}, headers=marketer).json()["messages"]

    assert [m["customer_id"] for m in first["messages"] + rest["messages"]] == [1, 4, 5]
    assert rest["next_cursor"] is None
    assert (
        [(m["customer_id"], m["reason"]) for m in failed]
        == [(4, "invalid number")]
        == [(m["customer_id"], m["reason"]) for m in by_reason]
    )
    assert one[0]["status"] == "delivered"
    assert one[0]["message"] == "Hi Noor, here is 10% off!\nReply STOP to opt out"
    assert client.get(f"{url}/messages", params={"status": "lost"}, headers=marketer).status_code == 422


def test_the_timeline_counts_each_step_in_its_bucket(
    client: TestClient, marketer: dict[str, str], database: Engine, redis_client: redis.Redis
) -> None:
    campaign = _launched(client, marketer, database, redis_client)
    ten, eleven = datetime(2026, 11, 25, 10, 5, tzinfo=UTC), datetime(2026, 11, 25, 11, 30, tzinfo=UTC)
    with database.begin() as conn:  # all sent at 10:05; 1 and 4 delivered at 10:05, 5 failed at 11:30
        conn.execute(
            text(
                "UPDATE communication_log SET sent_at = :ten, delivered_at = CASE WHEN customer_id = 5 THEN NULL "
                "ELSE :ten END, failed_at = CASE WHEN customer_id = 5 THEN :eleven END WHERE campaign_id = :id"
            ),
            {"ten": ten, "eleven": eleven, "id": campaign["id"]},
        )

    points = client.get(f"/v1/campaigns/{campaign['id']}/timeline", params={"bucket_s": 3600}, headers=marketer)

    assert points.json()["points"] == [
        {"at": "2026-11-25T10:00:00Z", "sent": 3, "delivered": 2, "failed": 0},
        {"at": "2026-11-25T11:00:00Z", "sent": 0, "delivered": 0, "failed": 1},
    ]


def test_a_reason_filter_takes_wildcards_literally(
    client: TestClient, marketer: dict[str, str], database: Engine, redis_client: redis.Redis
) -> None:
    campaign = _launched(client, marketer, database, redis_client)
    _settle(database, campaign["id"], failed={1: "quota at 100%", 4: "quota at 1000 messages"})

    found = client.get(f"/v1/campaigns/{campaign['id']}/messages", params={"reason": "100%"}, headers=marketer)

    assert [message["customer_id"] for message in found.json()["messages"]] == [1]


def test_retry_the_failed_goes_only_to_the_failed_that_can_succeed(
    client: TestClient, marketer: dict[str, str], database: Engine, redis_client: redis.Redis
) -> None:
    campaign = _launched(client, marketer, database, redis_client)
    url = f"/v1/campaigns/{campaign['id']}"
    assert client.post(f"{url}/retry-failed", headers=marketer).status_code == 409  # still sending
    _settle(database, campaign["id"], failed={1: "timeout", 4: "unsubscribed", 5: "carrier rejected"}, complete=True)

    planned = client.get(f"{url}/retry-failed", headers=marketer)
    retry = client.post(f"{url}/retry-failed", headers=marketer)

    assert planned.json() == {"retrying": 2, "left_out": {"unsubscribed": 1}}
    assert retry.status_code == 201, retry.text
    follow_up = retry.json()["follow_up"]
    assert retry.json() == {"follow_up": follow_up, "retrying": 2, "left_out": {"unsubscribed": 1}}
    child = client.get(f"/v1/campaigns/{follow_up}", headers=marketer).json()
    assert (child["parent_campaign_id"], child["status"]) == (campaign["id"], "scheduled")
    preview = client.get(f"/v1/campaigns/{follow_up}/preview", headers=marketer).json()
    assert [message["customer_id"] for message in preview["messages"]] == [1, 5]
    [audited] = [entry for entry in list_entries(database, limit=20) if entry.action == "campaign.retried"]
    assert audited.detail == retry.json()
    again = client.post(f"{url}/retry-failed", headers=marketer)
    assert again.status_code == 409  # a double click sends nothing twice
    assert str(follow_up) in again.json()["detail"]
    launch_now(database, redis_client, follow_up)
    messages = client.get(f"/v1/campaigns/{follow_up}/messages", headers=marketer).json()["messages"]
    assert [message["customer_id"] for message in messages] == [1, 5]


def test_retry_is_refused_when_every_failure_was_permanent_saying_why(
    client: TestClient, marketer: dict[str, str], database: Engine, redis_client: redis.Redis
) -> None:
    campaign = _launched(client, marketer, database, redis_client)
    _settle(database, campaign["id"], failed={1: "unsubscribed", 4: "invalid number", 5: "unsubscribed"}, complete=True)

    response = client.post(f"/v1/campaigns/{campaign['id']}/retry-failed", headers=marketer)

    assert (response.status_code, response.json()["error"]) == (422, "nothing_to_retry")
    assert response.json()["detail"]["left_out"] == {"unsubscribed": 2, "invalid number": 1}
    assert "none of" in response.json()["detail"]["message"]
    assert "2 unsubscribed, 1 invalid number" in response.json()["detail"]["message"]
    assert [c["id"] for c in client.get("/v1/campaigns", headers=marketer).json()] == [campaign["id"]]


def test_retry_is_refused_when_nothing_failed(
    client: TestClient, marketer: dict[str, str], database: Engine, redis_client: redis.Redis
) -> None:
    campaign = _launched(client, marketer, database, redis_client)
    _settle(database, campaign["id"], failed={}, complete=True)

    response = client.post(f"/v1/campaigns/{campaign['id']}/retry-failed", headers=marketer)

    assert response.status_code == 422
    assert "no failed messages" in response.json()["detail"]


def test_viewers_read_and_only_marketers_change(client: TestClient, marketer: dict[str, str], database: Engine) -> None:
    campaign = create(client, marketer)
    viewer = auth_headers(database, "viewer", "viewer@shop.example")
    analyst = auth_headers(database, "analyst", "analyst@shop.example")
    body = {"name": "Mine", "channel": "sms", "template": OFFER, "audience_rule": data.BIG_SPENDERS}

    assert client.get("/v1/campaigns", headers=viewer).status_code == 200
    assert client.get(f"/v1/campaigns/{campaign['id']}", headers=viewer).status_code == 200
    assert client.post("/v1/campaigns", json=body, headers=analyst).status_code == 403
    assert client.post(f"/v1/campaigns/{campaign['id']}/schedule", json={}, headers=analyst).status_code == 403
    assert client.get(f"/v1/campaigns/{campaign['id']}/messages", headers=viewer).status_code == 403


def test_an_unknown_campaign_is_404(client: TestClient, marketer: dict[str, str], published: Snapshot) -> None:
    for method, path in [("GET", ""), ("GET", "/messages"), ("POST", "/cancel"), ("GET", "/events")]:
        response = client.request(method, f"/v1/campaigns/424242{path}", headers=marketer)
        assert response.status_code == 404, path
        assert "424242" in response.json()["detail"]


def _segment(client: TestClient, headers: dict[str, str]) -> int:
    body = {"name": f"Big spenders {datetime.now(UTC).timestamp()}", "rule": data.BIG_SPENDERS}
    response = client.post("/v1/segments", json=body, headers=headers)
    assert response.status_code == 201, response.text
    segment_id: int = response.json()["id"]
    return segment_id


def _launched(
    client: TestClient, headers: dict[str, str], database: Engine, redis_client: redis.Redis
) -> dict[str, Any]:
    campaign = create(client, headers)
    client.post(f"/v1/campaigns/{campaign['id']}/schedule", json={}, headers=headers)
    launch_now(database, redis_client, campaign["id"])
    return campaign


def _settle(db: Engine, campaign_id: object, *, failed: dict[int, str], complete: bool = False) -> None:
    """Every message sent; those in `failed` failed with their reason (and its kind, as the sender and the
    receipts applier record it), the others delivered."""
    with db.begin() as conn:
        conn.execute(
            text(
                "UPDATE communication_log SET status = 'delivered', sent_at = now(), delivered_at = now() "
                "WHERE campaign_id = :id"
            ),
            {"id": campaign_id},
        )
        for customer_id, reason in failed.items():
            conn.execute(
                text(
                    "UPDATE communication_log SET status = 'failed', reason = :reason, failure_kind = :kind, "
                    "delivered_at = NULL, failed_at = now() WHERE campaign_id = :id AND customer_id = :customer_id"
                ),
                {"id": campaign_id, "customer_id": customer_id, "reason": reason, "kind": failure_kind(reason)},
            )
        if complete:
            conn.execute(text("UPDATE campaigns SET status = 'completed' WHERE id = :id"), {"id": campaign_id})


def test_a_preview_says_how_many_would_actually_receive_it_as_the_launch_then_does(
    client: TestClient,
    marketer: dict[str, str],
    database: Engine,
    redis_client: redis.Redis,
    configure: Callable[..., Settings],
) -> None:
    configure(XENO_QUIET_HOURS_START="", XENO_QUIET_HOURS_END="")
    with database.begin() as conn:  # Ada (1) replied STOP; Sam (4) left the offers; Noor (5) may be messaged
        suppress(conn, "sms", "+447700900001", "stop", "test")
        preferences.save_topic(conn, preferences.Topic("offers", "Offers", ""))
        preferences.set_topic(conn, 4, "offers", False, "test")
    body = {"template": OFFER, "audience_rule": data.BIG_SPENDERS, "channel": "sms"}

    unsaved = client.post("/v1/campaigns/preview", json=body, headers=marketer).json()
    unsaved_offer = client.post("/v1/campaigns/preview", json={**body, "topic": "offers"}, headers=marketer).json()
    campaign = create(client, marketer, topic="offers")
    saved = client.get(f"/v1/campaigns/{campaign['id']}/preview", headers=marketer).json()
    client.post(f"/v1/campaigns/{campaign['id']}/schedule", json={}, headers=marketer)
    report = launch_now(database, redis_client, campaign["id"])

    skipped = {"suppressed: replied STOP": 1, "left the topic 'offers'": 1}
    assert unsaved_offer["reach"] == saved["reach"] == {
        "channel": "sms", "audience": 3, "receiving": 1, "held": 0, "skipped": skipped
    }  # fmt: skip
    assert (report.queued, report.skipped) == (1, skipped)
    assert unsaved["reach"]["skipped"] == {"suppressed: replied STOP": 1}  # Sam left the offers only
