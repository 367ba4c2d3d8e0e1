"""The dashboard's types of what the API answers (dashboard/api_types.py) hold to the API's OpenAPI document: each
key is one the API's schema has, each fixed set of words is the schema's, and each nested object is the one the
schema nests there. A renamed or dropped field fails here rather than as a KeyError on a page."""

from __future__ import annotations

import types
import typing
from typing import Any, Literal, get_args, get_origin, is_typeddict

import pytest

from api.main import create_app
from dashboard import api_types

# each answer's type -> the name of its schema in the OpenAPI document
SCHEMA_OF = {
    api_types.PipelinesStatus: "PipelinesStatus",
    api_types.DeadLetter: "DeadLetterOut",
    api_types.Campaign: "CampaignOut",
    api_types.CampaignPreview: "api__campaigns__schemas__PreviewOut",
    api_types.Timeline: "TimelineOut",
    api_types.MessagesPage: "MessagesPage",
    api_types.RetryableFailures: "RetryableFailures",
    api_types.FollowUp: "FollowUp",
    api_types.Engagement: "EngagementOut",
    api_types.Segment: "SegmentOut",
    api_types.Explanation: "ExplanationOut",
    api_types.SegmentPreview: "api__segments__schemas__PreviewOut",
    api_types.SizeHistory: "SizeHistoryOut",
    api_types.FeatureCatalog: "CatalogOut",
    api_types.FeatureValues: "ValuesOut",
    api_types.CustomerSearchPage: "CustomerSearchPage",
    api_types.CustomerProfile: "CustomerProfile",
    api_types.Erasure: "ErasureOut",
    api_types.AiJob: "JobOut",
    api_types.RuleSuggestion: "RuleSuggestionOut",
    api_types.MessageSuggestions: "MessagesOut",
    api_types.SendTime: "SendTimeOut",
    api_types.User: "UserOut",
    api_types.TokenPair: "TokenPair",
    api_types.CreatedKey: "CreatedKey",
    api_types.AuditEntry: "AuditEntryOut",
}
# what the dashboard sends -> the name of the schema the API takes it as
REQUEST_SCHEMA_OF = {
    api_types.CampaignForm: "CampaignIn",
    api_types.PreviewAsked: "api__campaigns__schemas__PreviewIn",
    api_types.SegmentForm: "SegmentIn",
    api_types.MessagesAsked: "MessagesRequest",
}


@pytest.fixture(scope="module")
def schemas() -> dict[str, Any]:
    found: dict[str, Any] = create_app().openapi()["components"]["schemas"]
    return found


def _resolved(schema: dict[str, Any], schemas: dict[str, Any]) -> dict[str, Any]:
    """The schema itself, past a `$ref` and a nullable `anyOf` (the object one of its choices)."""
    if "$ref" in schema:
        return _resolved(schemas[schema["$ref"].rsplit("/", 1)[-1]], schemas)
    for choice in schema.get("anyOf", ()):
        if choice.get("type") != "null":
            return _resolved(choice, schemas)
    return schema


def _typeddict_in(annotation: Any) -> Any:
    """The TypedDict an annotation holds, if any (`X`, `X | None`, `list[X]`)."""
    if is_typeddict(annotation):
        return annotation
    for argument in get_args(annotation):
        found = _typeddict_in(argument)
        if found is not None:
            return found
    return None


def _literal_in(annotation: Any) -> set[str] | None:
    if get_origin(annotation) is Literal:
        return set(get_args(annotation))
    if isinstance(annotation, types.UnionType):
        return next(filter(None, map(_literal_in, get_args(annotation))), None)
    return None


def _mismatches(typed: Any, schema: dict[str, Any], schemas: dict[str, Any], where: str) -> list[str]:
    properties = schema.get("properties", {})
    found = []
    for key, annotation in typing.get_type_hints(typed).items():
        if key not in properties:
            found.append(f"{where}.{key}: not in the API's schema")
            continue
        field = _resolved(properties[key], schemas)
        words = _literal_in(annotation)
        if words is not None and words != set(field.get("enum", ())):
            found.append(f"{where}.{key}: {sorted(words)} but the API says {field.get('enum')}")
        nested = _typeddict_in(annotation)
        if nested is not None and nested is not typed:
            inner = _resolved(field.get("items", field), schemas)
            found.extend(_mismatches(nested, inner, schemas, f"{where}.{key}"))
    return found


@pytest.mark.parametrize("typed", [*SCHEMA_OF, *REQUEST_SCHEMA_OF], ids=lambda typed: typed.__name__)
def test_the_dashboards_type_holds_to_the_apis_schema(typed: Any, schemas: dict[str, Any]) -> None:
    name = {**SCHEMA_OF, **REQUEST_SCHEMA_OF}[typed]
    assert _mismatches(typed, schemas[name], schemas, typed.__name__) == []
