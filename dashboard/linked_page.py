"""The page a link asked for, carried through the sign-in with Google in a short-lived cookie of the browser.

Signed out at `/campaigns?segment=7`, the dashboard shows the sign-in at that address and keeps the page in the
Streamlit session (`dashboard.app`), which is enough for the developer sign-in. "Sign in with Google" (`st.login`)
leaves for the provider and comes back through Streamlit's `/oauth2callback`, which always redirects to the root
address in a new session: the one that kept the page is gone, and Streamlit has no hook to carry anything through.

So while signed out at a linked page, the page also has the browser keep the page's address (its URL path and
query, percent-encoded) in the cookie `xeno_linked_page`: `SameSite=Lax`, so it comes back with the provider's
redirect; ten minutes, as long as a sign-in may take; not http-only, as it holds no secret. The first signed-in
run of the next session reads it (`st.context.cookies`), and if that session landed on the root address, opens
the page it names, provided it is one of the dashboard's own pages (any other value is ignored: the cookie never
sends anyone to an arbitrary address); either way the browser is told to drop it.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from urllib.parse import parse_qsl, quote, unquote, urlencode

import orjson
import streamlit as st

from dashboard import page_script

COOKIE = "xeno_linked_page"
MAX_AGE_S = 600
MAX_LENGTH = 2000  # longer than any address of ours; a longer value is not one
KEPT_KEY = "linked_page_kept"  # this session asked the browser to keep a page
READ_KEY = "linked_page_read"  # this session has looked at the cookie (once: it is dropped then)
DROP_KEY = "linked_page_drop"  # the browser should drop the cookie

Page = tuple[str, dict[str, str]]  # (URL path, query parameters)


def cookie_value(url_path: str, query_params: Mapping[str, str]) -> str:
    """The page's address, percent-encoded into a valid cookie value."""
    query = urlencode(query_params)
    return quote(f"{url_path}?{query}" if query else url_path, safe="")


def page_named(value: str, url_paths: Collection[str]) -> Page | None:
    """The page a cookie value names, if its URL path is one of `url_paths` (the dashboard's pages)."""
    if len(value) > MAX_LENGTH:
        return None
    url_path, _, query = unquote(value).partition("?")
    if url_path not in url_paths:
        return None
    return url_path, dict(parse_qsl(query))


def keep(url_path: str, query_params: Mapping[str, str]) -> None:
    """Signed out at a linked page: have the browser keep its address for the way back from the provider."""
    st.session_state[KEPT_KEY] = True
    _set_cookie(cookie_value(url_path, query_params), MAX_AGE_S)


def take(url_paths: Collection[str]) -> Page | None:
    """Signed in: the page the browser's cookie names (on the session's first signed-in run only), and the
    cookie is dropped on this run or the next."""
    if st.session_state.pop(KEPT_KEY, False):
        st.session_state[DROP_KEY] = True
    if st.session_state.get(READ_KEY):
        return None
    st.session_state[READ_KEY] = True
    value = st.context.cookies.to_dict().get(COOKIE)
    if value is None:
        return None
    st.session_state[DROP_KEY] = True
    return page_named(value, url_paths)


def drop_if_asked() -> None:
    if st.session_state.pop(DROP_KEY, False):
        _set_cookie("", 0)


def _set_cookie(value: str, max_age_s: int) -> None:
    cookie = orjson.dumps(f"{COOKIE}={value}; Max-Age={max_age_s}; Path=/; SameSite=Lax").decode()
    page_script.run(f"document.cookie = {cookie} + (location.protocol === 'https:' ? '; Secure' : '')")
