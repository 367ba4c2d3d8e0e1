"""The campaign a route names, or 404: shared by the campaign routes and the AI routes about a campaign."""

from __future__ import annotations

from sqlalchemy import Engine

from api.errors import NotFound
from engine.campaigns.errors import CampaignNotFound
from engine.campaigns.progress import Campaign, get_campaign


def found_campaign(db: Engine, campaign_id: int) -> Campaign:
    try:
        return get_campaign(db, campaign_id)
    except CampaignNotFound:
        raise NotFound(f"there is no campaign {campaign_id}") from None
