"""Keeping people signed in across reloads and links: the browser holds a refresh token in an http-only cookie.

The dashboard signs people in on its server (the developer sign-in, or the OpenID provider's ID token traded at
the API), so their tokens live in the Streamlit session, which a reload (F5) or a link opened in a new tab throws
away. To survive that, the browser keeps a refresh token of the same session:

1. once signed in, the server asks the API for a second refresh token of the session (`/v1/auth/browser-token`,
   a rotation chain of its own, so the server's refreshes never spend it), keeps it under a random one-time code
   for a minute (`offer`), and the page runs one line of JavaScript that POSTs the code to `/_xeno/session`;
2. that route of the dashboard's own web server (`dashboard.server`) answers with `Set-Cookie: xeno_session=...;
   HttpOnly; SameSite=Lax; Path=/` (`Secure` over https, or behind a TLS proxy that sends `X-Forwarded-Proto:
   https`): no script ever reads the token, and a POST from another site is refused by its `Origin`;
3. a new Streamlit session (the reload) reads the cookie from its own websocket request (`st.context.cookies`),
   spends the token at `/v1/auth/refresh`, and goes through step 1 again, so the cookie's token rotates on every
   use. Two tabs opening at once both present it, which the API allows within its reuse interval (30 s); a copy
   presented later ends the whole session (the API's reuse detection). Signing out ends the session (every chain
   of it) and deletes the cookie.

The cookie belongs to the dashboard's own origin, so it works wherever the API runs; a reverse proxy in front of
the dashboard passes `/_xeno/` along with the rest. A code only works in the process that made it, which holds
behind a load balancer since Streamlit needs sticky sessions there anyway.
"""

from __future__ import annotations

import secrets
import threading
import time
from urllib.parse import urlsplit

import orjson
import streamlit as st
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from dashboard import page_script
from dashboard.client import ApiClient, ApiError

COOKIE = "xeno_session"
PATH = "/_xeno/session"
CODE_TTL_S = 60.0
READ_KEY = "session_cookie_read"  # this session has looked at the cookie (once: its token is spent then)
KEPT_KEY = "session_cookie_kept"  # the code offering the browser a token of the session signed in now
FORGET_KEY = "session_cookie_forget"  # the browser should drop its cookie (signed out, or it no longer works)


class Offers:
    """The codes offered and not yet taken: code → (refresh token, cookie max-age, monotonic expiry)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.by_code: dict[str, tuple[str, int, float]] = {}


@st.cache_resource
def _offers() -> Offers:
    """One store for every session and the route. Not a module-level dict: Streamlit unloads the dashboard's
    modules when one of its files changes, and the scripts would then import a new, empty one the route never sees."""
    return Offers()


def offer(refresh_token: str, max_age_s: int) -> str:
    """A one-time code the browser trades at `PATH` for a cookie holding `refresh_token` (within a minute)."""
    code = secrets.token_urlsafe(32)
    now = time.monotonic()
    offers = _offers()
    with offers.lock:
        for stale in [key for key, (_, _, expires) in offers.by_code.items() if expires <= now]:
            del offers.by_code[stale]
        offers.by_code[code] = (refresh_token, max_age_s, now + CODE_TTL_S)
    return code


def _waiting(code: str) -> bool:
    offers = _offers()
    with offers.lock:
        found = offers.by_code.get(code)
    return found is not None and found[2] > time.monotonic()


def _take(code: str) -> tuple[str, int] | None:
    offers = _offers()
    with offers.lock:
        found = offers.by_code.pop(code, None)
    if found is None or found[2] <= time.monotonic():
        return None
    return found[0], found[1]


async def session_endpoint(request: Request) -> Response:
    """POST a code from `offer`: set the cookie. DELETE: drop it. Only from a page of this dashboard."""
    origin = request.headers.get("origin", "")
    if urlsplit(origin).netloc != request.headers.get("host"):
        return PlainTextResponse("only the dashboard's own pages may set its session cookie", status_code=403)
    secure = request.url.scheme == "https" or request.headers.get("x-forwarded-proto") == "https"
    if request.method == "DELETE":
        response: Response = Response(status_code=204)
        response.delete_cookie(COOKIE, path="/", secure=secure, httponly=True, samesite="lax")
        return response
    taken = _take((await request.body()).decode(errors="replace").strip())
    if taken is None:
        return PlainTextResponse("this code is unknown, used or expired; sign in again", status_code=400)
    token, max_age = taken
    response = Response(status_code=204)
    response.set_cookie(COOKIE, token, max_age=max_age, path="/", secure=secure, httponly=True, samesite="lax")
    return response


ROUTES = [Route(PATH, session_endpoint, methods=["POST", "DELETE"])]


def resume(client: ApiClient) -> None:
    """At the start of a browser session: sign in with the cookie's refresh token, if there is a usable one."""
    if client.signed_in or st.session_state.get(READ_KEY):
        return
    st.session_state[READ_KEY] = True
    token = st.context.cookies.to_dict().get(COOKIE)
    if not token:
        return
    try:
        client.resume(token)
    except ApiError as error:
        st.session_state[FORGET_KEY] = error.status is not None


def keep(client: ApiClient) -> None:
    """Once per sign-in, hand the browser a fresh refresh token of the session to keep in its cookie; the page
    asks again on every run until the browser has taken it (a run cut short by a page switch never reaches it)."""
    if not st.session_state.get(KEPT_KEY):
        try:
            token, max_age = client.browser_refresh_token()
        except ApiError:
            return  # the session still works; only a reload will ask to sign in again
        st.session_state[KEPT_KEY] = offer(token, max_age)
    if _waiting(st.session_state[KEPT_KEY]):
        _tell_browser("POST", st.session_state[KEPT_KEY])


def forget() -> None:
    """After signing out: the next run has the browser drop its cookie."""
    st.session_state.pop(KEPT_KEY, None)
    st.session_state[FORGET_KEY] = True


def forget_if_asked() -> None:
    if st.session_state.pop(FORGET_KEY, False):
        _tell_browser("DELETE", "")


def _tell_browser(method: str, body: str) -> None:
    base = str(st.get_option("server.baseUrlPath") or "").strip("/")
    url = f"/{base}{PATH}" if base else PATH
    call = f"fetch({orjson.dumps(url).decode()}, {{method: {orjson.dumps(method).decode()}, body: "
    call += f"{orjson.dumps(body).decode()}, credentials: 'same-origin'}})"
    page_script.run(call)
