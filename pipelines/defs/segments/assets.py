"""`segment_sizes`: every saved segment's size, and who entered and left, at each feature snapshot."""

import dagster as dg

from engine.features.snapshot import latest_snapshot
from engine.observability.logs import log_context
from engine.segments.history import record_snapshot_sizes
from pipelines.defs.features.assets import customer_features
from pipelines.defs.resources import XenoResource


@dg.asset(
    deps=[customer_features],
    group_name="segments",
    kinds={"polars", "postgres"},
    automation_condition=dg.AutomationCondition.eager(),
    description=(
        "Each saved segment evaluated on the newest customer_features snapshot: its size, how many entered "
        "and left since its previous record, and its member set (a compressed bitmap) in segment_sizes."
    ),
)
def segment_sizes(context: dg.AssetExecutionContext, xeno: XenoResource) -> dg.MaterializeResult:
    with log_context(dagster_run_id=context.run.run_id):
        snapshot = latest_snapshot(xeno.db())
        if snapshot is None:
            raise dg.Failure(
                "no customer_features snapshot has been published yet; materialize customer_features first"
            )
        recording = record_snapshot_sizes(xeno.db(), snapshot)
    for segment_id, reason in recording.refused.items():
        context.log.warning(f"segment {segment_id} not recorded: {reason}")
    sizes = {str(record.segment_id): record.size for record in recording.records}
    context.log.info(f"snapshot {snapshot.version}: {len(sizes)} segments recorded, {len(recording.refused)} refused")
    return dg.MaterializeResult(
        metadata={
            "snapshot_version": dg.MetadataValue.int(snapshot.version),
            "segments": dg.MetadataValue.int(len(recording.records)),
            "sizes": dg.MetadataValue.json(sizes),
            "entered": dg.MetadataValue.int(sum(record.entered_count or 0 for record in recording.records)),
            "left": dg.MetadataValue.int(sum(record.left_count or 0 for record in recording.records)),
            "refused": dg.MetadataValue.json({str(key): value for key, value in recording.refused.items()}),
        }
    )
