"""Wiring the auth layer into the app: refusals in the one error shape, the developer sign-in's loopback
rule, and each route's required role written into its OpenAPI description."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request, routing
from fastapi.dependencies.models import Dependant
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute

from api.auth.dependencies import BEARER_CHALLENGE, RoleGuard
from api.errors import error_response
from engine.auth.errors import AuthError, InvalidCredentials, ProviderUnavailable, SignInRefused
from engine.auth.roles import Role
from engine.auth.signin import is_loopback
from engine.settings import Settings


def refuse_dev_signin_off_loopback(settings: Settings) -> None:
    """Stop the API from starting when the developer sign-in is on and it would listen beyond this machine."""
    if settings.dev_signin and not is_loopback(settings.api_host):
        raise RuntimeError(
            f"XENO_DEV_SIGNIN is on but the API would listen on {settings.api_host}: the developer sign-in lets "
            "anyone become an admin, so it only runs on a loopback address (API_HOST=127.0.0.1). Switch it off "
            "and configure an OpenID provider (XENO_OIDC_CLIENT_ID, ...) to listen elsewhere."
        )


def install_auth_error_handlers(app: FastAPI) -> None:
    """Answer the engine's sign-in refusals as 401, 403 or 503 in the usual `{"error", "detail"}` shape."""

    @app.exception_handler(AuthError)
    async def _refused(_: Request, exc: Exception) -> JSONResponse:
        if isinstance(exc, InvalidCredentials):
            return error_response(401, "unauthorized", str(exc), BEARER_CHALLENGE)
        if isinstance(exc, SignInRefused):
            return error_response(403, "forbidden", str(exc))
        if isinstance(exc, ProviderUnavailable):
            return error_response(503, "unavailable", str(exc))
        return error_response(401, "unauthorized", str(exc))


def document_roles(app: FastAPI) -> None:
    """Write into each operation of the OpenAPI document the role it requires (`x-required-role`, and a line
    at the top of its description), read from the route's own dependencies so it cannot drift."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        document = build()
        for route in routing.iter_route_contexts(app.routes):
            role = _required_role(route.dependant) if isinstance(route.original_route, APIRoute) else None
            if role is None:
                continue
            for method in route.methods or ():
                operation = document["paths"].get(route.path_format, {}).get(method.lower())
                if operation is None or "x-required-role" in operation:
                    continue
                operation["x-required-role"] = role.value
                note = f"**Requires the `{role}` role** (or a higher one: viewer < analyst < marketer < admin)."
                operation["description"] = f"{note}\n\n{operation.get('description', '')}".strip()
        return document

    app.openapi = openapi  # type: ignore[method-assign]


def _required_role(dependant: Dependant) -> Role | None:
    if isinstance(dependant.call, RoleGuard):
        return dependant.call.role
    roles = [role for sub in dependant.dependencies if (role := _required_role(sub)) is not None]
    return max(roles, key=lambda role: role.rank) if roles else None
