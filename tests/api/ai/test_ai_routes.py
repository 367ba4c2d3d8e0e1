"""The AI routes end to end in the API: rule suggestions with their count, assumptions, skipped words and
questions, refusals as 422 that point at the words, message suggestions for an audience, images through the AI
queue, the call log, roles."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import Engine

from api.ai.audience import audience_evaluator
from api.main import create_app
from engine.ai import queue
from engine.ai.evals.frames import synthetic_snapshot
from engine.ai.jobs import HANDLERS
from engine.auth.roles import Role
from engine.auth.sessions import start_session
from engine.auth.users import record_sign_in
from engine.segments import parse_rule
from engine.segments.polars_backend import PolarsEvaluator
from engine.segments.store import create_segment
from engine.settings import Settings, get_settings
from tests.engine.ai.loopback import Answer, ScriptedChat, serving

SNAPSHOT = synthetic_snapshot(customers=500, seed=3)
EVALUATOR = PolarsEvaluator(SNAPSHOT.features, SNAPSHOT.events, now=SNAPSHOT.now, catalog=SNAPSHOT.catalog)


@pytest.fixture
def client(database: Engine, redis_client: redis.Redis) -> Iterator[TestClient]:
    """The API with the synthetic snapshot as its current one."""
    app = create_app()
    app.dependency_overrides[audience_evaluator] = lambda: EVALUATOR
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def no_snapshot_client(database: Engine, redis_client: redis.Redis) -> Iterator[TestClient]:
    app = create_app()
    app.dependency_overrides[audience_evaluator] = lambda: None
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def sign_in(database: Engine) -> Callable[..., dict[str, str]]:
    def headers(role: Role, email: str | None = None) -> dict[str, str]:
        with database.begin() as conn:
            user = record_sign_in(conn, email or f"{role}@shop.example", role.title(), role)
            token = start_session(conn, get_settings(), user, "test").access_token
        return {"Authorization": f"Bearer {token}"}

    return headers


def test_a_sentence_becomes_a_rule_with_its_english_and_its_audience_count(
    client: TestClient, sign_in: Callable[..., dict[str, str]]
) -> None:
    text = "customers in Mumbai or Delhi who spent over ₹10K"
    answer = client.post("/v1/ai/segment-rule", json={"text": text}, headers=sign_in(Role.analyst))

    assert answer.status_code == 200, answer.text
    body = answer.json()
    rule = parse_rule(body["rule"], SNAPSHOT.catalog)
    assert body["english"] == 'customers whose city is one of "Mumbai", "Delhi" and whose total spend is over 10,000'
    assert body["count"] == EVALUATOR.count(rule) > 0
    assert (body["provider"], body["model"], body["repaired"], body["notes"]) == ("local", None, False, [])


def test_vips_in_bangalore_get_a_rule_with_the_assumption_the_skipped_words_and_questions_to_confirm(
    client: TestClient, sign_in: Callable[..., dict[str, str]]
) -> None:
    text = "VIPs in Bangalore who haven't ordered in 2 months and love sarees"
    answer = client.post("/v1/ai/segment-rule", json={"text": text}, headers=sign_in(Role.analyst))

    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["rule"]["and"][:2] == [
        {"field": "total_spend", "op": ">=", "value": 50000},
        {"field": "city", "op": "=", "value": "Bengaluru"},
    ]
    assert body["assumptions"] == [{"words": "VIPs", "meaning": "total spend of ₹50,000 or more"}]
    assert body["skipped"] == [{"start": 54, "end": 65, "text": "love sarees", "reason": "not understood"}]
    assert body["questions"] == [
        "By “VIPs” I assumed total spend of ₹50,000 or more. Is that what you meant?",
        "I left out “love sarees” (not understood). What did you mean by it?",
    ]


def test_without_a_snapshot_the_rule_comes_back_with_no_count_and_a_note(
    no_snapshot_client: TestClient, sign_in: Callable[..., dict[str, str]]
) -> None:
    answer = no_snapshot_client.post(
        "/v1/ai/segment-rule", json={"text": "opted in to SMS"}, headers=sign_in(Role.analyst)
    )

    assert answer.status_code == 200
    assert answer.json()["count"] is None
    assert answer.json()["notes"] == ["No feature snapshot has been published yet, so the audience size is unknown."]


def test_words_that_cannot_be_read_are_a_422_pointing_at_them_and_the_call_is_logged(
    client: TestClient, sign_in: Callable[..., dict[str, str]]
) -> None:
    headers = sign_in(Role.analyst)
    answer = client.post("/v1/ai/segment-rule", json={"text": "customers who love our brand"}, headers=headers)

    assert answer.status_code == 422
    body = answer.json()
    assert body["error"] == "not_understood"
    assert body["detail"]["unparsed"] == [
        {"start": 14, "end": 28, "text": "love our brand", "reason": "not understood"}
    ]
    [call] = client.get("/v1/ai/calls", headers=headers).json()["calls"]
    assert (call["id"], call["kind"], call["outcome"], call["output"]) == (
        body["detail"]["call_id"], "segment_rule", "refused", None
    )  # fmt: skip
    assert call["input"] == {"text": "customers who love our brand"}


def test_with_a_language_model_configured_the_route_answers_from_it_and_logs_the_model(
    client: TestClient, sign_in: Callable[..., dict[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    chat = ScriptedChat([Answer({"rule": {"field": "sms_consent", "op": "=", "value": True}, "cannot": None})])
    with serving(chat.app()) as url:
        monkeypatch.setenv("XENO_AI_BASE_URL", f"{url}/v1")
        monkeypatch.setenv("XENO_AI_MODEL", "loopback-model")
        get_settings.cache_clear()
        try:
            answer = client.post("/v1/ai/segment-rule", json={"text": "SMS opt-ins"}, headers=sign_in(Role.analyst))
        finally:
            monkeypatch.undo()
            get_settings.cache_clear()

    assert answer.status_code == 200
    assert (answer.json()["provider"], answer.json()["model"]) == ("openai", "loopback-model")
    assert answer.json()["rule"] == {"field": "sms_consent", "op": "=", "value": True}


def test_message_suggestions_for_a_saved_segment_are_valid_and_tailored_to_it(
    client: TestClient, sign_in: Callable[..., dict[str, str]], database: Engine
) -> None:
    rule = parse_rule({"field": "last_order_at", "op": "more than days ago", "value": 90}, SNAPSHOT.catalog)
    segment = create_segment(database, name="Lapsed", rule=rule, owner_id=None)
    request = {"objective": "win back lapsed customers", "channel": "sms", "segment_id": segment.id, "brand": "Kurta"}

    answer = client.post("/v1/ai/messages", json=request, headers=sign_in(Role.marketer))

    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["intent"] == "win_back"
    assert [variant["tone"] for variant in body["variants"]] == ["friendly", "urgent", "premium"]
    assert all(variant["longest_length"] <= 160 for variant in body["variants"])
    assert body["audience"]["size"] == EVALUATOR.count(rule)
    assert body["audience"]["summary"].startswith(f"{EVALUATOR.count(rule):,} customers; average spend ₹")
    assert "average order value" in body["notes"][0]


def test_messages_are_signed_with_the_senders_brand_from_the_settings_never_ours(
    client: TestClient, sign_in: Callable[..., dict[str, str]], configure: Callable[..., Settings]
) -> None:
    request = {"objective": "announce Diwali sale, up to 40% off on sarees", "channel": "email"}
    unset = client.post("/v1/ai/messages", json=request, headers=sign_in(Role.marketer))
    configure(XENO_BRAND_NAME="The Handloom Story")

    answer = client.post("/v1/ai/messages", json=request, headers=sign_in(Role.marketer))

    assert (unset.status_code, unset.json()["error"]) == (422, "no_brand")
    assert "XENO_BRAND_NAME" in unset.json()["detail"]
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["offer"] == ["up to 40% off", "sarees"]
    for variant in body["variants"]:
        assert variant["body"].endswith("\nThe Handloom Story team") or variant["body"].endswith("\nThe Handloom Story")
        assert "Xeno" not in variant["body"]
        assert "up to 40% off on sarees" in variant["body"]


@pytest.mark.parametrize(
    ("request_body", "status", "error"),
    [
        ({"objective": "sale", "channel": "sms", "segment_id": 999}, 404, "not_found"),
        ({"objective": "sale", "channel": "sms", "audience_rule": {"field": "nope", "op": "=", "value": 1}}, 422, None),
        ({"objective": "sale", "channel": "fax"}, 422, "invalid_request"),
        ({"objective": "sale", "channel": "sms", "tones": ["urgent", "urgent"]}, 422, "invalid_request"),
    ],
)
def test_bad_message_requests_are_refused_with_the_reason(
    client: TestClient,
    sign_in: Callable[..., dict[str, str]],
    request_body: dict[str, Any],
    status: int,
    error: str | None,
) -> None:
    answer = client.post("/v1/ai/messages", json=request_body, headers=sign_in(Role.marketer))

    assert answer.status_code == status
    if error is not None:
        assert answer.json()["error"] == error


def test_an_image_is_made_off_the_request_path_and_served_as_png(
    client: TestClient, sign_in: Callable[..., dict[str, str]], database: Engine, redis_client: redis.Redis
) -> None:
    headers = sign_in(Role.marketer)
    started = client.post(
        "/v1/ai/images", json={"message": "Monsoon sale", "width": 640, "height": 320}, headers=headers
    )
    assert started.status_code == 202
    job_id = started.json()["id"]
    assert client.get(f"/v1/ai/jobs/{job_id}", headers=headers).json()["status"] == "queued"

    queue.work_once(database, redis_client, get_settings(), HANDLERS)
    done = client.get(f"/v1/ai/jobs/{job_id}", headers=headers).json()
    image = client.get(f"/v1/ai/images/{done['result']['image_id']}", headers=sign_in(Role.viewer))

    assert done["status"] == "done"
    assert image.status_code == 200
    assert image.headers["content-type"] == "image/png"
    assert Image.open(io.BytesIO(image.content)).size == (640, 320)


def test_someone_elses_job_is_not_found(client: TestClient, sign_in: Callable[..., dict[str, str]]) -> None:
    started = client.post("/v1/ai/images", json={"message": "Hi"}, headers=sign_in(Role.marketer, "a@shop.example"))
    other = sign_in(Role.marketer, "b@shop.example")

    assert client.get(f"/v1/ai/jobs/{started.json()['id']}", headers=other).status_code == 404
    assert client.get(f"/v1/ai/jobs/{started.json()['id']}", headers=sign_in(Role.admin)).status_code == 200


def test_an_image_for_a_campaign_that_does_not_exist_is_refused(
    client: TestClient, sign_in: Callable[..., dict[str, str]]
) -> None:
    answer = client.post("/v1/ai/images", json={"message": "Hi", "campaign_id": 42}, headers=sign_in(Role.marketer))

    assert answer.status_code == 404


def test_users_see_and_rate_their_own_calls_and_admins_see_everyones(
    client: TestClient, sign_in: Callable[..., dict[str, str]]
) -> None:
    ada, bob, admin = (
        sign_in(Role.analyst, "ada@shop.example"),
        sign_in(Role.analyst, "bob@shop.example"),
        sign_in(Role.admin),
    )
    made = client.post("/v1/ai/segment-rule", json={"text": "never ordered"}, headers=ada).json()
    client.post("/v1/ai/segment-rule", json={"text": "opened an email"}, headers=bob)

    mine = client.get("/v1/ai/calls", headers=ada).json()["calls"]
    everyone = client.get("/v1/ai/calls", headers=admin).json()["calls"]
    rated = client.post(f"/v1/ai/calls/{made['call_id']}/feedback", json={"accepted": True}, headers=ada)

    assert [call["id"] for call in mine] == [made["call_id"]]
    assert len(everyone) == 2
    assert rated.status_code == 200
    assert rated.json()["accepted"] is True
    assert (
        client.post(f"/v1/ai/calls/{made['call_id']}/feedback", json={"accepted": False}, headers=bob).status_code
        == 404
    )
    assert client.get(f"/v1/ai/calls/{made['call_id']}", headers=bob).status_code == 404


@pytest.mark.parametrize(
    ("method", "path", "body", "role"),
    [
        ("POST", "/v1/ai/segment-rule", {"text": "opted in to SMS"}, Role.viewer),
        ("POST", "/v1/ai/messages", {"objective": "sale", "channel": "sms"}, Role.analyst),
        ("POST", "/v1/ai/images", {"message": "sale"}, Role.analyst),
        ("GET", "/v1/ai/calls", None, Role.viewer),
    ],
)
def test_each_route_refuses_a_role_below_the_one_it_needs(
    client: TestClient, sign_in: Callable[..., dict[str, str]], method: str, path: str, body: Any, role: Role
) -> None:
    answer = client.request(method, path, json=body, headers=sign_in(role))

    assert answer.status_code == 403


def test_ai_routes_are_rate_limited_per_user(
    client: TestClient, sign_in: Callable[..., dict[str, str]], configure: Callable[..., Settings]
) -> None:
    configure(XENO_RATE_LIMIT_AI="2/minute")
    headers = sign_in(Role.analyst)

    codes = [
        client.post("/v1/ai/segment-rule", json={"text": "never ordered"}, headers=headers).status_code
        for _ in range(3)
    ]

    assert codes == [200, 200, 429]
