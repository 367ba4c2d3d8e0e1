"""Admin: who may sign in and with which role, the write keys integrators ingest with, and the audit log.

Revoking a key (it cannot be undone) asks first, and nothing is picked for it until the admin picks; the open tab
is remembered, so an action leaves the admin where they were.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd
import streamlit as st

from dashboard import ui
from dashboard.api_types import User, WriteKey
from dashboard.client import ROLES, ApiError

AUDIT_PAGE = 50
CONFIRM_KEY = "admin_key_confirm"  # the id of the key whose revocation awaits confirming

client = ui.api()
st.title("Admin")
ui.needs("admin", "administration")
ui.show_flash()


def done(call: Callable[[], object], success: str) -> None:
    """Run a change; keep what happened (or the API's refusal) to show after the page reloads."""
    try:
        call()
    except ApiError as error:
        ui.flash("error", error.message)
    else:
        ui.flash("success", success)


def change_user(user: User) -> None:
    role = st.session_state[f"admin_user_role_{user['id']}"]
    disabled = st.session_state[f"admin_user_disabled_{user['id']}"]
    done(
        lambda: client.change_user(user["id"], role, disabled),
        f"{user['email']} is now {'a disabled ' if disabled else ''}{role}.",
    )


def revoke_key(key: WriteKey) -> None:
    done(
        lambda: client.revoke_write_key(key["id"]),
        f"Revoked “{key['name']}”: ingestion with it is refused from now on.",
    )


def ask_to_revoke(key_id: int) -> None:
    st.session_state[CONFIRM_KEY] = key_id


def revoke_confirmed(key: WriteKey) -> None:
    st.session_state.pop(CONFIRM_KEY, None)
    revoke_key(key)


def revoke_not_confirmed() -> None:
    st.session_state.pop(CONFIRM_KEY, None)


@st.dialog("Revoke this write key?", on_dismiss=revoke_not_confirmed)
def confirm_revoke(key: WriteKey) -> None:
    if CONFIRM_KEY not in st.session_state:  # answered: the whole page runs again, which closes the dialog
        st.rerun()
    st.markdown(
        f"Ingestion with **{key['name']}** (`{key['prefix']}…`) is refused from the moment you revoke it, "
        "and it cannot be switched back on: whoever uses it needs a new key."
    )
    row = st.container(horizontal=True)
    row.button("Revoke the key", key="admin_key_revoke_confirm", type="primary", on_click=revoke_confirmed, args=(key,))
    row.button("Keep it", key="admin_key_revoke_cancel", on_click=revoke_not_confirmed)


def detail_text(detail: Any) -> str:
    """An audit entry's detail as words ("from: viewer · to: marketer"), not JSON; "from" before the rest (the
    database keeps an object's keys shortest first)."""
    if not detail:
        return ""
    if isinstance(detail, dict):
        items = sorted(detail.items(), key=lambda item: item[0] != "from")
        return " · ".join(f"{name.replace('_', ' ')}: {detail_text(value)}" for name, value in items)
    if isinstance(detail, list):
        return ", ".join(map(detail_text, detail))
    return str(detail)


users_tab, keys_tab, audit_tab = st.tabs(
    ["Users and roles", "Write keys", "Audit log"], key="admin_tab", on_change="rerun"
)

with users_tab:
    users = ui.read("Loading users", client.users) or []
    st.dataframe(pd.DataFrame(users), hide_index=True, key="admin_users")
    by_id = {user["id"]: user for user in users}
    if by_id:
        st.markdown("**Change a user**")
        columns = st.columns([3, 2, 1, 1], vertical_alignment="bottom")
        picked = columns[0].selectbox(
            "User", list(by_id), key="admin_user_pick", format_func=lambda user_id: by_id[user_id]["email"]
        )
        user = by_id[picked]
        columns[1].selectbox("Role", ROLES, index=ROLES.index(user["role"]), key=f"admin_user_role_{picked}")
        columns[2].toggle("Disabled", value=user["disabled"], key=f"admin_user_disabled_{picked}")
        columns[3].button("Apply", key="admin_user_apply", type="primary", on_click=change_user, args=(user,))
    st.markdown("**Let someone in**")
    with st.form("admin_new_user", clear_on_submit=True):
        columns = st.columns([3, 2, 2], vertical_alignment="bottom")
        email = columns[0].text_input("E-mail", key="admin_new_email")
        new_role = columns[1].selectbox("Role", ROLES, key="admin_new_role")
        name = columns[2].text_input("Name (optional)", key="admin_new_name")
        if st.form_submit_button("Add user", key="admin_new_add"):
            done(
                lambda: client.add_user(email.strip(), new_role, name.strip() or None),
                f"{email.strip()} may now sign in as {new_role}.",
            )
            st.rerun()

with keys_tab:
    shown_secret = st.session_state.pop("admin_new_secret", None)
    if shown_secret:
        st.warning("Copy the new key's secret now: it is shown this once.", icon=":material/key:")
        st.code(shown_secret, language=None)
    keys = ui.read("Loading write keys", client.write_keys) or []
    st.dataframe(pd.DataFrame(keys), hide_index=True, key="admin_keys")
    with st.form("admin_new_key", clear_on_submit=True):
        key_name = st.text_input("Who or what the key is for", key="admin_key_name", placeholder="web shop")
        if st.form_submit_button("Create key", key="admin_key_create") and key_name.strip():
            try:
                created = client.create_write_key(key_name.strip())
            except ApiError as error:
                ui.flash("error", error.message)
            else:
                st.session_state["admin_new_secret"] = created["secret"]
                ui.flash("success", f"Created the key “{created['key']['name']}”.")
            st.rerun()
    active = {key["id"]: key for key in keys if key["revoked_at"] is None}
    if active:
        columns = st.columns([4, 1], vertical_alignment="bottom")
        revoke = columns[0].selectbox(
            "Revoke a key",
            list(active),
            index=None,
            placeholder="Choose the key to revoke",
            key="admin_key_pick",
            format_func=lambda key_id: f"{active[key_id]['name']} ({active[key_id]['prefix']}…)",
        )
        columns[1].button(
            "Revoke…", key="admin_key_revoke", disabled=revoke is None, on_click=ask_to_revoke, args=(revoke,)
        )
        if st.session_state.get(CONFIRM_KEY) in active:
            confirm_revoke(active[st.session_state[CONFIRM_KEY]])

with audit_tab:
    action = st.text_input("Only this action", key="admin_audit_action", placeholder="e.g. user.role_changed").strip()
    before = st.session_state.get("admin_audit_before")
    entries = ui.read("Loading the audit log", client.audit, AUDIT_PAGE, action or None, before)
    if entries is not None:
        audit = pd.DataFrame(entries)
        if "detail" in audit:
            audit["detail"] = audit["detail"].map(detail_text)
        st.dataframe(audit, hide_index=True, key="admin_audit")
        newer, older = st.columns(2)
        if before is not None and newer.button("Newest", key="admin_audit_newest"):
            st.session_state["admin_audit_before"] = None
            st.rerun()
        if len(entries) == AUDIT_PAGE and older.button("Older", key="admin_audit_older"):
            st.session_state["admin_audit_before"] = min(entry["id"] for entry in entries)
            st.rerun()
