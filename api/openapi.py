"""The OpenAPI document as the API really answers: request bodies that routes read themselves, and the one error
shape.

`body_schema` documents such a body in the OpenAPI document; the models it names are added to the document's
components by `install`, so the schema has one definition of each model. FastAPI declares every 422 as its own
validation error (`detail: [{loc, msg, type}]`), which the API never sends: `install` declares the API's error
body (`api.errors.ErrorBody`) instead, so clients generated from the document read 422s rightly.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from pydantic import TypeAdapter

from api.errors import ErrorBody

_components: dict[str, Any] = {}
REF = "#/components/schemas/{model}"
UNPROCESSABLE = {
    "description": "The request does not fit: `invalid_request` lists each problem of its parameters or body; "
    "other codes (`invalid_rule`, `invalid_template`, ...) say what the engine refused and why.",
    "content": {"application/json": {"schema": {"$ref": REF.format(model=ErrorBody.__name__)}}},
}
FASTAPI_VALIDATION_MODELS = ("HTTPValidationError", "ValidationError")


def body_schema(annotation: Any) -> dict[str, Any]:
    schema = TypeAdapter(annotation).json_schema(ref_template=REF)
    _components.update(schema.pop("$defs", {}))
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


def install(app: FastAPI) -> None:
    """Make `app.openapi()` include the models named by `body_schema` and declare the API's own 422 body."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = build()
            schemas = document.setdefault("components", {}).setdefault("schemas", {})
            schemas.update(_components)
            _declare_error_body(document, schemas)
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _declare_error_body(document: dict[str, Any], schemas: dict[str, Any]) -> None:
    for path_item in document.get("paths", {}).values():
        for operation in path_item.values():
            responses = operation.get("responses", {}) if isinstance(operation, dict) else {}
            if "422" in responses:
                responses["422"] = UNPROCESSABLE
    schemas.setdefault(ErrorBody.__name__, ErrorBody.model_json_schema(ref_template=REF))
    for name in FASTAPI_VALIDATION_MODELS:
        schemas.pop(name, None)
