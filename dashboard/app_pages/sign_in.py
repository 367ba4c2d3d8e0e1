"""Sign in: with the OpenID provider through Streamlit's `st.login`, or the developer sign-in on loopback."""

from __future__ import annotations

import streamlit as st

from dashboard import ui
from dashboard.client import ROLES, ApiError

st.title("Xeno CRM")
ui.show_flash()
client = ui.api()
config = ui.config()

if ui.oidc_configured():
    st.subheader("Sign in")
    failed = st.session_state.get("oidc_exchange_failed")
    if failed and st.user.is_logged_in:
        st.error(f"The API did not accept your sign-in as {st.user.get('email')}: {failed}", icon="⚠️")
        st.button("Sign out of the provider and try again", key="signin_oidc_retry", on_click=st.logout)
    else:
        st.button("Sign in with Google", key="signin_oidc", type="primary", on_click=st.login)

if config.dev_signin:
    st.subheader("Developer sign-in")
    st.caption(
        f"Local development only: become anyone, with any role. The API at {config.api_url} must run "
        "with XENO_DEV_SIGNIN=true on a loopback address."
    )
    with st.form("dev_signin"):
        email = st.text_input("E-mail", value="dev@localhost.example", key="signin_email")
        role = st.selectbox("Role", ROLES, index=ROLES.index("admin"), key="signin_role")
        name = st.text_input("Name (optional)", key="signin_name")
        if st.form_submit_button("Sign in", type="primary", key="signin_dev"):
            try:
                client.dev_sign_in(email.strip(), role, name.strip() or None)
            except ApiError as error:
                st.error(error.message, icon="⚠️")
            else:
                st.rerun()

if not ui.oidc_configured() and not config.dev_signin:
    st.warning(
        "No way to sign in is configured. Add an `[auth]` section (Google: `client_id`, `client_secret`, "
        '`server_metadata_url`, `redirect_uri`, `cookie_secret`, `expose_tokens = "id"`) to '
        "`.streamlit/secrets.toml`, or for local development set XENO_DEV_SIGNIN=true for the API and the dashboard."
    )
