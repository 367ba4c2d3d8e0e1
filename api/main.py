"""The API application: `create_app()` builds it; uvicorn runs it with `--factory`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from api import openapi
from api.errors import install_error_handlers
from api.health.router import router as health_router
from api.ingest.router import router as ingest_router
from api.ingest.segment_router import router as segment_router
from engine.connections import get_async_redis, reset_connections


@asynccontextmanager
async def lifespan(_: FastAPI) -> AsyncIterator[None]:
    yield
    if get_async_redis.cache_info().currsize:
        await get_async_redis().aclose()
    reset_connections()


def create_app() -> FastAPI:
    app = FastAPI(
        title="Xeno CRM API",
        version="0.1.0",
        summary="Ingest customers, orders and events; build segments; send campaigns.",
        lifespan=lifespan,
    )
    install_error_handlers(app)
    app.include_router(health_router)
    app.include_router(ingest_router)
    app.include_router(segment_router)
    openapi.install(app)
    return app
