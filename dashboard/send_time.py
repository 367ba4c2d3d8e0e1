"""Smart send time on the Campaigns page: the API's suggested hour for a saved campaign, shown with the evidence
behind it (delivery rate by hour, the notes in words), and turned into a launch time.

The API's hour is in each customer's own time zone, but a campaign launches at one moment for everyone. So the
page schedules it at the next such hour in the time zone the marketer picks (best the one most of the audience
lives in; the API works out when that is) and says so: customers in other zones get it at whatever their clock
says then.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import pandas as pd
import streamlit as st

from dashboard.api_types import HourOutcomes, SendTime

# Each hour's bar is drawn in the series saying why it is (or is not) a candidate, in this order and colour.
SERIES = {
    "suggested": "#2e7d32",
    "compared": "#90a4ae",
    "too few messages": "#cfd8dc",
    "quiet hours": "#ffb74d",
}


def series_of(hour: HourOutcomes, suggested: int | None) -> str:
    """Which series an hour's bar belongs to."""
    if hour["hour"] == suggested:
        return "suggested"
    if hour["quiet"]:
        return "quiet hours"
    return "compared" if hour["enough"] else "too few messages"


def rate_chart_frame(answer: SendTime) -> pd.DataFrame:
    """One row per hour ("09:00"), one column per series holding the hour's delivery rate where it belongs."""
    rows = []
    for hour in answer["hours"]:
        kind = series_of(hour, answer["hour"])
        rates = {name: hour["rate"] if name == kind else None for name in SERIES}
        rows.append({"hour": f"{hour['hour']:02d}:00", **rates})
    return pd.DataFrame(rows)


def evidence_table(answer: SendTime) -> pd.DataFrame:
    """The hours that have messages (or are quiet), with their counts, as a table a person reads."""
    return pd.DataFrame(
        [
            {
                "hour": f"{hour['hour']:02d}:00",
                "sent": hour["sent"],
                "delivered": hour["delivered"],
                "delivery rate %": hour["rate"],
                "compared": hour["enough"] and not hour["quiet"],
                "quiet hour": hour["quiet"],
            }
            for hour in answer["hours"]
            if hour["sent"] or hour["quiet"]
        ]
    )


def show(answer: SendTime, channel: str, key: str, use_hour: Callable[[int], None]) -> None:
    """The suggestion (or why there is none), the evidence, and the button that puts the hour in the schedule."""
    since = datetime.fromisoformat(answer["since"])
    hour = answer["hour"]
    whose = "the audience's own" if answer["basis"] == "audience" else "all customers'"
    basis = (
        f"From {whose} history on {channel}: {answer['sample']:,} messages with a known outcome since {since:%d %b %Y}."
    )
    if hour is None:
        st.warning(answer["summary"], icon=":material/hourglass_empty:")
    else:
        st.markdown(f"**Suggested: {hour:02d}:00 in each customer's own time zone.**")
        st.markdown(answer["summary"])
        if not answer["clear"]:
            st.info(
                f"{hour:02d}:00 leads {answer['runner_up']:02d}:00 by only {answer['lead_points']:g} points: "
                "not enough to be sure it is better. Any of the leading hours is a fair choice."
            )
    st.caption(basis)
    for note in answer["notes"]:
        st.caption(note)
    if answer["sample"]:
        frame = rate_chart_frame(answer)
        st.bar_chart(
            frame,
            x="hour",
            y=list(SERIES),
            color=list(SERIES.values()),
            x_label="hour of the day, customer's own time",
            y_label="delivered, %",
            sort=False,
            height=240,
        )
        with st.expander("Evidence by hour"):
            st.dataframe(evidence_table(answer), hide_index=True, key=f"{key}_evidence")
    if hour is not None:
        st.button(
            f"Schedule at the next {hour:02d}:00",
            key=f"{key}_use",
            on_click=use_hour,
            args=(hour,),
            icon=":material/schedule:",
            help="Sets “Schedule for later” to the next time it is this hour in the time zone picked there.",
        )
        st.caption(
            f"A campaign launches at one moment for everyone, so it reaches customers at {hour:02d}:00 in the time "
            "zone you schedule it in (pick the one most of the audience lives in); customers elsewhere get it at "
            "their own clock's time then."
        )
