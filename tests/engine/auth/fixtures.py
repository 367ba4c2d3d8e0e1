"""Fixtures for sign-in tests: the loopback OpenID providers, and settings changed through the environment."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
import redis
from sqlalchemy import Engine

from engine.settings import Settings
from tests.engine.auth.provider import BOSS, CLIENT_ID, CLIENT_SECRET, running_provider


@pytest.fixture(scope="session")
def oidc_issuer() -> Iterator[str]:
    with running_provider() as issuer:
        yield issuer


@pytest.fixture(scope="session")
def expired_token_issuer() -> Iterator[str]:
    """A provider whose ID tokens expired ten minutes before they were issued."""
    with running_provider(id_token_lifetime=timedelta(minutes=-10)) as issuer:
        yield issuer


@pytest.fixture
def auth_settings(
    configure: Callable[..., Settings], oidc_issuer: str, database: Engine, redis_client: redis.Redis
) -> Settings:
    """Sign-in through the loopback provider for `shop.example`, the boss as admin, developer sign-in on."""
    return configure(
        XENO_OIDC_ISSUER=oidc_issuer,
        XENO_OIDC_CLIENT_ID=CLIENT_ID,
        XENO_OIDC_CLIENT_SECRET=CLIENT_SECRET,
        XENO_SIGNIN_ALLOWED_DOMAINS="shop.example",
        XENO_ADMIN_EMAILS=BOSS,
        XENO_DEV_SIGNIN="true",
    )
