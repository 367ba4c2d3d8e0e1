"""`ingest_success_sensor`: refresh the customer features after each successful ingest run.

Runs coalesce: while a refresh is queued and has not started reading, it will see the newly ingested
rows too, so no second one is requested. A refresh already reading gets a successor, requested with the
ingest run's id as run key (so a repeated tick never doubles it).
"""

import dagster as dg

from pipelines.defs.features.jobs import refresh_customer_features_job
from pipelines.defs.ingest.jobs import ingest_stream_job

NOT_READING_YET = [dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED, dg.DagsterRunStatus.STARTING]


@dg.run_status_sensor(
    run_status=dg.DagsterRunStatus.SUCCESS,
    monitored_jobs=[ingest_stream_job],
    request_job=refresh_customer_features_job,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Requests refresh_customer_features_job after each successful ingest_stream_job run.",
)
def ingest_success_sensor(context: dg.RunStatusSensorContext) -> dg.RunRequest | dg.SkipReason:
    ingest_run = context.dagster_run.run_id
    waiting = context.instance.get_runs(
        filters=dg.RunsFilter(job_name=refresh_customer_features_job.name, statuses=NOT_READING_YET), limit=1
    )
    if waiting:
        return dg.SkipReason(f"refresh run {waiting[0].run_id} has not started and will include ingest {ingest_run}")
    return dg.RunRequest(run_key=f"after-ingest-{ingest_run}", tags={"xeno/after_ingest_run": ingest_run})
