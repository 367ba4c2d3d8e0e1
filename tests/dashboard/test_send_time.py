"""Taking a suggested send hour into the schedule: the next time it is that hour in the zone picked, never one
so close that it passes before the campaign could launch."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from dashboard.send_time import next_occurrence, series_of

NOW = datetime(2026, 11, 25, 16, 45, tzinfo=UTC)  # 22:15 in Kolkata, 11:45 in New York


def test_an_hour_still_ahead_today_is_taken_today() -> None:
    assert next_occurrence(23, "Asia/Kolkata", NOW) == datetime(2026, 11, 25, 23, 0)
    assert next_occurrence(14, "America/New_York", NOW) == datetime(2026, 11, 25, 14, 0)


def test_an_hour_gone_by_today_is_taken_tomorrow() -> None:
    assert next_occurrence(10, "Asia/Kolkata", NOW) == datetime(2026, 11, 26, 10, 0)
    assert next_occurrence(22, "Asia/Kolkata", NOW) == datetime(2026, 11, 26, 22, 0)  # 22:00 was 15 minutes ago


def test_an_hour_about_to_begin_is_taken_tomorrow_as_the_launch_needs_a_moment() -> None:
    ten_to_noon = datetime(2026, 11, 25, 16, 50, tzinfo=UTC)  # 11:50 in New York
    assert next_occurrence(12, "America/New_York", ten_to_noon) == datetime(2026, 11, 26, 12, 0)
    assert next_occurrence(12, "America/New_York", NOW) == datetime(2026, 11, 25, 12, 0)  # 15 minutes: just enough


def test_the_hour_is_read_on_the_zones_clock_across_a_change_of_daylight_saving_time() -> None:
    before_the_change = datetime(2026, 3, 28, 20, 0, tzinfo=UTC)  # London moves to BST on 29 March at 01:00 UTC
    assert next_occurrence(9, "Europe/London", before_the_change) == datetime(2026, 3, 29, 9, 0)


def test_an_hour_the_clocks_skip_is_taken_the_next_day_it_exists_not_an_hour_later() -> None:
    # New York moves from 02:00 EST straight to 03:00 EDT on 8 March 2026 (07:00 UTC): there is no 02:00 that day.
    just_after_midnight = datetime(2026, 3, 8, 5, 30, tzinfo=UTC)  # 00:30 in New York
    at = next_occurrence(2, "America/New_York", just_after_midnight)
    assert at == datetime(2026, 3, 9, 2, 0)
    launch = at.replace(tzinfo=ZoneInfo("America/New_York")).astimezone(UTC)
    assert launch.astimezone(ZoneInfo("America/New_York")).hour == 2  # the campaign launches at the hour promised
    assert next_occurrence(3, "America/New_York", just_after_midnight) == datetime(2026, 3, 8, 3, 0)


def test_each_hours_bar_says_why_it_is_or_is_not_a_candidate() -> None:
    def hour(number: int, *, quiet: bool = False, enough: bool = True) -> dict[str, object]:
        return {"hour": number, "quiet": quiet, "enough": enough}

    assert series_of(hour(10), suggested=10) == "suggested"
    assert series_of(hour(14), suggested=10) == "compared"
    assert series_of(hour(15, enough=False), suggested=10) == "too few messages"
    assert series_of(hour(22, quiet=True), suggested=10) == "quiet hours"
    assert series_of(hour(22, quiet=True), suggested=None) == "quiet hours"
