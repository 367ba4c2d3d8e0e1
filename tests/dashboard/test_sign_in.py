"""Signing in and out of the dashboard, the pages each role gets, and the tokens the client keeps fresh."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from dashboard.client import ApiClient, ApiError
from engine.services.supervisor import free_port
from engine.settings import Settings
from tests.dashboard.helpers import ENTRY, on_page, open_dashboard, signed_in
from tests.engine.auth.fixtures import auth_settings, oidc_issuer  # noqa: F401
from tests.engine.auth.provider import BOSS, CLIENT_ID, CLIENT_SECRET, EVE, id_token_from

PAGES = ("segments", "campaigns", "history", "customers", "pipelines", "admin")
OPENS = {
    "viewer": {"segments", "history"},
    "analyst": {"segments", "history", "customers", "pipelines"},
    "marketer": {"segments", "campaigns", "history", "customers", "pipelines"},
    "admin": set(PAGES),
}


@pytest.mark.parametrize("role", list(OPENS))
def test_each_role_gets_the_pages_it_may_use(api_url: str, role: str) -> None:
    app = signed_in(role)

    opened = set()
    for page in PAGES:
        try:
            app.switch_page(f"app_pages/{page}.py")
        except ValueError:
            continue
        opened.add(page)

    assert opened == OPENS[role]
    assert app.sidebar.markdown[0].value.endswith(f"· {role}")


def test_signed_out_every_page_shows_the_sign_in(api_url: str) -> None:
    app = open_dashboard()

    app.switch_page("app_pages/admin.py")
    app.run()

    assert app.title[0].value == "Xeno CRM"
    assert app.button(key="signin_dev")
    assert not app.sidebar.button


def test_a_link_to_a_page_opens_that_page_after_signing_in_not_page_not_found(api_url: str) -> None:
    app = open_dashboard()
    app.switch_page("app_pages/campaigns.py")
    app.query_params["campaign"] = "7"
    app.run()
    assert app.button(key="signin_dev")
    app.switch_page("app_pages/sign_in.py")  # where the browser's address went (AppTest keeps the old one)

    app.text_input(key="signin_email").input("marketer@shop.example")
    app.selectbox(key="signin_role").select("marketer")
    app.button(key="signin_dev").click().run()

    assert not app.exception
    assert app.title[0].value == "Campaigns"
    assert app.query_params["campaign"] == "7"


def test_signing_out_ends_the_session_at_the_api(api_url: str) -> None:
    app = signed_in("analyst")
    client: ApiClient = app.session_state["api_client"]
    refresh_token = client._session.refresh_token  # type: ignore[union-attr]

    app.button(key="sign_out").click().run()

    assert app.button(key="signin_dev")
    with pytest.raises(ApiError) as refused:
        ApiClient(api_url)._public("/v1/auth/refresh", {"refresh_token": refresh_token})
    assert refused.value.status == 401


def test_a_developer_sign_in_the_api_refuses_is_shown_with_its_reason(
    live_api: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XENO_API_URL", live_api)
    monkeypatch.setenv("XENO_DEV_SIGNIN", "true")  # the dashboard offers it; the API (made without it) refuses
    app = open_dashboard()

    app.button(key="signin_dev").click().run()

    assert app.error[0].value.startswith("Not found: the developer sign-in is switched off")
    assert app.button(key="signin_dev")


def test_without_any_sign_in_configured_the_page_says_how_to_configure_one(
    live_api: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XENO_API_URL", live_api)
    monkeypatch.delenv("XENO_DEV_SIGNIN", raising=False)

    app = open_dashboard()

    assert "No way to sign in is configured" in app.warning[0].value


def test_an_access_token_about_to_expire_is_refreshed_before_the_call(api_url: str) -> None:
    client = ApiClient(api_url)
    client.dev_sign_in("ana@shop.example", "analyst")
    first = client._session.access_token  # type: ignore[union-attr]
    client._session.access_expires_at = 0  # type: ignore[union-attr]

    assert client._get("/v1/auth/me")["email"] == "ana@shop.example"
    assert client._session.access_token != first  # type: ignore[union-attr]


def test_an_access_token_the_api_no_longer_takes_is_refreshed_once_and_the_call_retried(api_url: str) -> None:
    client = ApiClient(api_url)
    client.dev_sign_in("ana@shop.example", "analyst")
    client._session.access_token = "not-a-token"  # type: ignore[union-attr]

    assert client._get("/v1/auth/me")["role"] == "analyst"


def test_a_session_that_ended_elsewhere_signs_the_dashboard_out_with_a_message(api_url: str) -> None:
    app = on_page(signed_in("analyst"), "pipelines")
    client: ApiClient = app.session_state["api_client"]
    ApiClient(api_url)._public("/v1/auth/logout", {"refresh_token": client._session.refresh_token})  # type: ignore[union-attr]
    client._session.access_token = "expired"  # type: ignore[union-attr]

    app.run()

    assert not client.signed_in
    assert app.warning[0].value == "Your session has ended; sign in again."
    assert app.button(key="signin_dev")


@pytest.fixture
def oidc_api(auth_settings: Settings, live_api: str, monkeypatch: pytest.MonkeyPatch) -> str:  # noqa: F811
    """The API with sign-in through the loopback OpenID provider, and the dashboard pointed at it."""
    monkeypatch.setenv("XENO_API_URL", live_api)
    monkeypatch.delenv("XENO_DEV_SIGNIN")
    return live_api


def after_provider_sign_in(issuer: str, email: str) -> AppTest:
    """The dashboard as Streamlit runs it once `st.login` brought the user back with an exposed ID token."""
    app = AppTest.from_file(str(ENTRY), default_timeout=30)
    app.secrets["auth"] = {
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "server_metadata_url": f"{issuer}/.well-known/openid-configuration",
        "redirect_uri": "http://localhost:8501/oauth2callback",
        "cookie_secret": "a-cookie-secret-for-tests",
        "expose_tokens": "id",
    }
    app.user = {"is_logged_in": True, "email": email, "tokens": {"id": id_token_from(issuer, email)}}
    app.run()
    return app


def test_signed_out_with_a_provider_configured_there_is_a_button_to_sign_in_with_it(
    oidc_api: str,
    oidc_issuer: str,  # noqa: F811
) -> None:
    app = AppTest.from_file(str(ENTRY), default_timeout=30)
    app.secrets["auth"] = {"client_id": CLIENT_ID, "expose_tokens": "id"}
    app.user = {"is_logged_in": False}
    app.run()

    assert app.button(key="signin_oidc").label == "Sign in with Google"
    with pytest.raises(KeyError):
        app.button(key="signin_dev")


def test_the_providers_id_token_is_traded_for_our_tokens_after_st_login(
    oidc_api: str,
    oidc_issuer: str,  # noqa: F811
) -> None:
    app = after_provider_sign_in(oidc_issuer, BOSS)

    assert app.session_state["api_client"].user["email"] == BOSS
    assert app.sidebar.markdown[0].value.endswith("· admin")
    on_page(app, "admin")


def test_a_provider_sign_in_the_api_refuses_is_explained_with_a_way_out(
    oidc_api: str,
    oidc_issuer: str,  # noqa: F811
) -> None:
    app = after_provider_sign_in(oidc_issuer, EVE)

    assert not app.session_state["api_client"].signed_in
    assert "not an allowed domain" in app.error[0].value
    assert app.button(key="signin_oidc_retry")


def test_an_api_that_does_not_answer_is_named_in_the_message(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XENO_API_URL", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("XENO_DEV_SIGNIN", "true")
    app = open_dashboard()

    app.button(key="signin_dev").click().run()

    assert app.error[0].value.startswith(f"Cannot reach the API: {app.session_state['api_client'].base_url}")
