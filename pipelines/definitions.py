"""The Dagster code location: gathers every domain's definitions (`workspace.yaml` points here)."""

import dagster as dg

from pipelines.defs.campaigns.jobs import launch_campaign_job
from pipelines.defs.campaigns.resources import CampaignAudience
from pipelines.defs.campaigns.sensors import due_campaigns_sensor
from pipelines.defs.ingest.jobs import ingest_stream_job
from pipelines.defs.ingest.sensors import ingest_stream_sensor
from pipelines.defs.resources import XenoResource

defs = dg.Definitions(
    jobs=[ingest_stream_job, launch_campaign_job],
    sensors=[ingest_stream_sensor, due_campaigns_sensor],
    resources={"xeno": XenoResource(), "campaign_audience": CampaignAudience()},
)
