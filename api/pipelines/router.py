"""`/v1/pipelines/...`: stream backlogs and lag, the newest feature snapshot, and the ingest dead letters.

Reading needs an analyst (dead letters hold customer records as they were sent). Replaying dead letters
changes what gets ingested, so it needs an admin and is written to the audit log.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Request

from api.auth.dependencies import client_ip
from api.deps import Admin, Analyst, AppSettings, Db, RedisClient, rate_limit
from api.errors import error_responses
from api.pipelines.schemas import DeadLetterOut, PipelinesStatus, ReplayIn, ReplayOut, SnapshotStatus
from engine.auth import audit
from engine.campaigns.launch import launch_troubles
from engine.features.snapshot import snapshot_info
from engine.ingest import deadletters
from engine.operations.runs import recent_runs
from engine.operations.status import stream_states

router = APIRouter(prefix="/v1/pipelines", tags=["pipelines"], responses=error_responses(401, 403, 429))

DEAD_LETTERS_REPLAYED = "dead_letters.replayed"


@router.get("/status", response_model=PipelinesStatus, dependencies=[rate_limit("read")], summary="Pipeline health")
def get_status(_: Analyst, db: Db, redis_client: RedisClient, settings: AppSettings) -> PipelinesStatus:
    """Each stream's backlog and lag (the age of its oldest entry not yet done), how many dead letters wait for
    a replay, the newest feature snapshot with its age, Dagster's newest runs (why the failed ones failed), and
    the campaign launches being tried again or given up on within the last day."""
    now = datetime.now(UTC)
    info = snapshot_info(db)
    recent = recent_runs(settings)
    return PipelinesStatus(
        checked_at=now,
        streams=stream_states(redis_client, settings, now),
        dead_letters_waiting=deadletters.waiting_dead_letters(db),
        snapshot=SnapshotStatus.of(info, now) if info else None,
        runs=recent.runs,
        runs_unavailable=recent.unavailable,
        launches=launch_troubles(db, now - timedelta(days=1)),
    )


@router.get(
    "/dead-letters", response_model=list[DeadLetterOut], dependencies=[rate_limit("read")], summary="Dead letters"
)
def get_dead_letters(
    _: Analyst,
    db: Db,
    include_replayed: Annotated[bool, Query(description="Also the ones already replayed.")] = False,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[DeadLetterOut]:
    """What the ingest job could not apply, oldest first, each with its error."""
    letters = deadletters.list_dead_letters(db, include_replayed=include_replayed, limit=limit)
    return [DeadLetterOut.of(letter) for letter in letters]


@router.post(
    "/dead-letters/replay",
    response_model=ReplayOut,
    responses=error_responses(409),
    dependencies=[rate_limit("write")],
    summary="Replay dead letters",
)
def replay_dead_letters(
    body: ReplayIn, admin: Admin, request: Request, db: Db, redis_client: RedisClient, settings: AppSettings
) -> ReplayOut:
    """Put the given dead letters (or every one not replayed yet) back on the ingest stream, for the ingest job
    to apply again once the cause is fixed. Ones already replayed are left alone. Audited."""
    replayed = deadletters.replay(db, redis_client, settings.stream("ingest"), body.ids)
    if replayed:
        audit.record(db, admin.email, DEAD_LETTERS_REPLAYED, "ingest", {"ids": replayed}, client_ip(request))
    return ReplayOut(replayed=replayed)
