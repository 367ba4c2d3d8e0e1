"""Fixtures the pipeline tests share: a Dagster instance of each test's own."""

from __future__ import annotations

from collections.abc import Iterator

import dagster as dg
import pytest


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    """A Dagster instance of this test's own (an ephemeral one can inherit a finished test's state storage)."""
    with dg.instance_for_test() as instance:
        yield instance
