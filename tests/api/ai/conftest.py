"""Settings changed through the environment for one test (`configure`)."""

from __future__ import annotations

from tests.engine.auth.fixtures import configure as configure

__all__ = ["configure"]
