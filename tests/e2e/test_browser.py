"""The dashboard in a real browser: headless Chromium (Debian's `chromium` and `chromium-driver`) driven with
Selenium, against `streamlit run` and the API on loopback ports, real Postgres and Redis underneath.

It signs in with the developer sign-in, builds a segment of two groups in the visual builder, sees its count
and saves it; then writes a campaign to that segment, launches it (confirming its audience and channel first),
watches its delivered count rise as the delivery worker sends it through the vendor simulator on loopback, and
finds it in the History. A second test follows a link while signed out, then reloads and follows links signed in,
which must keep the session (the http-only cookie of `dashboard.session_cookie`); a third follows a link through
the sign-in with Google (`st.login` against the loopback OpenID provider), which must land on the page linked to
(`dashboard.linked_page`). Screenshots of each step go to
`artifacts/screenshots/` (git-ignored).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from sqlalchemy import Engine

from dashboard import linked_page
from dashboard.client import ApiClient
from engine.features.snapshot import Snapshot
from engine.services.supervisor import free_port, http_ok
from engine.settings import Settings
from tests.api.segments.conftest import publisher  # noqa: F401
from tests.api.segments.data import LOYAL_IN_LONDON_OR_MUMBAI
from tests.dashboard.conftest import api_url, dev_signin, reachable_shop, shop  # noqa: F401
from tests.dashboard.delivery import delivery_running, vendor
from tests.engine.auth.fixtures import auth_settings, oidc_issuer  # noqa: F401
from tests.engine.auth.provider import BOSS, CLIENT_ID, CLIENT_SECRET
from tests.fixtures.browser import CHROMEDRIVER, CHROMIUM, DashboardPage, chromium, until

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "artifacts" / "screenshots"
PHONE = {
    "deviceMetrics": {"width": 390, "height": 844, "pixelRatio": 3},
    "userAgent": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.0 Mobile/15E148 Safari/604.1",
}
DELIVERY_WAIT_S = 90

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        CHROMIUM is None or CHROMEDRIVER is None,
        reason="needs Debian's chromium and chromium-driver (.ci/run installs them)",
    ),
]


@pytest.fixture
def dashboard(api_url: str, tmp_path: Path) -> Iterator[str]:  # noqa: F811
    """`streamlit run dashboard/server.py` on a free loopback port, talking to the API; yields its URL."""
    yield from streamlit_dashboard(tmp_path, {"XENO_API_URL": api_url, "XENO_DEV_SIGNIN": "true"})


@pytest.fixture
def google_dashboard(auth_settings: Settings, live_api: str, tmp_path: Path) -> Iterator[str]:  # noqa: F811
    """The dashboard with only the sign-in with Google (`st.login`), against the loopback OpenID provider that the
    API trusts too; yields its URL."""
    issuer = auth_settings.oidc_issuer
    port = free_port()
    secrets = tmp_path / "secrets.toml"
    secrets.write_text(
        f"""[auth]
redirect_uri = "http://127.0.0.1:{port}/oauth2callback"
cookie_secret = "a-cookie-secret-for-the-browser-test"
client_id = "{CLIENT_ID}"
client_secret = "{CLIENT_SECRET}"
server_metadata_url = "{issuer}/.well-known/openid-configuration"
expose_tokens = "id"
"""
    )
    env = {"XENO_API_URL": live_api, "XENO_DEV_SIGNIN": "false"}
    yield from streamlit_dashboard(tmp_path, env, port, ["--secrets.files", str(secrets)])


def streamlit_dashboard(
    tmp_path: Path, env: dict[str, str], port: int | None = None, options: list[str] | None = None
) -> Iterator[str]:
    port = port or free_port()
    log = tmp_path / "streamlit.log"
    argv = [
        sys.executable, "-m", "streamlit", "run", "dashboard/server.py", "--server.port", str(port),
        "--server.address", "127.0.0.1", "--server.headless", "true", "--browser.gatherUsageStats", "false",
        *(options or []),
    ]  # fmt: skip
    with log.open("w") as output:
        process = subprocess.Popen(
            argv, cwd=ROOT, env={**os.environ, **env, "ENVIRONMENT": "test"}, stdout=output, stderr=subprocess.STDOUT
        )
    try:
        url = f"http://127.0.0.1:{port}"
        until(http_ok(f"{url}/_stcore/health"), lambda: log.read_text())
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def browser(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[WebDriver]:
    """Headless Chromium with a fresh profile; a screenshot of where it last stood (useful when a step failed)."""
    yield from screenshotting(tmp_path, request.node.name)


@pytest.fixture
def phone(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[WebDriver]:
    """The same, with a phone's screen (390 px wide) and user agent."""
    yield from screenshotting(tmp_path, request.node.name, {"mobileEmulation": PHONE})


def screenshotting(tmp_path: Path, name: str, experimental: dict[str, Any] | None = None) -> Iterator[WebDriver]:
    with chromium(tmp_path / "chromium-profile", experimental) as driver:
        try:
            yield driver
        finally:
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            driver.save_screenshot(str(SCREENSHOTS / f"{name}-last.png"))


def test_sign_in_build_a_segment_of_two_groups_then_launch_a_campaign_to_it_and_see_it_delivered(
    dashboard: str,
    browser: WebDriver,
    reachable_shop: Snapshot,  # noqa: F811
    api_url: str,  # noqa: F811
    database: Engine,
    redis_client: redis.Redis,
) -> None:
    page = DashboardPage(browser, SCREENSHOTS, "browser")
    browser.get(dashboard)
    page.type("signin_email", "marketer@shop.example", Keys.TAB)
    page.choose("signin_role", "marketer")
    page.shot("sign-in")
    page.click("signin_dev")
    until(lambda: "Segments" in page.text_of("stHeading"), lambda: page.text_of("stHeading"))
    page.shot("signed-in")

    page.click("rule-do:root:add_group")
    page.choose("rule:0:mode", "ANY of these (OR)")
    page.choose("rule:0.0:op", ">")
    page.type("rule:0.0:value:number", "1000")
    page.click("rule-do:0:add_field")
    page.choose("rule:0.1:field", "order count")
    page.choose("rule:0.1:op", ">=")
    page.type("rule:0.1:value:integer", "3")
    page.click("rule-do:root:add_group")
    page.choose("rule:1.0:field", "city")
    page.choose("rule:1.0:op", "in")
    page.pick_many("rule:1.0:value:choices", "London", "Mumbai")

    until(lambda: page.text_of("stMetricValue") == "2", lambda: page.text_of("stMetricValue"))
    assert "3 match" in page.text_of("stCaptionContainer")  # spend over 1000 or 3+ orders: Ada, Sam, Noor
    assert "4 match" in page.text_of("stCaptionContainer")  # in London or Mumbai: Ada, Ravi, Sam, Ivan
    page.shot("two-groups")

    page.type("segment_name", "Loyal in London or Mumbai", Keys.TAB)
    page.click("segment_save")
    until(lambda: "Saved “Loyal in London or Mumbai”" in page.text_of("stAlert"), lambda: page.text_of("stAlert"))
    page.shot("saved")

    page.go("Campaigns")
    page.type("campaign_name", "Thank you, loyal customers", Keys.TAB)
    page.choose("campaign_segment", "Loyal in London or Mumbai (2 customers)")
    page.type("campaign_template", "Hi {{ first_name }}, thank you! Here is 10% off in {{ city }}.", Keys.TAB)
    until(lambda: page.metric("Audience now") == "2", lambda: page.text_of("stMetric"))
    page.shot("campaign-written")

    page.click("campaign_launch")
    until(lambda: "to 2 customers now" in page.text_of("stDialog"), lambda: page.text_of("stDialog"))
    page.shot("launch-confirmation")
    page.click("campaign_launch_confirm")
    until(lambda: "Scheduled “Thank you, loyal customers” to launch now" in page.text_of("stAlert"),
          lambda: page.text_of("stAlert"))  # fmt: skip
    until(lambda: "scheduled" in page.text_of("stMarkdown"), lambda: page.text_of("stMarkdown"))
    assert page.metric("Delivered") == "0"
    page.shot("campaign-scheduled")

    with vendor(api_url, receipt_delay_ms=500) as simulator, delivery_running(database, redis_client, simulator):
        until(lambda: page.metric("Sent") == "2", lambda: page.text_of("stMetric"), timeout=DELIVERY_WAIT_S)
        page.shot("campaign-sending")
        until(lambda: page.metric("Delivered") == "2", lambda: page.text_of("stMetric"), timeout=DELIVERY_WAIT_S)
        page.shot("campaign-delivered")
        until(lambda: "completed" in page.text_of("stMarkdown"), lambda: page.text_of("stMarkdown"))

    page.go("History")
    until(lambda: "Thank you, loyal customers" in page.text_of("stHeading"), lambda: page.text_of("stHeading"))
    outcome = ("Audience", "Delivered", "Delivery rate")
    until(lambda: tuple(map(page.metric, outcome)) == ("2", "2", "100%"), lambda: page.text_of("stMetric"))
    page.shot("history")


def test_a_link_signed_out_lands_on_its_page_after_sign_in_and_a_reload_keeps_the_session(
    dashboard: str,
    browser: WebDriver,
    reachable_shop: Snapshot,  # noqa: F811
) -> None:
    page = DashboardPage(browser, SCREENSHOTS, "session")

    def headings() -> str:
        return page.text_of("stHeading")

    browser.get(f"{dashboard}/history")
    page.type("signin_email", "viewer@shop.example", Keys.TAB)
    page.choose("signin_role", "viewer")
    page.click("signin_dev")
    until(lambda: "History" in headings(), headings)
    assert browser.current_url.startswith(f"{dashboard}/history")
    assert not browser.find_elements(By.CSS_SELECTOR, '[data-testid="stAppDeployButton"]')
    cookie = until(lambda: browser.get_cookie("xeno_session"), lambda: browser.get_cookies())
    assert cookie["httpOnly"]
    assert cookie["value"] not in browser.page_source
    page.shot("deep-link-after-sign-in")

    browser.refresh()
    until(lambda: "History" in headings() and "viewer@shop.example" in page.text_of("stSidebar"), headings)
    assert not browser.find_elements(By.CSS_SELECTOR, ".st-key-signin_email")
    until(lambda: (browser.get_cookie("xeno_session") or cookie)["value"] != cookie["value"], browser.get_cookies)
    page.shot("reload-keeps-session")

    browser.get(f"{dashboard}/segments")
    until(lambda: "Segments" in headings() and "viewer@shop.example" in page.text_of("stSidebar"), headings)
    page.shot("link-while-signed-in")

    page.click("sign_out")
    until(lambda: browser.get_cookie("xeno_session") is None, lambda: browser.get_cookies())
    browser.refresh()
    page.keyed("signin_email", "input")
    page.shot("signed-out-after-reload")


def test_a_link_signed_out_lands_on_its_page_after_the_sign_in_with_google_not_on_the_first_page(
    google_dashboard: str,
    browser: WebDriver,
    shop: Snapshot,  # noqa: F811
) -> None:
    page = DashboardPage(browser, SCREENSHOTS, "google")

    def headings() -> str:
        return page.text_of("stHeading")

    browser.get(f"{google_dashboard}/customers?customer=2")
    until(lambda: browser.get_cookie(linked_page.COOKIE), lambda: browser.get_cookies())
    page.shot("sign-in-for-a-link")
    page.click("signin_oidc")
    until(lambda: browser.find_elements(By.CSS_SELECTOR, f'button[value="{BOSS}"]'), lambda: browser.page_source)
    page.shot("provider")
    browser.find_element(By.CSS_SELECTOR, f'button[value="{BOSS}"]').click()

    until(lambda: "Customers" in headings() and BOSS in page.text_of("stSidebar"), headings)
    assert browser.current_url == f"{google_dashboard}/customers?customer=2"
    until(lambda: browser.get_cookie(linked_page.COOKIE) is None, lambda: browser.get_cookies())
    page.shot("linked-page-after-google")

    browser.get(google_dashboard)  # a later visit to the root address opens the first page again
    until(lambda: "Segments" in headings() and BOSS in page.text_of("stSidebar"), headings)


def test_on_a_phone_the_sidebar_closes_after_choosing_a_page_and_the_rule_drawing_stays_readable(
    dashboard: str,
    phone: WebDriver,
    reachable_shop: Snapshot,  # noqa: F811
    api_url: str,  # noqa: F811
) -> None:
    author = ApiClient(api_url)
    author.dev_sign_in("analyst@shop.example", "analyst")
    segment = author.create_segment(
        {"name": "Loyal in London or Mumbai", "description": "", "rule": LOYAL_IN_LONDON_OR_MUMBAI}
    )
    browser = phone
    page = DashboardPage(browser, SCREENSHOTS, "phone")
    browser.get(f"{dashboard}/segments?segment={segment['id']}")
    page.type("signin_email", "analyst@shop.example", Keys.TAB)
    page.choose("signin_role", "analyst")
    page.click("signin_dev")
    until(lambda: "Segments" in page.text_of("stHeading"), lambda: page.text_of("stHeading"))

    def sidebar_shown() -> float:
        """How many pixels of the sidebar are on the screen."""
        script = "return document.querySelector('[data-testid=\"stSidebar\"]').getBoundingClientRect().right"
        return max(float(browser.execute_script(script)), 0.0)

    if not sidebar_shown():
        browser.find_element(By.CSS_SELECTOR, '[aria-controls="stSidebar"]').click()
    until(lambda: sidebar_shown() > 200, sidebar_shown)
    page.shot("sidebar-open")

    page.go("History")

    until(lambda: sidebar_shown() == 0, sidebar_shown)
    page.shot("sidebar-closed-after-navigating")

    browser.get(f"{dashboard}/segments?segment={segment['id']}")
    page.keyed("segment_show_graph", "label").click()  # drawn when asked
    drawing = until(
        lambda: browser.find_element(By.CSS_SELECTOR, '[data-testid="stGraphVizChart"] svg'), lambda: "no drawing"
    )
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", drawing)
    drawn, natural = browser.execute_script(
        "return [arguments[0].getBoundingClientRect().width, arguments[0].viewBox.baseVal.width]", drawing
    )
    page.shot("rule-drawing")
    assert drawn <= 390
    assert drawn / natural > 0.75, f"drawn {drawn:.0f} px wide of {natural:.0f}: its 11 pt labels shrink too far"
