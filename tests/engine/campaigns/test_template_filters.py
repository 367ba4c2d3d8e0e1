"""Money, numbers and dates in messages read as people write them, in the configured locale and time zone."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import polars as pl
import pytest

from engine.campaigns.templates import check_template
from engine.features.catalog import base_catalog
from engine.settings import Settings

CATALOG = base_catalog()
ORDERED = datetime(2026, 11, 24, 4, 3, 33, 408271, tzinfo=UTC)


def render(source: str, **values: object) -> str:
    return check_template(source, CATALOG).render(values)


def test_spend_and_order_dates_no_longer_show_as_python_prints_them(configure: Callable[..., Settings]) -> None:
    configure(XENO_MESSAGE_LOCALE="en_IN", XENO_MESSAGE_CURRENCY="INR", XENO_DEFAULT_TIMEZONE="Asia/Kolkata")
    message = render("You spent {{ total_spend | money }}; last order {{ last_order_at | date }}.",
                     total_spend=4269000.0, last_order_at=ORDERED)  # fmt: skip

    assert message == "You spent ₹42,69,000.00; last order 24 Nov 2026."


def test_each_filter_takes_its_override_and_follows_the_locale(configure: Callable[..., Settings]) -> None:
    configure(XENO_MESSAGE_LOCALE="de_DE", XENO_MESSAGE_CURRENCY="EUR", XENO_DEFAULT_TIMEZONE="America/New_York")
    values = {"total_spend": 1234.5, "last_order_at": ORDERED}

    assert render("{{ total_spend | money }} / {{ total_spend | money('USD') }}", **values) == "1.234,50 € / 1.234,50 $"
    assert render("{{ total_spend | number }} {{ total_spend | number(0) }} {{ total_spend | number(2) }}",
                  **values) == "1.234,5 1.234 1.234,50"  # fmt: skip
    assert render("{{ last_order_at | date('d MMMM') }}", **values) == "23 November"  # New York: still the 23rd
    assert render("{{ last_order_at | datetime('short') }}", **values) == "23.11.26, 23:03"


def test_an_unset_value_renders_empty_and_a_wrong_one_fails_only_that_customer() -> None:
    template = check_template("Spent {{ total_spend | money }}", CATALOG)
    frame = pl.DataFrame({"total_spend": [None, 10.0]}, schema={"total_spend": pl.Float64})

    rendered = template.render_frame(frame)

    assert rendered["message"].to_list() == ["Spent ", "Spent ₹10.00"]
    assert rendered["render_error"].to_list() == [None, None]
    assert "not a date" in str(check_template("{{ first_name | date }}", CATALOG).render_frame(
        pl.DataFrame({"first_name": ["Asha"]}))["render_error"][0])  # fmt: skip


def test_an_unknown_locale_is_refused_when_the_settings_are_read() -> None:
    with pytest.raises(ValueError, match="unknown locale 'xx_NOPE'"):
        Settings.model_validate({"XENO_MESSAGE_LOCALE": "xx_NOPE"})
