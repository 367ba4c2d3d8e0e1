"""The log of every AI call: what was asked, what came back, who answered, how long it took, whether it helped.

Every helper records its call here, refusals included, so a team can audit what the AI proposed and
measure how often its answers were accepted (`set_feedback`, from the user's thumbs up or down).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, func, insert, select, update

from engine.observability.metrics import AI_CALLS, AI_LATENCY
from engine.schema import ai_calls


@dataclass(frozen=True)
class AICall:
    """One AI call as stored: what was asked and answered, by which provider and model, how long it took, who
    asked, and whether they used the answer."""

    id: int
    kind: str
    input: dict[str, Any]
    output: dict[str, Any] | None
    outcome: str
    notes: list[str]
    provider: str
    model: str | None
    latency_ms: int
    user_id: int | None
    accepted: bool | None
    feedback: str | None
    feedback_at: datetime | None
    created_at: datetime


def record_call(
    db: Engine | Connection,
    *,
    kind: str,
    question: dict[str, Any],
    answer: dict[str, Any] | None,
    outcome: str,
    provider: str,
    model: str | None,
    latency_ms: int,
    user_id: int | None,
    notes: list[str] | tuple[str, ...] = (),
) -> int:
    """Store one call: what was asked and answered (None when refused), by whom; its id.

    In the caller's transaction when given a connection.
    """
    with _transaction(db) as conn:
        call_id = conn.scalar(
            insert(ai_calls)
            .values(
                kind=kind,
                input=question,
                output=answer,
                outcome=outcome,
                notes=list(notes),
                provider=provider,
                model=model,
                latency_ms=latency_ms,
                user_id=user_id,
            )
            .returning(ai_calls.c.id)
        )
    assert call_id is not None
    AI_CALLS.labels(kind, provider, outcome).inc()
    AI_LATENCY.labels(kind, provider).observe(latency_ms / 1000)
    return int(call_id)


@contextmanager
def _transaction(db: Engine | Connection) -> Iterator[Connection]:
    if isinstance(db, Connection):
        yield db
    else:
        with db.begin() as conn:
            yield conn


def get_call(db: Engine, call_id: int) -> AICall | None:
    with db.connect() as conn:
        row = conn.execute(select(ai_calls).where(ai_calls.c.id == call_id)).mappings().first()
    return AICall(**row) if row else None


def list_calls(
    db: Engine, *, user_id: int | None = None, kind: str | None = None, before_id: int | None = None, limit: int = 50
) -> list[AICall]:
    """Calls newest first, optionally only one user's or one kind's, and only those older than `before_id`."""
    query = select(ai_calls).order_by(ai_calls.c.id.desc()).limit(limit)
    if user_id is not None:
        query = query.where(ai_calls.c.user_id == user_id)
    if kind is not None:
        query = query.where(ai_calls.c.kind == kind)
    if before_id is not None:
        query = query.where(ai_calls.c.id < before_id)
    with db.connect() as conn:
        return [AICall(**row) for row in conn.execute(query).mappings()]


def set_feedback(db: Engine, call_id: int, *, accepted: bool, feedback: str | None = None) -> AICall | None:
    """Record whether the user accepted the call's answer (again if they change their mind); None if no such call."""
    with db.begin() as conn:
        updated = conn.execute(
            update(ai_calls)
            .where(ai_calls.c.id == call_id)
            .values(accepted=accepted, feedback=feedback, feedback_at=func.now())
            .returning(ai_calls.c.id)
        ).first()
    return get_call(db, call_id) if updated else None
