"""The developer sign-in: only when switched on, only on loopback, and the API will not start otherwise."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from engine.settings import Settings
from tests.api.auth.helpers import LOOPBACK, bearer


def test_the_api_refuses_to_start_with_it_on_a_non_loopback_address(configure: Callable[..., Settings]) -> None:
    configure(XENO_DEV_SIGNIN="true", API_HOST="0.0.0.0")  # noqa: S104 - the address it must refuse

    with pytest.raises(RuntimeError, match="only runs on a loopback address"):
        create_app()


@pytest.mark.parametrize("host", ["127.0.0.1", "::1", "localhost"])
def test_the_api_starts_with_it_on_loopback(configure: Callable[..., Settings], host: str) -> None:
    configure(XENO_DEV_SIGNIN="true", API_HOST=host)

    assert create_app().title == "Xeno CRM API"


def test_it_signs_in_as_anyone_with_the_role_asked_for(client: TestClient) -> None:
    answer = client.post("/v1/auth/dev-login", json={"email": "Dev@Example.com", "role": "analyst"})

    assert answer.status_code == 200
    me = client.get("/v1/auth/me", headers=bearer(answer.json()["access_token"])).json()
    assert (me["email"], me["role"]) == ("dev@example.com", "analyst")


def test_it_is_not_there_when_switched_off(configure: Callable[..., Settings], auth_settings: Settings) -> None:
    configure(XENO_DEV_SIGNIN="false")
    with TestClient(create_app(), **LOOPBACK) as client:  # type: ignore[arg-type]
        answer = client.post("/v1/auth/dev-login", json={"email": "dev@example.com", "role": "admin"})

    assert answer.status_code == 404
    assert "switched off" in answer.json()["detail"]


def test_it_does_not_answer_a_caller_from_another_machine(auth_settings: Settings) -> None:
    with TestClient(create_app(), base_url="http://127.0.0.1:8000", client=("192.0.2.10", 40000)) as client:
        answer = client.post("/v1/auth/dev-login", json={"email": "dev@example.com", "role": "admin"})

    assert answer.status_code == 403
    assert "loopback" in answer.json()["detail"]
