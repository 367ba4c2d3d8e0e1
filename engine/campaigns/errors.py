"""What campaign functions refuse with, each of one of the engine's kinds of refusal."""

from __future__ import annotations

from typing import Any

from engine.errors import Conflict, Invalid, NotFound


class CampaignNotFound(NotFound, LookupError):
    """There is no campaign with that id (404)."""

    def __init__(self, campaign_id: int) -> None:
        super().__init__(f"there is no campaign {campaign_id}")
        self.campaign_id = campaign_id


class CampaignStateError(Conflict, ValueError):
    """The campaign's status does not allow the change asked for (409)."""

    def __init__(self, campaign_id: int, status: str, action: str) -> None:
        super().__init__(f"campaign {campaign_id} is {status}: it cannot be {action}")
        self.campaign_id = campaign_id
        self.status = status
        self.action = action


class RetryPending(CampaignStateError):
    """The campaign's failed messages are already being retried by a follow-up (409): retrying again would
    send them twice."""

    def __init__(self, campaign_id: int, follow_up_id: int) -> None:
        ValueError.__init__(
            self, f"campaign {campaign_id}'s failed messages are already retried by campaign {follow_up_id}"
        )
        self.campaign_id = campaign_id
        self.status = "retried"
        self.action = "retried again"
        self.follow_up_id = follow_up_id


class CampaignInvalid(Invalid, ValueError):
    """The campaign, as given, cannot be saved, scheduled or retried (422); the message says why."""


class AudienceMissing(CampaignInvalid, LookupError):
    """What the campaign's audience needs is not there: its saved segment is gone, or no feature snapshot has
    been published yet (422)."""


class NothingToRetry(CampaignInvalid):
    """Every failed message of the campaign failed for good, so "retry the failed" has no one to send to (422);
    `left_out` counts them by reason."""

    error = "nothing_to_retry"

    def __init__(self, campaign_id: int, left_out: dict[str, int]) -> None:
        reasons = ", ".join(f"{count:,} {reason}" for reason, count in left_out.items())
        super().__init__(
            f"none of campaign {campaign_id}'s {sum(left_out.values()):,} failed messages can succeed if sent "
            f"again, so none is retried: {reasons}"
        )
        self.campaign_id = campaign_id
        self.left_out = left_out

    @property
    def detail(self) -> Any:
        return {"message": str(self), "left_out": self.left_out}
