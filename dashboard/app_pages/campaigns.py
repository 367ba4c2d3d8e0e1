"""Campaigns: write a message for a saved segment (with the AI's suggestions), see it as sample customers would
get it, save it as a draft, schedule it (at a suggested send hour, if wanted) or launch it now once the marketer
confirms the audience and channel, and watch it send."""

from __future__ import annotations

import contextlib
import json
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, available_timezones

import pandas as pd
import streamlit as st

from dashboard import campaign_view, formats, send_time, ui
from dashboard.api_types import (
    Campaign,
    CampaignForm,
    CampaignPreview,
    MessagesAsked,
    MessageSuggestions,
    PreviewAsked,
    PreviewMessage,
    Segment,
    Variant,
)
from dashboard.client import ApiError

NEW = 0
PICK_KEY = "campaign_pick"
SEGMENT_PARAM = "segment"  # `/campaigns?segment=12`: a new campaign to that segment ("Create a campaign" on Segments)
LINKED_KEY = "campaign_linked_segment"  # the address's segment, once put in the form (later edits are the user's)
NAME_KEY, SEGMENT_KEY, CHANNEL_KEY = "campaign_name", "campaign_segment", "campaign_channel"
SUBJECT_KEY, TEMPLATE_KEY, HTML_KEY = "campaign_subject", "campaign_template", "campaign_html_template"
WHEN_KEY, AT_KEY, ZONE_KEY = "campaign_when", "campaign_at", "campaign_zone"
PREVIEW_KEY, SUGGESTIONS_KEY, WATCH_KEY = "campaign_preview", "campaign_suggestions", "campaign_watch"
SEND_TIME_KEY, CONFIRM_KEY = "campaign_send_time", "campaign_confirming"
NOW, LATER = "Launch now", "Schedule for later"
ZONES = sorted(available_timezones())
SAMPLE_SIZE = 5

client = ui.api()
st.title("Campaigns")
ui.needs("marketer", "writing and launching campaigns")

listed_segments = ui.read("Loading segments", client.segments)
listed_drafts = ui.read("Loading drafts", client.campaigns, "draft", 100)
if listed_segments is None or listed_drafts is None:
    st.stop()
segments: dict[int, Segment] = {segment["id"]: segment for segment in listed_segments}
drafts: dict[int, Campaign] = {draft["id"]: draft for draft in listed_drafts}


def segment_label(segment_id: int) -> str:
    segment = segments[segment_id]
    size = None if segment["latest_size"] is None else segment["latest_size"]["size"]
    return segment["name"] if size is None else f"{segment['name']} ({size:,} customers)"


def fill_form(draft: Campaign | None) -> None:
    """Put a draft (or an empty campaign) into the form."""
    st.session_state[NAME_KEY] = draft["name"] if draft else ""
    st.session_state[SEGMENT_KEY] = draft["segment_id"] if draft and draft["segment_id"] in segments else None
    st.session_state[CHANNEL_KEY] = draft["channel"] if draft else "sms"
    st.session_state[SUBJECT_KEY] = (draft["subject"] or "") if draft else ""
    st.session_state[TEMPLATE_KEY] = draft["template"] if draft else ""
    st.session_state[HTML_KEY] = (draft["html_template"] or "") if draft else ""
    st.session_state.pop(SUGGESTIONS_KEY, None)
    st.session_state.pop(SEND_TIME_KEY, None)


def load_picked() -> None:
    fill_form(drafts.get(st.session_state[PICK_KEY]))


def form_body() -> CampaignForm:
    """The campaign as the form shows it, as the API takes it."""
    channel = st.session_state[CHANNEL_KEY]
    email = channel in campaign_view.WITH_SUBJECT
    return {
        "name": st.session_state[NAME_KEY].strip(),
        "channel": st.session_state[CHANNEL_KEY],
        "template": st.session_state[TEMPLATE_KEY],
        "subject": (st.session_state[SUBJECT_KEY].strip() or None) if email else None,
        "html_template": (st.session_state[HTML_KEY].strip() or None) if channel in campaign_view.WITH_HTML else None,
        "segment_id": st.session_state[SEGMENT_KEY],
    }


def missing(body: CampaignForm) -> str | None:
    """What the form still lacks before it can be saved, in words; None when nothing."""
    lacking = [
        what
        for what, given in (
            ("a name", body["name"]),
            ("a segment", body["segment_id"]),
            ("a message", body["template"].strip() or body["html_template"]),  # e-mail: its text read off the HTML
            ("a subject", body["subject"] or body["channel"] not in campaign_view.WITH_SUBJECT),
        )
        if not given
    ]
    return f"Give the campaign {', '.join(lacking)} first." if lacking else None


def stored(body: CampaignForm) -> Campaign:
    """The form saved: a new draft, or the picked draft changed."""
    chosen = st.session_state[PICK_KEY]
    if chosen == NEW:
        return client.create_campaign(body)
    return client.change_campaign(chosen, body)


def save_draft() -> None:
    body = form_body()
    if (lacking := missing(body)) is not None:
        ui.flash("warning", lacking)
        return
    try:
        draft = stored(body)
    except ApiError as error:
        ui.flash("error", f"Saving: {error.message}")
        return
    st.session_state[PICK_KEY] = draft["id"]
    ui.flash("success", f"Saved “{draft['name']}” as a draft.")


def browser_zone() -> str:
    """The time zone of the user's browser, or UTC when the browser did not say (or named an unknown one)."""
    zone = st.context.timezone
    return zone if zone in ZONES else "UTC"


def launch() -> None:
    """Save the form, then schedule it: now, or at the time picked, read in the time zone picked."""
    body = form_body()
    if (lacking := missing(body)) is not None:
        ui.flash("warning", lacking)
        return
    later = st.session_state[WHEN_KEY] == LATER
    zone = st.session_state.get(ZONE_KEY, "UTC")
    at: datetime | None = st.session_state[AT_KEY].replace(tzinfo=ZoneInfo(zone)) if later else None
    if at is not None and at <= datetime.now(UTC):
        ui.flash("warning", "Pick a time in the future, or launch now.")
        return
    try:
        draft = stored(body)
        st.session_state[PICK_KEY] = draft["id"]
        campaign = client.schedule_campaign(draft["id"], at)
    except ApiError as error:
        ui.flash("error", f"Launching: {error.message}")
        return
    st.session_state[WATCH_KEY] = campaign["id"]
    st.session_state[PICK_KEY] = NEW
    fill_form(None)
    when = f"for {at:%Y-%m-%d %H:%M} {zone} ({at.astimezone(UTC):%H:%M} UTC)" if at else "to launch now"
    ui.flash("success", f"Scheduled “{campaign['name']}” {when}.")


def launch_clicked() -> None:
    """Schedule for later at once; launching now first asks to confirm, as it sends to the whole audience at once."""
    if st.session_state[WHEN_KEY] == NOW and missing(form_body()) is None:
        st.session_state[CONFIRM_KEY] = True
    else:
        launch()


def launch_confirmed() -> None:
    st.session_state.pop(CONFIRM_KEY, None)
    launch()


def launch_not_confirmed() -> None:
    st.session_state.pop(CONFIRM_KEY, None)


@st.dialog("Launch now?", on_dismiss=launch_not_confirmed)
def confirm_launch(body: CampaignForm) -> None:
    """Who gets the campaign, by which channel, before it goes to all of them at once."""
    if not st.session_state.get(CONFIRM_KEY):  # answered: the whole page runs again, which closes the dialog
        st.rerun()
    result, refusal = preview(body)
    channel = campaign_view.CHANNELS[body["channel"]]
    reach = result["reach"] if result else None
    if result is None:
        who = "everyone in the segment who may be messaged (its size could not be previewed)"
    elif reach is None or reach["receiving"] == result["audience_size"]:
        size = result["audience_size"]
        who = f"{formats.number(size)} customer{'' if size == 1 else 's'}"
    else:
        who = f"{formats.number(reach['receiving'])} of the {formats.number(result['audience_size'])} customers"
    st.markdown(f"“{body['name']}” goes by **{channel}** to **{who}** now, all at once.")
    if reach is not None and reach["skipped"]:
        st.caption(f"Left out: {campaign_view.by_reason(reach['skipped'])}.")
    if refusal is not None:
        st.warning(refusal.message)
    st.caption(
        "The audience is counted again at launch, on the newest snapshot; quiet hours still hold messages back. "
        "To send at a set time instead, cancel and pick “Schedule for later”."
    )
    row = st.container(horizontal=True)
    row.button(NOW, key="campaign_launch_confirm", type="primary", on_click=launch_confirmed, icon=":material/send:")
    row.button("Cancel", key="campaign_launch_cancel", on_click=launch_not_confirmed)


def delete_draft() -> None:
    chosen = st.session_state[PICK_KEY]
    try:
        client.delete_campaign(chosen)
    except ApiError as error:
        ui.flash("error", f"Deleting: {error.message}")
        return
    ui.flash("success", f"Deleted the draft “{drafts[chosen]['name']}”.")
    st.session_state[PICK_KEY] = NEW
    fill_form(None)


def suggest() -> None:
    objective = st.session_state["campaign_ai_objective"].strip()
    if not objective:
        ui.flash("warning", "Say what the campaign is for, and the AI suggests messages for it.")
        return
    body: MessagesAsked = {
        "objective": objective,
        "channel": st.session_state[CHANNEL_KEY],
        "segment_id": st.session_state[SEGMENT_KEY],
    }
    brand = st.session_state.get("campaign_ai_brand", "").strip()
    if brand:
        body["brand"] = brand
    try:
        with st.spinner("Writing suggestions…"):
            st.session_state[SUGGESTIONS_KEY] = client.suggest_messages(body)
    except ApiError as error:
        ui.flash("error", f"The AI could not suggest messages. {error.message}")


def use_variant(suggestions: MessageSuggestions, variant: Variant) -> None:
    """Put a suggested message into the form, and tell the AI's call log which one was used."""
    st.session_state[TEMPLATE_KEY] = variant["body"]
    if variant["subject"]:
        st.session_state[SUBJECT_KEY] = variant["subject"]
    # The rating only helps judge the AI later; a refusal to record it must not get in the marketer's way.
    with contextlib.suppress(ApiError):
        client.rate_ai_call(suggestions["call_id"], accepted=True, comment=f"used the {variant['tone']} variant")


def suggest_send_time() -> None:
    """Ask the API for the saved draft's best send hour; the answer is kept with what it was asked for."""
    draft = drafts[st.session_state[PICK_KEY]]
    try:
        with st.spinner("Reading past delivery outcomes…"):
            answer = client.send_time(draft["id"])
    except ApiError as error:
        ui.flash("error", f"No send time could be suggested. {error.message}")
        return
    st.session_state[SEND_TIME_KEY] = (asked_send_time(draft), answer)


def asked_send_time(draft: Campaign) -> tuple[int, int | None, str]:
    """What a send-time answer depends on: the draft, its segment and its channel as saved."""
    return draft["id"], draft["segment_id"], draft["channel"]


def schedule_at_hour(hour: int) -> None:
    """Schedule for later, at the next `hour`:00 in the time zone picked (the browser's if none is yet)."""
    zone = st.session_state.get(ZONE_KEY) or browser_zone()
    st.session_state[WHEN_KEY] = LATER
    st.session_state[ZONE_KEY] = zone
    try:
        at = client.next_launch_time(hour, zone)
    except ApiError as error:
        ui.flash("error", f"The suggested hour could not be scheduled: {error.message}")
        return
    st.session_state[AT_KEY] = at.replace(tzinfo=None)  # the input holds the zone's time


def preview(body: CampaignForm) -> tuple[CampaignPreview | None, ApiError | None]:
    """The API's preview of the message for the segment's first members, asked again only when it or the segment's
    latest snapshot changed."""
    asked: PreviewAsked = {
        "template": body["template"],
        "subject": body["subject"],
        "html_template": body["html_template"],
        "segment_id": body["segment_id"],
        "channel": body["channel"],
    }
    latest = None if body["segment_id"] is None else segments[body["segment_id"]]["latest_size"]
    snapshot = None if latest is None else latest["snapshot_version"]
    text = json.dumps({**asked, "snapshot": snapshot}, sort_keys=True)
    cached = st.session_state.get(PREVIEW_KEY)
    if cached is None or cached[0] != text:
        try:
            with st.spinner("Rendering for sample customers…"):
                cached = (text, client.preview_campaign(asked, SAMPLE_SIZE), None)
        except ApiError as error:
            cached = (text, None, error)
        st.session_state[PREVIEW_KEY] = cached
    return cached[1], cached[2]


def show_refusal(error: ApiError, body: CampaignForm) -> None:
    """A refusal; a template's problems each with the line they are on and a mark under the column."""
    st.error(error.message, icon="⚠️")
    sources = {
        "template": body["template"],
        "subject": body["subject"] or "",
        "html_template": body["html_template"] or "",
    }
    for problem in error.problems:
        if problem.get("line") is None:
            continue
        lines = sources.get(str(problem.get("part")), body["template"]).splitlines() or [""]
        line = lines[min(int(problem["line"]), len(lines)) - 1]
        mark = " " * max(int(problem.get("column") or 1) - 1, 0) + "^ " + str(problem.get("message"))
        st.code(f"{line}\n{mark}", language=None)


def suggestions_box() -> None:
    with st.expander("Suggest messages with AI", icon=":material/auto_awesome:"):
        st.text_input(
            "What is the campaign for?",
            key="campaign_ai_objective",
            placeholder="bring back customers who have not ordered in 60 days with 15% off, code COMEBACK15",
        )
        st.text_input(
            "Signed as",
            key="campaign_ai_brand",
            placeholder="your brand (XENO_BRAND_NAME when left empty)",
            max_chars=60,
        )
        st.button("Suggest", key="campaign_ai_suggest", on_click=suggest, icon=":material/auto_awesome:")
        suggestions: MessageSuggestions | None = st.session_state.get(SUGGESTIONS_KEY)
        if not suggestions:
            return
        audience = suggestions["audience"]
        about = f" for {audience['summary']}" if audience else ""
        st.caption(
            f"Read as “{suggestions['intent']}”{about} ({suggestions['provider']}). {' '.join(suggestions['notes'])}"
        )
        if suggestions["offer"]:
            kept = ", ".join(f"“{fact}”" for fact in suggestions["offer"])
            st.caption(f"Every variant states the objective's {kept} unchanged.")
        for index, variant in enumerate(suggestions["variants"]):
            with st.container(border=True):
                st.markdown(f"**{variant['tone'].capitalize()}**")
                if variant["subject"]:
                    st.markdown(f"Subject: {variant['subject']}")
                st.code(variant["body"], language=None, wrap_lines=True)
                if variant["longest_length"] is not None:
                    st.caption(f"{variant['longest_length']} characters at most (an SMS holds {variant['sms_limit']}).")
                st.button("Use this", key=f"campaign_ai_use_{index}", on_click=use_variant, args=(suggestions, variant))


def preview_box(body: CampaignForm) -> None:
    st.subheader("Preview")
    if body["segment_id"] is None or not (body["template"].strip() or body["html_template"]):
        st.caption("Pick a segment and write a message to see it as sample customers would get it.")
        return
    result, refusal = preview(body)
    if refusal is not None:
        show_refusal(refusal, body)
        return
    assert result is not None
    st.metric(
        "Audience now",
        formats.number(result["audience_size"]),
        help="Customers in the segment on the newest snapshot.",
    )
    if result["reach"]:
        st.markdown(campaign_view.reach_text(result["reach"]))
    if not result["messages"]:
        st.caption("The segment has nobody in it right now.")
        return
    rows = [
        {
            "error": message["error"],
            "customer_id": message["customer_id"],
            "subject": message["subject"],
            "message": message["message"],
            "html": message["html"],
            "length": length_text(body["channel"], message),
        }
        for message in result["messages"]
    ]
    frame = pd.DataFrame(rows)
    if body["channel"] not in campaign_view.WITH_SUBJECT:
        frame = frame.drop(columns="subject")
    if not body["html_template"]:
        frame = frame.drop(columns="html")
    if frame["error"].isna().all():  # a column of nothing but "None" says nothing
        frame = frame.drop(columns="error")
    else:
        frame["error"] = frame["error"].fillna("")
    first = next((message for message in result["messages"] if message["message"] is not None), None)
    if first is not None:
        st.caption(f"As customer {first['customer_id']} gets it ({length_text(body['channel'], first)}):")
        st.code(first["message"], language=None, wrap_lines=True)
    formats.dataframe(
        frame,
        key="campaign_preview_table",
        config={
            "error": st.column_config.TextColumn("Problem"),
            "message": st.column_config.TextColumn("Message", width="large"),
            "length": st.column_config.TextColumn("Length"),
        },
    )


def length_text(channel: str, message: PreviewMessage) -> str | None:
    """How long a previewed message is as its channel counts it (the API measures it, opt-out line included):
    "143 characters · 1 SMS"; None when it has none."""
    if message["characters"] is None:
        return None
    characters = f"{formats.number(message['characters'])} characters"
    if channel not in campaign_view.SEGMENTED:
        return characters
    return f"{characters} · {message['parts']} {campaign_view.CHANNELS[channel]}"


def send_time_box(body: CampaignForm) -> None:
    with st.expander("Suggest a send time", icon=":material/schedule:"):
        chosen = st.session_state[PICK_KEY]
        if chosen == NEW:
            st.caption("Save the draft first: the hour is suggested for a saved campaign's audience and channel.")
            return
        draft = drafts[chosen]
        if (body["segment_id"], body["channel"]) != (draft["segment_id"], draft["channel"]):
            st.caption("Suggested for the segment and channel as last saved: save the draft to ask for the new ones.")
        st.button("Suggest a send time", key="campaign_send_time_ask", on_click=suggest_send_time)
        kept = st.session_state.get(SEND_TIME_KEY)
        if kept is not None and kept[0] == asked_send_time(draft):
            send_time.show(
                kept[1], campaign_view.CHANNELS[draft["channel"]], key="campaign_send_time", use_hour=schedule_at_hour
            )


def watched_campaign() -> None:
    """The campaign launched last from this page, with its progress live while it sends."""
    watched_id = st.session_state.get(WATCH_KEY)
    if watched_id is None:
        return
    watched = ui.read("Loading the launched campaign", client.campaign, watched_id)
    if watched is None:
        return
    with st.container(border=True):
        st.subheader(f"“{watched['name']}”")
        campaign_view.live_progress(watched, key="campaign_watch")
        st.page_link(
            "app_pages/history.py",
            label="Its history, messages and insights",
            icon=":material/history:",
            query_params={"campaign": str(watched["id"])},
        )


# --- the page ---

if not segments:
    st.info("A campaign goes to a saved segment: save one first.")
    st.page_link("app_pages/segments.py", label="Build a segment", icon=":material/filter_alt:")
    st.stop()

options = [NEW, *sorted(drafts, reverse=True)]
if st.session_state.get(PICK_KEY) not in options:
    st.session_state[PICK_KEY] = NEW
    fill_form(None)
elif st.session_state.get(SEGMENT_KEY) not in (None, *segments):
    st.session_state[SEGMENT_KEY] = None
linked = st.query_params.get(SEGMENT_PARAM, "")
if linked != st.session_state.get(LINKED_KEY) and linked.isdigit() and int(linked) in segments:
    st.session_state[LINKED_KEY] = linked
    st.session_state[PICK_KEY] = NEW
    fill_form(None)
    st.session_state[SEGMENT_KEY] = int(linked)
st.selectbox(
    "Campaign",
    options,
    key=PICK_KEY,
    on_change=load_picked,
    format_func=lambda campaign_id: "New campaign" if campaign_id == NEW else f"Draft: {drafts[campaign_id]['name']}",
)
ui.show_flash()
watched_campaign()

left, right = st.columns([3, 2], gap="large")
with left:
    st.text_input("Name", key=NAME_KEY, placeholder="Diwali offer for loyal customers")
    st.selectbox("Segment", list(segments), key=SEGMENT_KEY, format_func=segment_label, placeholder="Pick a segment")
    st.radio(
        "Channel",
        list(campaign_view.CHANNELS),
        key=CHANNEL_KEY,
        format_func=campaign_view.CHANNELS.__getitem__,
        horizontal=True,
    )
    if st.session_state[CHANNEL_KEY] in campaign_view.WITH_SUBJECT:
        st.text_input("Subject", key=SUBJECT_KEY, placeholder="{{ first_name | default('Hi') }}, a gift for you")
    st.text_area(
        "Message",
        key=TEMPLATE_KEY,
        height=140,
        placeholder="Hi {{ first_name | default('there') }}, here is 10% off on your next order!",
        help="Personalise with customer features in double braces, e.g. {{ first_name }}, {{ city }}; "
        "`| default('…')` says what to write when a customer has no value.",
    )
    if st.session_state[CHANNEL_KEY] in campaign_view.WITH_HTML:
        st.text_area(
            "HTML (optional)",
            key=HTML_KEY,
            height=140,
            placeholder='<p style="font-size:18px">Hi {{ first_name }},</p><p>10% off this week.</p>',
            help="The e-mail's HTML part, written like the message (values are HTML-escaped). Scripts, event "
            "handlers and javascript: links are removed. Without it the HTML is made from the message, which stays "
            "the text part.",
        )
    suggestions_box()

body = form_body()
with right:
    preview_box(body)

st.subheader("Save or launch")
send_time_box(body)
when = st.radio("When", (NOW, LATER), key=WHEN_KEY, horizontal=True)
if when == LATER:
    at_column, zone_column = st.columns([2, 3])
    if ZONE_KEY not in st.session_state:
        st.session_state[ZONE_KEY] = browser_zone()
    zone_column.selectbox("Time zone", ZONES, key=ZONE_KEY, help="The launch time is read in this zone (yours).")
    if AT_KEY not in st.session_state:
        local_now = datetime.now(ZoneInfo(st.session_state[ZONE_KEY])).replace(tzinfo=None, second=0, microsecond=0)
        st.session_state[AT_KEY] = local_now + timedelta(hours=1)
    at_column.datetime_input("Launch at", key=AT_KEY, step=timedelta(minutes=5))
buttons = st.columns([1, 1, 1, 3])
buttons[0].button(when, key="campaign_launch", type="primary", on_click=launch_clicked, icon=":material/send:")
buttons[1].button("Save draft", key="campaign_save", on_click=save_draft, icon=":material/save:")
if st.session_state[PICK_KEY] != NEW:
    buttons[2].button("Delete draft", key="campaign_delete", on_click=delete_draft, icon=":material/delete:")
if st.session_state.get(CONFIRM_KEY):
    confirm_launch(body)
