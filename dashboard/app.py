"""The dashboard's entry file: signs the user in, then offers the pages their role may use.

Served by `dashboard.server` (`streamlit run dashboard/server.py`; see `dashboard.config` for the environment it
reads). A reload or a link resumes the session from the browser's cookie (`dashboard.session_cookie`); a link to
a page while signed out shows the sign-in at that address, so signing in lands on the page linked to (through the
sign-in with Google too, which comes back in a new session: `dashboard.linked_page`).
"""

from __future__ import annotations

import importlib
import threading

import streamlit as st

from dashboard import linked_page, session_cookie, ui
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
PAGE_LIBRARIES = ("pandas", "altair")  # what the pages draw tables and charts with; the sign-in needs neither
OIDC_FAILED = "oidc_exchange_failed"
LINKED = "linked_page"  # the page (file, query parameters) a link asked for before signing in


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
    session_cookie.forget()
    st.session_state.pop(OIDC_FAILED, None)
    if ui.oidc_configured() and st.user.is_logged_in:
        st.logout()


def sidebar() -> None:
    user = ui.api().user
    with st.sidebar:
        st.markdown(f"**{user['name'] or user['email']}**  \n{user['email']} · {user['role']}")
        st.button("Sign out", key="sign_out", on_click=sign_out, icon=":material/logout:")


def files_by_url_path() -> dict[str, str]:
    """Each page's file by the URL path it has in the browser's address (`campaigns` → app_pages/campaigns.py)."""
    return {st.Page(path).url_path: path for path, *_ in PAGES}


def remember_linked_page(linked: st.Page) -> None:
    """Signed out at a page's address: keep it (with its query parameters) and show the sign-in instead."""
    st.session_state[LINKED] = (files_by_url_path()[linked.url_path], st.query_params.to_dict())
    st.switch_page("app_pages/sign_in.py")


def keep_linked_page_through_provider() -> None:
    """Showing the sign-in for a linked page: the sign-in with Google comes back in a new session, so the browser
    keeps the page too."""
    if LINKED in st.session_state and ui.oidc_configured():
        path, query_params = st.session_state[LINKED]
        linked_page.keep(st.Page(path).url_path, query_params)


def linked_page_after_sign_in(landed_at_root: bool) -> tuple[str, dict[str, str]] | None:
    """The page (file, query parameters) a link asked for before signing in: kept in this session, or in the
    browser's cookie when the sign-in with Google came back to the root address in a new session."""
    files = files_by_url_path()
    carried = linked_page.take(files)
    if LINKED in st.session_state:
        return st.session_state.pop(LINKED)
    if carried is None or not landed_at_root:
        return None
    url_path, query_params = carried
    return files[url_path], query_params


def open_linked_page(path: str, query_params: dict[str, str]) -> None:
    """Just signed in: open the page a link asked for, if the user's role may use it."""
    title, role = next((title, role) for file, title, _, role in PAGES if file == path)
    if client.may(role):
        st.switch_page(path, query_params=query_params)
    ui.flash("info", f"The link was to {title}, which needs the {role} role (or a higher one).")


@st.cache_resource
def import_page_libraries() -> threading.Thread:
    """Import the pages' heavy libraries in the background once the first visitor comes, while the sign-in shows:
    imported as the server starts, they held ~80 MB while the dashboard sat unused (issue 16's idle memory); on the
    first page after the sign-in, they made it wait 4 s on a busy 2-core machine."""
    thread = threading.Thread(
        target=lambda: [importlib.import_module(name) for name in PAGE_LIBRARIES], name="page libraries", daemon=True
    )
    thread.start()
    return thread


import_page_libraries()
st.set_page_config(page_title="Xeno CRM", page_icon=":material/hub:", layout="wide")
client = ui.api()
session_cookie.resume(client)
adopt_provider_sign_in()
if client.signed_in:
    sidebar()
    pages = [st.Page(path, title=title, icon=icon) for path, title, icon, role in PAGES if client.may(role)]
    # The root address opens the first page at its own address, so `/segments` is a link like any other.
    first = pages[0]
    root = st.Page(
        lambda: st.switch_page(first), title=first.title, url_path="start", default=True, visibility="hidden"
    )
    page = st.navigation([root, *pages])
    linked = linked_page_after_sign_in(landed_at_root=page.url_path == root.url_path)
    if linked is not None:
        open_linked_page(*linked)
    linked_page.drop_if_asked()
    session_cookie.keep(client)
    page.run()
else:
    sign_in = st.Page("app_pages/sign_in.py", title="Sign in", icon=":material/login:", default=True)
    page = st.navigation([sign_in, *(st.Page(path, title=title) for path, title, _, _ in PAGES)], position="hidden")
    if page.url_path != sign_in.url_path:
        remember_linked_page(page)
    keep_linked_page_through_provider()
    session_cookie.forget_if_asked()
    page.run()
