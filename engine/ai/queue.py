"""The AI queue: slow AI work (images, campaign insights) taken off the request path.

The API `enqueue`s a job and answers at once with its id; a worker (`xeno ai worker`, or `work_once` in
tests and jobs) reads the `ai` stream in the `ai-workers` group, runs the job's handler and keeps the
result for `get_job` under the job's key for `ai_job_ttl_s`. A job's state moves queued → running →
done | failed; a failed job keeps its error message, and its entry is acknowledged either way, so one
broken job never blocks the queue.

Jobs are taken one at a time through the shared consumer loop (`streams.StreamConsumer`), which keeps a
running job claimed however long it takes; a job whose worker died is reclaimed by another once it has been
idle for `CLAIM_IDLE_MS`. A job handed out more than `streams.MAX_DELIVERIES` times (say its handler kills
the process) is marked failed with that reason instead of crashing workers forever.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
import redis
from redis.typing import EncodableT, FieldT
from sqlalchemy import Engine

from engine import streams
from engine.settings import Settings

log = logging.getLogger(__name__)

STREAM = "ai"
GROUP = "ai-workers"
CLAIM_IDLE_MS = 60_000  # a live worker keeps its job claimed, so only a dead worker's job goes idle this long

Handler = Callable[[Engine, Settings, dict[str, Any], int | None], dict[str, Any]]


class JobFailed(Exception):
    """A job that cannot be done, with a message for the person who asked (no stack trace)."""


@dataclass(frozen=True)
class Job:
    id: str
    kind: str
    status: str  # queued, running, done or failed
    user_id: int | None
    created_at: datetime
    finished_at: datetime | None = None
    result: dict[str, Any] | None = None
    error: str | None = None


def job_key(settings: Settings, job_id: str) -> str:
    return settings.redis_key(f"ai:job:{job_id}")


def enqueue(client: redis.Redis, settings: Settings, kind: str, payload: dict[str, Any], user_id: int | None) -> Job:
    """Record the job as queued and put it on the AI stream; the job as it now stands."""
    job = Job(uuid.uuid4().hex, kind, "queued", user_id, datetime.now(UTC))
    key = job_key(settings, job.id)
    with client.pipeline(transaction=True) as pipe:
        pipe.hset(key, mapping=_fields(job))
        pipe.expire(key, settings.ai_job_ttl_s)
        entry = {"job": job.id, "kind": kind, "payload": payload, "user_id": user_id}
        pipe.xadd(settings.stream(STREAM), streams.entry_fields(entry))  # type: ignore[arg-type]
        pipe.execute()
    return job


def get_job(client: redis.Redis, settings: Settings, job_id: str) -> Job | None:
    fields: Any = client.hgetall(job_key(settings, job_id))
    if not fields:
        return None
    data = {key.decode(): value.decode() for key, value in fields.items()}
    return Job(
        id=job_id,
        kind=data["kind"],
        status=data["status"],
        user_id=int(data["user_id"]) if data.get("user_id") else None,
        created_at=datetime.fromisoformat(data["created_at"]),
        finished_at=datetime.fromisoformat(data["finished_at"]) if data.get("finished_at") else None,
        result=orjson.loads(data["result"]) if data.get("result") else None,
        error=data.get("error") or None,
    )


def work_once(
    db: Engine,
    client: redis.Redis,
    settings: Settings,
    handlers: dict[str, Handler],
    *,
    consumer: str = "worker",
    count: int = 10,
    block_ms: int | None = None,
) -> int:
    """Run the jobs waiting on the stream (reclaimed first, then new ones, up to `count`); how many ran."""
    jobs = streams.StreamConsumer(client, settings.stream(STREAM), GROUP, consumer, CLAIM_IDLE_MS, batch_size=1)

    def run(entries: list[streams.Entry]) -> None:
        for entry in entries:
            _run(db, client, settings, handlers, entry)

    def give_up(entries: list[streams.Entry]) -> None:
        for entry in entries:
            if key := _job_key(client, settings, entry):
                tries = entry.deliveries - 1
                error = f"the job was started {tries} times and its worker stopped each time before it finished"
                _finish(client, key, {"status": "failed", "error": error})

    report = jobs.run(run, give_up, streams.ConsumerReport(), max_batches=count, block_ms=block_ms)
    return report.entries


def run_worker(
    db: Engine, client: redis.Redis, settings: Settings, handlers: dict[str, Handler], stop: threading.Event
) -> None:
    """Work the queue until `stop` is set, waiting up to a second at a time for new jobs."""
    consumer = f"worker-{uuid.uuid4().hex[:8]}"
    while not stop.is_set():
        try:
            work_once(db, client, settings, handlers, consumer=consumer, block_ms=1_000)
        except redis.RedisError:
            log.exception("the AI worker lost Redis; retrying in a few seconds")
            stop.wait(5)


def _job_key(client: redis.Redis, settings: Settings, entry: streams.Entry) -> str | None:
    """The key of the job `entry` names, if that job is still known."""
    payload = entry.payload if isinstance(entry.payload, dict) else {}
    job_id = str(payload.get("job", ""))
    if not job_id or not client.exists(job_key(settings, job_id)):
        log.warning("AI queue entry %s names no known job; dropped", entry.id)
        return None
    return job_key(settings, job_id)


def _finish(client: redis.Redis, key: str, outcome: dict[FieldT, EncodableT]) -> None:
    client.hset(key, mapping={**outcome, "finished_at": datetime.now(UTC).isoformat()})


def _run(
    db: Engine, client: redis.Redis, settings: Settings, handlers: dict[str, Handler], entry: streams.Entry
) -> None:
    key = _job_key(client, settings, entry)
    if key is None:
        return
    payload = entry.payload
    client.hset(key, "status", "running")
    outcome: dict[FieldT, EncodableT]
    try:
        handler = handlers.get(str(payload.get("kind")))
        if handler is None:
            raise JobFailed(f"no worker handles {payload.get('kind')!r} jobs")
        result = handler(db, settings, payload.get("payload") or {}, payload.get("user_id"))
        outcome = {"status": "done", "result": orjson.dumps(result).decode()}
    except JobFailed as failure:
        outcome = {"status": "failed", "error": str(failure)}
    except Exception:
        log.exception("AI job %s failed", payload.get("job"))
        outcome = {"status": "failed", "error": "the job failed unexpectedly; the error has been logged"}
    _finish(client, key, outcome)


def _fields(job: Job) -> dict[FieldT, EncodableT]:
    return {
        "kind": job.kind,
        "status": job.status,
        "user_id": "" if job.user_id is None else str(job.user_id),
        "created_at": job.created_at.isoformat(),
    }
