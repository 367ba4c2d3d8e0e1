"""`due_campaigns_sensor`: one launch run per campaign that is scheduled and due (launched now, or its time came).

The run key is `campaign-<id>`, so however many ticks see a campaign before its launch has changed its
status, it gets one run. No cursor is needed: the campaigns table says what is due.
"""

from datetime import UTC, datetime

import dagster as dg

from engine.campaigns.launch import due_campaigns
from pipelines.defs.campaigns.jobs import launch_campaign_job
from pipelines.defs.resources import XenoResource


def run_key(campaign_id: int) -> str:
    return f"campaign-{campaign_id}"


@dg.sensor(
    job=launch_campaign_job,
    minimum_interval_seconds=5,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Launches launch_campaign_job for each scheduled campaign whose time has come.",
)
def due_campaigns_sensor(context: dg.SensorEvaluationContext, xeno: XenoResource) -> dg.SensorResult | dg.SkipReason:
    due = due_campaigns(xeno.db(), datetime.now(UTC))
    if not due:
        return dg.SkipReason("no scheduled campaign is due")
    return dg.SensorResult(
        run_requests=[
            dg.RunRequest(
                run_key=run_key(campaign_id),
                run_config={"ops": {"launch_campaign_op": {"config": {"campaign_id": campaign_id}}}},
                tags={"xeno/campaign": str(campaign_id)},
            )
            for campaign_id in due
        ]
    )
