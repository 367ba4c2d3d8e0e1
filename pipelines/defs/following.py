"""Runs that follow their work for a shift and hand over to the next, so work never waits for a run to start.

Starting a Dagster run costs the daemon's launch and a process start: seconds on a quiet machine, minutes under
load. A run per backlog cannot put an ingested event in Postgres within seconds, nor a delta within seconds more.
So the sensors ask for following runs (`FollowConfig.follow`): such a run keeps applying what comes for its shift
(`SHIFT_S`). Once a run's shift is nearly over (`RELIEF_LEAD_S` before), its sensor asks for its successor, and
the run keeps going until that successor has started (or a grace has passed), so there is never a gap. A following
run with no work for `IDLE_S` stops; its sensor starts another when work comes.

Nothing else changes: every run is seen in Dagster with what it did, a run that dies is failed by run monitoring,
and the sensor starts the next after the backoff of `pipelines.defs.retries`; two runs side by side (a handover)
share the work safely (a stream's consumer group, the deltas' advisory lock).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field

import dagster as dg

from pipelines.defs.retries import ACTIVE_STATUSES, RunHistory

SHIFT_S = 600.0
RELIEF_LEAD_S = 60.0  # the successor is asked for this long before the shift ends, to be running by then
HANDOVER_GRACE_S = 300.0  # a run whose successor has not started this long after its shift stops anyway
IDLE_S = 60.0
FOLLOW_TAG = "xeno/follows"  # on the runs the sensors ask for: they follow, and are relieved at their shift's end
RELIEVES_TAG = "xeno/relieves"  # on a successor: the run whose shift it takes over
SUCCESSOR_CHECK_S = 2.0


class FollowConfig(dg.Config):
    follow: bool = False
    """Keep applying what comes for a shift (the sensors' runs); else apply what waits now, and stop."""
    shift_s: float = SHIFT_S
    idle_s: float = IDLE_S


def following_request(op_name: str, run_key: str, tags: Mapping[str, str]) -> dg.RunRequest:
    """A request for a following run of the job whose work is the op `op_name`."""
    return dg.RunRequest(
        run_key=run_key,
        run_config={"ops": {op_name: {"config": {"follow": True}}}},
        tags={FOLLOW_TAG: "true", **tags},
    )


@dataclass
class Shift:
    """A following run's clock: when it last had work, and whether it is time to stop (and why)."""

    context: dg.OpExecutionContext
    config: FollowConfig
    started: float = field(default_factory=time.monotonic)
    last_work: float = field(default_factory=time.monotonic)
    _successor_checked: float = 0.0

    def worked(self) -> None:
        self.last_work = time.monotonic()

    def ended(self) -> str | None:
        """Why the run should stop now (`idle`, `relieved`, `shift_over`), or None to go on."""
        now = time.monotonic()
        if now - self.last_work >= self.config.idle_s:
            return "idle"
        on_shift = now - self.started
        if on_shift < self.config.shift_s:
            return None
        if on_shift >= self.config.shift_s + HANDOVER_GRACE_S:
            return "shift_over"
        if now - self._successor_checked >= SUCCESSOR_CHECK_S:
            self._successor_checked = now
            if self._successor_started():
                return "relieved"
        return None

    def _successor_started(self) -> bool:
        runs = self.context.instance.get_runs(
            dg.RunsFilter(job_name=self.context.job_name, statuses=[dg.DagsterRunStatus.STARTED]), limit=5
        )
        return any(run.run_id != self.context.run_id for run in runs)


def relief_due(history: RunHistory, now: float | None = None) -> dg.DagsterRun | None:
    """The following run whose shift is nearly over and for which no successor was asked yet (it is the only
    active run of its job), else None."""
    active = [record for record in history.runs if record.dagster_run.status in ACTIVE_STATUSES]
    if len(active) != 1:
        return None
    [record] = active
    run = record.dagster_run
    if run.status != dg.DagsterRunStatus.STARTED or run.tags.get(FOLLOW_TAG) != "true" or record.start_time is None:
        return None
    on_shift = (time.time() if now is None else now) - record.start_time
    return run if on_shift >= SHIFT_S - RELIEF_LEAD_S else None
