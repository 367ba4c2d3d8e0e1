"""`ingest_stream_job`: apply what waits on the ingest stream for up to `RUN_SECONDS`, and say what it did.

A run stops after `RUN_SECONDS` even with a backlog left (the sensor then starts the next), so no run drains
an unbounded backlog for hours and each run's counts stay meaningful.
"""

import dagster as dg

from engine.ingest.consumer import DrainReport, drain
from pipelines.defs.resources import XenoResource
from pipelines.defs.retries import MAX_RUNTIME_TAG

RUN_SECONDS = 300.0


@dg.op(description="Apply the ingest stream's entries to Postgres in batches until it is empty or time is up.")
def drain_ingest_stream(context: dg.OpExecutionContext, xeno: XenoResource) -> dg.Output[dict[str, int]]:
    def progress(report: DrainReport) -> None:
        if report.batches % 50 == 0:
            context.log.info(f"{report.entries} entries, {report.applied} records applied so far")

    report = drain(
        xeno.db(), xeno.redis(), xeno.settings(), consumer=f"dagster-{context.run_id[:8]}", on_batch=progress,
        max_seconds=RUN_SECONDS,
    )  # fmt: skip
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
