"""The due-campaigns sensor asks for a launch run per due campaign, and again after a run that failed, died or
found nothing to do, until the campaign launches or is given up on; the job launches."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import dagster as dg
import orjson
import redis
from sqlalchemy import Engine, text

from engine import streams
from engine.campaigns.audience import AudienceSource, FrameAudience
from engine.campaigns.lifecycle import relaunch_campaign, schedule_campaign, unschedule_campaign
from engine.campaigns.progress import get_campaign
from engine.campaigns.queue import DeliveryEntry
from engine.notifications.watch import watch_once
from engine.settings import Settings, get_settings
from pipelines.definitions import defs
from pipelines.defs.campaigns.jobs import launch_campaign_job
from pipelines.defs.campaigns.resources import CampaignAudience
from pipelines.defs.campaigns.sensors import due_campaigns_sensor
from pipelines.defs.resources import XenoResource
from tests.engine.campaigns.helpers import features, new_campaign

NOW = datetime.now(UTC)


class TenCustomers(CampaignAudience):
    """A launch audience of ten customers, instead of the newest published snapshot."""

    def source(self) -> AudienceSource:
        return FrameAudience(features(10), version="test-snapshot")


def evaluate(instance: dg.DagsterInstance) -> dg.SensorResult | dg.SkipReason:
    context = dg.build_sensor_context(instance=instance, resources={"xeno": XenoResource()})
    return due_campaigns_sensor(context)  # type: ignore[return-value]


def requested(result: dg.SensorResult | dg.SkipReason) -> list[dg.RunRequest]:
    assert isinstance(result, dg.SensorResult), result
    return list(result.run_requests or [])


def launch_run(
    campaign_id: int, instance: dg.DagsterInstance | None = None, request: dg.RunRequest | None = None
) -> dg.ExecuteInProcessResult:
    """The launch job run as the sensor's request would run it (with its tags), to ten customers."""
    return launch_campaign_job.execute_in_process(
        run_config={"ops": {"launch_campaign_op": {"config": {"campaign_id": campaign_id}}}},
        resources={"xeno": XenoResource(), "campaign_audience": TenCustomers()},
        raise_on_error=False,
        instance=instance,
        tags=request.tags if request else None,
    )


def fail_a_run(instance: dg.DagsterInstance, request: dg.RunRequest, why: str) -> None:
    """A run of `request` that failed before it could launch anything (its process died, the code server
    timed out)."""
    run = instance.create_run_for_job(
        launch_campaign_job, status=dg.DagsterRunStatus.STARTED, tags=request.tags, run_config=request.run_config
    )
    instance.report_run_failed(run, why)


def test_the_definitions_load() -> None:
    assert defs.resolve_job_def("launch_campaign_job") is not None
    assert defs.resolve_sensor_def("due_campaigns_sensor").job_name == "launch_campaign_job"


def test_the_sensor_skips_when_nothing_is_due(database: Engine, instance: dg.DagsterInstance) -> None:
    new_campaign(database, at=NOW + timedelta(hours=1))

    skipped = evaluate(instance)

    assert isinstance(skipped, dg.SkipReason)
    assert "no campaign launch is due" in (skipped.skip_message or "")


def test_the_sensor_requests_one_run_per_due_campaign_keyed_by_its_id_scheduling_and_attempt(
    database: Engine, instance: dg.DagsterInstance
) -> None:
    first = new_campaign(database, at=NOW - timedelta(minutes=5))
    second = new_campaign(database, at=NOW - timedelta(seconds=1))
    new_campaign(database, at=NOW + timedelta(hours=1))

    requests = requested(evaluate(instance))

    assert [request.run_key for request in requests] == [f"campaign-{first}-1-1", f"campaign-{second}-1-1"]
    assert requests[0].run_config == {"ops": {"launch_campaign_op": {"config": {"campaign_id": first}}}}
    assert requests[0].tags == {"xeno/campaign": str(first), "xeno/schedule": "1"}


def test_a_launch_run_that_failed_is_tried_again_under_a_new_key_after_the_backoff(
    database: Engine, instance: dg.DagsterInstance, configure: Callable[..., Settings]
) -> None:
    campaign_id = new_campaign(database, at=NOW - timedelta(seconds=1))
    [first] = requested(evaluate(instance))
    fail_a_run(instance, first, "DagsterUserCodeUnreachableError: User code server request timed out")

    configure(XENO_PIPELINE_RETRY_BACKOFF_S="3600")
    waiting = evaluate(instance)
    assert isinstance(waiting, dg.SkipReason)
    assert f"campaign {campaign_id}: attempt 2 in" in (waiting.skip_message or "")
    campaign = get_campaign(database, campaign_id)
    assert (campaign.status, campaign.launch_attempts) == ("scheduled", 1)
    assert "User code server request timed out" in (campaign.launch_error or "")

    configure(XENO_PIPELINE_RETRY_BACKOFF_S="0.001")
    [second] = requested(evaluate(instance))
    assert str(second.run_key).startswith(f"campaign-{campaign_id}-1-2-after-")
    assert launch_run(campaign_id, instance, second).success
    assert get_campaign(database, campaign_id).status == "sending"
    assert isinstance(evaluate(instance), dg.SkipReason)


def test_a_launch_that_keeps_failing_fails_the_campaign_with_the_reason_and_try_again_launches_it(
    database: Engine, redis_client: redis.Redis, instance: dg.DagsterInstance, configure: Callable[..., Settings]
) -> None:
    configure(XENO_PIPELINE_RETRY_BACKOFF_S="0.001", XENO_LAUNCH_MAX_ATTEMPTS="2")
    campaign_id = new_campaign(database, at=NOW - timedelta(seconds=1))
    for _ in range(2):
        [request] = requested(evaluate(instance))
        fail_a_run(instance, request, "psycopg.OperationalError: connection refused")

    given_up = evaluate(instance)

    assert isinstance(given_up, dg.SkipReason)
    campaign = get_campaign(database, campaign_id)
    assert campaign.status == "failed"
    assert campaign.failure_reason == (
        "the launch failed 2 times; the last attempt: psycopg.OperationalError: connection refused"
    )
    announced = watch_once(database, get_settings(), datetime.now(UTC))
    with database.connect() as conn:
        kinds = conn.execute(
            text("SELECT kind, campaign_id FROM notifications WHERE id = ANY(:ids)"), {"ids": announced}
        )
        assert ("campaign_failed", campaign_id) in [tuple(row) for row in kinds]

    relaunch_campaign(database, campaign_id)
    [again] = requested(evaluate(instance))
    assert again.run_key == f"campaign-{campaign_id}-2-1"
    assert launch_run(campaign_id, instance, again).success
    assert get_campaign(database, campaign_id).status == "sending"


def test_unscheduling_before_the_run_starts_and_scheduling_again_still_launches(
    database: Engine, instance: dg.DagsterInstance
) -> None:
    campaign_id = new_campaign(database, at=NOW - timedelta(seconds=1))
    [first] = requested(evaluate(instance))
    unschedule_campaign(database, campaign_id)
    assert launch_run(campaign_id, instance, first).success  # finds a draft: nothing to do
    schedule_campaign(database, campaign_id, NOW - timedelta(seconds=1))

    [second] = requested(evaluate(instance))

    assert second.run_key == f"campaign-{campaign_id}-2-1"
    assert launch_run(campaign_id, instance, second).success
    assert get_campaign(database, campaign_id).status == "sending"


def test_a_launch_whose_run_died_while_publishing_is_finished_by_another_run(
    database: Engine, redis_client: redis.Redis, instance: dg.DagsterInstance, configure: Callable[..., Settings]
) -> None:
    configure(XENO_QUIET_HOURS_START="", XENO_QUIET_HOURS_END="")  # every message queued, whatever the hour
    campaign_id = new_campaign(database, at=NOW - timedelta(seconds=1))
    [first] = requested(evaluate(instance))
    assert launch_run(campaign_id, instance, first).success
    delivery = get_settings().stream("delivery")
    assert messages_on(redis_client, delivery) == 10
    # As if the run had died after committing the log and before publishing it: nothing on the stream yet.
    redis_client.delete(delivery)
    with database.begin() as conn:
        conn.execute(
            text("UPDATE campaigns SET published_at = NULL, published_through = 0 WHERE id = :id"), {"id": campaign_id}
        )

    [second] = requested(evaluate(instance))
    assert str(second.run_key).startswith(f"campaign-{campaign_id}-1-2-after-")
    assert launch_run(campaign_id, instance, second).success

    assert messages_on(redis_client, delivery) == 10
    assert isinstance(evaluate(instance), dg.SkipReason)


def messages_on(client: redis.Redis, stream: str) -> int:
    """How many messages the delivery stream's entries hold."""
    entries: Any = client.xrange(stream)
    return sum(len(DeliveryEntry.from_payload(orjson.loads(fields[streams.PAYLOAD])).messages) for _, fields in entries)


def test_the_job_launches_the_campaign_and_reports_its_counts(
    database: Engine, redis_client: redis.Redis, instance: dg.DagsterInstance, json_log_lines: list[dict[str, Any]]
) -> None:
    campaign_id = new_campaign(database, at=NOW - timedelta(seconds=1))

    result = launch_run(campaign_id)

    assert result.success
    counts = result.output_for_node("launch_campaign_op")
    assert (counts["audience"], counts["skipped"]) == (10, 0)
    assert counts["queued"] + counts["deferred"] == 10  # deferred when the test runs in the quiet hours
    campaign = get_campaign(database, campaign_id)
    assert (campaign.status, campaign.snapshot_version, campaign.counts.total) == ("sending", "test-snapshot", 10)
    assert isinstance(evaluate(instance), dg.SkipReason)  # launched: no longer due
    [launched] = [line for line in json_log_lines if line["logger"] == "engine.campaigns.launch"]
    assert (launched["campaign_id"], launched["dagster_run_id"]) == (campaign_id, result.run_id)


def test_a_launch_the_campaign_refuses_fails_the_run_and_the_campaign(
    database: Engine, redis_client: redis.Redis
) -> None:
    not_in_the_snapshot = {"field": "days_since_last_order", "op": "<", "value": 30}
    campaign_id = new_campaign(database, at=NOW - timedelta(seconds=1), rule=not_in_the_snapshot)

    result = launch_run(campaign_id)

    assert not result.success
    [failure] = [event for event in result.all_events if event.is_step_failure]
    assert "days_since_last_order" in str(failure.event_specific_data)
    campaign = get_campaign(database, campaign_id)
    assert campaign.status == "failed"
    assert "days_since_last_order" in (campaign.failure_reason or "")


def test_rescheduling_while_a_launch_run_is_under_way_waits_for_it_instead_of_launching_twice(
    database: Engine, instance: dg.DagsterInstance
) -> None:
    campaign_id = new_campaign(database, at=NOW - timedelta(seconds=1))
    [first] = requested(evaluate(instance))
    instance.create_run_for_job(
        launch_campaign_job, status=dg.DagsterRunStatus.STARTED, tags=first.tags, run_config=first.run_config
    )
    unschedule_campaign(database, campaign_id)
    schedule_campaign(database, campaign_id, NOW - timedelta(seconds=1))  # a new scheduling, seq 2

    waiting = evaluate(instance)

    assert isinstance(waiting, dg.SkipReason)
    assert f"campaign {campaign_id}: run" in (waiting.skip_message or "")
