"""The suggested send hour's chart: each hour's bar in the series saying why it is (or is not) a candidate. (The
next occurrence of the hour is the engine's: tests/engine/campaigns/test_send_hour.py.)"""

from __future__ import annotations

from dashboard.api_types import HourOutcomes
from dashboard.send_time import series_of


def test_each_hours_bar_says_why_it_is_or_is_not_a_candidate() -> None:
    def hour(number: int, *, quiet: bool = False, enough: bool = True) -> HourOutcomes:
        return {"hour": number, "sent": 40, "delivered": 36, "rate": 90.0, "quiet": quiet, "enough": enough}

    assert series_of(hour(10), suggested=10) == "suggested"
    assert series_of(hour(14), suggested=10) == "compared"
    assert series_of(hour(15, enough=False), suggested=10) == "too few messages"
    assert series_of(hour(22, quiet=True), suggested=10) == "quiet hours"
    assert series_of(hour(22, quiet=True), suggested=None) == "quiet hours"
