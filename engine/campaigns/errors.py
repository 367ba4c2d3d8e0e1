"""What campaign functions refuse with, so the API can answer each with its status code."""

from __future__ import annotations


class CampaignNotFound(LookupError):
    """There is no campaign with that id (404)."""

    def __init__(self, campaign_id: int) -> None:
        super().__init__(f"there is no campaign {campaign_id}")
        self.campaign_id = campaign_id


class CampaignStateError(ValueError):
    """The campaign's status does not allow the change asked for (409)."""

    def __init__(self, campaign_id: int, status: str, action: str) -> None:
        super().__init__(f"campaign {campaign_id} is {status}: it cannot be {action}")
        self.campaign_id = campaign_id
        self.status = status
        self.action = action
