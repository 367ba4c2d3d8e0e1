"""The Dagster code location: gathers every domain's definitions (`workspace.yaml` points here)."""

import dagster as dg

from pipelines.defs.campaigns.jobs import launch_campaign_job
from pipelines.defs.campaigns.resources import CampaignAudience
from pipelines.defs.campaigns.sensors import due_campaigns_sensor
from pipelines.defs.features.assets import customer_features
from pipelines.defs.features.checks import customer_features_checks
from pipelines.defs.features.jobs import publish_feature_deltas_job, refresh_customer_features_job
from pipelines.defs.features.schedules import hourly_customer_features_schedule
from pipelines.defs.features.sensors import feature_deltas_sensor, stale_features_sensor
from pipelines.defs.ingest.jobs import ingest_stream_job
from pipelines.defs.ingest.sensors import ingest_stream_sensor
from pipelines.defs.resources import XenoResource
from pipelines.defs.segments.assets import segment_sizes
from pipelines.defs.segments.sensors import segment_sizes_automation_sensor

defs = dg.Definitions(
    assets=[customer_features, segment_sizes],
    asset_checks=customer_features_checks,
    jobs=[ingest_stream_job, launch_campaign_job, refresh_customer_features_job, publish_feature_deltas_job],
    sensors=[
        ingest_stream_sensor,
        due_campaigns_sensor,
        stale_features_sensor,
        feature_deltas_sensor,
        segment_sizes_automation_sensor,
    ],
    schedules=[hourly_customer_features_schedule],
    resources={"xeno": XenoResource(), "campaign_audience": CampaignAudience()},
)
