"""A property-based run of the whole API from its own OpenAPI document: whatever schemathesis generates,
valid or not, the API never answers with a server error.

The API runs under uvicorn on loopback; each request carries an admin's access token (a write key for the
ingestion routes) so the run gets past authentication into every route's own handling.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from sqlalchemy import Engine

from api.main import create_app
from engine.auth.roles import Role
from engine.auth.sessions import start_session
from engine.auth.users import record_sign_in
from engine.keys import create_key
from engine.settings import Settings, get_settings
from tests.engine.auth.fixtures import *  # noqa: F403 - the loopback OpenID provider and settings fixtures

# The document of the app as built for production; the requests go to a live copy of it (`live_api`). The
# server-sent event streams are left out: they stay open while there is something to watch, so each
# generated request would wait out the client's timeout; their own tests cover them.
api_schema = schemathesis.openapi.from_dict(create_app().openapi()).exclude(
    path=["/v1/notifications/stream", "/v1/campaigns/{campaign_id}/events"]
)

_credentials: dict[str, str] = {}


@pytest.fixture
def credentialed_api(
    configure: Callable[..., Settings], auth_settings: Settings, database: Engine, live_api: str
) -> str:
    """The live API's base URL, with an admin token and a write key ready and rate limits out of the way."""
    configure(**{f"XENO_RATE_LIMIT_{group}": "1000000/minute" for group in ("AUTH", "INGEST", "READ", "WRITE", "AI")})
    with database.begin() as conn:
        admin = record_sign_in(conn, "admin@shop.example", "Admin", Role.admin)
        _credentials["user"] = start_session(conn, get_settings(), admin, "test").access_token
    _credentials["write_key"] = create_key(database, "schemathesis").secret
    return live_api


def _credential_for(security: list[dict[str, list[str]]]) -> str:
    write_key_only = bool(security) and all(name.startswith("WriteKey") for scheme in security for name in scheme)
    return _credentials["write_key"] if write_key_only else _credentials["user"]


@pytest.mark.timeout(240)
@api_schema.parametrize()
@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_no_generated_request_makes_the_api_fail(credentialed_api: str, case: schemathesis.Case) -> None:
    credential = _credential_for(case.operation.definition.raw.get("security", []))
    headers = {"Authorization": f"Bearer {credential}"}
    case.call_and_validate(base_url=credentialed_api, headers=headers, checks=[not_a_server_error])
