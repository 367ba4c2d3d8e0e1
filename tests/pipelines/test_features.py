"""The customer_features asset materializes and passes its checks, a damaged snapshot fails them, and the
refresh is asked for whenever the features are behind what was ingested (again after a failure) and every hour."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import pytest
import redis
from sqlalchemy import Engine, text

from engine.features.snapshot import latest_snapshot, list_snapshots
from engine.settings import Settings
from pipelines.definitions import defs
from pipelines.defs.features.assets import customer_features
from pipelines.defs.features.checks import customer_features_checks
from pipelines.defs.features.jobs import refresh_customer_features_job
from pipelines.defs.features.schedules import hourly_customer_features_schedule
from pipelines.defs.features.sensors import stale_features_sensor
from pipelines.defs.ingest.jobs import ingest_stream_job
from pipelines.defs.resources import XenoResource
from tests.engine.features.data import add_customer, add_order, days_ago
from tests.pipelines.helpers import publish_customers

RESOURCES = {"xeno": XenoResource()}


@pytest.fixture
def shop(database: Engine) -> list[int]:
    ada = add_customer(database, "ada", city="London", traits={"plan": "gold"})
    bob = add_customer(database, "bob", city="Paris")
    add_order(database, ada, "120.00", days_ago(3))
    add_order(database, ada, "80.00", days_ago(100))
    add_order(database, bob, "15.00", days_ago(1), "refunded")
    return [ada, bob]


def check_results(result: dg.ExecuteInProcessResult) -> dict[str, bool]:
    return {evaluation.check_name: evaluation.passed for evaluation in result.get_asset_check_evaluations()}


def test_the_definitions_load() -> None:
    assert defs.resolve_asset_graph().asset_check_keys == {
        dg.AssetCheckKey(customer_features.key, name)
        for name in (
            "row_count_matches_customers",
            "spend_is_never_negative",
            "orders_agree_with_postgres",
            "incremental_state_agrees",
        )
    }
    assert defs.resolve_job_def("refresh_customer_features_job") is not None
    assert defs.resolve_sensor_def("stale_features_sensor").default_status is dg.DefaultSensorStatus.RUNNING
    assert defs.resolve_schedule_def("hourly_customer_features_schedule").job_name == "refresh_customer_features_job"


def test_materializing_publishes_a_snapshot_with_metadata_and_passes_every_check(
    database: Engine, data_dir: Path, shop: list[int], instance: dg.DagsterInstance
) -> None:
    result = dg.materialize([customer_features, *customer_features_checks], resources=RESOURCES, instance=instance)

    assert result.success
    assert check_results(result) == {
        "row_count_matches_customers": True,
        "spend_is_never_negative": True,
        "orders_agree_with_postgres": True,
        "incremental_state_agrees": True,
    }
    [materialization] = result.asset_materializations_for_node("customer_features")
    metadata = {name: value.value for name, value in materialization.metadata.items()}
    assert (metadata["version"], metadata["rows"], metadata["table"]) == (1, 2, "features.customer_features_v1")
    assert metadata["features_path"] == str((data_dir / "snapshots" / "customer_features_v1.parquet").resolve())
    assert isinstance(metadata["duration_s"], float)
    assert metadata["duration_s"] > 0
    snapshot = latest_snapshot(database)
    assert snapshot is not None
    assert snapshot.features.sort("customer_id")["total_spend"].to_list() == [200.0, 0.0]


def test_the_asset_keeps_as_many_versions_as_configured(
    database: Engine, data_dir: Path, shop: list[int], instance: dg.DagsterInstance
) -> None:
    config = dg.RunConfig(ops={"customer_features": {"config": {"keep_versions": 2}}})
    for _ in range(3):
        assert dg.materialize([customer_features], resources=RESOURCES, run_config=config, instance=instance).success

    assert [info.version for info in list_snapshots(database)] == [3, 2]
    assert sorted(path.name for path in (data_dir / "snapshots").glob("customer_features_v*")) == [
        "customer_features_v2.parquet",
        "customer_features_v3.parquet",
    ]


def test_checks_fail_on_a_damaged_snapshot(
    database: Engine, data_dir: Path, shop: list[int], instance: dg.DagsterInstance
) -> None:
    assert dg.materialize([customer_features], resources=RESOURCES, instance=instance).success
    with database.begin() as conn:
        conn.execute(text("UPDATE features.customer_features_v1 SET total_spend = -5, order_count = 7"))

    result = dg.materialize(
        [customer_features, *customer_features_checks],
        resources=RESOURCES,
        selection=dg.AssetSelection.checks(*customer_features_checks),
        raise_on_error=False,
        instance=instance,
    )

    assert result.get_asset_materialization_events() == []
    assert check_results(result) == {
        "row_count_matches_customers": True,
        "spend_is_never_negative": False,
        "orders_agree_with_postgres": False,
    }


def test_checks_fail_before_any_snapshot_exists(database: Engine, data_dir: Path, instance: dg.DagsterInstance) -> None:
    result = dg.materialize(
        [customer_features, *customer_features_checks],
        resources=RESOURCES,
        selection=dg.AssetSelection.checks(*customer_features_checks),
        raise_on_error=False,
        instance=instance,
    )

    assert set(check_results(result).values()) == {False}


def evaluate_staleness(instance: dg.DagsterInstance) -> dg.RunRequest | dg.SkipReason:
    context = dg.build_sensor_context(instance=instance, resources=RESOURCES)
    return stale_features_sensor(context)  # type: ignore[return-value]


def ingest(client: redis.Redis, *external_ids: str) -> None:
    """Customers through the ingest stream and job, as the API and the ingest sensor would bring them."""
    publish_customers(client, *external_ids)
    assert ingest_stream_job.execute_in_process(resources=RESOURCES).success


def refresh(instance: dg.DagsterInstance, request: dg.RunRequest) -> dg.ExecuteInProcessResult:
    job = defs.resolve_job_def(refresh_customer_features_job.name)
    return job.execute_in_process(instance=instance, tags={**request.tags, "dagster/run_key": request.run_key or ""})


def test_new_customers_make_the_features_stale_until_a_refresh_has_read_them(
    database: Engine,
    redis_client: redis.Redis,
    data_dir: Path,
    instance: dg.DagsterInstance,
    configure: Callable[..., Settings],
) -> None:
    up_to_date = evaluate_staleness(instance)
    assert isinstance(up_to_date, dg.SkipReason)

    ingest(redis_client, "ada", "bob")
    request = evaluate_staleness(instance)
    assert isinstance(request, dg.RunRequest)
    assert request.run_key == "features-1-1"

    assert refresh(instance, request).success
    assert latest_snapshot(database).info.row_count == 2  # type: ignore[union-attr]
    assert isinstance(evaluate_staleness(instance), dg.SkipReason)

    ingest(redis_client, "cem")
    soon = evaluate_staleness(instance)
    assert isinstance(soon, dg.SkipReason)  # a delta brings cem in unless one waits XENO_FEATURES_MIN_INTERVAL_S
    assert "deltas are keeping up" in (soon.skip_message or "")
    configure(XENO_FEATURES_MIN_INTERVAL_S="0")
    assert isinstance(evaluate_staleness(instance), dg.RunRequest)


def test_a_failed_refresh_is_asked_for_again_under_a_new_key_after_a_backoff(
    database: Engine, redis_client: redis.Redis, instance: dg.DagsterInstance, configure: Callable[..., Settings]
) -> None:
    ingest(redis_client, "ada")
    first = evaluate_staleness(instance)
    assert isinstance(first, dg.RunRequest)
    failed = instance.create_run_for_job(
        defs.resolve_job_def(refresh_customer_features_job.name), status=dg.DagsterRunStatus.STARTED, tags=first.tags
    )
    instance.report_run_failed(failed, "the run's process died")

    configure(XENO_PIPELINE_RETRY_BACKOFF_S="3600")
    waiting = evaluate_staleness(instance)
    assert isinstance(waiting, dg.SkipReason)
    assert "the features are behind; the last 1 runs failed (the run's process died)" in (waiting.skip_message or "")

    configure(XENO_PIPELINE_RETRY_BACKOFF_S="0.001")
    again = evaluate_staleness(instance)
    assert isinstance(again, dg.RunRequest)
    assert (first.run_key, again.run_key) == ("features-1-1", f"features-1-2-after-{failed.run_id[:8]}")


def test_no_second_refresh_is_asked_for_while_one_waits_to_start(
    database: Engine, redis_client: redis.Redis, instance: dg.DagsterInstance, configure: Callable[..., Settings]
) -> None:
    configure(XENO_PIPELINE_RETRY_BACKOFF_S="0.001")  # a cancelled run counts as a failed one
    ingest(redis_client, "ada")
    queued = instance.create_run_for_job(
        defs.resolve_job_def(refresh_customer_features_job.name), status=dg.DagsterRunStatus.NOT_STARTED
    )

    skipped = evaluate_staleness(instance)

    assert isinstance(skipped, dg.SkipReason)
    assert queued.run_id in (skipped.skip_message or "")
    instance.report_run_canceled(queued)
    assert isinstance(evaluate_staleness(instance), dg.RunRequest)


def test_the_refresh_job_runs_the_asset_and_its_checks(database: Engine, data_dir: Path, shop: list[int]) -> None:
    job = defs.resolve_job_def(refresh_customer_features_job.name)
    with dg.instance_for_test() as instance:
        result = job.execute_in_process(instance=instance)

    assert result.success
    assert [m.asset_key for m in result.asset_materializations_for_node("customer_features")] == [customer_features.key]
    assert set(check_results(result).values()) == {True}


def test_the_schedule_requests_a_refresh_every_hour() -> None:
    assert hourly_customer_features_schedule.cron_schedule == "0 * * * *"
    with dg.instance_for_test() as instance:
        context = dg.build_schedule_context(
            instance=instance, scheduled_execution_time=datetime(2026, 11, 25, 13, tzinfo=UTC)
        )
        data = hourly_customer_features_schedule.evaluate_tick(context)

    assert [request.job_name or hourly_customer_features_schedule.job_name for request in data.run_requests or []] == [
        "refresh_customer_features_job"
    ]


def test_the_hourly_refresh_skips_while_a_refresh_is_under_way(instance: dg.DagsterInstance) -> None:
    job = defs.resolve_job_def(refresh_customer_features_job.name)
    hung = instance.create_run_for_job(job, status=dg.DagsterRunStatus.STARTED)
    at_one = dg.build_schedule_context(
        instance=instance, scheduled_execution_time=datetime(2026, 11, 25, 13, tzinfo=UTC)
    )

    assert hourly_customer_features_schedule.evaluate_tick(at_one).run_requests == []
    instance.report_run_failed(hung, "it ran past its max runtime")
    assert len(hourly_customer_features_schedule.evaluate_tick(at_one).run_requests or []) == 1
