"""Customers: find someone, see their profile (attributes, features, orders, events), which saved segments
they are in, and why they are or are not in any segment; an admin can export everything held about them, or erase
it (privacy requests)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import streamlit as st

from dashboard import formats, ui
from dashboard.api_types import ExplanationNode
from dashboard.client import ApiError

PAGE_SIZE = 50
PICK_KEY = "customer_pick"
CUSTOMER_PARAM = "customer"  # `/customers?customer=42` opens that customer, to reload or share
LINKED_KEY = "customer_linked"  # the address's customer: (id, how they are named), once opened

client = ui.api()
st.title("Customers")
ui.needs("analyst", "customer profiles")
ui.show_flash()

query = st.text_input(
    "Search", key="customer_search", placeholder="the start of a name, e-mail, phone or external id"
).strip()
found = ui.read("Searching", client.customers, query or None, PAGE_SIZE)
if found is None:
    st.stop()
results = found["customers"]
if not results:
    st.info("Nobody matches." if query else "There are no customers yet.")
    st.stop()
st.dataframe(formats.table(results), hide_index=True, key="customer_results")
if found["next_cursor"] is not None:
    st.caption(f"The first {PAGE_SIZE} matches; type more to narrow them down.")


def person(customer: Mapping[str, Any]) -> str:
    name = " ".join(part for part in (customer.get("first_name"), customer.get("last_name")) if part)
    return f"{name or customer.get('email') or customer['external_id']} (#{customer['id']})"


def follow_pick() -> None:
    """Keep the customer opened in the address, so the page can be reloaded or shared."""
    st.query_params[CUSTOMER_PARAM] = str(st.session_state[PICK_KEY])


def open_linked(names: dict[int, str]) -> None:
    """Open the customer the address names (once), and keep offering them though no search finds them."""
    asked = st.query_params.get(CUSTOMER_PARAM, "")
    if asked.isdigit() and st.session_state.get(LINKED_KEY, (None,))[0] != int(asked):
        linked = ui.read(f"Opening customer #{asked}", client.customer, int(asked))
        if linked is not None:
            st.session_state[LINKED_KEY] = (int(asked), person(linked["customer"]))
            st.session_state[PICK_KEY] = int(asked)
    if LINKED_KEY in st.session_state:
        customer_id, name = st.session_state[LINKED_KEY]
        names.setdefault(customer_id, name)


names = {customer["id"]: person(customer) for customer in results}
open_linked(names)
if st.session_state.get(PICK_KEY) not in names:
    st.session_state[PICK_KEY] = results[0]["id"]
customer_id = st.selectbox("Open", list(names), key=PICK_KEY, format_func=names.__getitem__, on_change=follow_pick)

profile = ui.read("Loading the profile", client.customer, customer_id)
if profile is None:
    st.stop()

st.header(names[customer_id])
about, features = st.columns(2)
with about:
    st.subheader("Who")
    st.dataframe(formats.record(profile["customer"]), key="customer_about")
with features:
    st.subheader("Features")
    snapshot = profile["snapshot"]
    if profile["features"] is None or snapshot is None:
        st.caption("Not in the current feature snapshot yet (or there is none).")
    else:
        st.dataframe(formats.record(profile["features"]), key="customer_features")
        st.caption(f"Snapshot {snapshot['version']}, taken {formats.when(snapshot['taken_at'])}")

orders_tab, events_tab, segments_tab, privacy_tab = st.tabs(
    [f"Orders ({len(profile['orders'])})", f"Events ({len(profile['recent_events'])})", "Segments", "Privacy"]
)
with orders_tab:
    st.dataframe(formats.table(profile["orders"]), hide_index=True, key="customer_orders")
with events_tab:
    st.dataframe(formats.table(profile["recent_events"]), hide_index=True, key="customer_events")


def explanation_lines(node: ExplanationNode, depth: int = 0) -> list[str]:
    """The explanation tree as indented lines: each node a coloured pass/fail badge, with the value that decided."""
    mark = ":green-badge[:material/check: yes]" if node["matched"] else ":red-badge[:material/close: no]"
    facts = []
    if (field := node["field"]) is not None:
        facts.append(f"{formats.label(field).lower()} is {formats.value_text(node['value'], field)}")
    if (count := node["event_count"]) is not None:
        facts.append(f"{formats.number(count)} matching event{'' if count == 1 else 's'}")
    detail = f" — {', '.join(facts)}" if facts else ""
    lines = [f"{'    ' * depth}- {mark} {node['sentence']}{detail}"]
    for child in node["children"]:
        lines.extend(explanation_lines(child, depth + 1))
    return lines


def explain(segment_id: int) -> None:
    answer = ui.read("Explaining", client.explain, segment_id, customer_id)
    if answer is not None:
        st.markdown("\n".join(explanation_lines(answer["explanation"])))


with segments_tab:
    member_of = profile["segments"]
    if member_of is None:
        st.caption("Segment membership needs the customer in the current feature snapshot.")
    elif not member_of:
        st.caption("In no saved segment.")
    for segment in member_of or []:
        with st.expander(f"In “{segment['name']}”: why"):
            explain(segment["id"])
    every = ui.read("Loading segments", client.segments) or []
    if every:
        names_by_id = {segment["id"]: segment["name"] for segment in every}
        other = st.selectbox(
            "Why (not) in another segment?",
            list(names_by_id),
            key="customer_explain_segment",
            format_func=names_by_id.__getitem__,
            index=None,
            placeholder="Pick a segment",
        )
        if other is not None:
            explain(other)


def erase() -> None:
    """Erase the open customer for good, and say what went."""
    try:
        erased = client.erase_customer(customer_id)
    except ApiError as error:
        ui.flash("error", f"Could not erase {names[customer_id]}: {error.message}")
        return
    ui.flash(
        "success",
        f"{names[customer_id]} was erased: {sum(erased['removed'].values())} records removed, "
        f"{erased['suppressed']} addresses kept only as hashes on the suppression list.",
    )
    st.session_state.pop("customer_pick", None)
    st.session_state.pop("customer_erase_confirm", None)


with privacy_tab:
    if not client.may("admin"):
        st.caption("Exporting or erasing a customer's data needs the admin role.")
    else:
        st.markdown("**Export** everything held about them, as JSON (recorded in the audit log).")
        if st.button("Prepare the export", key="customer_export"):
            with st.spinner("Exporting…"), ui.shown_errors("Exporting"):
                st.download_button(
                    "Download JSON",
                    client.export_customer(customer_id),
                    file_name=f"customer-{customer_id}.json",
                    mime="application/json",
                    key="customer_export_download",
                )
        st.markdown(
            "**Erase** them: their profile, orders, events and messages go for good, their addresses stay only as "
            "hashes on the suppression list, and the features forget them at the next refresh."
        )
        typed = st.text_input(
            f"Type their external id ({profile['customer']['external_id']}) to confirm", key="customer_erase_confirm"
        )
        st.button(
            "Erase for good",
            key="customer_erase",
            type="primary",
            on_click=erase,
            disabled=typed.strip() != profile["customer"]["external_id"],
        )
