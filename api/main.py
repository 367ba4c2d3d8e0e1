"""The API application: `create_app()` builds it; uvicorn runs it with `--factory`."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from anyio import to_thread
from fastapi import FastAPI
from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware

from api import openapi
from api.admin.router import router as admin_router
from api.ai.router import router as ai_router
from api.auth.router import router as auth_router
from api.auth.setup import document_roles, install_auth_error_handlers, refuse_dev_signin_off_loopback
from api.campaigns.router import router as campaigns_router
from api.channels.router import router as channels_router
from api.consent.router import router as consent_router
from api.customers.router import router as customers_router
from api.engagement.router import router as engagement_router
from api.errors import install_error_handlers
from api.features.router import router as features_router
from api.health.router import router as health_router
from api.ingest.router import router as ingest_router
from api.ingest.segment_router import router as segment_router
from api.middleware import install_middleware
from api.notifications.router import router as notifications_router
from api.observability import ObserveRequests, request_span_details
from api.pipelines.router import router as pipelines_router
from api.privacy.router import router as privacy_router
from api.receipts.providers import router as provider_receipts_router
from api.receipts.router import router as receipts_router
from api.segments.router import router as segments_router
from engine.connections import get_async_redis, reset_connections
from engine.observability import observe_process
from engine.settings import get_settings

log = logging.getLogger(__name__)


@asynccontextmanager
async def lifespan(_: FastAPI) -> AsyncIterator[None]:
    # Sync routes and lookups run in AnyIO's worker threads (40 by default), each using one pooled Postgres
    # connection at a time: as many threads as connections lets a burst queue for a thread, never time out
    # waiting for a connection. So async code hands blocking work to this pool too (`run_in_threadpool`), never
    # to `asyncio.to_thread`, whose threads are outside the limit.
    settings = get_settings()
    to_thread.current_default_thread_limiter().total_tokens = settings.db_pool_size + settings.db_max_overflow
    yield
    if get_async_redis.cache_info().currsize:
        await get_async_redis().aclose()
    reset_connections()


def create_app() -> FastAPI:
    settings = get_settings()
    refuse_dev_signin_off_loopback(settings)
    app = FastAPI(
        title="Xeno CRM API",
        version="0.1.0",
        summary="Ingest customers, orders and events; build segments; send campaigns.",
        lifespan=lifespan,
    )
    install_error_handlers(app)
    install_auth_error_handlers(app)
    install_middleware(app, settings)
    app.add_middleware(ObserveRequests, count=settings.metrics_enabled)
    app.include_router(health_router)
    app.include_router(ingest_router)
    app.include_router(segment_router)
    app.include_router(auth_router)
    app.include_router(admin_router)
    app.include_router(receipts_router)
    app.include_router(provider_receipts_router)
    app.include_router(features_router)
    app.include_router(segments_router)
    app.include_router(customers_router)
    app.include_router(privacy_router)
    app.include_router(engagement_router)
    app.include_router(channels_router)
    app.include_router(campaigns_router)
    app.include_router(consent_router)
    app.include_router(ai_router)
    app.include_router(pipelines_router)
    app.include_router(notifications_router)
    document_roles(app)
    openapi.install(app)
    tracing = observe_process("xeno-api", settings)
    log.debug("settings: %r", settings)  # secrets show as '**********' (SecretStr)
    if tracing is not None:  # outermost, so that the request's span covers everything
        app.add_middleware(
            OpenTelemetryMiddleware, tracer_provider=tracing, exclude_spans=["receive", "send"],
            default_span_details=request_span_details,
        )  # fmt: skip
    return app
