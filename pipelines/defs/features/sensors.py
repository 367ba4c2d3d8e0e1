"""`stale_features_sensor`: refreshes the customer features whenever they are behind what was ingested;
`feature_deltas_sensor`: keeps a run publishing deltas while customers wait for one (`pipelines.defs.following`).

The features are behind while Postgres has counted more changes to customers, orders and events than the newest
snapshot read (`engine.features.freshness`) and deltas do not keep up with them: a change has waited for a delta
longer than `features_min_interval_s` (the deltas job is down, or too slow). While deltas keep up, the hourly
schedule is the full refresh that checks them. Asking from that state rather than from an event ("an ingest run
succeeded") means that a refresh that failed or died is asked for again, after a backoff that doubles with each
failure in a row (`pipelines.defs.retries`), and that changes made outside Dagster (`xeno ingest drain`) are caught
up with too. A refresh queued or running covers what changed before it reads, and what changes while it reads is
caught by the next one, no sooner than `features_min_interval_s` after the last was published. Keys are
`features-<changes>-<attempt>[-after-<run>]`: attempts at catching up with that count.
"""

from datetime import UTC, datetime

import dagster as dg

from engine.features.deltas import customers_queued
from engine.features.freshness import features_lag
from pipelines.defs.features.jobs import (
    publish_feature_deltas,
    publish_feature_deltas_job,
    refresh_customer_features_job,
)
from pipelines.defs.following import RELIEVES_TAG, following_request, relief_due
from pipelines.defs.resources import XenoResource
from pipelines.defs.retries import backing_off, run_history
from pipelines.defs.ticks import SENSOR_TICK_S, STALE_TICK_S

CHANGES_TAG = "xeno/source_changes"


@dg.sensor(
    job=refresh_customer_features_job,
    minimum_interval_seconds=STALE_TICK_S,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Requests refresh_customer_features_job while the features are behind what was ingested.",
)
def stale_features_sensor(context: dg.SensorEvaluationContext, xeno: XenoResource) -> dg.RunRequest | dg.SkipReason:
    lag = features_lag(xeno.db())
    if lag is None:
        return dg.SkipReason("the newest feature snapshot has read every change ingested")
    settings = xeno.settings()
    if lag.published_at is not None:
        if lag.oldest_queued_at is None:
            return dg.SkipReason("every change since the newest snapshot is in a delta on it")
        waited = (datetime.now(UTC) - lag.oldest_queued_at).total_seconds()
        if waited < settings.features_min_interval_s:
            return dg.SkipReason(
                f"deltas are keeping up: the change waiting longest for one came {waited:.0f} s ago; a full refresh "
                f"is asked for once one waits {settings.features_min_interval_s:.0f} s"
            )
        since = (datetime.now(UTC) - lag.published_at).total_seconds()
        if since < settings.features_min_interval_s:
            return dg.SkipReason(
                f"the features are behind; the next refresh starts {settings.features_min_interval_s - since:.0f} s "
                f"from now, {settings.features_min_interval_s:.0f} s after the last"
            )
    history = run_history(context.instance, refresh_customer_features_job.name)
    if history.active is not None:
        return dg.SkipReason(f"refresh run {history.active.run_id} is {history.active.status.value}")
    backoff = backing_off(context.instance, history, settings)
    if backoff is not None:
        return dg.SkipReason(f"the features are behind; {backoff}")
    tags = {CHANGES_TAG: str(lag.changes)}
    attempts = run_history(context.instance, refresh_customer_features_job.name, tags, limit=1)
    return dg.RunRequest(run_key=attempts.next_key(f"features-{lag.changes}"), tags=tags)


@dg.sensor(
    job=publish_feature_deltas_job,
    minimum_interval_seconds=SENSOR_TICK_S,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Keeps a publish_feature_deltas_job run following while customers wait for a delta; again after "
    "a failed run.",
)
def feature_deltas_sensor(context: dg.SensorEvaluationContext, xeno: XenoResource) -> dg.RunRequest | dg.SkipReason:
    history = run_history(context.instance, publish_feature_deltas_job.name)
    backoff = backing_off(context.instance, history, xeno.settings())
    if (relieved := relief_due(history)) is not None and backoff is None:
        return following_request(
            publish_feature_deltas.name, history.next_key("deltas"), {RELIEVES_TAG: relieved.run_id}
        )
    if not customers_queued(xeno.db()):
        return dg.SkipReason("no customer waits for a delta (or there is no snapshot to put one on yet)")
    if history.active is not None:
        return dg.SkipReason(f"run {history.active.run_id} is publishing deltas")
    if backoff is not None:
        return dg.SkipReason(f"customers wait for a delta; {backoff}")
    return following_request(publish_feature_deltas.name, history.next_key("deltas"), {})
