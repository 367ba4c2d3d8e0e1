"""`hourly_customer_features_schedule`: refresh the features every hour even without ingestion.

Windows, recency and ages move with the clock, so a snapshot goes stale without new data too. An hour that finds a
refresh already queued or running skips: that refresh is as new, and refreshes piling up behind one that hangs would
take every run slot.
"""

import dagster as dg

from pipelines.defs.features.jobs import refresh_customer_features_job
from pipelines.defs.retries import run_history


def no_refresh_under_way(context: dg.ScheduleEvaluationContext) -> bool:
    return run_history(context.instance, refresh_customer_features_job.name, limit=5).active is None


hourly_customer_features_schedule = dg.ScheduleDefinition(
    name="hourly_customer_features_schedule",
    job=refresh_customer_features_job,
    cron_schedule="0 * * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    should_execute=no_refresh_under_way,
    description="Refreshes customer_features at the top of every hour, unless a refresh is under way.",
)
