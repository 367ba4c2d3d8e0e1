"""Shared fixtures: a real, migrated Postgres database and a real Redis, emptied before each test.

The servers are the ones named by `XENO_TEST_DATABASE_URL` / `XENO_TEST_REDIS_URL`, else those on the
standard local ports; when nothing listens there, embedded servers are started for the session.
"""

from __future__ import annotations

from tests.fixtures.api import *  # noqa: F403
from tests.fixtures.services import *  # noqa: F403
