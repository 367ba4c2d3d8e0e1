"""Asset checks on the newest published `customer_features` snapshot; a failure blocks what depends on it."""

from collections.abc import Callable

import dagster as dg
from sqlalchemy import Engine

from engine.features.checks import (
    CheckOutcome,
    orders_agree_with_postgres,
    row_count_matches_customers,
    spend_is_never_negative,
)
from engine.features.snapshot import SnapshotInfo, snapshot_info
from pipelines.defs.features.assets import customer_features
from pipelines.defs.resources import XenoResource


def _check_result(check: Callable[[Engine, SnapshotInfo], CheckOutcome], xeno: XenoResource) -> dg.AssetCheckResult:
    info = snapshot_info(xeno.db())
    if info is None:
        return dg.AssetCheckResult(passed=False, description="no customer_features snapshot has been published")
    outcome = check(xeno.db(), info)
    metadata = {"version": info.version, **outcome.figures}
    return dg.AssetCheckResult(passed=outcome.passed, description=outcome.description, metadata=metadata)


@dg.asset_check(
    asset=customer_features,
    name="row_count_matches_customers",
    blocking=True,
    description="One row per customer in the snapshot table and file, as many as Postgres counted.",
)
def customer_features_row_count(xeno: XenoResource) -> dg.AssetCheckResult:
    return _check_result(row_count_matches_customers, xeno)


@dg.asset_check(
    asset=customer_features,
    name="spend_is_never_negative",
    blocking=True,
    description="No customer has a negative total, window spend or average order value.",
)
def customer_features_spend(xeno: XenoResource) -> dg.AssetCheckResult:
    return _check_result(spend_is_never_negative, xeno)


@dg.asset_check(
    asset=customer_features,
    name="orders_agree_with_postgres",
    blocking=True,
    description="Order counts and spend add up to Postgres' totals of completed orders; windows nest.",
)
def customer_features_orders(xeno: XenoResource) -> dg.AssetCheckResult:
    return _check_result(orders_agree_with_postgres, xeno)


customer_features_checks = [customer_features_row_count, customer_features_spend, customer_features_orders]
