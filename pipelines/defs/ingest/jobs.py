"""`ingest_stream_job`: apply everything waiting on the ingest stream, and say what it did."""

import dagster as dg

from engine.ingest.consumer import DrainReport, drain
from pipelines.defs.resources import XenoResource


@dg.op(description="Apply the ingest stream's entries to Postgres in batches until it is empty.")
def drain_ingest_stream(context: dg.OpExecutionContext, xeno: XenoResource) -> dg.Output[dict[str, int]]:
    def progress(report: DrainReport) -> None:
        if report.batches % 50 == 0:
            context.log.info(f"{report.entries} entries, {report.applied} records applied so far")

    report = drain(
        xeno.db(), xeno.redis(), xeno.settings(), consumer=f"dagster-{context.run_id[:8]}", on_batch=progress
    )
    counts = {
        "entries": report.entries,
        "applied": report.applied,
        "duplicates": report.duplicates,
        "dead_lettered": report.dead_lettered,
        "reclaimed": report.reclaimed,
    }
    if report.dead_lettered:
        context.log.warning(f"{report.dead_lettered} records went to the dead letters; see `xeno deadletters list`")
    return dg.Output(counts, metadata={name: dg.MetadataValue.int(value) for name, value in counts.items()})


@dg.job(description="Drain the ingest stream into Postgres (launched by ingest_stream_sensor).")
def ingest_stream_job() -> None:
    drain_ingest_stream()
