"""`refresh_customer_features_job`: materialize `customer_features` and run its checks; `publish_feature_deltas_job`:
publish the customers ingest touched as deltas on the newest snapshot."""

import time

import dagster as dg

from engine.features.deltas import publish_delta
from engine.observability.logs import log_context
from pipelines.defs.features.assets import customer_features
from pipelines.defs.following import FollowConfig, Shift
from pipelines.defs.resources import XenoResource
from pipelines.defs.retries import MAX_RUNTIME_TAG

# Run monitoring fails a refresh still going after this long (it hangs), so that the refreshes that follow are not
# held up behind it; a million customers take under a minute on a quiet machine.
REFRESH_MAX_RUNTIME_S = 3600
# How often a following run looks for touched customers when it found none: soon after work (a burst goes on), then
# less and less often up to the longest wait (a quiet spell costs a query every 2 s, not four a second).
DELTA_POLL_S = 0.25
DELTA_POLL_MAX_S = 2.0
# A following run publishes a delta at most this often: a delta of customers only events touched takes tens of
# milliseconds, and one every few of those would leave thousands of files and rows an hour for readers to apply.
DELTA_EVERY_S = 0.5

refresh_customer_features_job = dg.define_asset_job(
    "refresh_customer_features_job",
    selection=dg.AssetSelection.assets(customer_features),
    description="Recompute every customer's features, publish a new snapshot version and check it.",
    tags={MAX_RUNTIME_TAG: str(REFRESH_MAX_RUNTIME_S)},
)


@dg.op(description="Recompute the customers ingest touched and publish them as deltas on the newest snapshot: for a "
       "shift when following, else until none wait.")  # fmt: skip
def publish_feature_deltas(
    context: dg.OpExecutionContext, config: FollowConfig, xeno: XenoResource
) -> dg.Output[dict[str, int]]:
    shift, deltas, customers = Shift(context, config), 0, 0
    wait_s = DELTA_POLL_S
    snapshots_dir = xeno.settings().data_dir / "snapshots"
    stopped = "drained"
    while True:
        started = time.monotonic()
        with log_context(dagster_run_id=context.run_id):
            delta = publish_delta(xeno.db(), snapshots_dir)
        if delta is not None:
            if config.follow:
                time.sleep(max(0.0, started + DELTA_EVERY_S - time.monotonic()))
            deltas, customers = deltas + 1, customers + delta.row_count + len(delta.removed_ids)
            shift.worked()
            wait_s = DELTA_POLL_S
            if delta.unfit_columns:
                context.log.warning(f"delta {delta.id}: {delta.unfit_columns} no longer fit their types; the next "
                                    "full refresh retypes them")  # fmt: skip
            if deltas % 100 == 0:
                context.log.info(f"{deltas} deltas, {customers} customers so far")
            continue
        if not config.follow:
            break
        if ended := shift.ended():
            stopped = ended
            break
        time.sleep(wait_s)
        wait_s = min(2 * wait_s, DELTA_POLL_MAX_S)
    counts = {"deltas": deltas, "customers": customers}
    metadata: dict[str, dg.MetadataValue] = {name: dg.MetadataValue.int(value) for name, value in counts.items()}
    metadata["stopped"] = dg.MetadataValue.text(stopped)
    return dg.Output(counts, metadata=metadata)


@dg.job(
    description="Publish feature deltas for the customers ingest touched (launched by feature_deltas_sensor).",
    tags={MAX_RUNTIME_TAG: "1800"},  # a run that hangs is failed by run monitoring, and the sensor starts another
)
def publish_feature_deltas_job() -> None:
    publish_feature_deltas()
