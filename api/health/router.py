"""`GET /health` (liveness: the API answers) and `GET /ready` (it can serve: Postgres and Redis answer, and the
database is migrated to the code's newest revision), for load balancers, orchestrators and `xeno up`; and
`GET /metrics` for Prometheus (`engine.operations.metrics`).

A restart cures neither a database that is down nor a missing migration, so liveness checks neither: an
orchestrator restarts the API only when it stops answering, and sends it traffic only while it is ready.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest
from pydantic import BaseModel

from api.deps import Db, RedisClient
from engine.operations.metrics import pipeline_registry
from engine.services.health import readiness_report
from engine.settings import get_settings

router = APIRouter(tags=["health"])


class Liveness(BaseModel):
    status: str


class Readiness(BaseModel):
    status: str
    postgres: str
    redis: str
    migrations: str


@router.get("/health", response_model=Liveness)
def health() -> Liveness:
    """Public: the API answers (liveness; it checks nothing else)."""
    return Liveness(status="ok")


@router.get("/ready", response_model=Readiness, responses={503: {"model": Readiness}})
def ready(db: Db, redis_client: RedisClient) -> JSONResponse:
    """Public: whether the API can serve: Postgres and Redis answer (`ok`, or `unavailable: <error>`) and the
    database is migrated to the code's newest revision (`ok`, or `behind: ...`); 503 naming what is not."""
    body = Readiness(**readiness_report(db, redis_client))
    return JSONResponse(body.model_dump(), status_code=200 if body.status == "ok" else 503)


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {}}}, 404: {"description": "Metrics are off."}},
)
def metrics(db: Db, redis_client: RedisClient) -> Response:
    """Public: Prometheus metrics in its text format: this process's (requests by route and status, latency, records
    accepted), and the pipeline's (stream backlogs and lags per group, dead letters, Dagster's recent runs, the newest
    feature snapshot's age); 404 when XENO_METRICS_ENABLED is false."""
    settings = get_settings()
    if not settings.metrics_enabled:
        return JSONResponse({"error": "not_found", "detail": "metrics are off (XENO_METRICS_ENABLED=false)"}, 404)
    pipeline = pipeline_registry(db, redis_client, settings)
    return Response(generate_latest(REGISTRY) + generate_latest(pipeline), media_type=CONTENT_TYPE_LATEST)
