"""Pipelines: how far behind each stream is, the ingest dead letters (with replay), the newest feature
snapshot and its age, Dagster's newest runs (failed ones with why), campaign launches being tried again or given
up on, and links into Dagster, where the pipelines themselves run."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import formats, ui
from dashboard.api_types import LaunchTrouble, RunSummary
from dashboard.client import ApiError

REFRESH_EVERY_S = 10
FAILED = ("FAILURE", "CANCELED")  # a run's statuses when it ended without doing its work
DAGSTER_LINKS = (
    ("Runs", "/runs"),
    ("Assets", "/assets"),
    ("Feature snapshot asset", "/assets/customer_features"),
    ("Sensors and schedules", "/automation"),
)

client = ui.api()
st.title("Pipelines")
ui.needs("analyst", "the pipelines")

dagster = ui.config().dagster_url
st.caption(f"The pipelines run in Dagster at {dagster}.")
for column, (label, path) in zip(st.columns(len(DAGSTER_LINKS)), DAGSTER_LINKS, strict=True):
    column.link_button(label, f"{dagster}{path}", icon=":material/open_in_new:")


@st.fragment(run_every=REFRESH_EVERY_S)
def health() -> None:
    status = ui.read("Reading the pipelines' state", client.pipelines_status)
    if status is None:
        return
    st.subheader("Streams")
    for column, stream in zip(st.columns(len(status["streams"])), status["streams"], strict=True):
        lag = "up to date" if stream["lag_seconds"] is None else f"{formats.age_text(stream['lag_seconds'])} behind"
        column.metric(
            f"{stream['name']} backlog",
            formats.number(stream["undelivered"] + stream["pending"]),
            border=True,
            help=f"{stream['undelivered']:,} not yet taken, {stream['pending']:,} taken by the "
            f"`{stream['group']}` consumers and not yet done. Lag: {lag}.",
        )
        column.caption(f"Lag: {lag}")
    st.subheader("Feature snapshot")
    snapshot = status["snapshot"]
    if snapshot is None:
        st.warning("No feature snapshot has been published yet: materialize `customer_features` in Dagster.")
    else:
        columns = st.columns(4)
        columns[0].metric("Version", snapshot["version"], border=True)
        columns[1].metric(
            "Age",
            formats.age_text(snapshot["age_seconds"]),
            border=True,
            help=f"Published {formats.when(snapshot['created_at'])}; "
            f"features as of {formats.when(snapshot['taken_at'])}",
        )
        columns[2].metric("Customers", formats.number(snapshot["customers"]), border=True)
        columns[3].metric("Events", formats.number(snapshot["events"]), border=True)
    launches(status["launches"])
    runs(status["runs"], status["runs_unavailable"])
    st.caption(f"Checked {formats.when(status['checked_at'])}; refreshed every {REFRESH_EVERY_S} s.")


def launches(troubles: list[LaunchTrouble]) -> None:
    """Campaign launches being tried again, and those given up on (History has their "Try again")."""
    for trouble in troubles:
        name = f"“{trouble['name']}” (campaign {trouble['campaign_id']})"
        if trouble["status"] == "failed":
            st.error(f"{name}: the launch was given up on. {trouble['reason']}", icon="❌")
        else:
            st.warning(
                f"{name}: {trouble['attempts']} launch attempts have not gone through; tried again automatically. "
                f"The last: {trouble['reason']}",
                icon="⏳",
            )
        st.page_link(
            "app_pages/history.py", label=f"Open {name}", query_params={"campaign": str(trouble["campaign_id"])}
        )


def runs(recent: list[RunSummary], unavailable: str | None) -> None:
    """Dagster's newest runs, the failed ones first with why; each key says which attempt of its work it was."""
    st.subheader("Runs")
    if unavailable:
        st.warning(f"Dagster's runs could not be read: {unavailable}", icon="⚠️")
        return
    if not recent:
        st.caption("No runs yet.")
        return
    failed = [run for run in recent if run["status"] in FAILED]
    if failed:
        st.error(f"{len(failed)} of the last {len(recent)} runs failed; their work is tried again (see README).")
    table = pd.DataFrame(
        {
            "Status": [run["status"].lower() for run in recent],
            "Why it failed": [run["reason"] or "" for run in recent],
            "Job": [run["job"] for run in recent],
            "Attempt": [run["run_key"] or "" for run in recent],
            "Created": [formats.when(run["created_at"]) for run in recent],
            "Ended": [formats.when(run["ended_at"]) for run in recent],
            "Run": [run["run_id"][:8] for run in recent],
        }
    )
    st.dataframe(table, hide_index=True, key="runs_table")


health()

st.subheader("Dead letters")
ui.show_flash()
st.caption("Records the ingest job could not apply, kept with their error until they are replayed.")
include_replayed = st.toggle("Include replayed ones", key="deadletters_all")
letters = ui.read("Loading dead letters", client.dead_letters, include_replayed)
if letters is not None:
    if not letters:
        st.success("No dead letters.")
    else:
        formats.dataframe(pd.DataFrame(letters), key="deadletters_table")
        waiting = [letter["id"] for letter in letters if letter["replayed_at"] is None]
        if not client.may("admin"):
            st.caption("Replaying dead letters needs the admin role.")
        elif waiting:
            chosen = st.multiselect("Dead letters to replay", waiting, key="deadletters_pick")
            if st.button("Replay", key="deadletters_replay", type="primary", disabled=not chosen):
                try:
                    with st.spinner("Putting them back on the ingest stream…"):
                        replayed = client.replay_dead_letters(chosen)
                except ApiError as error:
                    st.error(error.message, icon="⚠️")
                else:
                    ui.flash("success", f"Replayed {len(replayed)}: the ingest job applies them again.")
                    st.rerun()
