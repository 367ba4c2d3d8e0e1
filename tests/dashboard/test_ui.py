"""How pages show an API time: in UTC whatever offset it arrives in, and as ago or ahead of now."""

from __future__ import annotations

from datetime import UTC, datetime

from dashboard.ui import when

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def test_a_time_with_an_offset_is_shown_converted_to_utc() -> None:
    assert when("2026-11-25T09:00+05:30", NOW) == "2026-11-25 03:30 UTC (8.5 h ago)"


def test_a_future_time_says_how_soon_it_comes_not_zero_seconds_ago() -> None:
    assert when("2026-11-25T14:30:00+00:00", NOW) == "2026-11-25 14:30 UTC (in 2.5 h)"
    assert when("2026-11-27T12:00:00+00:00", NOW) == "2026-11-27 12:00 UTC (in 2.0 d)"


def test_a_past_time_says_how_long_ago_it_was() -> None:
    assert when("2026-11-25T11:59:30Z", NOW) == "2026-11-25 11:59 UTC (30 s ago)"


def test_no_time_is_a_dash() -> None:
    assert when(None, NOW) == "—"
