"""The OpenAPI document declares the error body the API really sends: a client generated from it reads a 422 (a
request that does not fit its schema, or a rule the engine refuses) without failing, and FastAPI's own validation
error shape (`detail: [{loc, msg, type}]`), which the API never sends, is declared nowhere."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from tests.fixtures.users import auth_headers


def _declared(document: dict[str, Any], path: str, method: str, status: str) -> dict[str, Any]:
    schema = document["paths"][path][method]["responses"][status]["content"]["application/json"]["schema"]
    return {**schema, "components": document["components"]}  # so its references resolve


def test_a_422_for_a_body_that_does_not_fit_validates_against_the_declared_schema(
    api_client: TestClient, database: Engine
) -> None:
    document = api_client.get("/openapi.json").json()
    answer = api_client.post("/v1/segments", json={"name": 5}, headers=auth_headers(database, "analyst"))

    assert answer.status_code == 422, answer.text
    assert answer.json()["error"] == "invalid_request"
    jsonschema.validate(answer.json(), _declared(document, "/v1/segments", "post", "422"))


def test_a_422_for_a_rule_the_engine_refuses_validates_against_the_declared_schema(
    api_client: TestClient, database: Engine
) -> None:
    document = api_client.get("/openapi.json").json()
    body = {"name": "Nobody", "rule": {"field": "no_such_field", "op": "=", "value": 1}}
    answer = api_client.post("/v1/segments", json=body, headers=auth_headers(database, "analyst"))

    assert answer.status_code == 422, answer.text
    assert answer.json()["error"] == "invalid_rule"
    assert answer.json()["detail"][0]["path"] == ""
    jsonschema.validate(answer.json(), _declared(document, "/v1/segments", "post", "422"))


def test_no_route_declares_fastapis_validation_error_shape(api_client: TestClient) -> None:
    document = api_client.get("/openapi.json").json()
    declared_422s = [
        operation["responses"]["422"]
        for path_item in document["paths"].values()
        for operation in path_item.values()
        if "422" in operation.get("responses", {})
    ]

    assert len(declared_422s) > 20
    assert "HTTPValidationError" not in json.dumps(document)
    assert all("ErrorBody" in json.dumps(response) for response in declared_422s)
