"""Segments: build a rule (by hand, or from plain language through the AI), see who it matches as it
changes (how many remain clause after clause, and how many a campaign on a channel would actually reach), save,
edit, duplicate or delete it, and watch a saved segment's size over time.

The builder, its count and the save buttons are one fragment (`workbench`): an edit re-runs only it, and the
catalog and segment list come from `ui.read_cached`, so re-counting costs the preview request and little else.
What changes the rest of the page (a save, a delete, a message to show) asks for a whole run (`WHOLE_PAGE_KEY`)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pandas as pd
import streamlit as st

from dashboard import builder, campaign_view, charts, formats, rules, ui
from dashboard.api_types import Segment, SegmentForm, SegmentPreview
from dashboard.client import ApiError

NEW = 0
PICK_KEY = "segment_pick"
SEGMENT_PARAM = "segment"  # the address names the segment open (`/segments?segment=12`), to reload or share
LINKED_KEY = "segment_linked"  # the address's segment, once opened (later picks are the user's)
NAME_KEY, DESCRIPTION_KEY = "segment_name", "segment_description"
PREVIEW_KEY = "segment_preview"
VALUES_KEY = "segment_feature_values"  # (feature, snapshot version) -> the category's values, most customers first
REACH_KEY = "segment_reach_channel"
GRAPH_KEY = "segment_show_graph"  # the rule drawn as a graph, on demand: the browser lays it out anew on every edit
WHOLE_PAGE_KEY = "segment_whole_page"  # set by a fragment's action whose outcome shows outside the fragment
SAMPLE_SIZE = 10
PICK_LIST_SIZE = 200

client = ui.api()
st.session_state.pop(WHOLE_PAGE_KEY, None)  # this is a whole run already
st.title("Segments")

catalog_answer = ui.read_cached("Loading the feature catalog", client.feature_catalog)
listed = ui.read_cached("Loading segments", client.segments)
linked = st.query_params.get(SEGMENT_PARAM, "")
if listed is not None and linked.isdigit() and all(segment["id"] != int(linked) for segment in listed):
    ui.forget_cached()  # the address names a segment made since the list was read
    listed = ui.read_cached("Loading segments", client.segments)
if catalog_answer is None or listed is None:
    st.stop()
catalog = {item["name"]: rules.Feature.of(item) for item in catalog_answer["features"]}
catalog_snapshot = catalog_answer["snapshot"]  # None until the first feature snapshot
labels = {name: feature.label for name, feature in catalog.items()}
segments: dict[int, Segment] = {segment["id"]: segment for segment in listed}


def load_picked() -> None:
    """Put the picked segment (or a fresh rule) into the builder and the name fields."""
    picked = segments.get(st.session_state[PICK_KEY])
    if picked:
        st.query_params[SEGMENT_PARAM] = str(picked["id"])
    else:
        st.query_params.pop(SEGMENT_PARAM, None)
    builder.replace_tree(rules.tree_of(picked["rule"]) if picked else rules.empty_tree())
    st.session_state[NAME_KEY] = picked["name"] if picked else ""
    st.session_state[DESCRIPTION_KEY] = picked["description"] if picked else ""


def saved(action: str, call: Callable[[], Segment]) -> Segment | None:
    """Run a save/duplicate call, turning a refusal into a message on the page (and forgetting the cached
    segment list after a change)."""
    try:
        answer = call()
    except ApiError as error:
        ui.flash("error", f"{action}: {error.message}")
        return None
    ui.forget_cached()
    return answer


def current_rule() -> dict[str, Any] | None:
    """The rule as the builder's widgets show it right now (a click may come with an edit not yet drawn)."""
    return rules.compile_rule(builder.current_tree(catalog)).rule


def lacking() -> dict[str, str]:
    """The builder's conditions still without a usable value (as the widgets show them now)."""
    return rules.unfinished(builder.current_tree(catalog), catalog)


def save() -> None:
    st.session_state[WHOLE_PAGE_KEY] = True
    if lacking():
        ui.flash("warning", "Some conditions have no usable value yet (marked in the rule): finish them to save.")
        return
    rule = current_rule()
    name, description = st.session_state[NAME_KEY].strip(), st.session_state[DESCRIPTION_KEY]
    if not name or rule is None:
        ui.flash("warning", "Give the segment a name and at least one condition before saving.")
        return
    chosen = st.session_state[PICK_KEY]
    form = SegmentForm(name=name, description=description, rule=rule)
    if chosen == NEW:
        answer = saved("Saving", lambda: client.create_segment(form))
    else:
        answer = saved("Saving", lambda: client.change_segment(chosen, form))
    if answer is not None:
        st.session_state[PICK_KEY] = answer["id"]
        ui.flash("success", f"Saved “{answer['name']}”.")


def duplicate() -> None:
    st.session_state[WHOLE_PAGE_KEY] = True
    if lacking():
        ui.flash("warning", "Some conditions have no usable value yet (marked in the rule): finish them first.")
        return
    rule = current_rule()
    if rule is None:
        ui.flash("warning", "There is nothing to duplicate yet.")
        return
    base = st.session_state[NAME_KEY].strip() or "Segment"
    taken = {segment["name"] for segment in segments.values()}
    name = next(
        f"{base} (copy{f' {n}' if n > 1 else ''})"
        for n in range(1, len(taken) + 2)
        if f"{base} (copy{f' {n}' if n > 1 else ''})" not in taken
    )
    form = SegmentForm(name=name, description=st.session_state[DESCRIPTION_KEY], rule=rule)
    answer = saved("Duplicating", lambda: client.create_segment(form))
    if answer is not None:
        st.session_state[PICK_KEY] = answer["id"]
        st.session_state[NAME_KEY] = answer["name"]
        ui.flash("success", f"Saved a copy as “{answer['name']}”.")


def delete() -> None:
    st.session_state[WHOLE_PAGE_KEY] = True
    chosen = st.session_state[PICK_KEY]
    try:
        client.delete_segment(chosen)
    except ApiError as error:
        ui.flash("error", f"Deleting: {error.message}")
        return
    ui.forget_cached()
    ui.flash("success", f"Deleted “{segments[chosen]['name']}”.")
    st.session_state[PICK_KEY] = NEW
    builder.replace_tree(rules.empty_tree())
    st.session_state[NAME_KEY] = st.session_state[DESCRIPTION_KEY] = ""


def preview(rule: dict[str, Any], channel: str | None) -> tuple[SegmentPreview | None, ApiError | None]:
    """The API's preview of `rule` (with who a campaign on `channel` would reach), asked again only when the rule,
    the channel or the feature snapshot changed."""
    text = json.dumps([rule, channel, catalog_snapshot], sort_keys=True)
    cached = st.session_state.get(PREVIEW_KEY)
    if cached is None or cached[0] != text:
        try:
            with st.spinner("Counting the audience…"):
                cached = (text, client.preview_segment(rule, SAMPLE_SIZE, channel), None)
        except ApiError as error:
            cached = (text, None, error)
        st.session_state[PREVIEW_KEY] = cached
    return cached[1], cached[2]


def fill_from_text() -> None:
    text = st.session_state["segment_ai_text"].strip()
    if not text:
        return
    try:
        with st.spinner("Reading your description…"):
            answer = client.draft_rule(text)
    except ApiError as error:
        ui.flash("error", f"The AI could not turn that into a rule. {error.message}")
        return
    builder.replace_tree(rules.tree_of(answer["rule"]))
    count = "an unknown number of" if answer["count"] is None else f"{answer['count']:,}"
    notes = " ".join([*answer["notes"], *answer["questions"]])  # what it assumed or left out, to confirm
    ui.flash("info", f"Read as: {answer['english']} — {count} customers now ({answer['provider']}). {notes}".strip())


def apply_json() -> None:
    try:
        rule = json.loads(st.session_state["segment_json"])
        builder.replace_tree(rules.tree_of(rule))
    except (ValueError, KeyError, TypeError) as error:
        st.session_state[WHOLE_PAGE_KEY] = True
        ui.flash("error", f"That is not a rule the builder can read: {error}")


def size_history(segment_id: int) -> None:
    history = ui.read("Loading the size history", client.segment_sizes, segment_id)
    if not history or not history["sizes"]:
        st.caption("No sizes recorded yet: they are recorded at every feature snapshot.")
        return
    frame = pd.DataFrame(history["sizes"]).rename(columns={"size": "customers"})
    frame["snapshot_taken_at"] = pd.to_datetime(frame["snapshot_taken_at"])
    charts.line_over_time(
        frame, "snapshot_taken_at", ["customers"], x_title="feature snapshot taken", y_title="customers in it",
        height=220, key=f"segment_sizes_{segment_id}",
    )  # fmt: skip
    if len(frame) == 1:
        count = formats.number(frame["customers"].iloc[0])
        st.caption(f"One snapshot so far: {count} customers in it. Each new snapshot adds a point.")
    else:
        charts.bars_over_time(
            frame, "snapshot_taken_at", ["entered", "left"], x_title="feature snapshot taken",
            y_title="customers who entered or left", height=180, key=f"segment_moves_{segment_id}",
        )  # fmt: skip


def values_of(name: str) -> list[str]:
    """A category's values in the current snapshot, most customers first, for its pick list (asked once per
    snapshot; its declared examples when the API cannot say)."""
    key = (name, catalog_snapshot["version"] if catalog_snapshot else None)
    known: dict[tuple[str, Any], list[str]] = st.session_state.setdefault(VALUES_KEY, {})
    if key not in known:
        try:
            answer = client.feature_values(name, PICK_LIST_SIZE)
            known[key] = [str(item["value"]) for item in answer["values"]]
        except ApiError:
            known[key] = [str(example) for example in catalog[name].examples]
    return known[key]


def funnel(rule: dict[str, Any], counts: list[int], customers: int) -> None:
    """How many remain after each clause of the top group, in turn (an AND narrows, an OR widens)."""
    mode = next(key for key in ("and", "or") if key in rule)
    steps = [
        f"{'' if number == 0 else mode.upper() + ' '}{rules.clause_text(clause, labels)}"
        for number, clause in enumerate(rule[mode])
    ]
    frame = pd.DataFrame(
        {
            "Customers": [formats.number(count) for count in counts],
            "Of everyone": [count / customers if customers else 0.0 for count in counts],
            "After": steps,
        }
    )
    st.dataframe(
        frame,
        hide_index=True,
        key="segment_funnel",
        column_config={"Of everyone": st.column_config.ProgressColumn(format="percent", min_value=0, max_value=1)},
    )


def saved_table() -> None:
    rows = [
        {
            "name": segment["name"],
            "customers": latest["size"] if (latest := segment["latest_size"]) else None,
            "rule": segment["sentence"],
            "owner": owner["email"] if (owner := segment["owner"]) else None,
            "updated_at": segment["updated_at"],
        }
        for segment in segments.values()
    ]
    formats.dataframe(pd.DataFrame(rows), key="segment_saved")


# --- the page ---

options = [NEW, *sorted(segments, key=lambda segment_id: segments[segment_id]["name"].lower())]
if linked != st.session_state.get(LINKED_KEY) and linked.isdigit() and int(linked) in segments:
    st.session_state[LINKED_KEY] = linked
    st.session_state[PICK_KEY] = int(linked)
    load_picked()
if st.session_state.get(PICK_KEY) not in options:
    st.session_state[PICK_KEY] = NEW
st.selectbox(
    "Segment",
    options,
    key=PICK_KEY,
    on_change=load_picked,
    format_func=lambda segment_id: "New segment" if segment_id == NEW else segments[segment_id]["name"],
)
picked = segments.get(st.session_state[PICK_KEY])
ui.show_flash()
if picked and client.may("marketer"):
    st.page_link(
        "app_pages/campaigns.py",
        label=f"Create a campaign to “{picked['name']}”",
        icon=":material/campaign:",
        query_params={"segment": str(picked["id"])},
    )

if not client.may("analyst"):
    if picked:
        st.markdown(f"**{picked['sentence']}**")
        st.graphviz_chart(rules.rule_dot(picked["rule"], {}, labels))
        size_history(picked["id"])
    saved_table()
    st.info("Building and previewing segments needs the analyst role.")
    st.stop()

with st.expander("Describe the customers in plain language", expanded=not picked, icon=":material/auto_awesome:"):
    st.text_area(
        "Who are they?",
        key="segment_ai_text",
        placeholder="customers in Mumbai or Delhi who spent over ₹10K and ordered in the last 90 days",
    )
    st.button("Fill the builder", key="segment_ai_fill", on_click=fill_from_text, icon=":material/auto_awesome:")


@st.fragment
def workbench() -> None:
    """The builder, its live count and funnel, and saving: an edit here re-runs only this."""
    if st.session_state.pop(WHOLE_PAGE_KEY, False):
        st.rerun()
    tree = builder.current_tree(catalog)
    unfinished = rules.unfinished(tree, catalog)
    compiled = rules.compile_rule(tree, leave_out=unfinished)
    if REACH_KEY not in st.session_state:
        st.session_state[REACH_KEY] = next(iter(campaign_view.CHANNELS))
    reach_channel = st.session_state[REACH_KEY]
    result, refusal = preview(compiled.rule, reach_channel) if compiled.rule is not None else (None, None)
    counts: dict[str, int] = {}
    problems: dict[str, list[str]] = {}
    if result is not None:
        counts = {
            index: result["clause_counts"][path]
            for index, path in compiled.rule_paths.items()
            if path in result["clause_counts"]
        }
    elif refusal is not None:
        for problem in refusal.problems:
            index = compiled.index_path_of(str(problem.get("path") or ""))
            problems.setdefault(index or "", []).append(str(problem.get("message")))
    notes = builder.NodeNotes(counts=counts, problems=problems, lacking=unfinished, values_of=values_of)

    left, right = st.columns([3, 2], gap="large")
    with left:
        st.subheader("Rule")
        builder.draw(tree, catalog, notes)
        with st.expander("The rule as JSON"):
            shown = json.dumps(compiled.rule, indent=2) if compiled.rule else ""
            if st.session_state.get("segment_json_shown") != shown:
                st.session_state["segment_json"] = st.session_state["segment_json_shown"] = shown
            st.text_area("Rule JSON", key="segment_json", height=220)
            st.button("Use this JSON", key="segment_json_apply", on_click=apply_json)

    with right:
        st.subheader("Audience")
        st.selectbox(
            "Will receive it by",
            [None, *campaign_view.CHANNELS],
            key=REACH_KEY,
            format_func=lambda name: (
                "(any channel: leave consent aside)" if name is None else campaign_view.CHANNELS[name]
            ),
            help="Who of the audience a campaign on this channel would actually message now: consent, an address, "
            "the suppression list, the frequency caps and the quiet hours, as the launch decides.",
        )
        if compiled.rule is None:
            st.caption("Add a condition, with a value, to see who matches.")
        elif refusal is not None:
            st.error(refusal.message, icon="⚠️")
        elif result is not None:
            snapshot = result["snapshot"]
            st.metric(
                "Customers",
                formats.number(result["size"]),
                help=f"of {formats.number(snapshot['customers'])} in snapshot "
                f"{snapshot['version']} (taken {formats.when(snapshot['taken_at'])})",
            )
            for warning in result["warnings"]:  # allowed but probably wrong: an event nobody performed (a typo?)
                st.warning(warning, icon=":material/help:")
            if reach := result["reach"]:
                st.markdown(campaign_view.reach_text(reach, result["size"]))
            st.markdown(result["sentence"])
            if len(result["funnel"]) > 1:
                funnel(compiled.rule, result["funnel"], snapshot["customers"])
            if st.toggle("Draw the rule as a graph", key=GRAPH_KEY):
                st.graphviz_chart(rules.rule_dot(compiled.rule, result["clause_counts"], labels))
            st.caption(f"The first {len(result['sample'])} of them")
            st.dataframe(formats.table(result["sample"]), hide_index=True, key="segment_sample")

        st.subheader("Save")
        st.text_input("Name", key=NAME_KEY)
        st.text_area("Description", key=DESCRIPTION_KEY, height=80)
        buttons = st.columns(3)
        buttons[0].button("Save", key="segment_save", type="primary", on_click=save)
        buttons[1].button("Duplicate", key="segment_duplicate", on_click=duplicate)
        if picked:
            confirm = buttons[2].checkbox("Really delete", key="segment_delete_confirm")
            buttons[2].button("Delete", key="segment_delete", on_click=delete, disabled=not confirm)


workbench()

if picked:
    st.subheader(f"“{picked['name']}” over time")
    size_history(picked["id"])
    if st.button("Prepare a CSV of its members", key="segment_export"):
        with st.spinner("Exporting…"), ui.shown_errors("Exporting"):
            st.download_button(
                "Download CSV",
                client.export_segment(picked["id"]),
                file_name=f"segment-{picked['id']}.csv",
                mime="text/csv",
                key="segment_export_download",
            )

st.subheader("Saved segments")
saved_table()
