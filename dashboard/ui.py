"""What every page shares: the session's API client, API errors shown as messages, and role gates.

The client lives in `st.session_state` (one per browser session), made from `DashboardConfig` on first
use. `shown_errors()` wraps API calls so a refusal becomes an `st.error` with the API's reason instead of
a stack trace, and `read()` makes one of the client's reads that way, with a spinner; `needs(role)` stops a page
(or part of one) the user's role may not use. `read_cached` answers a read a page repeats on every run from a
short-lived cache of the session's own answers.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, ParamSpec, TypeVar

import streamlit as st

from dashboard.client import ApiClient, ApiError
from dashboard.config import DashboardConfig

CLIENT_KEY = "api_client"
CONFIG_KEY = "dashboard_config"
FLASH_KEY = "flash_message"
CACHE_TTL_S = 30  # how long `read_cached` answers stay: another user's change shows within this
Asked = ParamSpec("Asked")
Answer = TypeVar("Answer")


def config() -> DashboardConfig:
    if CONFIG_KEY not in st.session_state:
        st.session_state[CONFIG_KEY] = DashboardConfig.from_env()
    found: DashboardConfig = st.session_state[CONFIG_KEY]
    return found


def api() -> ApiClient:
    """This browser session's client (signed in or not yet)."""
    if CLIENT_KEY not in st.session_state:
        st.session_state[CLIENT_KEY] = ApiClient(config().api_url)
    client: ApiClient = st.session_state[CLIENT_KEY]
    return client


@contextmanager
def shown_errors(doing: str | None = None) -> Iterator[None]:
    """Show an API refusal raised inside the block as a readable error (and go on with the page)."""
    try:
        yield
    except ApiError as error:
        if error.status == 401 and not api().signed_in:
            flash("warning", "Your session has ended; sign in again.")
            st.rerun()
        st.error(f"{doing}: {error.message}" if doing else error.message, icon="⚠️")


def read(doing: str, call: Callable[Asked, Answer], *args: Asked.args, **kwargs: Asked.kwargs) -> Answer | None:
    """`call(*args, **kwargs)`, one of the client's reads; None (with the error shown) when the API refuses. A read
    that takes a while shows what it is doing in a spinner (after half a second), so no page sits blank."""
    with shown_errors(doing), st.spinner(f"{doing}…"):
        return call(*args, **kwargs)
    return None


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False, max_entries=1000)
def _cached_answer(operation: str, session: str, arguments: str, _read: Callable[[], Any]) -> Any:
    """One answer per signed-in session (`session`: its access token's digest), client operation and arguments
    (`_read` makes it, and is not part of the key)."""
    return _read()


def read_cached(doing: str, call: Callable[Asked, Answer], *args: Asked.args, **kwargs: Asked.kwargs) -> Answer | None:
    """`read`, answered from what this session read in the last `CACHE_TTL_S` seconds (for what a page reads on
    every run but rarely changes: the feature catalog, the segment list). `forget_cached` after changing it."""
    arguments = repr((args, sorted(kwargs.items())))
    with shown_errors(doing), st.spinner(f"{doing}…"):
        answer: Answer = _cached_answer(
            call.__qualname__, api().session_key, arguments, functools.partial(call, *args, **kwargs)
        )
        return answer
    return None


def forget_cached() -> None:
    """Forget every cached answer (after a change, so the next run reads it again)."""
    _cached_answer.clear()


def flash(kind: str, text: str) -> None:
    """Keep a message (`kind` is success, info, warning or error) to show on the next run of the page."""
    st.session_state[FLASH_KEY] = (kind, text)


def show_flash() -> None:
    """Show the kept message, once."""
    kind, text = st.session_state.pop(FLASH_KEY, (None, None))
    if kind is not None:
        getattr(st, kind)(text)


def needs(role: str, what: str = "this page") -> None:
    """Stop here unless the user's role is `role` or higher, saying who may."""
    if not api().may(role):
        st.info(f"You need the {role} role (or a higher one) for {what}; you are a {api().role}.")
        st.stop()


def oidc_configured() -> bool:
    """Whether Streamlit's own sign-in (`st.login`) is configured: an `[auth]` section in its secrets."""
    try:
        return "auth" in st.secrets
    except FileNotFoundError:
        return False
