"""Every route in the OpenAPI document refuses a caller without credentials, except the few public on
purpose, named here with the reason; and every other route says in the document how to authenticate."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

PUBLIC = {
    ("GET", "/health"): "liveness, for load balancers and orchestrators",
    ("GET", "/ready"): "readiness, for load balancers, orchestrators and `xeno up`",
    ("GET", "/metrics"): "for Prometheus scrapes: counts and timings, no customer data",
    ("GET", "/v1/auth/login"): "starts signing in",
    ("GET", "/v1/auth/callback"): "the OpenID provider sends the browser back here",
    ("POST", "/v1/auth/token-exchange"): "the provider's ID token is the credential",
    ("POST", "/v1/auth/dev-login"): "the developer sign-in: off unless switched on, loopback only",
    ("POST", "/v1/auth/refresh"): "the refresh token is the credential",
    ("POST", "/v1/auth/logout"): "the refresh token is the credential",
    ("POST", "/v1/receipts"): "the delivery vendor's callbacks carry a Standard Webhooks signature instead",
    ("POST", "/v1/receipts/twilio"): "Twilio's status callbacks carry an X-Twilio-Signature instead",
    ("POST", "/v1/receipts/email-api"): "the e-mail provider's webhooks carry basic auth from its own settings",
    ("GET", "/v1/receipts/meta"): "Meta's webhook subscription check carries our verify token instead",
    ("POST", "/v1/receipts/meta"): "Meta's status webhooks carry an X-Hub-Signature-256 instead",
    ("GET", "/v1/unsubscribe/{token}"): "opened from a message: the signed token is the credential",
    ("POST", "/v1/unsubscribe/{token}"): "RFC 8058 one-click unsubscribe: the signed token is the credential",
    ("GET", "/v1/preferences/{token}"): "opened from a message: the signed token is the credential",
    ("POST", "/v1/preferences/{token}"): "the preference page's form: the signed token is the credential",
    ("POST", "/v1/inbound/sms"): "the SMS provider's webhook carries an X-Twilio-Signature instead",
    ("GET", "/v1/track/open/{token}"): "the open pixel in e-mails: its signed token is the credential",
    ("GET", "/v1/track/click/{token}"): "click redirects in e-mails: their signed token is the credential",
}

# Refused, but with the wrong status: reported to the owner of the route, to be removed here once fixed.


def operations(client: TestClient) -> dict[tuple[str, str], dict]:
    paths = client.get("/openapi.json").json()["paths"]
    return {(method.upper(), path): spec for path, methods in paths.items() for method, spec in methods.items()}


def test_every_route_but_the_public_ones_refuses_a_caller_without_credentials(api_client: TestClient) -> None:
    answers = {}
    for method, path in operations(api_client):
        if (method, path) not in PUBLIC:
            body: dict[str, object] | None = {} if method in {"POST", "PUT", "PATCH"} else None  # no credential in it
            answer = api_client.request(method, re.sub(r"\{[^}]+\}", "1", path), json=body)
            answers[method, path] = (answer.status_code, answer.json().get("error"))

    assert len(answers) >= 15
    assert {operation: got for operation, got in answers.items() if got != (401, "unauthorized")} == {}


def test_every_route_but_the_public_ones_declares_its_security_scheme(api_client: TestClient) -> None:
    undeclared = [op for op, spec in operations(api_client).items() if op not in PUBLIC and not spec.get("security")]

    assert undeclared == []


def test_every_route_for_signed_in_users_states_the_role_it_needs(api_client: TestClient) -> None:
    everything = operations(api_client).items()
    user_routes = {op: spec for op, spec in everything if {"UserToken": []} in spec.get("security", [])}

    assert user_routes
    assert [op for op, spec in user_routes.items() if "x-required-role" not in spec] == []
    assert all(spec["description"].startswith("**Requires the `") for spec in user_routes.values())


def test_the_public_sign_in_routes_are_there_under_the_names_listed(api_client: TestClient) -> None:
    listed = {operation for operation in PUBLIC if operation[1].startswith("/v1/auth/")} | {("GET", "/health")}

    assert listed <= set(operations(api_client))
