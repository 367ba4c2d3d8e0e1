"""Idle cost: what `xeno up --demo` keeps busy and holds while nobody uses it.

Starts `xeno up --demo` with its data (and embedded Postgres and Redis, unless `--external` keeps this
environment's DATABASE_URL / REDIS_URL) in a temporary folder, waits for the demo's `ready:` line, lets it settle,
then measures the whole process tree over a window:
- `cpu_percent_of_core`: CPU seconds (user + system) the tree spent in the window, over the window's length — a
  figure that barely depends on how loaded the machine is, unlike a sampled percentage;
- `rss_mb`: the tree's memory at the end, as PSS where the kernel reports it (shared pages split between the
  processes sharing them, so the sum is what the tree really holds) and RSS otherwise;
- `processes`: how many processes the tree holds.
Processes that start or end during the window count for the CPU they spent while seen.

    python -m bench.idle [--settle S] [--measure S] [--quick] [--external]
"""

from __future__ import annotations

import argparse
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


def _cpu_seconds(process: psutil.Process) -> float | None:
    try:
        times = process.cpu_times()
    except psutil.Error:
        return None
    return times.user + times.system


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


def _say_where_it_goes(tree: list[psutil.Process], spent: dict[int, float], elapsed: float) -> None:
    """Where the CPU went and the memory is, by process, on stderr: what to trim next."""
    labels = {process.pid: _label(process) for process in tree}
    memory = {process.pid: _memory_mb(process) for process in tree}
    for pid, seconds in sorted(spent.items(), key=lambda item: -item[1]):
        if seconds > 0 or memory.get(pid, 0) > 20:
            share = 100 * seconds / elapsed
            print(f"{share:6.2f}% {memory.get(pid, 0):6.0f} MB  {labels.get(pid, '(ended)')}", file=sys.stderr)


def measure_tree(root: psutil.Process, seconds: float) -> dict[str, float | int]:
    """CPU seconds the tree under `root` (with `root`) spent during `seconds`, and its memory at the end."""
    first: dict[int, float] = {}
    last: dict[int, float] = {}
    began = time.monotonic()
    first_pass = True
    while True:
        for process in [root, *root.children(recursive=True)]:
            spent = _cpu_seconds(process)
            if spent is None:
                continue
            # a process born during the window spent its CPU within it
            first.setdefault(process.pid, spent if first_pass else 0.0)
            last[process.pid] = spent
        first_pass = False
        if time.monotonic() - began >= seconds:
            break
        time.sleep(SAMPLE_EVERY_S)
    elapsed = time.monotonic() - began
    tree = [root, *root.children(recursive=True)]
    cpu = sum(last[pid] - first[pid] for pid in last)
    _say_where_it_goes(tree, {pid: last[pid] - first[pid] for pid in last}, elapsed)
    return {
        "cpu_percent_of_core": round(100 * cpu / elapsed, 2),
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
