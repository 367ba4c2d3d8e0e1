"""Driving the dashboard with Streamlit's `AppTest`: open it from its entry file, sign in, go to a page."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
from streamlit.dataframe_util import convert_arrow_bytes_to_pandas_df
from streamlit.testing.v1 import AppTest
from streamlit.testing.v1.element_tree import Block

ENTRY = Path(__file__).resolve().parents[2] / "dashboard" / "app.py"


def open_dashboard() -> AppTest:
    app = AppTest.from_file(str(ENTRY), default_timeout=30)
    app.run()
    return app


def signed_in(role: str, email: str | None = None) -> AppTest:
    """The dashboard after the developer sign-in as `role` (e-mail `<role>@shop.example` unless given)."""
    app = open_dashboard()
    app.text_input(key="signin_email").input(email or f"{role}@shop.example")
    app.selectbox(key="signin_role").select(role)
    app.button(key="signin_dev").click()
    app.run()
    assert not app.exception, app.exception
    return app


def on_page(app: AppTest, page: str) -> AppTest:
    """Go to `dashboard/app_pages/<page>.py` and run it."""
    app.switch_page(f"app_pages/{page}.py")
    app.run()
    assert not app.exception, [item.value for item in app.exception]
    return app


def tables(app: AppTest) -> list[pd.DataFrame]:
    """Every table on the page, in order (AppTest does not find tables by key)."""
    return [table.value for table in app.dataframe]


def table_with(app: AppTest, column: str) -> pd.DataFrame:
    """The first table on the page with `column`."""
    return next(table for table in tables(app) if column in table.columns)


def chart_series(app: AppTest, index: int) -> dict[str, list[Any]]:
    """The values of each series of the page's `index`-th chart (`st.line_chart`, `st.bar_chart`,
    `dashboard.charts`), by series, in the order the chart draws them."""
    chart = app.get("vega_lite_chart")[index].proto
    [dataset] = chart.datasets
    frame = convert_arrow_bytes_to_pandas_df(dataset.data.data)
    if {"series", "value"} <= set(frame.columns):  # `dashboard.charts`, in long form already
        return {name: rows["value"].tolist() for name, rows in frame.groupby("series", sort=False)}
    # Streamlit melts the series into a "color -- streamlit-generated" and a "value -- ..." column.
    series, value = (
        next(str(column) for column in frame.columns if str(column).startswith(f"{part} --"))
        for part in ("color", "value")
    )
    return {name: rows[value].tolist() for name, rows in frame.groupby(series, sort=False)}


def campaign_status(app: AppTest) -> str | None:
    """The status a campaign's progress shows (its last word, after the icon), or None when none is shown."""
    lines = [item.value for item in app.markdown if str(item.value).startswith("**Status:**")]
    return str(lines[-1]).split()[-1] if lines else None


def _within(node: Any) -> Iterator[Any]:
    yield node
    for child in getattr(node, "children", {}).values():
        yield from _within(child)


def innermost_block_with(app: AppTest, key: str, text: str) -> list[Any]:
    """Everything in the innermost container that holds both the widget `key` and an element showing `text`."""
    holding = [
        block
        for block in _within(app.main)
        if isinstance(block, Block)
        and any(getattr(item, "key", None) == key for item in _within(block))
        and any(getattr(item, "value", None) == text for item in _within(block))
    ]
    return list(_within(holding[-1]))
