"""`due_campaigns_sensor`: launch runs for the campaigns whose launch is due, tried again until they launch or are
given up on.

A campaign's launch is due when it is scheduled and its time has come, or when it was launched but its messages are
not all on the delivery stream yet (its launch run died half-way; another run resumes where it stopped). Each
attempt is a run of its own, keyed `campaign-<id>-<scheduling>-<attempt>[-after-<run>]` and tagged with the campaign
and its scheduling, so a run that failed, died or found nothing to do never stands in for the next: the campaign's
runs in Dagster are its attempts (`pipelines.defs.retries`). After a failure the next attempt waits a backoff. A
scheduled campaign whose launch ended `launch_max_attempts` times without launching it is marked failed with the
reason (a notification and "try again" follow from that); a launched campaign's publishing is never given up (some
of its messages already went out): it is tried again, at the backoff's ceiling, until it is done.
"""

from datetime import UTC, datetime

import dagster as dg

from engine.campaigns.launch import due_campaigns, give_up_launch, record_launch_attempts
from pipelines.defs.campaigns.jobs import launch_campaign_job
from pipelines.defs.resources import XenoResource
from pipelines.defs.retries import failure_reason, run_history
from pipelines.defs.ticks import SENSOR_TICK_S

CAMPAIGN_TAG = "xeno/campaign"
SCHEDULE_TAG = "xeno/schedule"
NOT_LAUNCHED = "the run ended without launching it"


@dg.sensor(
    job=launch_campaign_job,
    minimum_interval_seconds=SENSOR_TICK_S,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Launches launch_campaign_job for each campaign whose launch is due, again after a failed attempt.",
)
def due_campaigns_sensor(context: dg.SensorEvaluationContext, xeno: XenoResource) -> dg.SensorResult | dg.SkipReason:
    settings, db = xeno.settings(), xeno.db()
    requests: list[dg.RunRequest] = []
    waiting: list[str] = []
    for due in due_campaigns(db, datetime.now(UTC)):
        campaign = {CAMPAIGN_TAG: str(due.campaign_id)}
        active = run_history(context.instance, launch_campaign_job.name, campaign, limit=5).active
        if active is not None:  # of any scheduling: two launches of one campaign would publish it twice
            waiting.append(f"campaign {due.campaign_id}: run {active.run_id} is {active.status.value}")
            continue
        tags = {**campaign, SCHEDULE_TAG: str(due.schedule_seq)}
        history = run_history(context.instance, launch_campaign_job.name, tags)
        last = history.last_ended
        if last is not None:
            error = failure_reason(context.instance, last.dagster_run) or NOT_LAUNCHED
            if due.status == "scheduled" and history.count >= settings.launch_max_attempts:
                if give_up_launch(db, due, history.count, error):
                    context.log.warning(f"campaign {due.campaign_id}: given up after {history.count} attempts: {error}")
                continue
            record_launch_attempts(db, due, history.count, error)
            wait = history.wait_seconds(settings)
            if wait > 0:
                waiting.append(f"campaign {due.campaign_id}: attempt {history.count + 1} in {wait:.0f} s ({error})")
                continue
        requests.append(
            dg.RunRequest(
                run_key=history.next_key(f"campaign-{due.campaign_id}-{due.schedule_seq}"),
                run_config={"ops": {"launch_campaign_op": {"config": {"campaign_id": due.campaign_id}}}},
                tags=tags,
            )
        )
    if not requests:
        return dg.SkipReason("; ".join(waiting) or "no campaign launch is due")
    return dg.SensorResult(run_requests=requests)
