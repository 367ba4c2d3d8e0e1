"""How often a campaign's progress is re-read: a finished campaign is still read, slowly, while receipts for its
messages may come, and no longer once every message has its outcome."""

from __future__ import annotations

from typing import cast

from dashboard.api_types import Campaign
from dashboard.campaign_view import REFRESH_EVERY_S, SLOW_REFRESH_EVERY_S, refresh_every

SETTLED = {"pending": 0, "queued": 0, "sent": 0, "delivered": 5, "failed": 1, "skipped": 2}


def campaign(status: str, **counts: int) -> Campaign:
    """A campaign with only what `refresh_every` reads of it."""
    return cast(Campaign, {"status": status, "scheduled_at": None, "counts": {**SETTLED, **counts}})


def test_a_campaign_completed_with_messages_awaiting_receipts_is_still_read_slowly() -> None:
    assert refresh_every(campaign("completed", sent=3)) == SLOW_REFRESH_EVERY_S
    assert refresh_every(campaign("cancelled", queued=1)) == SLOW_REFRESH_EVERY_S


def test_a_finished_campaign_whose_messages_all_have_their_outcome_is_not_read_again() -> None:
    assert refresh_every(campaign("completed")) is None
    assert refresh_every(campaign("failed")) is None


def test_a_sending_campaign_is_read_often() -> None:
    assert refresh_every(campaign("sending", sent=3)) == REFRESH_EVERY_S
