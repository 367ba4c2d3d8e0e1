"""The customers and messages of the engagement tests (`tests.api.engagement.conftest`), for privacy requests."""

from tests.api.engagement.conftest import sent  # noqa: F401
