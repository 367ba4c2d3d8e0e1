"""`refresh_customer_features_job`: materialize `customer_features` and run its checks."""

import dagster as dg

from pipelines.defs.features.assets import customer_features

refresh_customer_features_job = dg.define_asset_job(
    "refresh_customer_features_job",
    selection=dg.AssetSelection.assets(customer_features),
    description="Recompute every customer's features, publish a new snapshot version and check it.",
)
