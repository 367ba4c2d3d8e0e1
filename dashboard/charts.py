"""Charts over time that read well with one point as with a thousand, for every page.

Streamlit's quick charts draw a single point as nothing (an empty plot whose only tick is a stray ".882" of a
second) and label axes with column names. These draw a line with a marker on every point, whole-number counts,
time ticks in a format that fits the span (seconds for a campaign that took a minute, days for a month of
snapshots) and axis titles in words. The data goes to the chart in long form: `at`, `series`, `value`.
"""

from __future__ import annotations

from collections.abc import Sequence

import altair as alt
import pandas as pd
import streamlit as st

GOOD, BAD, NEUTRAL = "#2e7d32", "#c62828", "#1565c0"
SERIES_COLOURS = {"delivered": GOOD, "failed": BAD, "sent": NEUTRAL, "entered": GOOD, "left": BAD}


def time_format(moments: pd.Series) -> str:
    """A tick format that tells the points apart: time of day within a day (with seconds within ten minutes),
    else the date."""
    span = (moments.max() - moments.min()).total_seconds() if len(moments) else 0
    if span < 600:
        return "%H:%M:%S"
    if span < 86_400:
        return "%H:%M"
    return "%d %b %Y"


def long_form(frame: pd.DataFrame, at: str, series: Sequence[str]) -> pd.DataFrame:
    """`frame`'s `series` columns stacked as `series`/`value` rows beside the time `at`, in series order."""
    melted = frame.melt(id_vars=[at], value_vars=list(series), var_name="series", value_name="value")
    return melted.rename(columns={at: "at"})


def _colour(series: Sequence[str]) -> alt.Color:
    colours = [SERIES_COLOURS.get(name, NEUTRAL) for name in series]
    legend = alt.Legend(orient="bottom", title=None) if len(series) > 1 else None
    return alt.Color("series:N", scale=alt.Scale(domain=list(series), range=colours), legend=legend, sort=list(series))


def line_over_time(
    frame: pd.DataFrame, at: str, series: Sequence[str], *, x_title: str, y_title: str, height: int, key: str
) -> None:
    """Each series as a line with a marker on every point (so one point shows), counts on a whole-number axis."""
    data = long_form(frame, at, series)
    axis = alt.Axis(format=time_format(data["at"]), labelAngle=0, tickCount=min(len(frame), 8))
    chart = (
        alt.Chart(data)
        .mark_line(point=alt.OverlayMarkDef(size=70))
        .encode(
            x=alt.X("at:T", title=x_title, axis=axis),
            y=alt.Y("value:Q", title=y_title, axis=alt.Axis(format=",d", tickMinStep=1), scale=alt.Scale(zero=True)),
            color=_colour(series),
            tooltip=[
                alt.Tooltip("at:T", title=x_title, format="%Y-%m-%d %H:%M:%S"),
                "series:N",
                alt.Tooltip("value:Q", title=y_title, format=",d"),
            ],
        )
        .properties(height=height)
    )
    st.altair_chart(chart, use_container_width=True, key=key)


def bars_over_time(
    frame: pd.DataFrame, at: str, series: Sequence[str], *, x_title: str, y_title: str, height: int, key: str
) -> None:
    """Each time's series as stacked bars, one bar per time however few (the times as labels, in order)."""
    data = long_form(frame, at, series)
    data["when"] = data["at"].dt.strftime(time_format(data["at"]))
    order = list(dict.fromkeys(data.sort_values("at")["when"]))
    chart = (
        alt.Chart(data)
        .mark_bar()
        .encode(
            x=alt.X("when:O", title=x_title, sort=order, axis=alt.Axis(labelAngle=0)),
            y=alt.Y("value:Q", title=y_title, axis=alt.Axis(format=",d", tickMinStep=1), stack=True),
            color=_colour(series),
            tooltip=[alt.Tooltip("when:O", title=x_title), "series:N", alt.Tooltip("value:Q", format=",d")],
        )
        .properties(height=height)
    )
    st.altair_chart(chart, use_container_width=True, key=key)
