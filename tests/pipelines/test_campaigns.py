"""The due-campaigns sensor asks for one launch run per due campaign (run key campaign-<id>); the job launches."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import dagster as dg
import redis
from sqlalchemy import Engine

from engine.campaigns.audience import AudienceSource, FrameAudience
from engine.campaigns.progress import get_campaign
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


def evaluate() -> dg.SensorResult | dg.SkipReason:
    with dg.instance_for_test() as instance:
        context = dg.build_sensor_context(instance=instance, resources={"xeno": XenoResource()})
        return due_campaigns_sensor(context)  # type: ignore[return-value]


def launch_run(campaign_id: int) -> dg.ExecuteInProcessResult:
    return launch_campaign_job.execute_in_process(
        run_config={"ops": {"launch_campaign_op": {"config": {"campaign_id": campaign_id}}}},
        resources={"xeno": XenoResource(), "campaign_audience": TenCustomers()},
        raise_on_error=False,
    )


def test_the_definitions_load() -> None:
    assert defs.resolve_job_def("launch_campaign_job") is not None
    assert defs.resolve_sensor_def("due_campaigns_sensor").job_name == "launch_campaign_job"


def test_the_sensor_skips_when_nothing_is_due(database: Engine) -> None:
    new_campaign(database, at=NOW + timedelta(hours=1))

    skipped = evaluate()

    assert isinstance(skipped, dg.SkipReason)
    assert "no scheduled campaign is due" in (skipped.skip_message or "")


def test_the_sensor_requests_one_run_per_due_campaign_keyed_by_its_id(database: Engine) -> None:
    first = new_campaign(database, at=NOW - timedelta(minutes=5))
    second = new_campaign(database, at=NOW - timedelta(seconds=1))
    new_campaign(database, at=NOW + timedelta(hours=1))

    result = evaluate()

    assert isinstance(result, dg.SensorResult)
    requests = result.run_requests or []
    assert [request.run_key for request in requests] == [f"campaign-{first}", f"campaign-{second}"]
    assert requests[0].run_config == {"ops": {"launch_campaign_op": {"config": {"campaign_id": first}}}}


def test_the_job_launches_the_campaign_and_reports_its_counts(database: Engine, redis_client: redis.Redis) -> None:
    campaign_id = new_campaign(database, at=NOW - timedelta(seconds=1))

    result = launch_run(campaign_id)

    assert result.success
    counts = result.output_for_node("launch_campaign_op")
    assert (counts["audience"], counts["skipped"]) == (10, 0)
    assert counts["queued"] + counts["deferred"] == 10  # deferred when the test runs in the quiet hours
    campaign = get_campaign(database, campaign_id)
    assert (campaign.status, campaign.snapshot_version, campaign.counts.total) == ("sending", "test-snapshot", 10)
    assert isinstance(evaluate(), dg.SkipReason)  # launched: no longer due


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
