"""Roles are ordered (viewer < analyst < marketer < admin): a route needing one lets in it and those above."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient

from api.auth.setup import install_auth_error_handlers
from api.deps import Analyst, Marketer
from api.errors import install_error_handlers
from engine.settings import Settings
from tests.api.auth.helpers import LOOPBACK, bearer, dev_sign_in, loopback_client

router = APIRouter()


@router.post("/campaigns/launch")
def launch_campaign(user: Marketer) -> dict[str, str]:
    return {"launched_by": user.email}


@router.get("/segments")
def list_segments(user: Analyst) -> dict[str, str]:
    return {"seen_by": user.email}


@pytest.fixture
def app_with_role_routes(auth_settings: Settings) -> Iterator[TestClient]:
    """A marketer-only and an analyst-only route, guarded exactly as the product's routers guard theirs."""
    app = FastAPI()
    install_error_handlers(app)
    install_auth_error_handlers(app)
    app.include_router(router)
    with TestClient(app, **LOOPBACK) as client:  # type: ignore[arg-type]
        yield client


@pytest.fixture
def tokens(auth_settings: Settings) -> dict[str, str]:
    with loopback_client() as client:
        return {
            role: dev_sign_in(client, f"{role}@shop.example", role)["access_token"]
            for role in ("viewer", "analyst", "marketer", "admin")
        }


@pytest.mark.parametrize(
    ("role", "launch", "segments"),
    [("viewer", 403, 403), ("analyst", 403, 200), ("marketer", 200, 200), ("admin", 200, 200)],
)
def test_each_role_reaches_what_its_rank_allows(
    app_with_role_routes: TestClient, tokens: dict[str, str], role: str, launch: int, segments: int
) -> None:
    headers = bearer(tokens[role])

    assert app_with_role_routes.post("/campaigns/launch", headers=headers).status_code == launch
    assert app_with_role_routes.get("/segments", headers=headers).status_code == segments


def test_a_viewer_calling_a_marketer_route_is_told_which_role_it_needs(
    app_with_role_routes: TestClient, tokens: dict[str, str]
) -> None:
    answer = app_with_role_routes.post("/campaigns/launch", headers=bearer(tokens["viewer"]))

    assert answer.status_code == 403
    assert answer.json() == {
        "error": "forbidden",
        "detail": "this needs the marketer role (or a higher one); you are a viewer",
    }


def test_a_role_change_applies_to_the_next_request_without_signing_in_again(
    client: TestClient, app_with_role_routes: TestClient
) -> None:
    admin = dev_sign_in(client, "admin@shop.example", "admin")["access_token"]
    ana = dev_sign_in(client, "ana@shop.example", "viewer")
    assert app_with_role_routes.post("/campaigns/launch", headers=bearer(ana["access_token"])).status_code == 403

    promoted = client.patch(f"/v1/admin/users/{ana['user']['id']}", json={"role": "marketer"}, headers=bearer(admin))

    assert promoted.status_code == 200
    assert app_with_role_routes.post("/campaigns/launch", headers=bearer(ana["access_token"])).status_code == 200


def test_no_credentials_is_401_with_a_bearer_challenge(app_with_role_routes: TestClient) -> None:
    answer = app_with_role_routes.get("/segments")

    assert answer.status_code == 401
    assert answer.headers["www-authenticate"] == 'Bearer realm="xeno"'
