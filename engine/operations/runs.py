"""What Dagster ran lately, read from its webserver's GraphQL API: each run's job, status, times and key, and why the
failed ones failed; for the API's pipeline status (the Pipelines page) and `xeno status`.

The engine never imports Dagster (ARCHITECTURE.md): GraphQL is Dagster's public interface to its runs, and it works
the same when Dagster runs elsewhere. A run's key says which attempt it was (`drain-7-after-1a2b3c4d`: the sensors
give every attempt a key of its own, `pipelines/defs/retries.py`). Dagster out of reach is not an error here: the
answer says so, and everything else the status shows still shows.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import httpx

from engine.settings import Settings

RUNS_QUERY = """
query RecentRuns($limit: Int!) {
  runsOrError(limit: $limit) {
    __typename
    ... on Runs { results { runId jobName status creationTime startTime endTime tags { key value } } }
    ... on PythonError { message }
  }
}
"""
# The events that say why a run failed: its step's error (the cause), or the run's own failure message (its process
# died, the code server could not be reached, it ran past its max runtime).
FAILURE_QUERY = """
query WhyItFailed($runId: ID!) {
  logsForRun(runId: $runId, limit: 1000) {
    __typename
    ... on EventConnection {
      events {
        __typename
        ... on ExecutionStepFailureEvent { error { message causes { message } } failureMetadata { description } }
        ... on RunFailureEvent { message }
        ... on RunCanceledEvent { message }
      }
    }
  }
}
"""
FAILED = ("FAILURE", "CANCELED")  # the statuses of a run that ended without doing its work
RUN_ENDINGS = ("RunFailureEvent", "RunCanceledEvent")
KEY_TAG = "dagster/run_key"
MAX_REASON_CHARS = 500


@dataclass(frozen=True)
class RunSummary:
    """One Dagster run: its job and status, when it was created, started and ended, its key (which attempt of which
    work it was), the product's own tags (`xeno/...`: the campaign it launched), and why it failed if it did."""

    run_id: str
    job: str
    status: str
    created_at: datetime
    started_at: datetime | None
    ended_at: datetime | None
    run_key: str | None
    tags: dict[str, str] = field(default_factory=dict)
    reason: str | None = None


@dataclass(frozen=True)
class RecentRuns:
    """The newest runs, newest first, or why they could not be read (`unavailable`)."""

    runs: list[RunSummary]
    unavailable: str | None = None

    @property
    def failed(self) -> list[RunSummary]:
        return [run for run in self.runs if run.status in FAILED]


def recent_runs(settings: Settings, limit: int = 25, explained: int = 5, within_s: float = 5.0) -> RecentRuns:
    """The newest `limit` runs, the `explained` newest failed ones with their reason, all within about `within_s`:
    a reason not read by then (or that could not be read) is left out rather than holding the answer up."""
    url = f"{settings.dagster_address}/graphql"
    deadline = time.monotonic() + within_s
    try:
        with httpx.Client(timeout=within_s) as http:
            found = _query(http, url, RUNS_QUERY, limit=limit)["runsOrError"]
            if found["__typename"] != "Runs":
                return RecentRuns([], f"Dagster could not list its runs: {found.get('message', found['__typename'])}")
            runs = [_summary(run) for run in found["results"]]
            failed = [run.run_id for run in runs if run.status in FAILED][:explained]
            reasons = {run_id: _reason(http, url, run_id, deadline) for run_id in failed}
    except (httpx.HTTPError, ValueError, KeyError) as error:
        return RecentRuns([], f"Dagster's webserver at {settings.dagster_address} did not answer: {error}")
    return RecentRuns([replace(run, reason=reasons.get(run.run_id)) for run in runs])


def _query(http: httpx.Client, url: str, query: str, **variables: Any) -> dict[str, Any]:
    answer = http.post(url, json={"query": query, "variables": variables})
    answer.raise_for_status()
    body = answer.json()
    if body.get("errors"):
        raise ValueError("; ".join(str(error.get("message")) for error in body["errors"]))
    return dict(body["data"])


def _time(seconds: float | None) -> datetime | None:
    return None if seconds is None else datetime.fromtimestamp(seconds, UTC)


def _summary(run: dict[str, Any]) -> RunSummary:
    tags = {tag["key"]: tag["value"] for tag in run["tags"]}
    return RunSummary(
        run_id=run["runId"],
        job=run["jobName"],
        status=run["status"],
        created_at=_time(run["creationTime"]) or datetime.now(UTC),
        started_at=_time(run["startTime"]),
        ended_at=_time(run["endTime"]),
        run_key=tags.get(KEY_TAG),
        tags={key: value for key, value in tags.items() if key.startswith("xeno/")},
    )


def _reason(http: httpx.Client, url: str, run_id: str, deadline: float) -> str | None:
    left = deadline - time.monotonic()
    if left <= 0:
        return None
    try:
        answer = http.post(url, json={"query": FAILURE_QUERY, "variables": {"runId": run_id}}, timeout=left)
        found = answer.json()["data"]["logsForRun"]
    except (httpx.HTTPError, ValueError, KeyError, TypeError):
        return None
    if found["__typename"] != "EventConnection":
        return None
    events = found["events"]
    steps = [
        failure_text(
            (event["failureMetadata"] or {}).get("description"),
            [event["error"]["message"], *(cause["message"] for cause in event["error"]["causes"])],
        )
        for event in events
        if event["__typename"] == "ExecutionStepFailureEvent"
    ]
    runs = [failure_text(None, [event["message"]]) for event in events if event["__typename"] in RUN_ENDINGS]
    return next(iter(steps or runs), None)


def failure_text(description: str | None, errors: Sequence[str]) -> str:
    """Why a step or run failed, as a person reads it: the description its code gave with the failure (a
    `dg.Failure`), else the innermost of its errors (outermost first): a step's error is Dagster's wrapper ("Error
    occurred while executing op ...") around the op's own."""
    return _short(description or errors[-1])


def _short(text: str) -> str:
    """An error message cut to what a person reads in a status line: its first lines, at most a few hundred
    characters (a stack trace stays in Dagster, one click away)."""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    joined = " ".join(lines[:3])
    return joined if len(joined) <= MAX_REASON_CHARS else joined[: MAX_REASON_CHARS - 1] + "…"
