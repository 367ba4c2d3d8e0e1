"""The API on loopback with sign-in configured against the loopback OpenID provider."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from engine.settings import Settings
from tests.api.auth.helpers import loopback_client
from tests.engine.auth.fixtures import *  # noqa: F403


@pytest.fixture
def client(auth_settings: Settings) -> Iterator[TestClient]:
    with loopback_client() as client:
        yield client
