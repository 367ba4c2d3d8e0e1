"""`customer_features`: one row per customer, published as a versioned snapshot (see engine.features), with the
check that the deltas readers held until then agree with it (`incremental_state_agrees`)."""

import dagster as dg

from engine.features.checks import CheckOutcome
from engine.features.materialize import materialize_features
from engine.features.snapshot import DEFAULT_KEEP
from engine.observability.logs import log_context
from pipelines.defs.resources import XenoResource

INCREMENTAL_CHECK = "incremental_state_agrees"


class CustomerFeaturesConfig(dg.Config):
    keep_versions: int = DEFAULT_KEEP
    """How many snapshot versions (tables and files) to keep; older ones are removed after publishing."""


@dg.asset(
    group_name="features",
    kinds={"polars", "postgres", "parquet"},
    check_specs=[
        dg.AssetCheckSpec(
            INCREMENTAL_CHECK,
            asset="customer_features",
            description="The previous version with the deltas published on it equals this refresh, customer by "
            "customer (each as of the time its row was computed); customers still queued for a delta left out.",
        )
    ],
    description=(
        "Every customer's features (spend, order counts, recency, 30/90/365-day windows, profile, consent, "
        "typed traits) computed with Polars and published as a versioned snapshot: the Postgres table "
        "features.customer_features_v<N> behind the view customer_features, and Parquet files under "
        "<data dir>/snapshots."
    ),
)
def customer_features(
    context: dg.AssetExecutionContext, config: CustomerFeaturesConfig, xeno: XenoResource
) -> dg.MaterializeResult:
    with log_context(dagster_run_id=context.run.run_id):
        done = materialize_features(xeno.db(), xeno.settings().data_dir / "snapshots", keep=config.keep_versions)
    snapshot = done.snapshot
    context.log.info(
        f"version {snapshot.version}: {snapshot.row_count} customers, {snapshot.event_count} events in "
        f"{done.seconds:.1f} s (read {done.read_s:.1f}, compute {done.compute_s:.1f}, check {done.check_s:.1f}, "
        f"publish {done.publish_s:.1f})"
    )
    return dg.MaterializeResult(
        check_results=[_incremental_check(context, done.incremental)],
        metadata={
            "version": dg.MetadataValue.int(snapshot.version),
            "rows": dg.MetadataValue.int(snapshot.row_count),
            "events": dg.MetadataValue.int(snapshot.event_count),
            "taken_at": dg.MetadataValue.timestamp(snapshot.taken_at),
            "duration_s": dg.MetadataValue.float(round(done.seconds, 3)),
            "read_s": dg.MetadataValue.float(round(done.read_s, 3)),
            "compute_s": dg.MetadataValue.float(round(done.compute_s, 3)),
            "publish_s": dg.MetadataValue.float(round(done.publish_s, 3)),
            "table": dg.MetadataValue.text(snapshot.table_name),
            "features_path": dg.MetadataValue.path(str(snapshot.features_path)),
            "events_path": dg.MetadataValue.path(str(snapshot.events_path)),
            "removed_versions": dg.MetadataValue.json(done.removed_versions),
            "dagster/row_count": dg.MetadataValue.int(snapshot.row_count),
            "dagster/column_schema": dg.TableSchema(
                columns=[dg.TableColumn(name, dtype) for name, dtype in snapshot.columns.items()]
            ),
        },
    )


def _incremental_check(context: dg.AssetExecutionContext, outcome: CheckOutcome | None) -> dg.AssetCheckResult:
    if outcome is None:
        return dg.AssetCheckResult(
            check_name=INCREMENTAL_CHECK, passed=True, description="no earlier version to compare with"
        )
    if not outcome.passed:
        context.log.error(f"the incremental features disagree with a full refresh: {outcome.description}")
    return dg.AssetCheckResult(
        check_name=INCREMENTAL_CHECK, passed=outcome.passed, description=outcome.description, metadata=outcome.figures
    )
