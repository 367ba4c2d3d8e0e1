"""`ingest_stream_sensor`: launches the ingest job while entries wait on the ingest stream, and again after a run
that failed or died; relieves a following run at the end of its shift (`pipelines.defs.following`).

The stream's backlog is the work, and a run drains it (for a bounded time; the next run goes on): entries not yet
taken, and those a consumer took and stopped keeping claimed (it died); entries a live consumer keeps claimed (a
run, or `xeno ingest drain --follow`) are its own. While a run is queued or running, the sensor waits. Otherwise
entries waiting means another run is needed: at once after a run that succeeded (new entries came, or it stopped at
its time bound), after a backoff that doubles with each failed run in a row (`pipelines.defs.retries`). Ingest is
never given up on: an entry that cannot be applied goes to the dead letters, so what stops a run is a server, and
servers come back. Each run's key names the run it follows, so a repeated tick never starts a second run for one
request, and a failed run never blocks the next.
"""

import dagster as dg

from engine import streams
from engine.ingest.consumer import GROUP
from pipelines.defs.following import RELIEVES_TAG, following_request, relief_due
from pipelines.defs.ingest.jobs import drain_ingest_stream, ingest_stream_job
from pipelines.defs.resources import XenoResource
from pipelines.defs.retries import backing_off, run_history
from pipelines.defs.ticks import SENSOR_TICK_S


@dg.sensor(
    job=ingest_stream_job,
    minimum_interval_seconds=SENSOR_TICK_S,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Launches ingest_stream_job while the ingest stream has entries to apply, again after a failed run.",
)
def ingest_stream_sensor(context: dg.SensorEvaluationContext, xeno: XenoResource) -> dg.RunRequest | dg.SkipReason:
    client, settings = xeno.redis(), xeno.settings()
    stream = settings.stream("ingest")
    streams.ensure_group(client, stream, GROUP)
    backlog = streams.backlog(client, stream, GROUP)
    waiting = backlog.undelivered + streams.abandoned(client, stream, GROUP, settings.ingest_claim_idle_ms)
    history = run_history(context.instance, ingest_stream_job.name)
    backoff = backing_off(context.instance, history, settings)
    if (relieved := relief_due(history)) is not None and backoff is None:
        return following_request(drain_ingest_stream.name, history.next_key("drain"), {RELIEVES_TAG: relieved.run_id})
    if waiting == 0:
        held = f" ({backlog.pending} being applied by a consumer that keeps them claimed)" if backlog.pending else ""
        return dg.SkipReason(f"nothing waiting on {stream}{held}")
    if history.active is not None:
        return dg.SkipReason(f"run {history.active.run_id} is already draining {stream}")
    if backoff is not None:
        return dg.SkipReason(f"{waiting} entries wait on {stream}; {backoff}")
    return following_request(drain_ingest_stream.name, history.next_key("drain"), {"xeno/backlog": str(waiting)})
