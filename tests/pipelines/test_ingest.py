"""The ingest sensor asks for a run while entries wait (each with a key of its own, again after a run that failed or
died, after a backoff); the job drains the stream."""

from __future__ import annotations

import re
import time
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

RUN_KEY = "dagster/run_key"


def evaluate(instance: dg.DagsterInstance) -> dg.RunRequest | dg.SkipReason:
    context = dg.build_sensor_context(instance=instance, resources={"xeno": XenoResource()})
    return ingest_stream_sensor(context)  # type: ignore[return-value]


def requested_key(instance: dg.DagsterInstance) -> str:
    request = evaluate(instance)
    assert isinstance(request, dg.RunRequest), request
    return str(request.run_key)


def test_the_definitions_load() -> None:
    assert defs.resolve_job_def("ingest_stream_job") is not None
    assert defs.resolve_sensor_def("ingest_stream_sensor").job_name == "ingest_stream_job"


def test_the_sensor_skips_an_empty_stream_and_asks_once_for_each_run_while_entries_wait(
    redis_client: redis.Redis,
) -> None:
    with dg.instance_for_test() as instance:
        skipped = evaluate(instance)
        assert isinstance(skipped, dg.SkipReason)
        assert "nothing waiting" in (skipped.skip_message or "")

        publish_customers(redis_client, "a", "b")
        first = requested_key(instance)
        assert (first, requested_key(instance)) == ("drain-1", "drain-1")  # a repeated tick: the same run

        run_of(instance, first, dg.DagsterRunStatus.SUCCESS)
        assert requested_key(instance).startswith("drain-2-after-")


def test_the_sensor_waits_while_a_run_is_draining(redis_client: redis.Redis) -> None:
    publish_customers(redis_client, "a")
    with dg.instance_for_test() as instance:
        instance.create_run_for_job(ingest_stream_job, status=dg.DagsterRunStatus.STARTED)
        waiting = evaluate(instance)
        assert isinstance(waiting, dg.SkipReason)
        assert "already draining" in (waiting.skip_message or "")


def run_of(instance: dg.DagsterInstance, key: str, status: dg.DagsterRunStatus, why: str = "") -> dg.DagsterRun:
    """A run the sensor's request `key` started, ended with `status` (failed for `why`)."""
    failing = status == dg.DagsterRunStatus.FAILURE
    run = instance.create_run_for_job(
        ingest_stream_job, status=dg.DagsterRunStatus.STARTED if failing else status, tags={RUN_KEY: key}
    )
    if failing:
        instance.report_run_failed(run, why)
    return run


def fail_a_run(instance: dg.DagsterInstance, why: str) -> None:
    run_of(instance, requested_key(instance), dg.DagsterRunStatus.FAILURE, why)


def test_a_retry_that_also_dies_before_the_backlog_moves_is_followed_by_another_run(
    redis_client: redis.Redis, configure: Callable[..., Settings]
) -> None:
    publish_customers(redis_client, "a")
    configure(XENO_PIPELINE_RETRY_BACKOFF_S="0.001")
    keys = []
    with dg.instance_for_test() as instance:
        for _ in range(3):  # each run dies (killed, or the code server did not answer) with the backlog untouched
            keys.append(requested_key(instance))
            run_of(instance, keys[-1], dg.DagsterRunStatus.FAILURE, "User code server request timed out")
        keys.append(requested_key(instance))

    assert keys[0] == "drain-1"
    assert [key.split("-after-")[0] for key in keys[1:]] == ["drain-2", "drain-3", "drain-4"]
    assert len(set(keys)) == 4


def test_a_run_key_is_never_used_twice_even_after_runs_are_deleted(
    redis_client: redis.Redis, configure: Callable[..., Settings]
) -> None:
    publish_customers(redis_client, "a")
    configure(XENO_PIPELINE_RETRY_BACKOFF_S="0.001")
    with dg.instance_for_test() as instance:
        runs = []
        for _ in range(3):
            runs.append(run_of(instance, requested_key(instance), dg.DagsterRunStatus.FAILURE, "killed"))
        instance.delete_run(runs[1].run_id)  # an operator tidies up Dagster's run list
        used = {run.tags[RUN_KEY] for run in (runs[0], runs[2])}

        assert requested_key(instance) not in used


def test_after_failed_runs_the_sensor_waits_a_growing_backoff_and_says_why(
    redis_client: redis.Redis, configure: Callable[..., Settings]
) -> None:
    publish_customers(redis_client, "a")
    configure(XENO_PIPELINE_RETRY_BACKOFF_S="600", XENO_PIPELINE_RETRY_BACKOFF_MAX_S="3600")
    with dg.instance_for_test() as instance:
        fail_a_run(instance, "connection to Postgres refused")
        first = evaluate(instance)
        run_of(instance, "drain-2-after-x", dg.DagsterRunStatus.FAILURE, "connection to Postgres refused")
        second = evaluate(instance)

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


def test_entries_a_live_consumer_keeps_claimed_start_no_run_until_it_stops_keeping_them(
    redis_client: redis.Redis, configure: Callable[..., Settings]
) -> None:
    configure(INGEST_CLAIM_IDLE_MS="5000")
    stream = get_settings().stream("ingest")
    publish_customers(redis_client, "a")
    streams.ensure_group(redis_client, stream, "appliers")
    with dg.instance_for_test() as instance:
        streams.read(redis_client, stream, "appliers", "a-live-drain", 10, None)  # taken, as `xeno ingest drain` does

        held = evaluate(instance)
        assert isinstance(held, dg.SkipReason)
        assert "1 being applied by a consumer that keeps them claimed" in (held.skip_message or "")
        deadline = time.monotonic() + 60
        while not isinstance(request := evaluate(instance), dg.RunRequest):  # it died: nothing keeps the entry
            assert time.monotonic() < deadline, "the abandoned entry never asked for a run"
            time.sleep(0.2)
    assert request.run_key == "drain-1"
