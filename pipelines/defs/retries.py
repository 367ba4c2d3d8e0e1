"""Trying work again: what the Dagster runs of one piece of work say about its next attempt.

A sensor asks for a piece of work (drain the ingest stream, launch campaign 12, refresh the features) with a run
key, and Dagster never starts a run key twice, even after its run failed or died. So every attempt gets a key of its
own (`RunHistory.next_key`), and whether to make one is read from the work's runs in Dagster's storage, which are
the record of the attempts: while one is queued or running, wait; after one that failed (its process died and run
monitoring failed it, the code server could not be reached, the step raised), wait a backoff that doubles with each
failure in a row, up to a ceiling; the caller decides when to give up and says so visibly.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass

import dagster as dg
from dagster._core.events import DagsterEventType

from engine.operations.runs import FAILED, failure_text
from engine.settings import Settings

ACTIVE_STATUSES = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.CANCELING,
]
FAILED_STATUSES = frozenset(dg.DagsterRunStatus(status) for status in FAILED)
# A run still going after this many seconds is failed by run monitoring (`dagster.yaml`), and so tried again.
MAX_RUNTIME_TAG = "dagster/max_runtime"
STEP_FAILURE = DagsterEventType.STEP_FAILURE


def backoff_seconds(failures: int, settings: Settings) -> float:
    """How long to wait after `failures` failed attempts in a row before the next one."""
    if failures <= 0:
        return 0.0
    return min(settings.pipeline_retry_backoff_max_s, settings.pipeline_retry_backoff_s * 2 ** (failures - 1))


@dataclass(frozen=True)
class RunHistory:
    """The runs of one piece of work: how many there have been, and the newest (up to the limit asked for)."""

    count: int
    runs: list[dg.RunRecord]

    @property
    def active(self) -> dg.DagsterRun | None:
        """A run of it that is queued, starting, running or being cancelled."""
        return next((r.dagster_run for r in self.runs if r.dagster_run.status in ACTIVE_STATUSES), None)

    @property
    def failures_in_a_row(self) -> int:
        """How many of the newest ended runs failed (or were cancelled), up to the first that succeeded."""
        count = 0
        for record in self.runs:
            if record.dagster_run.status in ACTIVE_STATUSES:
                continue
            if record.dagster_run.status not in FAILED_STATUSES:
                break
            count += 1
        return count

    @property
    def last_ended(self) -> dg.RunRecord | None:
        return next((r for r in self.runs if r.dagster_run.status not in ACTIVE_STATUSES), None)

    def next_key(self, prefix: str) -> str:
        """The run key of the next attempt: `<prefix>-<attempt>`, and after the first, the run it follows
        (`drain-4-after-1a2b3c4d`). A repeated tick asks for the same key, so Dagster starts one run; once that run
        exists the key moves on; and a key never comes back, even when runs are deleted from Dagster's storage
        (counting alone would repeat one, and Dagster would skip the attempt for ever)."""
        if not self.runs:
            return f"{prefix}-{self.count + 1}"
        return f"{prefix}-{self.count + 1}-after-{self.runs[0].dagster_run.run_id[:8]}"

    def wait_seconds(self, settings: Settings, now: float | None = None) -> float:
        """How long until the next attempt may start: the backoff after the failures in a row, counted from when
        the newest of them ended (0: now)."""
        last = self.last_ended
        failures = self.failures_in_a_row
        if last is None or failures == 0:
            return 0.0
        ended = last.end_time or last.update_timestamp.timestamp()
        return max(0.0, ended + backoff_seconds(failures, settings) - (time.time() if now is None else now))


def backing_off(instance: dg.DagsterInstance, history: RunHistory, settings: Settings) -> str | None:
    """While the next attempt waits out its backoff, why, and for how long (for a sensor's skip reason)."""
    wait = history.wait_seconds(settings)
    if wait <= 0 or history.last_ended is None:
        return None
    reason = failure_reason(instance, history.last_ended.dagster_run)
    return f"the last {history.failures_in_a_row} runs failed ({reason}); the next starts in {wait:.0f} s"


def run_history(
    instance: dg.DagsterInstance, job_name: str, tags: Mapping[str, str] | None = None, limit: int = 20
) -> RunHistory:
    """The newest runs of `job_name` carrying all of `tags`."""
    filters = dg.RunsFilter(job_name=job_name, tags=dict(tags or {}))
    return RunHistory(instance.get_runs_count(filters), list(instance.get_run_records(filters=filters, limit=limit)))


def failure_reason(instance: dg.DagsterInstance, run: dg.DagsterRun) -> str | None:
    """Why a run failed, in a line or two: the first step failure's error (the cause), else what the run's failure
    says (its process died, the code server could not be reached, it timed out); None if it did not fail."""
    if run.status not in FAILED_STATUSES:
        return None
    events = instance.get_records_for_run(
        run.run_id, of_type={STEP_FAILURE, DagsterEventType.RUN_FAILURE, DagsterEventType.RUN_CANCELED}
    ).records
    step_failures = [r.event_log_entry for r in events if r.event_log_entry.dagster_event_type == STEP_FAILURE]
    entries = step_failures or [r.event_log_entry for r in events]
    if not entries:
        return f"the run ended {run.status.value.lower()} without saying why"
    entry = entries[0]
    data = entry.dagster_event.event_specific_data if entry.dagster_event else None
    user_failure = getattr(data, "user_failure_data", None)
    errors = []
    error = getattr(data, "error", None)
    while error is not None:
        errors.append(error.message)
        error = error.cause
    return failure_text(user_failure.description if user_failure else None, errors or [entry.message or ""])
