"""The route that gives the browser its session cookie: http-only, once per code, only from the dashboard's pages."""

from __future__ import annotations

import importlib
import sys

from starlette.applications import Starlette
from starlette.testclient import TestClient

from dashboard.session_cookie import COOKIE, PATH, ROUTES, offer

SAME_ORIGIN = {"Origin": "http://testserver"}


def client() -> TestClient:
    return TestClient(Starlette(routes=ROUTES))


def test_a_code_sets_an_http_only_cookie_holding_the_refresh_token_once() -> None:
    browser = client()
    code = offer("xr_the-token", 3600)

    first = browser.post(PATH, content=code, headers=SAME_ORIGIN)
    again = browser.post(PATH, content=code, headers=SAME_ORIGIN)

    assert first.status_code == 204
    cookie = first.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}=xr_the-token;")
    assert {"HttpOnly", "Max-Age=3600", "Path=/", "SameSite=lax"} <= {part.strip() for part in cookie.split(";")}
    assert "Secure" not in cookie
    assert again.status_code == 400
    assert "set-cookie" not in again.headers


def test_behind_a_tls_proxy_the_cookie_is_secure() -> None:
    answer = client().post(PATH, content=offer("xr_t", 60), headers={**SAME_ORIGIN, "X-Forwarded-Proto": "https"})

    assert "Secure" in answer.headers["set-cookie"]


def test_another_site_cannot_set_or_drop_the_cookie() -> None:
    code = offer("xr_attackers-session", 60)

    assert client().post(PATH, content=code, headers={"Origin": "https://evil.example"}).status_code == 403
    assert client().post(PATH, content=code).status_code == 403
    assert client().delete(PATH, headers={"Origin": "https://evil.example"}).status_code == 403


def test_signing_out_drops_the_cookie() -> None:
    answer = client().delete(PATH, headers=SAME_ORIGIN)

    assert answer.status_code == 204
    assert answer.headers["set-cookie"].startswith(f'{COOKIE}="";')


def test_a_code_offered_after_streamlit_reloaded_the_dashboards_modules_still_works() -> None:
    browser = client()  # its route keeps the module as it was imported
    sys.modules.pop("dashboard.session_cookie")  # what Streamlit does when a file of the dashboard changes
    reloaded = importlib.import_module("dashboard.session_cookie")

    answer = browser.post(PATH, content=reloaded.offer("xr_after-an-edit", 60), headers=SAME_ORIGIN)

    assert answer.status_code == 204
    assert answer.headers["set-cookie"].startswith(f"{COOKIE}=xr_after-an-edit;")
