"""`GET /health`: answers 200 when Postgres and Redis answer, 503 naming the one that does not."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from api.deps import Db, RedisClient
from engine.services.health import health_report

router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: str
    postgres: str
    redis: str


@router.get("/health", response_model=Health, responses={503: {"model": Health}})
def health(db: Db, redis_client: RedisClient) -> JSONResponse:
    """Public: whether the API can reach Postgres and Redis."""
    body = Health(**health_report(db, redis_client))
    return JSONResponse(body.model_dump(), status_code=200 if body.status == "ok" else 503)
