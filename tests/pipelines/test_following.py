"""Following runs: the sensors' runs keep applying work as it comes and stop when idle; near the end of a run's
shift its sensor asks for a successor, and the run stops once that successor has started, so work never waits
for a run to start. The deltas job publishes what ingest touched, and its sensor keeps one run following."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path

import dagster as dg
import redis
from dagster._core.events import DagsterEvent, DagsterEventType
from dagster._core.events.log import EventLogEntry
from sqlalchemy import Engine

from engine.features.materialize import materialize_features
from engine.features.snapshot import latest_snapshot
from engine.settings import Settings
from pipelines.defs.features.jobs import publish_feature_deltas_job
from pipelines.defs.features.sensors import feature_deltas_sensor
from pipelines.defs.following import FOLLOW_TAG, RELIEF_LEAD_S, RELIEVES_TAG, SHIFT_S
from pipelines.defs.ingest.jobs import ingest_stream_job
from pipelines.defs.ingest.sensors import ingest_stream_sensor
from pipelines.defs.resources import XenoResource
from tests.pipelines.helpers import publish_customers

RESOURCES = {"xeno": XenoResource()}


def following(op: str, **config: float) -> dict[str, object]:
    return {"ops": {op: {"config": {"follow": True, **config}}}}


def started_run(instance: dg.DagsterInstance, job: dg.JobDefinition, seconds_ago: float = 0.0) -> dg.DagsterRun:
    """A following run of `job` that started `seconds_ago` (as the daemon's launch of a sensor's request leaves it)."""
    run = instance.create_run_for_job(job, status=dg.DagsterRunStatus.NOT_STARTED, tags={FOLLOW_TAG: "true"})
    event = DagsterEvent(event_type_value=DagsterEventType.RUN_START.value, job_name=run.job_name)
    instance.handle_new_event(
        EventLogEntry(
            error_info=None, level=logging.DEBUG, user_message="", run_id=run.run_id, job_name=run.job_name,
            timestamp=time.time() - seconds_ago, dagster_event=event,
        )
    )  # fmt: skip
    return run


def evaluate(sensor: dg.SensorDefinition, instance: dg.DagsterInstance) -> dg.RunRequest | dg.SkipReason:
    return sensor(dg.build_sensor_context(instance=instance, resources=RESOURCES))  # type: ignore[return-value]


def test_the_sensor_asks_for_a_following_run_while_entries_wait(redis_client: redis.Redis) -> None:
    publish_customers(redis_client, "a")
    with dg.instance_for_test() as instance:
        request = evaluate(ingest_stream_sensor, instance)

    assert isinstance(request, dg.RunRequest)
    assert request.tags[FOLLOW_TAG] == "true"
    assert request.run_config == following("drain_ingest_stream")


def test_a_following_run_applies_what_comes_and_stops_when_idle(database: Engine, redis_client: redis.Redis) -> None:
    publish_customers(redis_client, "a", "b")
    result = ingest_stream_job.execute_in_process(
        run_config=following("drain_ingest_stream", idle_s=1.0), resources=RESOURCES
    )

    assert result.success
    assert result.output_for_node("drain_ingest_stream")["applied"] == 2
    [output] = [event for event in result.events_for_node("drain_ingest_stream") if event.is_successful_output]
    assert output.step_output_data.metadata["stopped"].value == "idle"


def test_a_run_near_the_end_of_its_shift_gets_a_successor_even_with_nothing_waiting(
    redis_client: redis.Redis, configure: Callable[..., Settings]
) -> None:
    with dg.instance_for_test() as instance:
        fresh = started_run(instance, ingest_stream_job)
        assert "nothing waiting" in str(evaluate(ingest_stream_sensor, instance))
        instance.report_run_failed(fresh, "killed")  # out of the way: one following run at a time

        run = started_run(instance, ingest_stream_job, seconds_ago=SHIFT_S - RELIEF_LEAD_S)
        configure(XENO_PIPELINE_RETRY_BACKOFF_S="0.001")
        relief = evaluate(ingest_stream_sensor, instance)

        assert isinstance(relief, dg.RunRequest)
        assert relief.tags[RELIEVES_TAG] == run.run_id
        assert str(relief.run_key).startswith("drain-3-after-")
        started_run(instance, ingest_stream_job)
        assert "nothing waiting" in str(evaluate(ingest_stream_sensor, instance))  # two running: no third


def test_a_following_run_past_its_shift_stops_once_its_successor_has_started(
    database: Engine, redis_client: redis.Redis
) -> None:
    with dg.instance_for_test() as instance:
        started_run(instance, ingest_stream_job)  # the successor
        started = time.monotonic()
        result = ingest_stream_job.execute_in_process(
            run_config=following("drain_ingest_stream", shift_s=0.0), resources=RESOURCES, instance=instance
        )

    assert result.success
    [output] = [event for event in result.events_for_node("drain_ingest_stream") if event.is_successful_output]
    assert output.step_output_data.metadata["stopped"].value == "relieved"
    assert time.monotonic() - started < 60


def test_the_deltas_sensor_and_job_publish_what_ingest_touched(
    database: Engine, redis_client: redis.Redis, tmp_path: Path, data_dir: Path
) -> None:
    publish_customers(redis_client, "a")
    assert ingest_stream_job.execute_in_process(resources=RESOURCES).success
    with dg.instance_for_test() as instance:
        no_snapshot = evaluate(feature_deltas_sensor, instance)
        materialize_features(database, data_dir / "snapshots")
        publish_customers(redis_client, "b")
        assert ingest_stream_job.execute_in_process(resources=RESOURCES).success
        request = evaluate(feature_deltas_sensor, instance)

        result = publish_feature_deltas_job.execute_in_process(resources=RESOURCES, instance=instance)
        nothing_left = evaluate(feature_deltas_sensor, instance)

    assert isinstance(no_snapshot, dg.SkipReason)
    assert isinstance(request, dg.RunRequest)
    assert request.run_config == following("publish_feature_deltas")
    assert result.success
    assert result.output_for_node("publish_feature_deltas") == {"deltas": 1, "customers": 2}
    assert isinstance(nothing_left, dg.SkipReason)
    snapshot = latest_snapshot(database)
    assert snapshot is not None
    assert sorted(snapshot.features["external_id"].to_list()) == ["a", "b"]
