"""Taking a suggested send hour into the schedule: the next time it is that hour in the zone picked, never one
so close that it passes before the campaign could launch."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from engine.campaigns.errors import CampaignInvalid
from engine.campaigns.send_hour import next_occurrence

NOW = datetime(2026, 11, 25, 16, 45, tzinfo=UTC)  # 22:15 in Kolkata, 11:45 in New York


def local(hour: int, zone: str, now: datetime) -> datetime:
    """The answer as the zone's wall clock reads it, after checking it is said in that zone."""
    at = next_occurrence(hour, zone, now)
    assert at.tzinfo == ZoneInfo(zone)
    return at.replace(tzinfo=None)


def test_an_hour_still_ahead_today_is_taken_today() -> None:
    assert local(23, "Asia/Kolkata", NOW) == datetime(2026, 11, 25, 23, 0)
    assert local(14, "America/New_York", NOW) == datetime(2026, 11, 25, 14, 0)


def test_an_hour_gone_by_today_is_taken_tomorrow() -> None:
    assert local(10, "Asia/Kolkata", NOW) == datetime(2026, 11, 26, 10, 0)
    assert local(22, "Asia/Kolkata", NOW) == datetime(2026, 11, 26, 22, 0)  # 22:00 was 15 minutes ago


def test_an_hour_about_to_begin_is_taken_tomorrow_as_the_launch_needs_a_moment() -> None:
    ten_to_noon = datetime(2026, 11, 25, 16, 50, tzinfo=UTC)  # 11:50 in New York
    assert local(12, "America/New_York", ten_to_noon) == datetime(2026, 11, 26, 12, 0)
    assert local(12, "America/New_York", NOW) == datetime(2026, 11, 25, 12, 0)  # 15 minutes: just enough


def test_the_hour_is_read_on_the_zones_clock_across_a_change_of_daylight_saving_time() -> None:
    before_the_change = datetime(2026, 3, 28, 20, 0, tzinfo=UTC)  # London moves to BST on 29 March at 01:00 UTC
    assert local(9, "Europe/London", before_the_change) == datetime(2026, 3, 29, 9, 0)


def test_an_hour_the_clocks_skip_is_taken_the_next_day_it_exists_not_an_hour_later() -> None:
    # New York moves from 02:00 EST straight to 03:00 EDT on 8 March 2026 (07:00 UTC): there is no 02:00 that day.
    just_after_midnight = datetime(2026, 3, 8, 5, 30, tzinfo=UTC)  # 00:30 in New York
    at = next_occurrence(2, "America/New_York", just_after_midnight)
    assert at.replace(tzinfo=None) == datetime(2026, 3, 9, 2, 0)
    assert at.astimezone(UTC).astimezone(ZoneInfo("America/New_York")).hour == 2  # it launches at the hour promised
    assert local(3, "America/New_York", just_after_midnight) == datetime(2026, 3, 8, 3, 0)


@pytest.mark.parametrize(("hour", "zone", "named"), [(24, "UTC", "not 24"), (9, "Mars/Olympus", "Mars/Olympus")])
def test_an_hour_or_zone_that_does_not_exist_is_refused_naming_it(hour: int, zone: str, named: str) -> None:
    with pytest.raises(CampaignInvalid, match=named):
        next_occurrence(hour, zone, NOW)
