"""What the Campaigns and History pages both show of a campaign: its counts, its progress kept live while it
waits or sends, and the buttons that pause, resume, cancel, unschedule or retry it.

Progress is re-read from `GET /v1/campaigns/{id}` by a fragment, every `REFRESH_EVERY_S` seconds while the
campaign sends or is about to launch and every `SLOW_REFRESH_EVERY_S` while it waits for a later launch time
(the counts derive from the communication log, so each read is current). When the campaign reaches a final
status the whole page runs again, so the rest of it (tables, charts) catches up. A campaign completed after the
receipt timeout may still hold messages awaiting their receipt, and late receipts still change its counts: it
is re-read every `SLOW_REFRESH_EVERY_S` until every message has its outcome, and only then does refreshing stop.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

import streamlit as st

from dashboard import formats, ui
from dashboard.api_types import Campaign, CampaignMove, Counts, Reach
from dashboard.client import ApiError
from engine.channels import CHANNELS as REGISTRY

REFRESH_EVERY_S = 1.5
SLOW_REFRESH_EVERY_S = 30.0  # for a campaign scheduled further ahead than SOON, or finished with receipts to come
SOON = timedelta(minutes=2)
CHANNELS = {name: channel.label[:1].upper() + channel.label[1:] for name, channel in REGISTRY.items()}
WITH_SUBJECT = frozenset(name for name, channel in REGISTRY.items() if channel.subject)
WITH_HTML = frozenset(name for name, channel in REGISTRY.items() if channel.has_html)
SEGMENTED = frozenset(name for name, channel in REGISTRY.items() if channel.segmented)  # sent in parts: SMS
LIVE = frozenset({"scheduled", "sending"})  # statuses in which the counts change without anyone clicking
FINAL = frozenset({"completed", "cancelled", "failed"})
STATUS_ICONS = {
    "draft": ":material/edit_note:",
    "scheduled": ":material/schedule:",
    "sending": ":material/send:",
    "paused": ":material/pause_circle:",
    "completed": ":material/check_circle:",
    "cancelled": ":material/cancel:",
    "failed": ":material/error:",
}


def status_line(campaign: Campaign) -> str:
    """The campaign's status as a line of markdown, with its icon."""
    return f"**Status:** {STATUS_ICONS.get(campaign['status'], '')} {campaign['status']}"


def reach_text(reach: Reach, matching: int | None = None) -> str:
    """Who of an audience will actually receive a campaign (the API's `reach`), in words: "970 match · 606 will
    receive it by SMS (12 after the quiet hours); not: 364 no consent to SMS"."""
    channel = CHANNELS.get(reach["channel"], reach["channel"])
    held = f" ({formats.number(reach['held'])} after the quiet hours)" if reach["held"] else ""
    parts = [f"{formats.number(reach['receiving'])} will receive it by {channel}{held}"]
    if matching is not None:
        parts.insert(0, f"{formats.number(matching)} match")
    text = " · ".join(parts)
    if reach["skipped"]:
        text += "; not: " + by_reason(reach["skipped"])
    return text


def handed_over(counts: Counts) -> int:
    """Messages the vendor took: delivered, failed, or sent and awaiting their receipt."""
    return counts["sent"] + counts["delivered"] + counts["failed"]


def delivery_rate(counts: Counts) -> float | None:
    """Delivered out of those with a final receipt (None before any)."""
    finished = counts["delivered"] + counts["failed"]
    return counts["delivered"] / finished if finished else None


def counts_row(campaign: Campaign) -> None:
    """The campaign's numbers as metrics, and a bar of how many messages are done."""
    counts = campaign["counts"]
    rate = delivery_rate(counts)
    shown = (
        ("Audience", campaign["audience_size"], "Customers the segment held when the campaign launched."),
        ("Waiting", counts["pending"] + counts["queued"], "Not yet handed to the vendor (queued or held back)."),
        ("Sent", handed_over(counts), "Handed to the vendor: delivered, failed, or awaiting a receipt."),
        ("Delivered", counts["delivered"], None),
        ("Failed", counts["failed"], None),
        ("Skipped", counts["skipped"], "Not sent: no consent, no address, frequency cap, cancelled…"),
        ("Delivery rate", None if rate is None else f"{rate:.0%}", "Delivered out of those with a final receipt."),
    )
    for column, (label, value, about) in zip(st.columns(len(shown)), shown, strict=True):
        column.metric(label, value if isinstance(value, str) else formats.number(value), help=about, border=True)
    total = counts["total"]
    if total:
        done = counts["delivered"] + counts["failed"] + counts["skipped"]
        st.progress(done / total, text=f"{done:,} of {total:,} messages have their outcome")


def unfinished(counts: Counts) -> int:
    """Messages without their outcome yet: waiting to be handed to the vendor, or sent and awaiting a receipt."""
    return counts["pending"] + counts["queued"] + counts["sent"]


def refresh_every(campaign: Campaign, now: datetime | None = None) -> float | None:
    """How often to re-read the campaign: often while it sends or is about to launch, seldom while it waits for a
    later time or, finished, still has messages awaiting their outcome, never once nothing changes without someone
    clicking."""
    if campaign["status"] in FINAL:
        return SLOW_REFRESH_EVERY_S if unfinished(campaign["counts"]) else None
    if campaign["status"] not in LIVE:
        return None
    due = campaign["scheduled_at"]
    if campaign["status"] == "scheduled" and due and datetime.fromisoformat(due) - (now or datetime.now(UTC)) > SOON:
        return SLOW_REFRESH_EVERY_S
    return REFRESH_EVERY_S


def refreshing_note(campaign: Campaign, every: float) -> str:
    """Why and how often the progress is being re-read."""
    if campaign["status"] in FINAL:
        return (
            f"Updating every {every:g} s while outcomes are still to come for "
            f"{unfinished(campaign['counts']):,} of its messages."
        )
    return f"Updating every {every:g} s while the campaign is {campaign['status']}."


def live_progress(campaign: Campaign, key: str) -> None:
    """The campaign's status, counts and the moves it allows, re-read while it is scheduled or sending, or
    finished with messages still awaiting their outcome; when that changes how often it needs reading (it
    finished, paused, its launch drew near or its last receipt came) or a move is made, the whole page runs
    again."""
    latest: dict[str, Campaign] = {"campaign": campaign}

    def progress() -> None:
        shown = latest["campaign"]
        if every is not None:
            try:
                shown = ui.api().campaign(shown["id"])
            except ApiError as error:
                st.warning(f"Could not refresh the progress: {error.message}", icon="⚠️")
        if refresh_every(shown) != every:  # how often it needs reading changed: the page catches up
            st.rerun()
        latest["campaign"] = shown
        st.markdown(status_line(shown))
        if shown["failure_reason"]:
            st.error(f"The launch failed: {shown['failure_reason']}", icon="❌")
        elif shown["status"] == "scheduled" and shown["launch_attempts"]:
            st.warning(
                f"{shown['launch_attempts']} launch attempts have not started it yet; the last: "
                f"{shown['launch_error']}. It is tried again automatically.",
                icon="⏳",
            )
        counts_row(shown)
        if every is not None:
            st.caption(refreshing_note(shown, every))
        state_buttons(shown, key)

    every = refresh_every(campaign)
    with st.container(key=f"{key}_progress"):
        st.fragment(progress, run_every=every)()


# the API's action, the button's label, what to say once done (`name` is the campaign's)
Move = tuple[CampaignMove, str, str]
MOVES: dict[str, list[Move]] = {
    "scheduled": [("unschedule", "Unschedule", "“{name}” is a draft again.")],
    "sending": [("pause", "Pause", "Paused “{name}”: nothing more is sent until it is resumed.")],
    "paused": [("resume", "Resume", "Resumed “{name}”.")],
}
CANCEL: Move = ("cancel", "Cancel", "Cancelled “{name}”: the messages not yet sent are skipped.")
TRY_AGAIN: Move = ("relaunch", "Try again", "“{name}” launches again now.")
RETRIED_KEY = "campaigns_retried"  # campaign id -> its "retry the failed" follow-up made in this session


def state_buttons(campaign: Campaign, key: str) -> None:
    """The moves the campaign's status allows, for a marketer (others are told who may): "try again" for one whose
    launch failed; for a finished campaign with failures, what "retry the failed" would re-send and leave out."""
    moves = list(MOVES.get(campaign["status"], []))
    if campaign["status"] in {"scheduled", "sending", "paused"}:
        moves.append(CANCEL)
    if campaign["status"] == "failed" and campaign["launched_at"] is None:  # its launch failed: nothing was sent
        moves.append(TRY_AGAIN)
    retrying = retryable(campaign)
    if not moves and not retrying:
        return
    if not ui.api().may("marketer"):
        st.caption("Pausing, resuming, cancelling and retrying campaigns needs the marketer role.")
        return
    row = st.container(horizontal=True)
    for action, label, done in moves:
        if row.button(label, key=f"{key}_{action}"):
            move(campaign, action, done)
            st.rerun()
    follow_up = st.session_state.get(RETRIED_KEY, {}).get(campaign["id"])
    if follow_up is not None:
        if row.button(f"Open the follow-up #{follow_up}", key=f"{key}_open-follow-up", icon=":material/open_in_new:"):
            st.switch_page("app_pages/history.py", query_params={"campaign": str(follow_up)})
    elif retrying and row.button(f"Retry the {retrying:,} failed that can succeed", key=f"{key}_retry-failed"):
        retry_the_failed(campaign)
        st.rerun()


def by_reason(left_out: Mapping[str, int]) -> str:
    """Counts by reason, as words: "30 unsubscribed, 5 invalid number"."""
    return ", ".join(f"{formats.number(count)} {reason}" for reason, count in left_out.items())


def retryable(campaign: Campaign) -> int:
    """How many failed messages of a finished campaign "retry the failed" would send again (0 for a campaign that
    is not finished or had no failures), saying which it would leave out and why."""
    if campaign["status"] not in {"completed", "cancelled"} or not campaign["counts"]["failed"]:
        return 0
    plan = ui.read("Counting the failures a retry would send", ui.api().retryable_failures, campaign["id"])
    if plan is None:
        return 0
    if plan["left_out"] and not plan["retrying"]:
        st.caption(f"None of the failed can succeed if sent again, so none is retried: {by_reason(plan['left_out'])}.")
    elif plan["left_out"]:
        st.caption(f"Left out of a retry, as sending them again cannot succeed: {by_reason(plan['left_out'])}.")
    return plan["retrying"]


def move(campaign: Campaign, action: CampaignMove, done: str) -> None:
    """Ask the API to `action` the campaign; what happened is kept to show after the page runs again."""
    try:
        ui.api().move_campaign(campaign["id"], action)
    except ApiError as error:
        ui.flash("error", f"Could not {action} “{campaign['name']}”: {error.message}")
    else:
        ui.flash("success", done.format(name=campaign["name"]))


def retry_the_failed(campaign: Campaign) -> None:
    """Make the follow-up to the failed that can succeed and open it in the History (what happened is shown
    there); the campaign retried then offers to open its follow-up instead of a second retry."""
    try:
        answer = ui.api().retry_failed(campaign["id"])
    except ApiError as error:
        ui.flash("error", f"Could not retry the failed of “{campaign['name']}”: {error.message}")
        return
    st.session_state.setdefault(RETRIED_KEY, {})[campaign["id"]] = answer["follow_up"]
    done = (
        f"Retrying {answer['retrying']:,} failed of “{campaign['name']}” as campaign #{answer['follow_up']}, "
        "which launches now."
    )
    if answer["left_out"]:
        done += f" Left out: {by_reason(answer['left_out'])}."
    ui.flash("success", done)
    st.switch_page("app_pages/history.py", query_params={"campaign": str(answer["follow_up"])})
