"""`ingest_stream_job`: apply what waits on the ingest stream, and say what it did.

The sensor's runs follow the stream (`pipelines.defs.following`): each applies entries as they come for a shift and
hands over to the next, so an accepted event reaches Postgres within seconds instead of after a run start. A run
started by hand applies what waits and stops, after `RUN_SECONDS` at most even with a backlog left (the sensor
then starts the next), so no run drains an unbounded backlog for hours and each run's counts stay meaningful.
"""

import dagster as dg

from engine.ingest.consumer import DrainReport, drain
from engine.observability.logs import log_context
from pipelines.defs.following import FollowConfig, Shift
from pipelines.defs.resources import XenoResource
from pipelines.defs.retries import MAX_RUNTIME_TAG

RUN_SECONDS = 300.0
FOLLOW_ROUND_S = 5.0  # a following run looks at its shift between rounds of this long
FOLLOW_BLOCK_MS = 1000  # and waits this long for new entries when the stream is empty


@dg.op(description="Apply the ingest stream's entries to Postgres in batches: for a shift when following, else until "
       "it is empty or time is up.")  # fmt: skip
def drain_ingest_stream(
    context: dg.OpExecutionContext, config: FollowConfig, xeno: XenoResource
) -> dg.Output[dict[str, int]]:
    report, shift = DrainReport(), Shift(context, config)

    def progress(part: DrainReport) -> None:
        if part.batches % 50 == 0:
            context.log.info(f"{report.entries + part.entries} entries, {report.applied + part.applied} applied so far")

    while True:
        with log_context(dagster_run_id=context.run_id):
            part = drain(
                xeno.db(), xeno.redis(), xeno.settings(), consumer=f"dagster-{context.run_id[:8]}", on_batch=progress,
                max_seconds=FOLLOW_ROUND_S if config.follow else RUN_SECONDS,
                block_ms=FOLLOW_BLOCK_MS if config.follow else None, appliers=xeno.settings().ingest_appliers,
            )  # fmt: skip
        report += part
        if not config.follow:
            report.stopped = part.stopped
            break
        if part.entries:
            shift.worked()
        if stopped := shift.ended():
            report.stopped = stopped
            break
    counts = {
        "entries": report.entries,
        "applied": report.applied,
        "duplicates": report.duplicates,
        "dead_lettered": report.dead_lettered,
        "reclaimed": report.reclaimed,
    }
    if report.dead_lettered:
        context.log.warning(f"{report.dead_lettered} records went to the dead letters; see `xeno deadletters list`")
    if report.stopped == "max_seconds":
        context.log.info(f"stopped at its bound of {RUN_SECONDS:.0f} s; the sensor starts another run for what is left")
    metadata: dict[str, dg.MetadataValue] = {name: dg.MetadataValue.int(value) for name, value in counts.items()}
    metadata["stopped"] = dg.MetadataValue.text(report.stopped)
    return dg.Output(counts, metadata=metadata)


@dg.job(
    description="Drain the ingest stream into Postgres (launched by ingest_stream_sensor).",
    tags={MAX_RUNTIME_TAG: "1800"},  # a run that hangs is failed by run monitoring, and the sensor starts another
)
def ingest_stream_job() -> None:
    drain_ingest_stream()
