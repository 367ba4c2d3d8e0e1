"""Fixtures the pipeline tests share: a data folder and a Dagster instance of each test's own."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest

from engine.settings import get_settings


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The settings' data folder, where snapshots go, in a temporary folder for this test."""
    monkeypatch.setenv("XENO_DATA_DIR", str(tmp_path))
    get_settings.cache_clear()
    yield tmp_path
    monkeypatch.undo()
    get_settings.cache_clear()


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    """A Dagster instance of this test's own (an ephemeral one can inherit a finished test's state storage)."""
    with dg.instance_for_test() as instance:
        yield instance
