"""How pages write values: API times in UTC and as ago or ahead of now, numbers grouped, money in the currency,
tables with friendly headings."""

from __future__ import annotations

from datetime import UTC, datetime

from dashboard.formats import ago, money, number, table, value_text, when

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


def test_numbers_and_money_are_grouped_without_a_trailing_point_zero() -> None:
    assert number(42690.0) == "42,690"
    assert number(1234.567) == "1,234.57"
    assert money(42690.0) == "₹42,690.00"
    assert value_text(42690.0, "total_spend") == "₹42,690.00"
    assert value_text(12, "order_count") == "12"


def test_a_time_in_a_sentence_or_a_cell_reads_as_how_long_ago_and_nothing_is_a_dash() -> None:
    assert value_text("2026-11-13T04:03:33.408271Z", "last_order_at", NOW) == "12 days ago"
    assert ago("2026-11-25T11:00:00+00:00", NOW) == "1 hour ago"
    assert value_text(None) == value_text(float("nan")) == "—"
    assert value_text(True) == "yes"


def test_a_table_puts_status_and_reason_first_under_friendly_headings() -> None:
    frame = table(
        [{"customer_id": 1, "total_spend": 42690.0, "reason": None, "status": "skipped", "created_at": NOW}], now=NOW
    )

    assert list(frame.columns) == ["Status", "Reason", "Customer", "Total spend", "Created at"]
    assert frame.iloc[0].tolist() == ["skipped", "—", "1", "₹42,690.00", "just now"]
