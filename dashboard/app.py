"""The dashboard's entry file: signs the user in, then offers the pages their role may use.

Run with `streamlit run dashboard/app.py` (see `dashboard.config` for the environment it reads).
"""

from __future__ import annotations

import streamlit as st

from dashboard import ui
from dashboard.client import ApiError

# (file, title, icon, the lowest role that may open it)
PAGES = (
    ("app_pages/segments.py", "Segments", ":material/filter_alt:", "viewer"),
    ("app_pages/campaigns.py", "Campaigns", ":material/campaign:", "marketer"),
    ("app_pages/history.py", "History", ":material/history:", "viewer"),
    ("app_pages/customers.py", "Customers", ":material/person_search:", "analyst"),
    ("app_pages/pipelines.py", "Pipelines", ":material/account_tree:", "analyst"),
    ("app_pages/admin.py", "Admin", ":material/admin_panel_settings:", "admin"),
)
OIDC_FAILED = "oidc_exchange_failed"


def adopt_provider_sign_in() -> None:
    """After `st.login`, trade the provider's ID token for our tokens (once; a refusal is shown, not retried)."""
    client = ui.api()
    if client.signed_in or not ui.oidc_configured() or not st.user.is_logged_in:
        return
    if st.session_state.get(OIDC_FAILED):
        return
    id_token = st.user.tokens.get("id")
    if not id_token:
        st.session_state[OIDC_FAILED] = 'the dashboard\'s [auth] secrets need expose_tokens = "id"'
        return
    try:
        with st.spinner("Signing you in…"):
            client.exchange_id_token(id_token)
    except ApiError as error:
        st.session_state[OIDC_FAILED] = error.message


def sign_out() -> None:
    ui.api().sign_out()
    st.session_state.pop(OIDC_FAILED, None)
    if ui.oidc_configured() and st.user.is_logged_in:
        st.logout()


def sidebar() -> None:
    user = ui.api().user
    with st.sidebar:
        st.markdown(f"**{user.get('name') or user.get('email')}**  \n{user.get('email')} · {user.get('role')}")
        st.button("Sign out", key="sign_out", on_click=sign_out, icon=":material/logout:")


st.set_page_config(page_title="Xeno CRM", page_icon=":material/hub:", layout="wide")
adopt_provider_sign_in()
client = ui.api()
if client.signed_in:
    sidebar()
    pages = [st.Page(path, title=title, icon=icon) for path, title, icon, role in PAGES if client.may(role)]
else:
    pages = [st.Page("app_pages/sign_in.py", title="Sign in", icon=":material/login:", default=True)]
st.navigation(pages).run()
