"""`hourly_customer_features_schedule`: refresh the features every hour even without ingestion.

Windows, recency and ages move with the clock, so a snapshot goes stale without new data too.
"""

import dagster as dg

from pipelines.defs.features.jobs import refresh_customer_features_job

hourly_customer_features_schedule = dg.ScheduleDefinition(
    name="hourly_customer_features_schedule",
    job=refresh_customer_features_job,
    cron_schedule="0 * * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Refreshes customer_features at the top of every hour.",
)
