"""The feature catalog and the rule language's JSON Schema, as the builder and the AI read them."""

from __future__ import annotations

from fastapi.testclient import TestClient

from engine.features.snapshot import Snapshot
from engine.segments import rule_json_schema


def test_the_catalog_lists_each_feature_with_its_type_operators_and_examples(
    client: TestClient, viewer: dict[str, str], published: Snapshot
) -> None:
    answer = client.get("/v1/features", headers=viewer).json()

    features = {feature["name"]: feature for feature in answer["features"]}
    assert answer["snapshot"]["version"] == 1
    assert list(features) == published.features.columns  # catalog order, traits last
    spend = features["total_spend"]
    assert (spend["type"], spend["label"], spend["examples"]) == ("number", "total spend", [0.0, 12500.0])
    assert spend["operators"][:2] == ["=", "!="]
    assert "contains" not in spend["operators"]
    assert "within last days" in features["last_order_at"]["operators"]
    plan = features["trait_plan"]
    assert (plan["type"], plan["examples"]) == ("string", ["free", "gold", "silver"])
    assert plan["description"] == "The customer attribute `plan`, from `identify` traits."


def test_before_any_snapshot_the_catalog_has_the_declared_features(client: TestClient, viewer: dict[str, str]) -> None:
    answer = client.get("/v1/features", headers=viewer).json()

    assert answer["snapshot"] is None
    assert {"total_spend", "city", "orders_30d"} <= {feature["name"] for feature in answer["features"]}


def test_the_rule_schema_is_served(client: TestClient, viewer: dict[str, str]) -> None:
    assert client.get("/v1/segments/schema", headers=viewer).json() == rule_json_schema()


def test_a_categorical_feature_lists_its_values_most_customers_first_for_pick_lists(
    client: TestClient, viewer: dict[str, str], published: Snapshot
) -> None:
    cities = client.get("/v1/features/city/values", headers=viewer)
    top = client.get("/v1/features/city/values?limit=1", headers=viewer).json()
    emails = client.get("/v1/features/email/values", headers=viewer)
    unknown = client.get("/v1/features/shoe_size/values", headers=viewer)

    assert cities.status_code == 200, cities.text
    assert cities.json()["values"] == [
        {"value": "London", "customers": 2},
        {"value": "Mumbai", "customers": 2},
        {"value": "Delhi", "customers": 1},
        {"value": "Paris", "customers": 1},
    ]
    assert top["values"] == [{"value": "London", "customers": 2}]
    assert emails.status_code == 422  # customers' own data is not listed
    assert "only categorical" in emails.json()["detail"]
    assert unknown.status_code == 404
