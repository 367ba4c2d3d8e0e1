"""Starts the product's processes, waits until each is ready, restarts one that dies, and stops them all.

Each child runs in its own session (process group), so that stopping it also stops what it spawned
(Dagster's runs, uvicorn's workers) and so that a Ctrl-C at the terminal reaches only the supervisor, which
then stops the children in reverse order of start (the embedded servers last), each by its own process group;
processes started together (they do not need each other) start and stop side by side.
Once ready, a child is watched by a keeper thread: when it dies it is restarted after a backoff
(`engine.services.restarts`), and every change is written to the state file `xeno status` reads.
A stop takes seconds, not minutes: what is left of a step a few seconds after its stop signal is killed.
"""

from __future__ import annotations

import contextlib
import os
import random
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import TextIO

import psutil

from engine.services.restarts import RestartHistory, RestartPolicy
from engine.services.state import ProcessState, ProcessStateName, read_states, write_states

READY_POLL_S = 0.25
# free_port() chooses among the ports from here to the ephemeral range, trying this many before asking the kernel.
FIRST_CHOSEN_PORT = 10000
FREE_PORT_TRIES = 64
# The ports free_port() has handed out in this process, none of them twice: the servers they are for may not have
# bound them yet. Chosen with the system's randomness, never the global generator, which tests and libraries seed.
_handed_out: set[int] = set()
_port_chooser = random.SystemRandom()
_handing_out = threading.Lock()
# How long the processes started together get to stop after their stop signal before what is left is killed.
STOP_TIMEOUT_S = 4.0
# Colour codes, dropped from children's lines when our output is not a colour terminal (Dagster colours its
# log lines whatever it writes to).
ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


class ServiceFailed(RuntimeError):
    """A process exited or did not become ready in time while it was first started."""


class StopRequested(RuntimeError):
    """A stop was asked for (Ctrl-C, SIGTERM) while a process was starting."""


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
    # How long it may take to stop after its signal before it is killed, if not the supervisor's `STOP_TIMEOUT_S`
    # (Postgres, to checkpoint).
    stop_timeout_s: float | None = None
    # Lines of its output not shown: advice about the host that does not apply to how we run it.
    hidden_lines: tuple[str, ...] = ()


@dataclass
class _Child:
    """One supervised process: its spec, its current process, and its restarts so far."""

    spec: ServiceSpec
    history: RestartHistory
    lock: threading.Lock = field(default_factory=threading.Lock)
    state: ProcessStateName = "starting"
    process: subprocess.Popen[str] | None = None
    started_at: datetime | None = None
    started_monotonic: float = 0.0
    last_exit: str | None = None
    last_exit_at: datetime | None = None
    threads: list[threading.Thread] = field(default_factory=list)

    def as_state(self) -> ProcessState:
        looping = self.history.crash_looping and self.state != "stopped"
        running = self.process is not None and self.process.returncode is None and self.state != "stopped"
        return ProcessState(
            name=self.spec.name,
            state="crash-loop" if looping else self.state,
            pid=self.process.pid if running and self.process else None,
            started_at=self.started_at,
            restarts=self.history.restarts,
            last_exit=self.last_exit,
            last_exit_at=self.last_exit_at,
        )


# How far a process's start time may lie from when its supervisor recorded starting it (the pid is reused otherwise).
LEFTOVER_START_SLACK_S = 5.0


class Supervisor:
    """Owns the processes it started; `stop_all()` ends every one of them and nothing else.

    One supervisor serves one run: once stopping, it starts and restarts nothing more.
    """

    def __init__(
        self, out: TextIO = sys.stdout, policy: RestartPolicy | None = None, state_dir: Path | None = None
    ) -> None:
        self._out = out
        self._colour = _shows_colour(out)
        self._policy = policy or RestartPolicy()
        self._state_dir = state_dir
        self._groups: list[list[_Child]] = []  # in order of start; each group started together
        self._stopping = threading.Event()
        self._forced = threading.Event()
        self._print_lock = threading.Lock()
        self._state_lock = threading.Lock()
        if state_dir is not None:
            self._end_leftovers(state_dir)
        self._publish()  # a previous run's processes are not this one's

    def _end_leftovers(self, state_dir: Path) -> None:
        """Kill what a previous `xeno up` on this data folder left running: killed itself (`kill -9`, a crash), it
        could not stop its children, which run in sessions of their own and would otherwise hold ports, data
        folders and stream claims beside the processes this run starts. Only the processes it recorded, and only
        if they are still those processes (same pid and start time), each with its process group."""
        record = read_states(state_dir)
        for process in record.processes if record else []:
            if process.pid is None or process.started_at is None or process.state == "stopped":
                continue
            with contextlib.suppress(psutil.Error):
                started = psutil.Process(process.pid).create_time()
                if abs(started - process.started_at.timestamp()) <= LEFTOVER_START_SLACK_S:
                    self.say(f"[xeno] stopping {process.name} (pid {process.pid}), left running by an earlier xeno up")
                    _signal_group(process.pid, signal.SIGKILL)

    @property
    def _children(self) -> list[_Child]:
        return [child for group in self._groups for child in group]

    @property
    def pids(self) -> list[int]:
        return [child.process.pid for child in self._children if child.process is not None]

    @property
    def stopping(self) -> threading.Event:
        """Set once a stop is asked for: work running beside the children (the demo data) watches it."""
        return self._stopping

    def states(self) -> list[ProcessState]:
        return [child.as_state() for child in self._children]

    def say(self, line: str) -> None:
        with self._print_lock:
            print(line, file=self._out, flush=True)

    def start(self, *specs: ServiceSpec) -> None:
        """Start `specs` side by side and return once every one is ready; from then on each is restarted
        whenever it dies. They are stopped side by side too, before anything started earlier.

        Raises `ServiceFailed` if one dies or is not ready in time, `StopRequested` if a stop comes meanwhile.
        """
        group = [_Child(spec, RestartHistory(self._policy)) for spec in specs]
        self._groups.append(group)
        for child in group:
            self._spawn(child)
        for child in group:
            failure = self._wait_ready(child)
            if failure is not None:
                raise ServiceFailed(f"{child.spec.name} {failure}")
            self._set_state(child, "ready")
            self._run_thread(child, self._keep, f"keep-{child.spec.name}")

    def request_stop(self, _signum: int = signal.SIGINT, _frame: FrameType | None = None) -> None:
        """A signal handler: the first call stops everything gracefully, a second one forces it."""
        if self._stopping.is_set():
            self._forced.set()
            line = "[xeno] stopping now: killing what is left"
        else:
            self._stopping.set()
            line = "[xeno] stopping..."
        # Printing from a signal handler could re-enter a print the main thread is in the middle of.
        threading.Thread(target=self.say, args=(line,), daemon=True).start()

    def wait_for_stop(self) -> None:
        """Block until a stop is requested; children that die meanwhile are restarted by their keepers."""
        while not self._stopping.wait(0.5):
            pass

    def stop_all(self, timeout_s: float = STOP_TIMEOUT_S) -> None:
        """Stop every child, newest first (those started together, together): its stop signal to its process
        group, then SIGKILL after `timeout_s` (or its own `stop_timeout_s`; at once after a second
        `request_stop`)."""
        self._stopping.set()
        for group in reversed(self._groups):
            self._stop_together(group, timeout_s)
        for child in self._children:
            for thread in child.threads:
                thread.join(timeout=2)

    def _spawn(self, child: _Child) -> None:
        spec = child.spec
        with child.lock:  # `stop_all` reads `child.process` under this lock: never a process it cannot see
            if self._stopping.is_set():
                raise StopRequested(f"stopped while {spec.name} was starting")
            child.process = subprocess.Popen(
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
            child.started_at = datetime.now(UTC)
            child.started_monotonic = time.monotonic()
        self._run_thread(child, self._relay, f"log-{spec.name}")
        self._publish()

    def _run_thread(self, child: _Child, target: Callable[[_Child], None], name: str) -> None:
        thread = threading.Thread(target=target, args=(child,), name=name, daemon=True)
        child.threads = [alive for alive in child.threads if alive.is_alive()] + [thread]
        thread.start()

    def _relay(self, child: _Child) -> None:
        assert child.process is not None
        assert child.process.stdout is not None
        hidden = child.spec.hidden_lines
        for line in child.process.stdout:
            if any(text in line for text in hidden):
                continue
            shown = line.rstrip() if self._colour else ANSI_ESCAPE.sub("", line.rstrip())
            self.say(f"[{child.spec.name}] {shown}")

    def _wait_ready(self, child: _Child) -> str | None:
        """None once `child` is ready, else what went wrong; `StopRequested` if a stop comes first."""
        process, spec = child.process, child.spec
        assert process is not None
        deadline = time.monotonic() + spec.ready_timeout_s
        while True:
            if self._stopping.is_set():
                raise StopRequested(f"stopped while {spec.name} was starting")
            if process.poll() is not None:
                return f"{describe_exit(process.returncode)} while starting"
            if spec.ready():
                return None
            if time.monotonic() > deadline:
                return f"was not ready after {spec.ready_timeout_s:.0f} s"
            self._stopping.wait(READY_POLL_S)

    def _keep(self, child: _Child) -> None:
        """Restart `child` whenever it dies, until the supervisor stops."""
        name = child.spec.name
        while True:
            returncode = self._wait_for_exit(child)
            if self._stopping.is_set():
                return
            delay = self._record_death(child, returncode)
            if self._stopping.wait(delay):
                return
            try:
                self._spawn(child)
                failure = self._wait_ready(child)
            except StopRequested:
                return
            if failure is None:
                self._set_state(child, "ready")
                self.say(f"[xeno] {name} is running again (restart {child.history.restarts})")
            elif child.process is not None and child.process.poll() is None:
                self.say(f"[xeno] {name} {failure}; killing it")
                _signal_group(child.process.pid, signal.SIGKILL)

    def _wait_for_exit(self, child: _Child) -> int:
        """The exit code of `child`'s process; once it has stayed up long enough, its backoff starts over."""
        process = child.process
        assert process is not None
        settle_in = child.started_monotonic + self._policy.settled_after_s - time.monotonic()
        try:
            return process.wait(timeout=max(settle_in, 0))
        except subprocess.TimeoutExpired:
            was_looping = child.history.crash_looping
            child.history.settled()
            if was_looping:
                settled = self._policy.settled_after_s
                self._publish()  # first, so that `xeno status` agrees with the line as soon as it is read
                self.say(f"[xeno] {child.spec.name} has stayed up {settled:.0f} s; no longer crash-looping")
            return process.wait()

    def _record_death(self, child: _Child, returncode: int) -> float:
        """Log the death of `child`'s process and return how long to wait before restarting it."""
        process = child.process
        assert process is not None
        # Whatever it left in its group (a code server, a run, Postgres backends) goes with it.
        _signal_group(process.pid, signal.SIGKILL)
        uptime = time.monotonic() - child.started_monotonic
        was_looping = child.history.crash_looping
        delay = child.history.died(time.monotonic())
        child.last_exit, child.last_exit_at = describe_exit(returncode), datetime.now(UTC)
        self._set_state(child, "restarting")
        name, restarts = child.spec.name, child.history.restarts
        self.say(f"[xeno] {name} {child.last_exit} after {uptime:.0f} s up; restart {restarts} in {delay:.0f} s")
        if child.history.crash_looping and not was_looping:
            recent, window = child.history.recent_restarts, self._policy.crash_loop_window_s
            self.say(
                f"[xeno] {name} is crash-looping: {recent} restarts in the last {window:.0f} s, the last one "
                f"{child.last_exit}; retrying every {delay:.0f} s until it stays up"
            )
        return delay

    def _stop_together(self, group: list[_Child], timeout_s: float) -> None:
        processes: dict[str, tuple[subprocess.Popen[str], int]] = {}
        for child in group:
            with child.lock:
                if child.process is not None and child.state != "stopped":
                    processes[child.spec.name] = (child.process, child.spec.stop_signal)
        if not self._forced.is_set():
            for process, stop_signal in processes.values():
                if process.poll() is None:
                    _signal_group(process.pid, stop_signal)
            allowed = max((child.spec.stop_timeout_s or timeout_s for child in group), default=timeout_s)
            deadline = time.monotonic() + allowed
            while any(process.poll() is None for process, _ in processes.values()) and not self._forced.is_set():
                if time.monotonic() > deadline:
                    slow = [name for name, (process, _) in processes.items() if process.poll() is None]
                    self.say(f"[xeno] {', '.join(slow)} did not stop in {allowed:.0f} s; killing")
                    break
                time.sleep(0.05)
        for process, _ in processes.values():
            # The child itself if it is still there, and whatever it left in its group.
            _signal_group(process.pid, signal.SIGKILL)
            process.wait()
        for child in group:
            self._set_state(child, "stopped")

    def _set_state(self, child: _Child, state: ProcessStateName) -> None:
        with child.lock:
            if child.state == "stopped":  # a keeper that has not yet noticed the stop changes nothing
                return
            child.state = state
        self._publish()

    def _publish(self) -> None:
        if self._state_dir is None:
            return
        with self._state_lock:
            write_states(self._state_dir, self.states())


def describe_exit(returncode: int) -> str:
    """`exited with code 1` or `killed by SIGKILL`, from a `Popen.returncode`."""
    if returncode < 0:
        with contextlib.suppress(ValueError):
            return f"killed by {signal.Signals(-returncode).name}"
        return f"killed by signal {-returncode}"
    return f"exited with code {returncode}"


def _shows_colour(out: TextIO) -> bool:
    """Whether `out` is a terminal that shows colours (not `TERM=dumb`, not `NO_COLOR`)."""
    is_terminal = hasattr(out, "isatty") and out.isatty()
    return is_terminal and os.environ.get("TERM") != "dumb" and "NO_COLOR" not in os.environ


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


def command_ok(argv: list[str], env: Mapping[str, str]) -> Callable[[], bool]:
    """A readiness check: `argv` (with `env` added to ours) exits 0 within a minute."""

    def check() -> bool:
        try:
            done = subprocess.run(argv, env={**os.environ, **env}, capture_output=True, timeout=60)
        except subprocess.TimeoutExpired:
            return False
        return done.returncode == 0

    return check


def grpc_serving(port: int, service: str = "DagsterApi") -> Callable[[], bool]:
    """A readiness check: the gRPC server on loopback `port` says `service` is SERVING (the standard gRPC health
    protocol, which Dagster's code servers answer once their code is loaded)."""

    def check() -> bool:
        import grpc
        from grpc_health.v1 import health_pb2, health_pb2_grpc

        request = health_pb2.HealthCheckRequest(service=service)
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            try:
                reply = health_pb2_grpc.HealthStub(channel).Check(request, timeout=2)
            except grpc.RpcError:
                return False
        return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)

    return check


def free_port() -> int:
    """A loopback TCP port nothing listens on right now, for a server we are about to start.

    It comes from below the ephemeral range, where the kernel never hands a port to an outgoing connection: a port
    the kernel chose (bind to 0) could be taken by any client's connect before our server binds it, which stopped
    `xeno up` with EADDRINUSE on a busy machine. Only another server asking for this very port can take it now."""
    with _handing_out:
        port = _untaken_port()
        _handed_out.add(port)
        return port


def _untaken_port() -> int:
    below = _ephemeral_ports_start()
    for _ in range(FREE_PORT_TRIES):
        port = _port_chooser.randrange(FIRST_CHOSEN_PORT, below)
        if port in _handed_out:
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        return port
    with socket.socket() as sock:  # every try was taken: a machine this full gets whatever the kernel has
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _ephemeral_ports_start() -> int:
    """The first port of the kernel's range for outgoing connections (Linux's setting; IANA's 49152 elsewhere)."""
    try:
        first = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 49152
    return max(first, FIRST_CHOSEN_PORT + FREE_PORT_TRIES)


def port_open(port: int, host: str = "127.0.0.1") -> Callable[[], bool]:
    """A readiness check: something accepts TCP connections on `host:port`."""

    def check() -> bool:
        with socket.socket() as sock:
            sock.settimeout(1)
            return sock.connect_ex((host, port)) == 0

    return check
