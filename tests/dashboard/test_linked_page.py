"""The page a link asked for, carried through the sign-in with Google in a cookie: only ever one of our pages.

The way back from the provider (a new Streamlit session reading the cookie) needs a browser, since AppTest cannot
send cookies: tests/e2e/test_browser.py follows it in Chromium against the loopback OpenID provider.
"""

from __future__ import annotations

import re

import pytest
from streamlit.testing.v1 import AppTest

from dashboard.linked_page import COOKIE, MAX_AGE_S, cookie_value, page_named
from tests.dashboard.helpers import ENTRY
from tests.engine.auth.provider import CLIENT_ID

OUR_PAGES = ("segments", "campaigns", "history", "customers", "pipelines", "admin")


def test_a_page_and_its_query_come_back_from_the_cookie_as_they_went_in() -> None:
    value = cookie_value("history", {"campaign": "7", "note": "a b;c=d&e"})

    assert re.fullmatch(r"[A-Za-z0-9%._~-]+", value)  # nothing a cookie value may not hold
    assert page_named(value, OUR_PAGES) == ("history", {"campaign": "7", "note": "a b;c=d&e"})
    assert page_named(cookie_value("admin", {}), OUR_PAGES) == ("admin", {})


@pytest.mark.parametrize(
    "value",
    [
        "https%3A%2F%2Fevil.example%2Fcampaigns",
        "%2F%2Fevil.example",
        "campaigns%2F..%2F..%2Fetc",
        "sign_in",
        "",
        cookie_value("campaigns", {"segment": "x" * 3000}),
    ],
)
def test_anything_but_one_of_our_pages_is_ignored(value: str) -> None:
    assert page_named(value, OUR_PAGES) is None


def test_signed_out_at_a_link_with_google_configured_the_browser_keeps_the_page_for_the_way_back(
    api_url: str,
) -> None:
    app = AppTest.from_file(str(ENTRY), default_timeout=30)
    app.secrets["auth"] = {"client_id": CLIENT_ID, "expose_tokens": "id"}
    app.user = {"is_logged_in": False}
    app.switch_page("app_pages/campaigns.py")
    app.query_params["segment"] = "7"
    app.run()

    assert app.button(key="signin_oidc")
    scripts = [element.proto.body for element in app.get("html")]
    kept = f"{COOKIE}={cookie_value('campaigns', {'segment': '7'})}; Max-Age={MAX_AGE_S}; Path=/; SameSite=Lax"
    assert any(f'document.cookie = "{kept}"' in script for script in scripts), scripts


def test_signing_in_from_a_link_has_the_browser_drop_the_page_it_kept(api_url: str) -> None:
    app = AppTest.from_file(str(ENTRY), default_timeout=30)
    app.secrets["auth"] = {"client_id": CLIENT_ID, "expose_tokens": "id"}
    app.user = {"is_logged_in": False}
    app.switch_page("app_pages/history.py")
    app.run()
    app.switch_page("app_pages/sign_in.py")  # where the browser's address went (AppTest keeps the old one)

    app.button(key="signin_dev").click().run()

    assert app.title[0].value.startswith("History")
    scripts = [element.proto.body for element in app.get("html")]
    assert any(f'document.cookie = "{COOKIE}=; Max-Age=0;' in script for script in scripts), scripts
