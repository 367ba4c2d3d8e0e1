"""The AI queue: slow AI work (images, campaign insights) taken off the request path.

The API `enqueue`s a job and answers at once with its id; a worker (`xeno ai worker`, or `work_once` in
tests and jobs) reads the `ai` stream in the `ai-workers` group, runs the job's handler and keeps the
result for `get_job` under the job's key for `ai_job_ttl_s`. A job's state moves queued → running →
done | failed; a failed job keeps its error message, and its entry is acknowledged either way, so one
broken job never blocks the queue. Entries a crashed worker left unacknowledged are reclaimed.
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
CLAIM_IDLE_MS = 10 * 60_000  # an image may take minutes; only then is a job thought abandoned

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
    stream = settings.stream(STREAM)
    streams.ensure_group(client, stream, GROUP)
    entries = streams.reclaim(client, stream, GROUP, consumer, CLAIM_IDLE_MS, count)
    if len(entries) < count:
        entries += streams.read(client, stream, GROUP, consumer, count - len(entries), block_ms)
    for entry in entries:
        _run(db, client, settings, handlers, entry)
        streams.ack(client, stream, GROUP, [entry.id])
    return len(entries)


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


def _run(
    db: Engine, client: redis.Redis, settings: Settings, handlers: dict[str, Handler], entry: streams.Entry
) -> None:
    payload = entry.payload if isinstance(entry.payload, dict) else {}
    job_id = str(payload.get("job", ""))
    key = job_key(settings, job_id)
    if not job_id or not client.exists(key):
        log.warning("AI queue entry %s names no known job; dropped", entry.id)
        return
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
        log.exception("AI job %s failed", job_id)
        outcome = {"status": "failed", "error": "the job failed unexpectedly; the error has been logged"}
    client.hset(key, mapping={**outcome, "finished_at": datetime.now(UTC).isoformat()})


def _fields(job: Job) -> dict[FieldT, EncodableT]:
    return {
        "kind": job.kind,
        "status": job.status,
        "user_id": "" if job.user_id is None else str(job.user_id),
        "created_at": job.created_at.isoformat(),
    }
