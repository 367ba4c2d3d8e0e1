"""The supervisor restarts a child that dies (with backoff, reporting a crash loop), keeps the state file that
`xeno status` reads, and stops everything it started, promptly, on Ctrl-C, whatever it is doing at that moment.

The children are tiny Python processes, so each test takes a second or two.
"""

from __future__ import annotations

import dataclasses
import io
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from engine.services.restarts import RestartPolicy
from engine.services.state import ProcessState, read_states, write_states
from engine.services.supervisor import ServiceFailed, ServiceSpec, StopRequested, Supervisor, free_port
from tests.fixtures.waiting import wait_for

FAST = RestartPolicy(first_delay_s=0.1, max_delay_s=0.8, settled_after_s=1.5, crash_loop_window_s=30)

# Appends its pid and start time to `started`; exits with code 3 while `failing` exists, else writes its pid to
# `ready` and runs until told to stop, writing its name to `stopped` on SIGTERM (ignoring SIGTERM if stubborn,
# taking a second first if slow).
CHILD = """
import os, signal, sys, time
name, started, failing, stopped, on_sigterm, ready = sys.argv[1:7]
with open(started, "a") as out:
    out.write(f"{os.getpid()} {time.time()}\\n")
if os.path.exists(failing):
    sys.exit(3)
def on_term(*_):
    if on_sigterm == "slow":
        time.sleep(1)
    with open(stopped, "a") as out:
        out.write(name + "\\n")
    sys.exit(0)
signal.signal(signal.SIGTERM, signal.SIG_IGN if on_sigterm == "stubborn" else on_term)
with open(ready + ".new", "w") as out:
    out.write(str(os.getpid()))
os.replace(ready + ".new", ready)
print(f"{name} is up", flush=True)
while True:
    time.sleep(0.05)
"""


# Ready only once its partner has started too; on SIGTERM, exits only once its partner has had its SIGTERM too.
# Started (or stopped) one at a time, a pair never gets there.
PARTNER = """
import os, signal, sys, time
me, partner, folder = sys.argv[1:4]
def mark(name, what):
    open(os.path.join(folder, f"{name}.{what}"), "w").close()
def has(name, what):
    return os.path.exists(os.path.join(folder, f"{name}.{what}"))
def on_term(*_):
    mark(me, "terminating")
    while not has(partner, "terminating"):
        time.sleep(0.02)
    sys.exit(0)
signal.signal(signal.SIGTERM, on_term)
mark(me, "started")
while True:
    time.sleep(0.05)
"""


class Output(io.StringIO):
    def lines(self) -> list[str]:
        return self.getvalue().splitlines()


class Child:
    """One tiny child's spec and the files it leaves behind."""

    def __init__(self, folder: Path, name: str, on_sigterm: str = "stop") -> None:
        self.name = name
        self.started = folder / f"{name}.started"
        self.failing = folder / f"{name}.failing"
        self.stopped = folder / "stopped"
        self.ready = folder / f"{name}.ready"
        self.spec = ServiceSpec(
            name=name,
            argv=[sys.executable, "-c", CHILD, name, str(self.started), str(self.failing), str(self.stopped),
                  on_sigterm, str(self.ready)],
            ready=self.is_ready,
        )  # fmt: skip

    def is_ready(self) -> bool:
        """Its newest process has written its pid to `ready` (so is past setting up its SIGTERM handler)."""
        return self.ready.exists() and alive(int(self.ready.read_text()))

    def starts(self) -> list[tuple[int, float]]:
        if not self.started.exists():
            return []
        return [(int(pid), float(at)) for pid, at in (line.split() for line in self.started.read_text().splitlines())]


def alive(pid: int) -> bool:
    """Whether the process still runs: a zombie, or one reaped while we look, does not."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return not stat.split(") ", 1)[1].startswith("Z")


@pytest.fixture
def out() -> Output:
    return Output()


@pytest.fixture
def supervisor(out: Output, tmp_path: Path) -> Iterator[Supervisor]:
    supervisor = Supervisor(out, FAST, state_dir=tmp_path)
    yield supervisor
    supervisor.stop_all(timeout_s=5)


def state_of(folder: Path, name: str) -> dict[str, object]:
    record = read_states(folder)
    assert record is not None
    return next(vars(process) for process in record.processes if process.name == name)


def test_a_child_killed_with_sigkill_is_restarted_and_the_others_keep_running(
    supervisor: Supervisor, out: Output, tmp_path: Path
) -> None:
    deliver, api = Child(tmp_path, "deliver"), Child(tmp_path, "api")
    supervisor.start(deliver.spec)
    supervisor.start(api.spec)
    (first_pid, _), (api_pid, _) = deliver.starts()[0], api.starts()[0]

    os.kill(first_pid, signal.SIGKILL)

    wait_for(lambda: len(deliver.starts()) == 2 and state_of(tmp_path, "deliver")["state"] == "ready", "a restart")
    assert any("[xeno] deliver killed by SIGKILL" in line and "restart 1 in" in line for line in out.lines())
    assert alive(deliver.starts()[1][0])
    assert alive(api_pid), "the other child is left alone"
    assert len(api.starts()) == 1
    state = state_of(tmp_path, "deliver")
    assert (state["restarts"], state["last_exit"], state["pid"]) == (1, "killed by SIGKILL", deliver.starts()[1][0])


def test_restarts_back_off_a_crash_loop_is_reported_and_it_heals_once_the_cause_is_gone(
    supervisor: Supervisor, out: Output, tmp_path: Path
) -> None:
    deliver = Child(tmp_path, "deliver")
    supervisor.start(deliver.spec)
    deliver.failing.touch()  # from now on every start exits with code 3
    os.kill(deliver.starts()[0][0], signal.SIGKILL)

    wait_for(lambda: state_of(tmp_path, "deliver")["state"] == "crash-loop", "a crash loop")
    wait_for(lambda: "[xeno] deliver is crash-looping" in out.getvalue(), "the crash loop to be reported")
    loud = [line for line in out.lines() if "[xeno] deliver is crash-looping: 5 restarts" in line]
    assert loud, out.getvalue()
    assert "exited with code 3" in loud[0]
    gaps = [later[1] - earlier[1] for earlier, later in zip(deliver.starts(), deliver.starts()[1:], strict=False)]
    assert len(gaps) == 4, "five deaths: the kill, then four failed restarts"
    for gap, delay in zip(gaps[1:], [0.2, 0.4, 0.8], strict=True):  # the first gap includes its uptime
        assert gap >= delay * 0.9, f"restarts came faster than the backoff: {gaps}"

    deliver.failing.unlink()
    wait_for(lambda: "no longer crash-looping" in out.getvalue(), "the crash loop to end")
    state = state_of(tmp_path, "deliver")
    assert state["state"] == "ready"
    assert alive(int(str(state["pid"])))


def test_ctrl_c_while_waiting_to_restart_stops_at_once(out: Output, tmp_path: Path) -> None:
    supervisor = Supervisor(out, RestartPolicy(first_delay_s=60), state_dir=tmp_path)
    deliver = Child(tmp_path, "deliver")
    supervisor.start(deliver.spec)
    os.kill(deliver.starts()[0][0], signal.SIGKILL)
    wait_for(lambda: state_of(tmp_path, "deliver")["state"] == "restarting", "the wait before the restart")

    began = time.monotonic()
    supervisor.request_stop()
    supervisor.stop_all()

    assert time.monotonic() - began < 3
    assert len(deliver.starts()) == 1, "nothing is restarted once stopping"
    assert state_of(tmp_path, "deliver")["state"] == "stopped"
    wait_for(lambda: "[xeno] stopping..." in out.lines(), "the stopping line")


def test_ctrl_c_while_a_child_starts_stops_it(out: Output, tmp_path: Path) -> None:
    supervisor = Supervisor(out, FAST)
    never_ready = Child(tmp_path, "dagster-webserver")
    failures: list[BaseException] = []

    def start() -> None:
        try:
            supervisor.start(dataclasses.replace(never_ready.spec, ready=lambda: False))
        except StopRequested as stop:
            failures.append(stop)

    starting = threading.Thread(target=start)
    starting.start()
    wait_for(never_ready.starts, "the child to start")
    began = time.monotonic()
    supervisor.request_stop()
    starting.join(timeout=5)
    supervisor.stop_all()

    assert time.monotonic() - began < 3
    assert failures, "start() gives up when a stop is asked for"
    assert not alive(never_ready.starts()[0][0])


def test_a_second_ctrl_c_kills_what_ignores_sigterm(out: Output, tmp_path: Path) -> None:
    supervisor = Supervisor(out, FAST)
    postgres, api = Child(tmp_path, "postgres"), Child(tmp_path, "api")
    stubborn = Child(tmp_path, "dashboard", on_sigterm="stubborn")
    for child in (postgres, api, stubborn):
        supervisor.start(child.spec)
    stopping = threading.Thread(target=supervisor.stop_all, kwargs={"timeout_s": 60})

    supervisor.request_stop()
    stopping.start()  # the stubborn child, newest, ignores its SIGTERM: this would take the whole 60 s
    supervisor.request_stop()
    stopping.join(timeout=5)

    assert not stopping.is_alive(), "a second Ctrl-C does not wait for the stop timeout"
    assert not any(alive(child.starts()[0][0]) for child in (postgres, api, stubborn))
    wait_for(lambda: "[xeno] stopping now: killing what is left" in out.lines(), "the forcing line")


def test_children_stop_in_reverse_order_of_start(supervisor: Supervisor, tmp_path: Path) -> None:
    children = [Child(tmp_path, name) for name in ("postgres", "redis", "api", "deliver")]
    for child in children:
        supervisor.start(child.spec)
    supervisor.stop_all()
    assert (tmp_path / "stopped").read_text().split() == ["deliver", "api", "redis", "postgres"]


def test_stop_leaves_processes_it_did_not_start_alone(supervisor: Supervisor, tmp_path: Path) -> None:
    ours = Child(tmp_path, "api")
    supervisor.start(ours.spec)
    stranger = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True)
    try:
        supervisor.stop_all()
        assert stranger.poll() is None
        assert not alive(ours.starts()[0][0])
    finally:
        stranger.kill()
        stranger.wait()


def test_a_child_that_dies_while_first_starting_fails_the_start(supervisor: Supervisor, tmp_path: Path) -> None:
    broken = Child(tmp_path, "api")
    broken.failing.touch()
    with pytest.raises(ServiceFailed, match="api exited with code 3 while starting"):
        supervisor.start(broken.spec)


def test_processes_started_together_start_and_stop_side_by_side(out: Output, tmp_path: Path) -> None:
    supervisor = Supervisor(out, FAST)

    def both_started() -> bool:
        return all((tmp_path / f"{name}.started").exists() for name in ("deliver", "ai-worker"))

    pair = [
        ServiceSpec(
            name=me,
            argv=[sys.executable, "-c", PARTNER, me, partner, str(tmp_path)],
            ready=both_started,
            ready_timeout_s=20,
        )
        for me, partner in (("deliver", "ai-worker"), ("ai-worker", "deliver"))
    ]
    try:
        supervisor.start(*pair)
    finally:
        supervisor.stop_all(timeout_s=60)

    assert "did not stop" not in out.getvalue(), "each had its SIGTERM while the other was still stopping"
    assert (tmp_path / "deliver.terminating").exists()
    assert (tmp_path / "ai-worker.terminating").exists()


def test_what_a_killed_xeno_up_left_running_is_stopped_by_the_next_one(out: Output, tmp_path: Path) -> None:
    killed_one = Supervisor(Output(), FAST, state_dir=tmp_path)  # its process dies with SIGKILL: it stops nothing
    left = Child(tmp_path, "deliver")
    killed_one.start(left.spec)
    [(pid, _)] = left.starts()
    stranger = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True)
    try:
        Supervisor(out, FAST, state_dir=tmp_path)

        wait_for(lambda: not alive(pid), "the leftover to be stopped")
        assert f"[xeno] stopping deliver (pid {pid}), left running by an earlier xeno up" in out.lines()
        assert alive(stranger.pid)
    finally:
        stranger.kill()
        stranger.wait()
        killed_one.stop_all(timeout_s=5)


def test_a_recorded_pid_now_used_by_another_process_is_left_alone(out: Output, tmp_path: Path) -> None:
    stranger = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True)
    long_ago = datetime.now(UTC) - timedelta(hours=1)  # the recorded process started then; this pid is newer
    write_states(tmp_path, [ProcessState("deliver", "ready", stranger.pid, long_ago, 0, None, None)])
    try:
        Supervisor(out, FAST, state_dir=tmp_path)

        assert alive(stranger.pid)
        assert not [line for line in out.lines() if "left running by an earlier xeno up" in line]
    finally:
        stranger.kill()
        stranger.wait()


def test_what_does_not_stop_in_time_is_killed_step_by_step_while_postgres_gets_the_time_it_needs(
    out: Output, tmp_path: Path
) -> None:
    supervisor = Supervisor(out, FAST)
    postgres = Child(tmp_path, "postgres", on_sigterm="slow")
    stubborn = [Child(tmp_path, name, on_sigterm="stubborn") for name in ("api", "dagster-daemon")]
    supervisor.start(dataclasses.replace(postgres.spec, stop_timeout_s=5))
    for child in stubborn:
        supervisor.start(child.spec)

    began = time.monotonic()
    supervisor.stop_all(timeout_s=1)

    assert time.monotonic() - began < 4.5, "1 s for each stubborn one, and the second postgres takes to stop"
    assert not any(alive(child.starts()[0][0]) for child in (postgres, *stubborn))
    assert (tmp_path / "stopped").read_text().split() == ["postgres"], "postgres stopped by itself, not killed"
    assert "[xeno] dagster-daemon did not stop in 1 s; killing" in out.lines()
    assert "[xeno] api did not stop in 1 s; killing" in out.lines()


def test_colour_codes_and_hidden_lines_are_not_shown_on_a_plain_output(out: Output, tmp_path: Path) -> None:
    script = (
        "import time; print('\\x1b[32mINFO\\x1b[0m - ready', flush=True); "
        "print('WARNING Memory overcommit', flush=True); time.sleep(30)"
    )
    talker = ServiceSpec(name="redis", argv=[sys.executable, "-c", script], hidden_lines=("Memory overcommit",))
    supervisor = Supervisor(out, FAST)
    try:
        supervisor.start(talker)
        wait_for(lambda: "[redis] INFO - ready" in out.lines(), "the line without its colours")
    finally:
        supervisor.stop_all(timeout_s=5)
    assert "overcommit" not in out.getvalue()


EPHEMERAL_PORTS = Path("/proc/sys/net/ipv4/ip_local_port_range")


@pytest.mark.skipif(not EPHEMERAL_PORTS.exists(), reason="reads Linux's range of ports for outgoing connections")
def test_the_ports_chosen_for_servers_are_free_and_never_ones_the_kernel_gives_outgoing_connections() -> None:
    # A health port `xeno up` hands a worker must still be free when the worker binds it seconds later: the
    # kernel's ephemeral ports go to every client's connect meanwhile, so the chosen ports must lie below them.
    ephemeral_start = int(EPHEMERAL_PORTS.read_text().split()[0])
    ports = {free_port() for _ in range(50)}
    assert all(port < ephemeral_start for port in ports), sorted(ports)
    for port in ports:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", port))


def test_one_process_never_hands_out_a_port_twice_whatever_seeds_the_global_random() -> None:
    # A test picks the ports of embedded Redis and of the dashboard before either server binds its own; seeding the
    # global generator (as test libraries do) must not make two of them the same.
    chosen = []
    for _ in range(3):
        random.seed(7)
        chosen.append(free_port())
    assert len(set(chosen)) == 3, chosen
