"""`xeno status`: what runs and what waits, for an operator.

Each process `xeno up` supervises (state, pid, uptime, restarts, last exit), from the state file it keeps in the
data folder; each stream's backlog and lag per consumer group, from Redis; the dead letters waiting for a replay,
the newest feature snapshot and the campaign launches being tried again or given up on, from Postgres; Dagster's
newest runs (failed ones with why), from Dagster's webserver. Plain text by default, `--json` for machines. It
works whether or not `xeno up` runs: each section reads one source, and a source that does not answer is named, not
guessed.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import redis
import typer
from sqlalchemy import Engine, create_engine

from engine.campaigns.launch import launch_troubles
from engine.features.snapshot import snapshot_info
from engine.ingest.deadletters import waiting_dead_letters
from engine.operations.runs import recent_runs
from engine.operations.status import stream_states
from engine.services.state import ProcessState, is_running_here, read_states
from engine.settings import Settings, get_settings

CONNECT_TIMEOUT_S = 3
T = TypeVar("T")


@dataclass(frozen=True)
class Section:
    """One part of the status: what `--json` shows under `key`, and its lines of text."""

    key: str
    data: Any
    lines: list[str]


def status(
    as_json: bool = typer.Option(False, "--json", help="Print one JSON document instead of text."),
) -> None:
    """Show what `xeno up` runs (state, pid, uptime, restarts, last exit), stream lags, dead letters waiting, the
    newest feature snapshot's age, Dagster's newest runs (failed ones with why) and launches that did not go
    through."""
    settings, now = get_settings(), datetime.now(UTC)
    sections = [section(settings, now) for section in SECTIONS]
    if as_json:
        document = {"checked_at": now.isoformat(), **{section.key: section.data for section in sections}}
        typer.echo(json.dumps(document, indent=2))
    else:
        typer.echo("\n\n".join("\n".join(section.lines) for section in sections))


def processes_section(settings: Settings, now: datetime) -> Section:
    data_dir = settings.data_dir.resolve()
    running = is_running_here(settings.data_dir)
    record = read_states(settings.data_dir)
    if record is None:
        headline = f"xeno up is starting in {data_dir}" if running else f"xeno up never ran in {data_dir}"
        return Section("up", {"running": running, "pid": None, "processes": []}, [headline])
    uptimes = [_seconds_since(process.started_at, now) if process.pid else None for process in record.processes]
    processes = [
        {**process.as_json(), "uptime_s": uptime} for process, uptime in zip(record.processes, uptimes, strict=True)
    ]
    if running:
        headline = f"xeno up is running (pid {record.supervisor_pid}) in {data_dir}"
    else:
        headline = f"xeno up is not running in {data_dir}; its processes as it last recorded them:"
    rows = [
        [process.name, process.state, str(process.pid or "-"), _duration(uptime), str(process.restarts),
         _last_exit(process, now)]
        for process, uptime in zip(record.processes, uptimes, strict=True)
    ]  # fmt: skip
    lines = [headline, *_table(["PROCESS", "STATE", "PID", "UPTIME", "RESTARTS", "LAST EXIT"], rows)]
    return Section("up", {"running": running, "pid": record.supervisor_pid, "processes": processes}, lines)


def streams_section(settings: Settings, now: datetime) -> Section:
    client = redis.Redis.from_url(
        settings.redis_address, socket_connect_timeout=CONNECT_TIMEOUT_S, socket_timeout=CONNECT_TIMEOUT_S
    )
    try:
        states = stream_states(client, settings, now)
    except redis.RedisError as error:
        return _unreachable("streams", "Streams", "Redis", error)
    finally:
        client.close()
    data = [
        {**vars(state), "oldest_entry_at": state.oldest_entry_at.isoformat() if state.oldest_entry_at else None}
        for state in states
    ]
    rows = [
        [state.name, state.group, str(state.undelivered), str(state.pending), _duration(state.lag_seconds)]
        for state in states
    ]
    return Section("streams", data, _table(["STREAM", "CONSUMER GROUP", "WAITING", "IN PROGRESS", "LAG"], rows))


def dead_letters_section(settings: Settings, now: datetime) -> Section:
    waiting = _read_postgres(settings, waiting_dead_letters)
    if isinstance(waiting, Exception):
        return _unreachable("dead_letters", "Dead letters", "Postgres", waiting)
    replay = " (see `xeno deadletters`)" if waiting else ""
    return Section("dead_letters", {"waiting": waiting}, [f"Dead letters waiting for a replay: {waiting}{replay}"])


def snapshot_section(settings: Settings, now: datetime) -> Section:
    info = _read_postgres(settings, snapshot_info)
    if isinstance(info, Exception):
        return _unreachable("snapshot", "Feature snapshot", "Postgres", info)
    if info is None:
        return Section("snapshot", None, ["Feature snapshot: none published yet"])
    age = _seconds_since(info.created_at, now)
    data = {
        "version": info.version,
        "created_at": info.created_at.isoformat(),
        "age_s": age,
        "customers": info.row_count,
        "events": info.event_count,
    }
    counts = f"{info.row_count:,} customers, {info.event_count:,} events"
    return Section("snapshot", data, [f"Feature snapshot: version {info.version} ({counts}), {_duration(age)} old"])


def runs_section(settings: Settings, now: datetime) -> Section:
    recent = recent_runs(settings, limit=RUNS_SHOWN)
    if recent.unavailable:
        return Section("runs", {"error": recent.unavailable}, [f"Dagster runs: {recent.unavailable}"])
    data = [_jsonable(vars(run)) for run in recent.runs]
    rows = [
        [run.job, run.status.lower(), run.run_key or "-", _duration(_seconds_since(run.created_at, now)),
         run.reason or ""]
        for run in recent.runs
    ]  # fmt: skip
    headline = (
        f"Dagster runs, newest first ({len(recent.failed)} of {len(recent.runs)} failed; failed work is tried again):"
    )
    return Section("runs", data, [headline, *_table(["JOB", "STATUS", "ATTEMPT", "AGE", "WHY IT FAILED"], rows)])


def launches_section(settings: Settings, now: datetime) -> Section:
    troubles = _read_postgres(settings, lambda db: launch_troubles(db, now - timedelta(days=1)))
    if isinstance(troubles, Exception):
        return _unreachable("launches", "Campaign launches", "Postgres", troubles)
    if not troubles:
        return Section("launches", [], ["Campaign launches: none being tried again or given up on"])
    rows = [
        [str(trouble.campaign_id), trouble.name, "given up" if trouble.status == "failed" else "trying again",
         str(trouble.attempts), trouble.reason or ""]
        for trouble in troubles
    ]  # fmt: skip
    lines = ["Campaign launches that did not go through:",
             *_table(["CAMPAIGN", "NAME", "STATE", "ATTEMPTS", "WHY"], rows)]  # fmt: skip
    return Section("launches", [_jsonable(vars(trouble)) for trouble in troubles], lines)


# One source each, in this order.
SECTIONS: Sequence[Callable[[Settings, datetime], Section]] = (
    processes_section,
    streams_section,
    dead_letters_section,
    snapshot_section,
    runs_section,
    launches_section,
)
RUNS_SHOWN = 10


def _jsonable(fields: dict[str, Any]) -> dict[str, Any]:
    return {name: value.isoformat() if isinstance(value, datetime) else value for name, value in fields.items()}


def _read_postgres(settings: Settings, read: Callable[[Engine], T]) -> T | Exception:
    """What `read` finds, through a short-lived engine that gives up connecting after a few seconds (the product's
    pools wait longer); the error when Postgres does not answer."""
    db = create_engine(settings.sqlalchemy_url, connect_args={"connect_timeout": CONNECT_TIMEOUT_S})
    try:
        return read(db)
    except Exception as error:
        return error
    finally:
        db.dispose()


def _unreachable(key: str, title: str, server: str, error: Exception) -> Section:
    first_line = next(iter(str(error).strip().splitlines()), "")
    problem = f"{server} does not answer ({type(error).__name__}: {first_line})"
    return Section(key, {"error": problem}, [f"{title}: {problem}"])


def _seconds_since(moment: datetime | None, now: datetime) -> float | None:
    return None if moment is None else max((now - moment).total_seconds(), 0.0)


def _duration(seconds: float | None) -> str:
    """`45s`, `3m 02s`, `2h 05m`, `3d 04h`; `-` for none."""
    if seconds is None:
        return "-"
    whole = int(seconds)
    for unit, size, smaller, smaller_size in (("d", 86_400, "h", 3600), ("h", 3600, "m", 60), ("m", 60, "s", 1)):
        if whole >= size:
            return f"{whole // size}{unit} {whole % size // smaller_size:02d}{smaller}"
    return f"{whole}s"


def _last_exit(process: ProcessState, now: datetime) -> str:
    if process.last_exit is None:
        return "-"
    return f"{process.last_exit}, {_duration(_seconds_since(process.last_exit_at, now))} ago"


def _table(headers: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(cell) for cell in column) for column in zip(headers, *rows, strict=False)]
    return ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
            for row in (headers, *rows)]  # fmt: skip
