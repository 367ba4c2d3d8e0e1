"""Shared fixtures for the whole tree (see `tests/fixtures/`): real servers, the API, write keys."""

from __future__ import annotations

from tests.fixtures.api import *  # noqa: F403
from tests.fixtures.dagster import *  # noqa: F403
from tests.fixtures.logs import *  # noqa: F403
from tests.fixtures.metrics import *  # noqa: F403
from tests.fixtures.services import *  # noqa: F403
from tests.fixtures.settings import *  # noqa: F403
from tests.fixtures.tracing import *  # noqa: F403
