"""`GET /health`: answers 200 when Postgres and Redis answer, 503 naming the one that does not."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import text

from api.deps import Db, RedisClient

router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: str
    postgres: str
    redis: str


@router.get("/health", response_model=Health, responses={503: {"model": Health}})
def health(db: Db, redis_client: RedisClient) -> JSONResponse:
    """Public: whether the API can reach Postgres and Redis."""
    checks = {"postgres": _check(lambda: _ping_db(db)), "redis": _check(redis_client.ping)}
    ok = all(value == "ok" for value in checks.values())
    body = Health(status="ok" if ok else "degraded", **checks)
    return JSONResponse(body.model_dump(), status_code=200 if ok else 503)


def _ping_db(db: Db) -> None:
    with db.connect() as conn:
        conn.execute(text("SELECT 1"))


def _check(probe: Callable[[], object]) -> str:
    try:
        probe()
    except Exception as exc:
        return f"unavailable: {type(exc).__name__}"
    return "ok"
