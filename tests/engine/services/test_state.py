"""One `xeno up` per data folder, and whether one runs there is known however the last one ended."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from typer.testing import CliRunner

from engine.cli import app
from engine.services.state import is_running_here, running_here

HOLD_THE_LOCK = """
import sys, time
from pathlib import Path
from engine.services.state import running_here
with running_here(Path(sys.argv[1])):
    print("holding", flush=True)
    time.sleep(600)
"""


def test_a_second_xeno_up_on_the_same_data_folder_is_refused(data_dir: Path) -> None:
    with running_here(data_dir):
        result = CliRunner().invoke(app, ["up"])
    assert result.exit_code == 1
    assert f"xeno up is already running on the data folder {data_dir}" in result.output


def test_xeno_up_killed_with_sigkill_no_longer_counts_as_running(data_dir: Path) -> None:
    holder = subprocess.Popen([sys.executable, "-c", HOLD_THE_LOCK, str(data_dir)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "holding"
        assert is_running_here(data_dir)
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait(timeout=10)
        deadline = time.monotonic() + 10
        while is_running_here(data_dir):
            assert time.monotonic() < deadline, "the lock outlived the process that held it"
            time.sleep(0.05)
    finally:
        holder.kill()
        holder.wait()


def test_a_data_folder_xeno_up_never_used_is_not_created_by_asking(tmp_path: Path) -> None:
    assert not is_running_here(tmp_path / "never-used")
    assert not (tmp_path / "never-used").exists()
