"""The ingest sensor asks for a run while entries wait (each with a key of its own, again after a run that failed or
died, after a backoff); the job drains the stream."""

from __future__ import annotations

import re
from collections.abc import Callable

import dagster as dg
import redis
from sqlalchemy import Engine, text

from engine import streams
from engine.settings import Settings, get_settings
from pipelines.definitions import defs
from pipelines.defs.ingest.jobs import ingest_stream_job
from pipelines.defs.ingest.sensors import ingest_stream_sensor
from pipelines.defs.resources import XenoResource
from tests.pipelines.helpers import publish_customers


def evaluate(instance: dg.DagsterInstance, cursor: str | None) -> dg.SensorResult | dg.SkipReason:
    context = dg.build_sensor_context(instance=instance, cursor=cursor, resources={"xeno": XenoResource()})
    return ingest_stream_sensor(context)  # type: ignore[return-value]


def test_the_definitions_load() -> None:
    assert defs.resolve_job_def("ingest_stream_job") is not None
    assert defs.resolve_sensor_def("ingest_stream_sensor").job_name == "ingest_stream_job"


def test_the_sensor_skips_an_empty_stream_and_asks_for_one_run_per_tick_with_work(redis_client: redis.Redis) -> None:
    with dg.instance_for_test() as instance:
        skipped = evaluate(instance, cursor=None)
        assert isinstance(skipped, dg.SkipReason)
        assert "nothing waiting" in (skipped.skip_message or "")

        publish_customers(redis_client, "a", "b")
        result = evaluate(instance, cursor=None)
        assert isinstance(result, dg.SensorResult)
        assert [request.run_key for request in result.run_requests or []] == ["drain-1"]
        assert result.cursor == "1"

        again = evaluate(instance, cursor=result.cursor)
        assert isinstance(again, dg.SensorResult)
        assert [request.run_key for request in again.run_requests or []] == ["drain-2"]


def test_the_sensor_waits_while_a_run_is_draining(redis_client: redis.Redis) -> None:
    publish_customers(redis_client, "a")
    with dg.instance_for_test() as instance:
        instance.create_run_for_job(ingest_stream_job, status=dg.DagsterRunStatus.STARTED)
        waiting = evaluate(instance, cursor=None)
        assert isinstance(waiting, dg.SkipReason)
        assert "already draining" in (waiting.skip_message or "")


def fail_a_run(instance: dg.DagsterInstance, why: str) -> None:
    run = instance.create_run_for_job(ingest_stream_job, status=dg.DagsterRunStatus.STARTED)
    instance.report_run_failed(run, why)


def test_a_retry_that_also_dies_before_the_backlog_moves_is_followed_by_another_run(
    redis_client: redis.Redis, configure: Callable[..., Settings]
) -> None:
    publish_customers(redis_client, "a")
    configure(XENO_PIPELINE_RETRY_BACKOFF_S="0.001")
    cursor = None
    keys = []
    with dg.instance_for_test() as instance:
        for _ in range(3):  # each run dies (killed, or the code server did not answer) with the backlog untouched
            result = evaluate(instance, cursor)
            assert isinstance(result, dg.SensorResult)
            keys += [request.run_key for request in result.run_requests or []]
            cursor = result.cursor
            fail_a_run(instance, "DagsterUserCodeUnreachableError: User code server request timed out")

        assert keys == ["drain-1", "drain-2", "drain-3"]


def test_after_failed_runs_the_sensor_waits_a_growing_backoff_and_says_why(
    redis_client: redis.Redis, configure: Callable[..., Settings]
) -> None:
    publish_customers(redis_client, "a")
    configure(XENO_PIPELINE_RETRY_BACKOFF_S="600", XENO_PIPELINE_RETRY_BACKOFF_MAX_S="3600")
    with dg.instance_for_test() as instance:
        fail_a_run(instance, "connection to Postgres refused")
        first = evaluate(instance, cursor="1")
        fail_a_run(instance, "connection to Postgres refused")
        second = evaluate(instance, cursor="1")

    assert isinstance(first, dg.SkipReason)
    assert isinstance(second, dg.SkipReason)
    assert "the last 1 runs failed (connection to Postgres refused)" in str(first.skip_message)
    assert "the last 2 runs failed" in str(second.skip_message)
    assert 500 < seconds_to_wait(first) <= 600
    assert 1100 < seconds_to_wait(second) <= 1200


def seconds_to_wait(skipped: dg.SkipReason) -> float:
    found = re.search(r"the next starts in (\d+) s", skipped.skip_message or "")
    assert found, skipped.skip_message
    return float(found.group(1))


def test_the_job_drains_the_stream_and_reports_counts(database: Engine, redis_client: redis.Redis) -> None:
    publish_customers(redis_client, "a", "b", "c")
    publish_customers(redis_client, "a")
    result = ingest_stream_job.execute_in_process(resources={"xeno": XenoResource()})
    assert result.success
    expected = {"entries": 2, "applied": 3, "duplicates": 1, "dead_lettered": 0, "reclaimed": 0}
    assert result.output_for_node("drain_ingest_stream") == expected
    [output] = [event for event in result.events_for_node("drain_ingest_stream") if event.is_successful_output]
    assert {name: value.value for name, value in output.step_output_data.metadata.items()} == {
        **expected,
        "stopped": "drained",
    }
    with database.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM customers")).scalar_one() == 3
    assert streams.backlog(redis_client, get_settings().stream("ingest"), "appliers") == streams.Backlog(0, 0)
