"""The AI queue (jobs off the request path, results kept for polling) and the log of AI calls."""

from __future__ import annotations

import io
from typing import Any

import pytest
import redis
from PIL import Image
from sqlalchemy import Engine

from engine.ai import calls, queue
from engine.ai.images import get_image
from engine.ai.jobs import HANDLERS
from engine.auth.roles import Role
from engine.auth.users import record_sign_in
from engine.settings import Settings, get_settings
from tests.fixtures.metrics import scrape, value


def a_user(database: Engine) -> int:
    with database.begin() as conn:
        return record_sign_in(conn, "marketer@shop.example", "Marketer", Role.marketer).id


def test_an_image_job_is_queued_worked_and_its_result_kept_for_polling(
    database: Engine, redis_client: redis.Redis
) -> None:
    settings = get_settings()
    user_id = a_user(database)
    payload = {"message": "Monsoon sale: 30% off", "width": 800, "height": 400, "colors": ["#0F766E", "#22D3EE"]}

    job = queue.enqueue(redis_client, settings, "image", payload, user_id)
    waiting = queue.get_job(redis_client, settings, job.id)
    ran = queue.work_once(database, redis_client, settings, HANDLERS)
    done = queue.get_job(redis_client, settings, job.id)

    assert waiting is not None
    assert (waiting.status, waiting.user_id) == ("queued", user_id)
    assert ran == 1
    assert done is not None
    assert done.status == "done"
    assert done.finished_at is not None
    assert done.result is not None
    assert done.result["provider"] == "offline"
    assert done.result["notes"] == []
    stored = get_image(database, done.result["image_id"])
    assert stored is not None
    assert (stored.width, stored.height, stored.created_by) == (800, 400, user_id)
    assert Image.open(io.BytesIO(stored.png)).size == (800, 400)
    call = calls.get_call(database, done.result["call_id"])
    assert call is not None
    assert (call.kind, call.provider, call.user_id) == ("image", "offline", user_id)
    assert redis_client.xlen(settings.stream("ai")) == 0  # acknowledged and deleted


def test_every_key_of_the_queue_is_under_the_installations_prefix(database: Engine, redis_client: redis.Redis) -> None:
    settings = get_settings()
    before = set(redis_client.scan_iter(match="*ai*"))  # other sessions may share this Redis database
    queue.enqueue(redis_client, settings, "image", {"message": "x", "width": 256, "height": 256}, None)

    keys = {key.decode() for key in set(redis_client.scan_iter(match="*ai*")) - before}

    assert keys
    assert all(key.startswith(f"{settings.redis_prefix}:") for key in keys)


def test_a_job_that_fails_is_marked_failed_with_its_reason_and_does_not_block_the_next(
    database: Engine, redis_client: redis.Redis
) -> None:
    settings = get_settings()

    def explode(_db: Engine, _settings: Settings, _payload: dict[str, Any], _user: int | None) -> dict[str, Any]:
        raise RuntimeError("boom")

    handlers = {**HANDLERS, "explode": explode}
    broken = queue.enqueue(redis_client, settings, "explode", {}, None)
    unknown = queue.enqueue(redis_client, settings, "video", {}, None)
    fine = queue.enqueue(redis_client, settings, "image", {"message": "ok", "width": 256, "height": 256}, None)

    assert queue.work_once(database, redis_client, settings, handlers) == 3
    states = {job.id: queue.get_job(redis_client, settings, job.id) for job in (broken, unknown, fine)}
    assert {job_id: (job.status, job.error) for job_id, job in states.items() if job} == {
        broken.id: ("failed", "the job failed unexpectedly; the error has been logged"),
        unknown.id: ("failed", "no worker handles 'video' jobs"),
        fine.id: ("done", None),
    }


def test_calls_are_logged_listed_newest_first_per_user_and_rated(database: Engine) -> None:
    user_id = a_user(database)
    first = calls.record_call(
        database, kind="segment_rule", question={"text": "a"}, answer={"rule": {}}, outcome="ok", provider="local",
        model=None, latency_ms=3, user_id=user_id,
    )  # fmt: skip
    second = calls.record_call(
        database, kind="messages", question={"objective": "b"}, answer=None, outcome="refused", provider="openai",
        model="m", latency_ms=900, user_id=None, notes=["timed out"],
    )  # fmt: skip

    assert [call.id for call in calls.list_calls(database)] == [second, first]
    assert [call.id for call in calls.list_calls(database, user_id=user_id)] == [first]
    assert [call.id for call in calls.list_calls(database, kind="messages")] == [second]
    rated = calls.set_feedback(database, first, accepted=True, feedback="saved as 'Lapsed VIPs'")
    assert rated is not None
    assert (rated.accepted, rated.feedback) == (True, "saved as 'Lapsed VIPs'")
    assert rated.feedback_at is not None
    assert calls.set_feedback(database, 10_000, accepted=False) is None


def test_ai_calls_are_counted_and_timed_by_kind_provider_and_outcome(database: Engine, worker_metrics: str) -> None:
    before = scrape(worker_metrics)

    calls.record_call(
        database, kind="segment_rule", question={"text": "a"}, answer=None, outcome="refused", provider="openai",
        model="m", latency_ms=1500, user_id=None,
    )  # fmt: skip

    after = scrape(worker_metrics)
    counted = {"kind": "segment_rule", "provider": "openai", "outcome": "refused"}
    assert value(after, "xeno_ai_calls_total", **counted) == value(before, "xeno_ai_calls_total", **counted) + 1
    timed = {"kind": "segment_rule", "provider": "openai"}
    seconds = "xeno_ai_call_duration_seconds_sum"
    assert value(after, seconds, **timed) == pytest.approx(value(before, seconds, **timed) + 1.5)
