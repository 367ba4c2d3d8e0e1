"""Starts the product's processes, waits until each is ready, prefixes their logs, and stops them all.

Each child runs in its own session (process group), so that stopping it also stops what it spawned
(Dagster's code servers and runs, uvicorn's workers) and so that a Ctrl-C at the terminal reaches only
the supervisor, which then stops the children in reverse order of start, each by its own PID.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import FrameType
from typing import TextIO


class ServiceFailed(RuntimeError):
    """A process exited or did not become ready in time."""


@dataclass(frozen=True)
class ServiceSpec:
    """How to run one process and how to tell it is ready."""

    name: str
    argv: list[str]
    ready: Callable[[], bool] = lambda: True
    env: Mapping[str, str] = field(default_factory=dict)
    stop_signal: int = signal.SIGTERM
    user: str | None = None
    ready_timeout_s: float = 120.0


@dataclass
class _Running:
    spec: ServiceSpec
    process: subprocess.Popen[str]
    log_thread: threading.Thread


class Supervisor:
    """Owns the processes it started; `stop_all()` ends every one of them and nothing else."""

    def __init__(self, out: TextIO = sys.stdout) -> None:
        self._out = out
        self._running: list[_Running] = []
        self._stop_requested = threading.Event()
        self._print_lock = threading.Lock()

    @property
    def pids(self) -> list[int]:
        return [r.process.pid for r in self._running]

    def say(self, line: str) -> None:
        with self._print_lock:
            print(line, file=self._out, flush=True)

    def start(self, spec: ServiceSpec) -> None:
        """Start `spec` and return once it is ready; raise `ServiceFailed` if it dies or times out."""
        process = subprocess.Popen(
            spec.argv,
            env={**os.environ, **spec.env},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
            errors="replace",
            start_new_session=True,
            user=spec.user,
        )
        thread = threading.Thread(target=self._relay, args=(spec.name, process), daemon=True)
        thread.start()
        self._running.append(_Running(spec, process, thread))
        self._wait_ready(spec, process)

    def _relay(self, name: str, process: subprocess.Popen[str]) -> None:
        assert process.stdout is not None
        for line in process.stdout:
            self.say(f"[{name}] {line.rstrip()}")

    def _wait_ready(self, spec: ServiceSpec, process: subprocess.Popen[str]) -> None:
        deadline = time.monotonic() + spec.ready_timeout_s
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise ServiceFailed(f"{spec.name} exited with code {process.returncode} while starting")
            if self._stop_requested.is_set():
                raise ServiceFailed(f"stopped while {spec.name} was starting")
            if spec.ready():
                return
            time.sleep(0.25)
        raise ServiceFailed(f"{spec.name} was not ready after {spec.ready_timeout_s:.0f} s")

    def request_stop(self, signum: int = signal.SIGINT, _frame: FrameType | None = None) -> None:
        self._stop_requested.set()

    def wait(self) -> str | None:
        """Block until a stop is requested (None) or a child exits on its own (its name)."""
        while not self._stop_requested.wait(0.5):
            for running in self._running:
                if running.process.poll() is not None:
                    return running.spec.name
        return None

    def stop_all(self, timeout_s: float = 20.0) -> None:
        """Stop every child, newest first: its stop signal to its group, then SIGKILL after `timeout_s`."""
        for running in reversed(self._running):
            self._stop_one(running, timeout_s)
        self._running.clear()

    def _stop_one(self, running: _Running, timeout_s: float) -> None:
        process = running.process
        if process.poll() is None:
            _signal_group(process.pid, running.spec.stop_signal)
            try:
                process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.say(f"[xeno] {running.spec.name} did not stop in {timeout_s:.0f} s; killing it")
                _signal_group(process.pid, signal.SIGKILL)
                process.wait()
        # Whatever the child left in its group (a code server, a run) goes with it.
        _signal_group(process.pid, signal.SIGKILL)
        running.log_thread.join(timeout=2)


def _signal_group(pgid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)


def http_ok(url: str) -> Callable[[], bool]:
    """A readiness check: `url` answers 200."""

    def check() -> bool:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - a loopback URL of ours
                return bool(response.status == 200)
        except OSError:
            return False

    return check


def free_port() -> int:
    """A loopback TCP port nothing listens on right now (for a server we are about to start)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_open(port: int, host: str = "127.0.0.1") -> Callable[[], bool]:
    """A readiness check: something accepts TCP connections on `host:port`."""

    def check() -> bool:
        with socket.socket() as sock:
            sock.settimeout(1)
            return sock.connect_ex((host, port)) == 0

    return check
