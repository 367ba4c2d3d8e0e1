"""What `xeno up` puts in the environment of every process it starts."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.cli.up import _product_processes
from engine.settings import get_settings


def test_every_process_gets_two_malloc_arenas_unless_the_operators_environment_says_otherwise(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = get_settings().model_copy(update={"data_dir": tmp_path})
    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)
    started = [spec for step in _product_processes(settings) for spec in step]
    assert len(started) >= 6
    assert {spec.name: spec.env.get("MALLOC_ARENA_MAX") for spec in started} == {spec.name: "2" for spec in started}

    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")  # the supervisor hands its own environment down
    assert not [spec.name for step in _product_processes(settings) for spec in step if "MALLOC_ARENA_MAX" in spec.env]
