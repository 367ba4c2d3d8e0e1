"""Template filters that write money, numbers and dates as people read them, not as Python prints them.

`{{ total_spend | money }}` gives `₹42,690.00` rather than `42690.0`, `{{ last_order_at | date }}` gives
`24 Nov 2026` rather than `2026-11-24 04:03:33.408271+00:00`. The locale (`XENO_MESSAGE_LOCALE`, e.g. `en_IN`
groups by lakh), the currency (`XENO_MESSAGE_CURRENCY`) and the time zone dates are shown in
(`XENO_DEFAULT_TIMEZONE`) come from the settings; each filter takes an override:

    {{ total_spend | money }}  {{ total_spend | money("USD") }}
    {{ orders_count | number }}  {{ avg_order_value | number(1) }}
    {{ last_order_at | date }}  {{ last_order_at | date("long") }}  {{ last_order_at | date("d MMM") }}
    {{ last_order_at | datetime }}  {{ signed_up_at | datetime("short") }}

Formats are Babel's (CLDR): `short`, `medium`, `long`, `full` or a pattern. A feature that is unset for a customer
renders as nothing, like every other variable; a value that is not a number or a date fails that customer's
message with the reason.
"""

from __future__ import annotations

from datetime import date, datetime
from functools import cache
from typing import Any

from babel import Locale, dates, numbers

from engine.settings import get_settings

MAX_DECIMALS = 10
# CLDR puts no-break spaces in "1.234,50 €" and "9:33 AM"; in an SMS they alone would force the UCS-2 encoding
# (70 characters a segment instead of 160), so they are written as plain spaces.
_PLAIN_SPACES = str.maketrans({"\u00a0": " ", "\u202f": " "})


@cache
def _locale(name: str) -> Locale:
    return Locale.parse(name)


def _number(value: Any) -> float | int:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(f"{value!r} is not a number")
    return value if isinstance(value, int | float) else float(value)


def _moment(value: Any) -> datetime | date:
    if isinstance(value, datetime | date):
        return value
    try:
        return datetime.fromisoformat(value)
    except (TypeError, ValueError):
        raise ValueError(f"{value!r} is not a date") from None


def money(value: Any, currency: str | None = None) -> str:
    """An amount in the currency, as the locale writes it: `₹42,690.00`."""
    if value is None:
        return ""
    settings = get_settings()
    amount = numbers.format_currency(
        _number(value), currency or settings.message_currency, locale=_locale(settings.message_locale)
    )
    return amount.translate(_PLAIN_SPACES)


def number(value: Any, decimals: int | None = None) -> str:
    """A number grouped as the locale groups it (`42,690`), with exactly `decimals` decimals when given."""
    if value is None:
        return ""
    locale = _locale(get_settings().message_locale)
    if decimals is None:
        return numbers.format_decimal(_number(value), locale=locale)
    if not isinstance(decimals, int) or not 0 <= decimals <= MAX_DECIMALS:
        raise ValueError(f"number() takes 0 to {MAX_DECIMALS} decimals")
    whole = str(locale.decimal_formats[None].pattern).split(".")[0].split(";")[0]
    return numbers.format_decimal(_number(value), format=whole + ("." + "0" * decimals if decimals else ""),
                                  locale=locale)  # fmt: skip


def _in_zone(moment: datetime | date) -> datetime | date:
    if isinstance(moment, datetime) and moment.tzinfo is not None:
        return moment.astimezone(dates.get_timezone(get_settings().default_timezone))
    return moment


def date_filter(value: Any, format: str = "medium") -> str:
    """The day, in the settings' time zone, as the locale writes it: `24 Nov 2026`."""
    if value is None:
        return ""
    moment = _in_zone(_moment(value))
    day = moment.date() if isinstance(moment, datetime) else moment
    return dates.format_date(day, format, locale=_locale(get_settings().message_locale)).translate(_PLAIN_SPACES)


def datetime_filter(value: Any, format: str = "medium") -> str:
    """The day and time, in the settings' time zone, as the locale writes them: `24 Nov 2026, 9:33:33 AM`."""
    if value is None:
        return ""
    moment = _in_zone(_moment(value))
    if not isinstance(moment, datetime):
        moment = datetime(moment.year, moment.month, moment.day)
    return dates.format_datetime(moment, format, locale=_locale(get_settings().message_locale)).translate(_PLAIN_SPACES)


FILTERS = {"money": money, "number": number, "date": date_filter, "datetime": datetime_filter}
