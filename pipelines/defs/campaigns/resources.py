"""`CampaignAudience`: where a launch run finds its audience (the newest published feature snapshot)."""

import dagster as dg

from engine.campaigns.audience import AudienceSource, PublishedAudience
from engine.connections import get_engine


class CampaignAudience(dg.ConfigurableResource):
    """The newest published snapshot and the saved segments, read when the launch runs (never at import)."""

    def source(self) -> AudienceSource:
        return PublishedAudience(get_engine())
