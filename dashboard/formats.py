"""How the dashboard writes values for people, for every page: numbers, money, times, and tables of records.

Numbers are grouped (`42,690`; a whole float loses its `.0`), money is written in the shop's currency as its locale
writes it (`₹42,690.00`: `XENO_MESSAGE_CURRENCY` and `XENO_MESSAGE_LOCALE`, the settings the message templates'
`money` filter reads), API times read as how long ago they were ("12 days ago"), and nothing unset reads `None`.
`table` turns the API's records into a frame of such text; `dataframe` shows a frame that keeps its numbers and
times (so columns sort as numbers and times) the same way: friendly headings, status and reason first, times
as "12 days ago", numbers grouped.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime
from functools import cache
from typing import Any

import pandas as pd
import streamlit as st
from babel import Locale, numbers

NOTHING = "—"
FIRST_COLUMNS = ("status", "reason")  # what a person looks for first in a row
MONEY = re.compile(r"(^|_)(spend|revenue|amount|order_value)(_|$)")  # features and fields holding money
# Column names that do not read well from the name alone.
LABELS = {
    "id": "Id",
    "customer_id": "Customer",
    "external_id": "External id",
    "sms_consent": "SMS consent",
    "email_consent": "E-mail consent",
    "email": "E-mail",
    "whatsapp_consent": "WhatsApp consent",
    "html": "HTML",
    "not_before": "Held until",
    "campaign_id": "Campaign",
}
_ISO_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")


@cache
def _locale() -> Locale:
    return Locale.parse(os.environ.get("XENO_MESSAGE_LOCALE", "en_IN"))


def _plain(text: str) -> str:
    return text.replace("\u00a0", " ").replace("\u202f", " ")


def number(value: Any, decimals: int | None = None) -> str:
    """`42690.0` as `42,690`, `1234.567` as `1,234.57`; `decimals` fixes how many; unset is a dash."""
    if value is None or (isinstance(value, float) and value != value):
        return NOTHING
    if decimals is not None:
        return _plain(numbers.format_decimal(value, format=f"#,##0.{'0' * decimals}" if decimals else "#,##0",
                                             locale=_locale()))  # fmt: skip
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return _plain(numbers.format_decimal(round(value, 2) if isinstance(value, float) else value, locale=_locale()))


def money(value: Any) -> str:
    """An amount in the shop's currency: `₹42,690.00`; unset is a dash."""
    if value is None:
        return NOTHING
    currency = os.environ.get("XENO_MESSAGE_CURRENCY", "INR")
    return _plain(numbers.format_currency(float(value), currency, locale=_locale()))


def is_id(name: str | None) -> bool:
    """Whether a field holds an id, which is written as it is (no grouping: customer 12345, not 12,345)."""
    return name is not None and (name == "id" or name.endswith("_id"))


def is_money(name: str | None) -> bool:
    return bool(name) and MONEY.search(str(name)) is not None


def age_text(seconds: float) -> str:
    """A length of time in its largest unit: `8.5 h`, `2.0 d`, `30 s`."""
    seconds = max(seconds, 0)
    for unit, size in (("d", 86_400), ("h", 3_600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f} {unit}"
    return f"{seconds:.0f} s"


def _moment(value: str | datetime | date) -> datetime:
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime(value.year, value.month, value.day)
    else:
        moment = datetime.fromisoformat(value)
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)


def when(value: str | datetime | None, now: datetime | None = None) -> str:
    """An API time, in any offset, as a short text in UTC with how long ago it was (or how soon it comes), or a
    dash."""
    if not value:
        return NOTHING
    moment = _moment(value)
    return f"{moment:%Y-%m-%d %H:%M} UTC ({_distance(moment, now)})"


def ago(value: str | datetime | date | None, now: datetime | None = None) -> str:
    """An API time as how long ago it was, in whole units: "12 days ago", "3 hours ago", "in 2 days"; a dash when
    unset."""
    if not value:
        return NOTHING
    return _distance(_moment(value), now, whole=True)


def _distance(moment: datetime, now: datetime | None, whole: bool = False) -> str:
    seconds = (moment - (now or datetime.now(UTC))).total_seconds()
    length = _whole_units(abs(seconds)) if whole else age_text(abs(seconds))
    if whole and abs(seconds) < 60:
        return "just now"
    return f"in {length}" if seconds > 0 else f"{length} ago"


def _whole_units(seconds: float) -> str:
    for unit, size in (("year", 365 * 86_400), ("month", 30 * 86_400), ("day", 86_400), ("hour", 3_600)):
        if seconds >= size:
            count = int(seconds // size)
            return f"{count} {unit}{'' if count == 1 else 's'}"
    count = int(seconds // 60)
    return f"{count} minute{'' if count == 1 else 's'}"


def value_text(value: Any, name: str | None = None, now: datetime | None = None) -> str:
    """Any value of a record or a feature as it reads in a sentence or a cell: money for a money field, grouped
    numbers, "12 days ago" for a time, yes/no, lists joined, a dash for nothing."""
    if value is None or (isinstance(value, float) and value != value):
        return NOTHING
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float):
        if is_id(name):
            return str(value)
        return money(value) if is_money(name) else number(value)
    if isinstance(value, datetime | date) or (isinstance(value, str) and _ISO_TIME.match(value)):
        return ago(value, now)
    if isinstance(value, list | tuple):
        return ", ".join(value_text(item, name, now) for item in value) or NOTHING
    if isinstance(value, dict):
        return ", ".join(f"{label(key).lower()} {value_text(item, key, now)}" for key, item in value.items())
    return str(value)


def label(name: str) -> str:
    """A column or field name as a heading: `total_spend` → "Total spend", `customer_id` → "Customer"."""
    if name in LABELS:
        return LABELS[name]
    words = name.replace("_", " ").strip()
    return words[:1].upper() + words[1:]


def table(
    records: Iterable[Mapping[str, Any]],
    first: Iterable[str] = FIRST_COLUMNS,
    hidden: Iterable[str] = (),
    now: datetime | None = None,
) -> pd.DataFrame:
    """Records as a table to read: `first` columns first (status and reason), `hidden` ones left out, friendly
    headings, every value written by `value_text`."""
    rows = [dict(record) for record in records]
    names = list(dict.fromkeys(name for row in rows for name in row if name not in set(hidden)))
    ordered = [name for name in first if name in names] + [name for name in names if name not in set(first)]
    return pd.DataFrame(
        {label(name): [value_text(row.get(name), name, now) for row in rows] for name in ordered},
        columns=[label(name) for name in ordered],
    )


def record(values: Mapping[str, Any], now: datetime | None = None) -> pd.DataFrame:
    """One record as a two-column table (field, value), for a profile."""
    return pd.DataFrame(
        {"Value": [value_text(value, name, now) for name, value in values.items()]},
        index=[label(name) for name in values],
    )


def first_columns(names: Iterable[str], first: Iterable[str] = FIRST_COLUMNS) -> list[str]:
    """`names` with the `first` ones (status and reason) moved to the front."""
    names, first = list(names), [name for name in first if name in names]
    return first + [name for name in names if name not in first]


def dataframe(frame: pd.DataFrame, key: str, config: Mapping[str, Any] | None = None) -> None:
    """Show `frame` keeping its values' types: friendly headings, status and reason first, times (`…_at` columns)
    as "12 days ago", numbers grouped, money in the currency; `config` overrides a column's settings."""
    shown = frame.copy()
    settings: dict[str, Any] = {}
    for name in shown.columns:
        heading = label(str(name))
        if str(name).endswith("_at"):
            shown[name] = pd.to_datetime(shown[name], utc=True, format="ISO8601")
            settings[name] = st.column_config.DatetimeColumn(heading, format="distance")
        elif is_id(str(name)):
            settings[name] = st.column_config.NumberColumn(heading, format="%d")
        elif is_money(str(name)):
            settings[name] = st.column_config.NumberColumn(heading, format="accounting")
        elif pd.api.types.is_numeric_dtype(shown[name]) and not pd.api.types.is_bool_dtype(shown[name]):
            settings[name] = st.column_config.NumberColumn(heading, format="localized")
        else:
            settings[name] = st.column_config.Column(heading)
    st.dataframe(
        shown,
        hide_index=True,
        column_order=first_columns(shown.columns),
        column_config={**settings, **(config or {})},
        key=key,
    )
