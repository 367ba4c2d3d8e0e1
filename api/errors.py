"""One error shape for the whole API: `{"error": <code>, "detail": <what went wrong>}` with the right status.

Routes raise `ApiError` subclasses for expected problems of their own, and declare which they answer in the
OpenAPI document with `error_responses`; the engine's refusals (`engine.errors`:
not found, conflict, invalid, forbidden) are answered here once, by kind, so no route translates them; validation
errors and HTTP errors from the framework are reshaped the same way; Postgres or Redis out of reach, or every
connection of their pool busy past `POOL_TIMEOUT_S`, is a 503 with `Retry-After` (an outage or an overload, not a
bug), and anything unexpected is a bare 500 with no stack trace.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

import redis
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from engine import errors as engine_errors

log = logging.getLogger(__name__)

OUTAGE_RETRY_AFTER_S = 5


class ErrorBody(BaseModel):
    """The body of every error response (4xx and 5xx), whatever raised it."""

    error: str = Field(
        description="What kind of problem, for programs: not_found, conflict, invalid_request, invalid_rule, ...",
        examples=["invalid_request"],
    )
    detail: Any = Field(
        None,
        description="What went wrong, for people: a sentence, or the problems found. A request that does not fit "
        "its schema (`invalid_request`) lists each problem as `{loc, message}` (`loc` like `body.items.3.email`); "
        "an invalid rule or template lists each with where it is.",
        examples=[[{"loc": "body.name", "message": "Field required"}]],
    )


ERROR_DESCRIPTIONS = {
    400: "The request cannot be followed (the detail says why).",
    401: "No credential, or a forged, expired or revoked one.",
    403: "Not allowed: a role too low, a write key, or an identity that may not sign in (the detail says which).",
    404: "There is no such thing (or the feature is switched off).",
    409: "It conflicts with what is there.",
    429: "Too many requests: see `Retry-After` and the `RateLimit-*` headers.",
    503: "A service it needs (the OpenID provider, Redis) is not configured or not reachable.",
}


def error_responses(*statuses: int, described: Mapping[int, str] | None = None) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for these error statuses and those `described`, each with the `{"error", "detail"}` body
    and a description: the route's own (`described`) where it has one, else the usual one for the status."""
    own = described or {}
    return {
        status: {"model": ErrorBody, "description": own.get(status) or ERROR_DESCRIPTIONS[status]}
        for status in (*statuses, *own)
    }


class ApiError(Exception):
    """An expected problem, answered with `status_code` and a machine-readable `error` code."""

    status_code = 400
    error = "bad_request"

    def __init__(self, detail: Any = None, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.headers = headers


class NotFound(ApiError):
    status_code = 404
    error = "not_found"


class Conflict(ApiError):
    status_code = 409
    error = "conflict"


class Unauthorized(ApiError):
    status_code = 401
    error = "unauthorized"


class Forbidden(ApiError):
    status_code = 403
    error = "forbidden"


class PayloadTooLarge(ApiError):
    status_code = 413
    error = "payload_too_large"


class UnprocessableEntity(ApiError):
    status_code = 422
    error = "invalid_request"


class TooManyRequests(ApiError):
    status_code = 429
    error = "rate_limited"


class ServiceUnavailable(ApiError):
    status_code = 503
    error = "unavailable"


# each kind of engine refusal, with its status
ENGINE_STATUSES: dict[type[engine_errors.EngineError], int] = {
    engine_errors.NotFound: 404,
    engine_errors.Conflict: 409,
    engine_errors.Invalid: 422,
    engine_errors.Forbidden: 403,
}


def error_response(status: int, error: str, detail: Any, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(ErrorBody(error=error, detail=detail).model_dump(), status_code=status, headers=headers)


def validation_problems(errors: Any) -> list[dict[str, Any]]:
    """Pydantic errors as `{"loc": "body.items.3.email", "message": ...}`, without echoing the input."""
    return [{"loc": ".".join(str(part) for part in err["loc"]), "message": err["msg"]} for err in errors]


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status_code, exc.error, exc.detail, exc.headers)

    @app.exception_handler(engine_errors.EngineError)
    async def _engine_error(_: Request, exc: engine_errors.EngineError) -> JSONResponse:
        status = next(status for kind, status in ENGINE_STATUSES.items() if isinstance(exc, kind))
        return error_response(status, exc.error, exc.detail)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(422, "invalid_request", validation_problems(exc.errors()))

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = HTTPStatus(exc.status_code).phrase.lower().replace(" ", "_").replace("-", "_")
        return error_response(exc.status_code, code, exc.detail, getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return error_response(500, "internal_error", "An unexpected error occurred; it has been logged.")

    async def _outage(request: Request, exc: Exception) -> JSONResponse:
        if isinstance(exc, OperationalError) and not _database_unreachable(exc):
            return await _unexpected(request, exc)
        server = "Redis" if isinstance(exc, redis.RedisError) else "Postgres"
        trouble = "has no connection free" if isinstance(exc, PoolTimeout) else "cannot be reached"
        log.warning("%s %s (%s %s): %s", server, trouble, request.method, request.url.path, exc)
        return error_response(
            503,
            "unavailable",
            f"{server} {trouble} just now; retry in {OUTAGE_RETRY_AFTER_S} s",
            {"Retry-After": str(OUTAGE_RETRY_AFTER_S)},
        )

    # redis-py's pools run out of time waiting with a ConnectionError ("No connection available."), handled here too
    for outage in (redis.ConnectionError, redis.TimeoutError, OperationalError, PoolTimeout):
        app.add_exception_handler(outage, _outage)


def _database_unreachable(exc: OperationalError) -> bool:
    """A lost or refused connection, or a server out of connections or shutting down (SQLSTATE classes 08, 53 and
    57P), as opposed to a statement that failed (a deadlock, a cancelled query)."""
    sqlstate: str | None = getattr(exc.orig, "sqlstate", None)
    return exc.connection_invalidated or sqlstate is None or sqlstate.startswith(("08", "53", "57P"))
