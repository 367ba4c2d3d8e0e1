"""Idle cost: what `xeno up --demo` keeps busy and holds while nobody uses it.

Starts `xeno up --demo` with its data (and embedded Postgres and Redis, unless `--external` keeps this
environment's DATABASE_URL / REDIS_URL) in a temporary folder, waits for the demo's `ready:` line, lets it settle,
then measures the whole process tree over a window:
- `cpu_percent_of_core`: CPU seconds (user + system) the tree spent in the window, over the window's length — a
  figure that barely depends on how loaded the machine is, unlike a sampled percentage. It includes processes too
  short-lived to be seen, through the CPU their parent reaped (Postgres forks a backend for every connection, and
  one that lives a few milliseconds is never among the processes listed);
- `rss_mb`: the tree's memory at the end, as PSS where the kernel reports it (shared pages split between the
  processes sharing them, so the sum is what the tree really holds) and RSS otherwise;
- `processes`: how many processes the tree holds.
Processes that start during the window count from their start; one that ends in it counts through its parent.

    python -m bench.idle [--settle S] [--measure S] [--quick] [--external]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

from bench.common import report
from engine.services.supervisor import free_port

XENO = str(Path(sys.executable).parent / "xeno")
READY_LINE = "ready:"
SAMPLE_EVERY_S = 1.0


def _environment(data_dir: Path, external: bool) -> dict[str, str]:
    kept = os.environ if external else {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    ports = ("API_PORT", "DAGSTER_PORT", "VENDOR_PORT", "DASHBOARD_PORT", "DAGSTER_CODE_PORT")
    return {**kept, "XENO_DATA_DIR": str(data_dir), "TERM": "dumb", **{name: str(free_port()) for name in ports}}


def _wait_for_line(child: subprocess.Popen[str], heard: list[str], text: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not any(text in line for line in list(heard)):
        if child.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"xeno up did not say {text!r} within {timeout_s:.0f} s:\n" + "".join(heard[-40:]))
        time.sleep(0.5)


def _cpu_seconds(process: psutil.Process) -> tuple[float, float] | None:
    """CPU seconds the process spent, and those of the children it has reaped."""
    try:
        times = process.cpu_times()
    except psutil.Error:
        return None
    return times.user + times.system, times.children_user + times.children_system


def _memory_mb(process: psutil.Process) -> float:
    try:
        info = process.memory_full_info()
    except psutil.AccessDenied:
        info = process.memory_info()
    except psutil.NoSuchProcess:
        return 0.0
    return float(getattr(info, "pss", info.rss)) / 2**20


def _label(process: psutil.Process) -> str:
    try:
        words = process.cmdline() or [process.name()]
    except psutil.Error:
        return "(gone)"
    program = Path(words[0]).name
    if program.startswith("python") and len(words) > 1:
        words = words[1:]
        program = Path(words[0]).name
    return " ".join([program, *words[1:3]])[:60]


def _say_where_it_goes(
    tree: list[psutil.Process], spent: dict[int, float], reaped: dict[int, float], elapsed: float
) -> None:
    """Where the CPU went and the memory is, by process, on stderr: what to trim next."""
    labels = {process.pid: _label(process) for process in tree}
    memory = {process.pid: _memory_mb(process) for process in tree}
    rows = [(seconds, memory.get(pid, 0), labels.get(pid, "(ended)")) for pid, seconds in spent.items()]
    rows += [(seconds, 0, f"{labels[pid]}: children it reaped") for pid, seconds in reaped.items() if pid in labels]
    for seconds, megabytes, label in sorted(rows, key=lambda row: -row[0]):
        if seconds > 0 or megabytes > 20:
            print(f"{100 * seconds / elapsed:6.2f}% {megabytes:6.0f} MB  {label}", file=sys.stderr)


def measure_tree(root: psutil.Process, seconds: float) -> dict[str, float | int]:
    """CPU seconds the tree under `root` (with `root`) spent during `seconds`, and its memory at the end."""
    first: dict[int, tuple[float, float]] = {}
    last: dict[int, tuple[float, float]] = {}
    parents: dict[int, int] = {}
    began = time.monotonic()
    first_pass = True
    while True:
        for process in [root, *root.children(recursive=True)]:
            times = _cpu_seconds(process)
            if times is None:
                continue
            # a process born during the window spent its CPU within it
            first.setdefault(process.pid, times if first_pass else (0.0, 0.0))
            last[process.pid] = times
            with contextlib.suppress(psutil.Error):
                parents.setdefault(process.pid, process.ppid())
        first_pass = False
        if time.monotonic() - began >= seconds:
            break
        time.sleep(SAMPLE_EVERY_S)
    elapsed = time.monotonic() - began
    tree = [root, *root.children(recursive=True)]
    alive = {process.pid for process in tree}
    spent = {pid: last[pid][0] - first[pid][0] for pid in last if pid in alive}
    reaped = {pid: last[pid][1] - first[pid][1] for pid in last if pid in alive}
    # A process that ended was reaped by its parent, whose reaped CPU now holds all it and its own reaped children
    # spent: count it there, less what they had spent before the window.
    for pid in last.keys() - alive:
        parent = parents.get(pid)
        if parent in reaped:
            reaped[parent] -= sum(first[pid])
    _say_where_it_goes(tree, spent, reaped, elapsed)
    return {
        "cpu_percent_of_core": round(100 * (sum(spent.values()) + sum(reaped.values())) / elapsed, 2),
        "rss_mb": round(sum(_memory_mb(process) for process in tree)),
        "processes": len(tree),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--settle", type=float, default=120, help="seconds at rest before measuring")
    parser.add_argument("--measure", type=float, default=180, help="seconds to measure over")
    parser.add_argument("--quick", action="store_true", help="settle 30 s, measure 60 s")
    parser.add_argument("--external", action="store_true", help="use DATABASE_URL / REDIS_URL, not embedded ones")
    args = parser.parse_args()
    settle, window = (30.0, 60.0) if args.quick else (args.settle, args.measure)

    with tempfile.TemporaryDirectory(prefix="xeno-idle-") as folder:
        data_dir = Path(folder)
        child = subprocess.Popen(
            [XENO, "up", "--demo", "--demo-customers", "2000" if args.quick else "10000"],
            env=_environment(data_dir, args.external), cwd=data_dir,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        heard: list[str] = []

        def drain() -> None:  # always read, so a chatty child never blocks on a full pipe
            assert child.stdout is not None
            heard.extend(child.stdout)

        threading.Thread(target=drain, daemon=True).start()
        try:
            started = time.monotonic()
            _wait_for_line(child, heard, READY_LINE, timeout_s=600)
            print(f"demo ready after {time.monotonic() - started:.0f} s; settling {settle:.0f} s", file=sys.stderr)
            time.sleep(settle)  # resting is what is measured: there is no condition to wait for
            figures = measure_tree(psutil.Process(child.pid), window)
        finally:
            child.send_signal(signal.SIGINT)
            try:
                child.wait(timeout=60)
            except subprocess.TimeoutExpired:
                child.kill()
    load = os.getloadavg()
    report({"bench": "idle", **figures, "measure_s": window, "load_1m": round(load[0], 2)})


if __name__ == "__main__":
    main()
