"""`ingest_stream_sensor`: launches the ingest job when entries wait on the ingest stream.

The cursor is the newest entry id the sensor has launched a run for; that id is also the run key, so a
repeated tick never starts a second run for the same entries. While a run is draining, it waits.
"""

import dagster as dg

from engine import streams
from engine.ingest.consumer import GROUP
from pipelines.defs.ingest.jobs import ingest_stream_job
from pipelines.defs.resources import XenoResource

ACTIVE = [dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED, dg.DagsterRunStatus.STARTING,
          dg.DagsterRunStatus.STARTED]  # fmt: skip


@dg.sensor(
    job=ingest_stream_job,
    minimum_interval_seconds=5,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Launches ingest_stream_job when the ingest stream has entries to apply.",
)
def ingest_stream_sensor(context: dg.SensorEvaluationContext, xeno: XenoResource) -> dg.SensorResult | dg.SkipReason:
    client = xeno.redis()
    stream = xeno.settings().stream("ingest")
    streams.ensure_group(client, stream, GROUP)
    backlog = streams.backlog(client, stream, GROUP)
    if backlog.undelivered + backlog.pending == 0:
        return dg.SkipReason(f"nothing waiting on {stream}")
    active = context.instance.get_runs(filters=dg.RunsFilter(job_name=ingest_stream_job.name, statuses=ACTIVE), limit=1)
    if active:
        return dg.SkipReason(f"run {active[0].run_id} is already draining {stream}")
    newest = streams.newest_entry_id(client, stream)
    # Entries left after the run for `newest` ended (it failed, or a consumer died): try again.
    run_key = newest if newest != context.cursor else f"{newest}/retry-{backlog.pending}-{backlog.undelivered}"
    return dg.SensorResult(
        run_requests=[
            dg.RunRequest(run_key=run_key, tags={"xeno/backlog": str(backlog.undelivered + backlog.pending)})
        ],
        cursor=newest,
    )
