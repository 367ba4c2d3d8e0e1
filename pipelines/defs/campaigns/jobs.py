"""`launch_campaign_job`: launch one campaign (freeze its audience, log its recipients, queue its messages).

A launch is safe to run again: a campaign already sending only has its remaining queued messages published, so
a run that died half-way is finished by another run (`due_campaigns_sensor` asks for it). A campaign the launch
refuses (its rule, template or segment cannot be used) is marked failed, and the run fails with the reason,
without retries; anything unexpected (a database restart) is retried within the run, then by another run.
"""

import dagster as dg

from engine.campaigns.launch import launch_campaign
from engine.observability.logs import log_context
from engine.observability.tracing import tracer
from pipelines.defs.campaigns.resources import CampaignAudience
from pipelines.defs.resources import XenoResource
from pipelines.defs.retries import MAX_RUNTIME_TAG

# Run monitoring fails a launch run that has not finished in this time (it hangs), so that it is tried again.
LAUNCH_MAX_RUNTIME_S = 1800


class LaunchConfig(dg.Config):
    campaign_id: int


@dg.op(
    description="Freeze the campaign's audience, write its communication log, and queue its messages.",
    retry_policy=dg.RetryPolicy(max_retries=3, delay=5, backoff=dg.Backoff.EXPONENTIAL),
)
def launch_campaign_op(
    context: dg.OpExecutionContext, config: LaunchConfig, xeno: XenoResource, campaign_audience: CampaignAudience
) -> dg.Output[dict[str, int]]:
    with (
        log_context(dagster_run_id=context.run_id),
        tracer().start_as_current_span("launch campaign", attributes={"xeno.campaign_id": config.campaign_id}),
    ):
        report = launch_campaign(
            xeno.db(), xeno.redis(), xeno.settings(), config.campaign_id, campaign_audience.source()
        )
    if report.status == "failed":
        raise dg.Failure(description=f"campaign {config.campaign_id} failed: {report.detail}", allow_retries=False)
    counts = {
        "audience": report.audience,
        "queued": report.queued,
        "deferred": report.deferred,
        "skipped": sum(report.skipped.values()),
        "published_messages": report.published.messages,
    }
    for reason, count in report.skipped.items():
        context.log.info(f"skipped {count}: {reason}")
    metadata: dict[str, dg.MetadataValue] = {name: dg.MetadataValue.int(value) for name, value in counts.items()}
    return dg.Output(counts, metadata={"status": dg.MetadataValue.text(report.status), **metadata})


@dg.job(
    description="Launch one campaign (started by due_campaigns_sensor, once per attempt).",
    tags={MAX_RUNTIME_TAG: str(LAUNCH_MAX_RUNTIME_S)},
)
def launch_campaign_job() -> None:
    launch_campaign_op()
