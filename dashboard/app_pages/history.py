"""History: every campaign, newest first, with how it went; one campaign's progress (live while it sends),
its messages and outcomes over time, its communication log, the AI's reading of it, and the moves left to
make (pause, resume, cancel, retry the failed)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import pandas as pd
import streamlit as st

from dashboard import campaign_view, charts, formats, ui
from dashboard.api_types import AiJob, Campaign, Engagement
from dashboard.client import ApiError

PAGE_SIZE = 50
LOG_PAGE_SIZE = 100
STATUSES = ("draft", "scheduled", "sending", "paused", "completed", "cancelled", "failed")
MESSAGE_STATUSES = ("pending", "queued", "sent", "delivered", "failed", "skipped")
ANY = "any"
# Timeline buckets to choose from: the smallest that gives at most MAX_POINTS points over the campaign.
BUCKETS_S = (1, 5, 10, 30, 60, 300, 600, 1800, 3600, 6 * 3600, 86_400)
MAX_POINTS = 120
BAND_KINDS = {"spend": "spend", "recency": "last order", "city": "city"}  # the insights' kinds of customer band
INSIGHTS_KEY = "history_insight_jobs"  # campaign id -> the AI job reading it
POLL_EVERY_S = 1.0
OFFSET_KEY = "history_offset"
PICK_KEY = "history_pick"
CAMPAIGN_PARAM = "campaign"  # `?campaign=<id>` opens that campaign: links from the Campaigns page, or shared

client = ui.api()
st.title("History")
ui.needs("viewer", "campaign history")
ui.show_flash()


# --- the list ---


def audience_name(campaign: Campaign, segment_names: dict[int, str]) -> str:
    """Who the campaign goes to, by the segment's name when it has one."""
    segment_id = campaign["segment_id"]
    if segment_id is None:
        return "a rule of its own"
    return segment_names.get(segment_id, f"segment #{segment_id}")


def history_row(
    campaign: Campaign, segment_names: dict[int, str], engagement: Engagement | None = None
) -> dict[str, Any]:
    counts = campaign["counts"]
    rate = campaign_view.delivery_rate(counts)
    engaged: Mapping[str, Any] = engagement or {}
    return {
        "id": campaign["id"],
        "name": campaign["name"],
        "segment": audience_name(campaign, segment_names),
        "channel": campaign_view.CHANNELS.get(campaign["channel"], campaign["channel"]),
        "status": campaign["status"],
        "audience": campaign["audience_size"],
        "sent": campaign_view.handed_over(counts),
        "delivered": counts["delivered"],
        "failed": counts["failed"],
        "skipped": counts["skipped"],
        "delivery rate": None if rate is None else round(100 * rate, 1),
        **{column: engaged.get(column) for column in ENGAGEMENT_COLUMNS},
        "revenue": None if engaged.get("revenue") is None else float(engaged["revenue"]),
        "launched_at": campaign["launched_at"],
        "created_at": campaign["created_at"],
    }


ENGAGEMENT_COLUMNS = ("opened", "clicked", "conversions")
HISTORY_COLUMNS = {
    "audience": st.column_config.NumberColumn(
        "Audience", format="localized", help="Customers the segment held at launch"
    ),
    "sent": st.column_config.NumberColumn(
        "Sent", format="localized", help="Handed to the vendor: delivered, failed or awaiting a receipt"
    ),
    "skipped": st.column_config.NumberColumn(
        "Skipped", format="localized", help="Not sent: no consent, no address, frequency cap, cancelled…"
    ),
    "delivery rate": st.column_config.NumberColumn(
        "Delivery rate", format="%.1f%%", help="Delivered of those with a final receipt"
    ),
    "opened": st.column_config.NumberColumn(
        "Opened", format="localized", help="Customers who opened the e-mail (its images loaded)"
    ),
    "clicked": st.column_config.NumberColumn("Clicked", format="localized", help="Customers who clicked a link in it"),
    "conversions": st.column_config.NumberColumn(
        "Conversions",
        format="localized",
        help="Orders whose customer it was the last message to, within the attribution window (last touch)",
    ),
    "revenue": st.column_config.NumberColumn("Revenue", format="accounting", help="The amounts of those orders"),
}

filters = st.columns([2, 5, 1, 1], vertical_alignment="bottom")


def start_over() -> None:
    """A new filter: back to the newest campaigns, the one linked to forgotten."""
    st.session_state.pop(OFFSET_KEY, None)
    st.query_params.pop(CAMPAIGN_PARAM, None)


def follow_pick() -> None:
    """Keep the campaign opened in the address, so the page can be reloaded or shared."""
    st.query_params[CAMPAIGN_PARAM] = str(st.session_state[PICK_KEY])


def linked_campaign() -> int | None:
    asked = st.query_params.get(CAMPAIGN_PARAM, "")
    return int(asked) if asked.isdigit() else None


status = filters[0].selectbox("Status", (ANY, *STATUSES), key="history_status", on_change=start_over)
offset = st.session_state.get(OFFSET_KEY, 0)
listed = ui.read("Loading campaigns", client.campaigns, None if status == ANY else status, PAGE_SIZE, offset)
if listed is None:
    st.stop()
if offset and filters[2].button("Newer", key="history_newer"):
    st.session_state[OFFSET_KEY] = max(offset - PAGE_SIZE, 0)
    st.rerun()
if len(listed) == PAGE_SIZE and filters[3].button("Older", key="history_older"):
    st.session_state[OFFSET_KEY] = offset + PAGE_SIZE
    st.rerun()
if not listed:
    st.info("No older campaigns." if offset else "No campaigns yet." if status == ANY else f"No {status} campaigns.")
    st.stop()
segment_names = {segment["id"]: segment["name"] for segment in ui.read("Loading segments", client.segments) or []}
engagement = {
    figures["campaign_id"]: figures
    for figures in ui.read("Loading opens and clicks", client.engagement, [campaign["id"] for campaign in listed]) or []
}
formats.dataframe(
    pd.DataFrame([history_row(campaign, segment_names, engagement.get(campaign["id"])) for campaign in listed]),
    key="history_table",
    config=HISTORY_COLUMNS,
)

campaigns = {campaign["id"]: campaign for campaign in listed}
linked = linked_campaign()
if linked is not None and linked not in campaigns:
    found = ui.read(f"Opening campaign #{linked}", client.campaign, linked)
    if found is not None:
        campaigns[linked] = found
if linked in campaigns:
    st.session_state[PICK_KEY] = linked
elif st.session_state.get(PICK_KEY) not in campaigns:
    st.session_state[PICK_KEY] = listed[0]["id"]
picked_id = st.selectbox(
    "Open",
    list(campaigns),
    key=PICK_KEY,
    on_change=follow_pick,
    format_func=lambda campaign_id: f"#{campaign_id} {campaigns[campaign_id]['name']}",
)
campaign = campaigns[picked_id]


# --- one campaign ---


def about(campaign: Campaign) -> str:
    channel = campaign_view.CHANNELS.get(campaign["channel"], campaign["channel"])
    audience = None if campaign["segment_id"] is None else segment_names.get(campaign["segment_id"])
    parts = [
        f"{channel} to the segment “{audience}”"
        if audience
        else f"{channel} to {audience_name(campaign, segment_names)}",
        f"created {formats.when(campaign['created_at'])}",
    ]
    if campaign["scheduled_at"] and not campaign["launched_at"]:
        parts.append(f"scheduled for {formats.when(campaign['scheduled_at'])}")
    if campaign["launched_at"]:
        parts.append(f"launched {formats.when(campaign['launched_at'])}")
    if campaign["completed_at"]:
        parts.append(f"finished {formats.when(campaign['completed_at'])}")
    if campaign["parent_campaign_id"]:
        parts.append(f"retrying the failed of #{campaign['parent_campaign_id']}")
    return " · ".join(parts)


def engagement_metrics(campaign: Campaign) -> None:
    """Opens and clicks (as shares of the delivered), conversions and their revenue."""
    figures = engagement.get(campaign["id"])
    if figures is None:  # a campaign opened by its link, not on this page of the list
        fetched = ui.read("Loading opens and clicks", client.engagement, [campaign["id"]])
        if not fetched:
            return
        figures = fetched[0]
    delivered = campaign["counts"]["delivered"]

    def share(part: int) -> str | None:
        return f"{100 * part / delivered:.1f}% of delivered" if delivered else None

    opened, clicked, conversions, revenue = st.columns(4)
    opened.metric("Opened", formats.number(figures["opened"]), share(figures["opened"]), delta_color="off")
    clicked.metric(
        "Clicked",
        formats.number(figures["clicked"]),
        share(figures["clicked"]),
        delta_color="off",
        help=f"{formats.number(figures['clicks'])} clicks",
    )
    conversions.metric(
        "Conversions",
        formats.number(figures["conversions"]),
        help="Orders it was the last message before (last touch)",
    )
    revenue.metric("Revenue", formats.money(figures["revenue"]), help="The amounts of those orders")


def bucket_for(launched_at: str, completed_at: str | None) -> int:
    """A timeline bucket that draws a launched campaign's whole span in at most MAX_POINTS points."""
    started = datetime.fromisoformat(launched_at)
    ended = datetime.fromisoformat(completed_at) if completed_at else datetime.now(UTC)
    span = (ended - started).total_seconds()
    return next((bucket for bucket in BUCKETS_S if span / bucket <= MAX_POINTS), BUCKETS_S[-1])


def over_time(campaign: Campaign) -> None:
    launched_at = campaign["launched_at"]
    if not launched_at:
        st.caption("Nothing has been sent yet.")
        return
    bucket_s = bucket_for(launched_at, campaign["completed_at"])
    timeline = ui.read("Loading the timeline", client.campaign_timeline, campaign["id"], bucket_s)
    if timeline is None:
        return
    if not timeline["points"]:
        st.caption("No message has been sent yet.")
        return
    frame = pd.DataFrame(timeline["points"])
    frame["at"] = pd.to_datetime(frame["at"])
    st.markdown("**Messages by outcome, in all so far**")
    totals = frame.set_index("at")[["sent", "delivered", "failed"]].cumsum().reset_index()
    charts.line_over_time(
        totals, "at", ["sent", "delivered", "failed"], x_title="time (UTC)", y_title="messages, in all",
        height=260, key="history_totals",
    )  # fmt: skip
    every = formats.age_text(timeline["bucket_s"])
    if len(frame) == 1:
        sent, delivered, failed = (formats.number(frame[name].iloc[0]) for name in ("sent", "delivered", "failed"))
        st.caption(f"Every outcome so far came within {every}: {sent} sent, {delivered} delivered, {failed} failed.")
        return
    st.markdown(f"**Per {every}**")
    charts.bars_over_time(
        frame, "at", ["delivered", "failed"], x_title=f"time (UTC), per {every}", y_title="messages",
        height=200, key="history_per_bucket",
    )  # fmt: skip


def band_rates(facts: list[dict[str, Any]]) -> dict[str, pd.DataFrame]:
    """The delivery rate of each band of customers the AI's facts give, per kind of band (spend, recency,
    city), the bands in the facts' order."""
    bands: dict[str, list[dict[str, Any]]] = {}
    for fact in facts:
        if fact.get("kind") in BAND_KINDS and "rate" in fact.get("values", {}):
            values = fact["values"]
            bands.setdefault(fact["kind"], []).append(
                {
                    "band": fact["label"],
                    "delivery rate": values["rate"],
                    "messages": values["outcomes"],
                    "beyond chance": values.get("versus") in ("above", "below"),
                    "versus": values.get("versus"),
                }
            )
    return {kind: pd.DataFrame(rows) for kind, rows in bands.items()}


def by_feature_bands(campaign: Campaign) -> None:
    st.markdown("**Delivery rate by feature bands**")
    job: AiJob | None = st.session_state.get(INSIGHTS_KEY, {}).get(campaign["id"])
    result = job["result"] if job and job["status"] == "done" else None
    if not result:
        if client.may("analyst"):
            st.caption("Drawn once the AI has read the campaign (under “AI insights”).")
        else:
            st.caption("Drawn from the AI's reading of the campaign, which needs the analyst role to ask for.")
        return
    overall: dict[str, Any] = next((fact["values"] for fact in result["facts"] if fact["kind"] == "overall"), {})
    bands = band_rates(result["facts"])
    if not bands:
        st.caption("No group of customers had enough messages with an outcome to give it a rate of its own.")
        return
    for kind, rows in bands.items():
        against = f" (the whole campaign: {overall['rate']}%)" if "rate" in overall else ""
        st.caption(f"By {BAND_KINDS[kind]}{against}")
        st.bar_chart(rows, x="band", y="delivery rate", horizontal=True, sort=False, height=60 + 40 * len(rows))
        st.caption(chance_caption(rows))


def chance_caption(rows: pd.DataFrame) -> str:
    """Which bands' rates differ from the rest of the campaign beyond chance (the insights' test), if any."""
    differing = rows[rows["beyond chance"]]
    if differing.empty:
        return "No band differs beyond chance from the rest of the campaign."
    pairs = differing[["band", "versus"]].itertuples(index=False)
    said = "; ".join(f"{band} ({versus} the campaign)" for band, versus in pairs)
    return f"Beyond chance: {said}."


def communication_log(campaign: Campaign) -> None:
    if not client.may("marketer"):
        st.caption("The communication log holds each customer's message and address: it needs the marketer role.")
        return
    columns = st.columns([2, 2, 3], vertical_alignment="bottom")
    status = columns[0].selectbox("Status", (ANY, *MESSAGE_STATUSES), key="history_log_status")
    customer = columns[1].number_input("Customer id", min_value=1, value=None, step=1, key="history_log_customer")
    reason = columns[2].text_input("Reason contains", key="history_log_reason").strip()
    message_status, reason_part = None if status == ANY else status, reason or None
    filters = (message_status, customer, reason_part)
    cursors = st.session_state.setdefault("history_log_cursors", {})
    key = (campaign["id"], filters)
    cursor = cursors.get(key)
    page = ui.read(
        "Loading the communication log",
        client.campaign_messages,
        campaign["id"],
        status=message_status,
        customer_id=customer,
        reason=reason_part,
        cursor=cursor,
        limit=LOG_PAGE_SIZE,
    )
    if page is None:
        return
    if not page["messages"]:
        st.info("No messages match." if any(filters) else "No messages yet.")
    else:
        formats.dataframe(pd.DataFrame(page["messages"]), key="history_log")
    pager = st.columns([1, 1, 6])
    if cursor is not None and pager[0].button("First page", key="history_log_first"):
        cursors.pop(key)
        st.rerun()
    if page["next_cursor"] is not None and pager[1].button("Next page", key="history_log_next"):
        cursors[key] = page["next_cursor"]
        st.rerun()


def ask_for_insights(campaign: Campaign) -> None:
    try:
        job = client.ask_for_insights(campaign["id"])
    except ApiError as error:
        ui.flash("error", f"The AI could not read the campaign. {error.message}")
        return
    st.session_state.setdefault(INSIGHTS_KEY, {})[campaign["id"]] = job


def insights(campaign: Campaign) -> None:
    if not client.may("analyst"):
        st.caption("Asking the AI about a campaign needs the analyst role.")
        return
    if not campaign["counts"]["total"]:
        st.caption("The AI can read a campaign once it has launched and has messages.")
        return
    job: AiJob | None = st.session_state.get(INSIGHTS_KEY, {}).get(campaign["id"])
    label = "Ask the AI again" if job else "Ask the AI what went well and what did not"
    st.button(label, key="history_insights", on_click=ask_for_insights, args=(campaign,), icon=":material/insights:")
    if job is None:
        return
    if job["status"] in ("queued", "running"):
        st.fragment(waiting_for_insights, run_every=POLL_EVERY_S)(campaign["id"])
    elif job["status"] == "failed":
        st.error(f"The AI could not read the campaign: {job['error']}", icon="⚠️")
    elif job["result"] is not None:
        show_insights(job["result"])


def waiting_for_insights(campaign_id: int) -> None:
    """Poll the AI job; once it has finished, run the page again to show the result everywhere."""
    jobs: dict[int, AiJob] = st.session_state[INSIGHTS_KEY]
    try:
        jobs[campaign_id] = client.ai_job(jobs[campaign_id]["id"])
    except ApiError as error:
        st.error(f"Could not follow the AI's work: {error.message}", icon="⚠️")
        return
    if jobs[campaign_id]["status"] not in ("queued", "running"):
        st.rerun()
    st.info(f"The AI is reading the campaign ({jobs[campaign_id]['status']})…", icon="⏳")


def show_insights(result: dict[str, Any]) -> None:
    """Each insight with the numbers of the facts it rests on, the facts in a table, and the AI's notes."""
    number = {fact["id"]: index for index, fact in enumerate(result["facts"], start=1)}
    for insight in result["insights"]:
        cited = "".join(f" [{number[fact_id]}]" for fact_id in insight["fact_ids"] if fact_id in number)
        st.markdown(f"- {insight['text']}{cited}")
    if not result["insights"]:
        st.caption("The AI found nothing worth saying about this campaign.")
    if result["facts"]:
        with st.expander("The facts behind them"):
            rows = [
                {"#": number[fact["id"]], "about": fact["label"], "numbers": fact_numbers(fact)}
                for fact in result["facts"]
            ]
            st.dataframe(pd.DataFrame(rows), hide_index=True, key="history_insight_facts")
    for note in result["notes"]:
        st.caption(note)


def fact_numbers(fact: dict[str, Any]) -> str:
    """A fact's values as they read in sentences: "outcomes 120, delivered 108, rate 90%, …"."""
    return ", ".join(f"{key} {value}" for key, value in fact["printed"].items() if key != "label")


def what_was_sent(campaign: Campaign) -> None:
    if campaign["subject"]:
        st.markdown(f"**Subject:** {campaign['subject']}")
    st.code(campaign["template"], language=None, wrap_lines=True)
    rule = campaign["frozen_rule"] or campaign["audience_rule"]
    if campaign["snapshot_version"]:
        st.caption(f"Evaluated on feature snapshot {campaign['snapshot_version']} at launch.")
    if rule:
        with st.expander("The audience rule" + (" as frozen at launch" if campaign["frozen_rule"] else "")):
            st.json(rule)


st.header(f"{campaign['name']} (#{campaign['id']})")
st.caption(about(campaign))
campaign_view.live_progress(campaign, key="history")
engagement_metrics(campaign)
charts_tab, log, ai, sent = st.tabs(["Charts", "Communication log", "AI insights", "Message"])
with charts_tab:
    over_time(campaign)
    by_feature_bands(campaign)
with log:
    communication_log(campaign)
with ai:
    insights(campaign)
with sent:
    what_was_sent(campaign)
