"""What `xeno up` runs, as a small JSON file under the data folder, for `xeno status` to read.

The supervisor rewrites `processes.json` whenever a process changes state (atomically: a reader never sees half
a file). While it runs, `xeno up` holds a lock on `xeno-up.lock` next to it; the lock goes with the process
however it ends (even `kill -9`), so "is `xeno up` running here?" is answered by that lock, not by the file.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

ProcessStateName = Literal["starting", "ready", "restarting", "crash-loop", "stopped"]

STATE_FILE = "processes.json"
LOCK_FILE = "xeno-up.lock"


class AlreadyRunning(RuntimeError):
    """Another `xeno up` runs on the same data folder."""


@dataclass(frozen=True)
class ProcessState:
    """One supervised process as its supervisor last saw it."""

    name: str
    state: ProcessStateName
    pid: int | None
    started_at: datetime | None  # when its current process started
    restarts: int
    last_exit: str | None  # "exited with code 1", "killed by SIGKILL"
    last_exit_at: datetime | None

    def as_json(self) -> dict[str, Any]:
        return {key: value.isoformat() if isinstance(value, datetime) else value for key, value in asdict(self).items()}

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> ProcessState:
        times = {key: datetime.fromisoformat(raw[key]) if raw[key] else None for key in ("started_at", "last_exit_at")}
        return cls(**{**raw, **times})


def write_states(data_dir: Path, states: list[ProcessState]) -> None:
    """Replace the state file with `states`, atomically."""
    data_dir.mkdir(parents=True, exist_ok=True)
    body = json.dumps({"supervisor_pid": os.getpid(), "processes": [state.as_json() for state in states]}, indent=1)
    with tempfile.NamedTemporaryFile("w", dir=data_dir, prefix=".processes-", delete=False) as draft:
        draft.write(body)
    os.replace(draft.name, data_dir / STATE_FILE)


@dataclass(frozen=True)
class SupervisorRecord:
    """What the last `xeno up` on a data folder wrote: its own pid and its processes."""

    supervisor_pid: int
    processes: list[ProcessState]


def read_states(data_dir: Path) -> SupervisorRecord | None:
    """The processes as the last `xeno up` on this data folder left them (None if it never ran here)."""
    try:
        raw = json.loads((data_dir / STATE_FILE).read_text())
    except FileNotFoundError:
        return None
    return SupervisorRecord(raw["supervisor_pid"], [ProcessState.from_json(process) for process in raw["processes"]])


@contextlib.contextmanager
def running_here(data_dir: Path) -> Iterator[None]:
    """Hold the data folder's `xeno up` lock while the block runs; `AlreadyRunning` if another holds it."""
    data_dir.mkdir(parents=True, exist_ok=True)
    with (data_dir / LOCK_FILE).open("a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise AlreadyRunning(f"xeno up is already running on the data folder {data_dir}") from None
        yield


def is_running_here(data_dir: Path) -> bool:
    """Whether an `xeno up` holds the data folder's lock right now."""
    if not (data_dir / LOCK_FILE).exists():
        return False
    try:
        with running_here(data_dir):
            return False
    except AlreadyRunning:
        return True
