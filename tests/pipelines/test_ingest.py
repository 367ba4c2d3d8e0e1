"""The ingest sensor launches one run per new entries (with a run key and a cursor); the job drains the stream."""

from __future__ import annotations

import dagster as dg
import redis
from sqlalchemy import Engine, text

from engine import streams
from engine.ingest.records import empty_batch
from engine.settings import get_settings
from pipelines.definitions import defs
from pipelines.defs.ingest.jobs import ingest_stream_job
from pipelines.defs.ingest.sensors import ingest_stream_sensor
from pipelines.defs.resources import XenoResource


def publish_customers(client: redis.Redis, *external_ids: str) -> str:
    batch = empty_batch()
    batch["customers"] = [{"external_id": e, "city": "Agra", "ts": "2026-11-25T00:00:00+00:00"} for e in external_ids]
    return streams.publish(client, get_settings().stream("ingest"), batch)


def evaluate(instance: dg.DagsterInstance, cursor: str | None) -> dg.SensorResult | dg.SkipReason:
    context = dg.build_sensor_context(instance=instance, cursor=cursor, resources={"xeno": XenoResource()})
    return ingest_stream_sensor(context)  # type: ignore[return-value]


def test_the_definitions_load() -> None:
    assert defs.resolve_job_def("ingest_stream_job") is not None
    assert defs.resolve_sensor_def("ingest_stream_sensor").job_name == "ingest_stream_job"


def test_the_sensor_skips_an_empty_stream_and_requests_one_run_per_newest_entry(redis_client: redis.Redis) -> None:
    with dg.instance_for_test() as instance:
        skipped = evaluate(instance, cursor=None)
        assert isinstance(skipped, dg.SkipReason)
        assert "nothing waiting" in (skipped.skip_message or "")

        newest = publish_customers(redis_client, "a", "b")
        result = evaluate(instance, cursor=None)
        assert isinstance(result, dg.SensorResult)
        assert [request.run_key for request in result.run_requests or []] == [newest]
        assert result.cursor == newest

        later = publish_customers(redis_client, "c")
        again = evaluate(instance, cursor=newest)
        assert isinstance(again, dg.SensorResult)
        assert [request.run_key for request in again.run_requests or []] == [later]


def test_the_sensor_waits_while_a_run_is_draining(redis_client: redis.Redis) -> None:
    publish_customers(redis_client, "a")
    with dg.instance_for_test() as instance:
        instance.create_run_for_job(ingest_stream_job, status=dg.DagsterRunStatus.STARTED)
        waiting = evaluate(instance, cursor=None)
        assert isinstance(waiting, dg.SkipReason)
        assert "already draining" in (waiting.skip_message or "")


def test_the_job_drains_the_stream_and_reports_counts(database: Engine, redis_client: redis.Redis) -> None:
    publish_customers(redis_client, "a", "b", "c")
    publish_customers(redis_client, "a")
    result = ingest_stream_job.execute_in_process(resources={"xeno": XenoResource()})
    assert result.success
    expected = {"entries": 2, "applied": 3, "duplicates": 1, "dead_lettered": 0, "reclaimed": 0}
    assert result.output_for_node("drain_ingest_stream") == expected
    [output] = [event for event in result.events_for_node("drain_ingest_stream") if event.is_successful_output]
    assert {name: value.value for name, value in output.step_output_data.metadata.items()} == expected
    with database.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM customers")).scalar_one() == 3
    assert streams.backlog(redis_client, get_settings().stream("ingest"), "appliers") == streams.Backlog(0, 0)
