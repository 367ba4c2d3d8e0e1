"""Rate limits per route group on Redis: per user, per write key, per address for anonymous callers;
429 with `Retry-After` and the RateLimit headers."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from api.deps import rate_limit
from api.errors import install_error_handlers
from api.main import lifespan
from engine.keys import create_key
from engine.settings import Settings
from tests.api.auth.helpers import LOOPBACK, bearer, dev_sign_in, loopback_client


def test_anonymous_callers_are_limited_per_address_with_a_clear_429(
    configure: Callable[..., Settings], auth_settings: Settings
) -> None:
    configure(XENO_RATE_LIMIT_AUTH="3/minute")
    with loopback_client() as client:
        answers = [client.post("/v1/auth/refresh", json={"refresh_token": "xr_guess"}) for _ in range(4)]

    assert [answer.status_code for answer in answers] == [401, 401, 401, 429]
    refused = answers[-1]
    assert refused.json() == {
        "error": "rate_limited",
        "detail": "more than 3 auth requests in 60 s; retry in 20 s",
    }
    assert refused.headers["retry-after"] == "20"
    assert refused.headers["ratelimit-limit"] == "3"
    assert refused.headers["ratelimit-remaining"] == "0"
    assert refused.headers["ratelimit-policy"] == "3;w=60"


def test_each_user_has_an_allowance_of_their_own(configure: Callable[..., Settings], auth_settings: Settings) -> None:
    configure(XENO_RATE_LIMIT_READ="2/minute")
    with loopback_client() as client:
        ana = bearer(dev_sign_in(client, "ana@shop.example", "viewer")["access_token"])
        raj = bearer(dev_sign_in(client, "raj@shop.example", "viewer")["access_token"])

        anas = [client.get("/v1/auth/me", headers=ana) for _ in range(3)]
        rajs = client.get("/v1/auth/me", headers=raj)

    assert [answer.status_code for answer in anas] == [200, 200, 429]
    assert [answer.headers["ratelimit-remaining"] for answer in anas[:2]] == ["1", "0"]
    assert rajs.status_code == 200


def test_each_write_key_has_an_allowance_of_its_own(
    configure: Callable[..., Settings], auth_settings: Settings, database: Engine
) -> None:
    configure(XENO_RATE_LIMIT_INGEST="2/minute")
    app = FastAPI(lifespan=lifespan)
    install_error_handlers(app)

    @app.post("/ingest-something", dependencies=[rate_limit("ingest")])
    def ingest() -> dict[str, bool]:
        return {"ok": True}

    shop, app_key = create_key(database, "shop").secret, create_key(database, "app").secret
    with TestClient(app, **LOOPBACK) as client:  # type: ignore[arg-type]
        shops = [client.post("/ingest-something", auth=(shop, "")).status_code for _ in range(3)]
        apps = client.post("/ingest-something", headers=bearer(app_key)).status_code

    assert (shops, apps) == ([200, 200, 429], 200)


def test_limits_can_be_switched_off(configure: Callable[..., Settings], auth_settings: Settings) -> None:
    configure(XENO_RATE_LIMIT_AUTH="1/hour", XENO_RATE_LIMITS_ENABLED="false")
    with loopback_client() as client:
        answers = [client.post("/v1/auth/refresh", json={"refresh_token": "xr_guess"}) for _ in range(3)]

    assert [answer.status_code for answer in answers] == [401, 401, 401]
    assert "ratelimit-limit" not in answers[0].headers
