"""`refresh_customer_features_job`: materialize `customer_features` and run its checks."""

import dagster as dg

from pipelines.defs.features.assets import customer_features
from pipelines.defs.retries import MAX_RUNTIME_TAG

# Run monitoring fails a refresh still going after this long (it hangs), so that the refreshes that follow are not
# held up behind it; a million customers take under a minute on a quiet machine.
REFRESH_MAX_RUNTIME_S = 3600

refresh_customer_features_job = dg.define_asset_job(
    "refresh_customer_features_job",
    selection=dg.AssetSelection.assets(customer_features),
    description="Recompute every customer's features, publish a new snapshot version and check it.",
    tags={MAX_RUNTIME_TAG: str(REFRESH_MAX_RUNTIME_S)},
)
