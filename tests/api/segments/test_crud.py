"""Saving, reading, changing and deleting segments; invalid rules are refused naming path, field and problem."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from engine.features.snapshot import Snapshot
from tests.api.segments.data import BIG_SPENDERS, LOYAL_IN_LONDON_OR_MUMBAI


def save(client: TestClient, headers: dict[str, str], name: str, rule: dict[str, Any], **more: Any) -> Any:
    answer = client.post("/v1/segments", json={"name": name, "rule": rule, **more}, headers=headers)
    assert answer.status_code == 201, answer.text
    return answer.json()


def test_a_saved_segment_has_its_owner_sentence_and_size_on_the_current_snapshot(
    client: TestClient, analyst: dict[str, str], published: Snapshot
) -> None:
    saved = save(client, analyst, "Big spenders", BIG_SPENDERS, description="over 500")

    assert saved["owner"]["email"] == "analyst@shop.example"
    assert saved["rule"] == BIG_SPENDERS
    assert saved["description"] == "over 500"
    assert saved["sentence"] == "customers whose total spend is over 500"
    assert (saved["latest_size"]["size"], saved["latest_size"]["snapshot_version"]) == (3, 1)
    assert client.get(f"/v1/segments/{saved['id']}", headers=analyst).json() == saved


def test_segments_are_listed_by_name_with_their_sizes(
    client: TestClient, analyst: dict[str, str], viewer: dict[str, str], published: Snapshot
) -> None:
    save(client, analyst, "Loyal", LOYAL_IN_LONDON_OR_MUMBAI)
    save(client, analyst, "Big spenders", BIG_SPENDERS)

    listed = client.get("/v1/segments", headers=viewer).json()

    assert [(s["name"], s["latest_size"]["size"]) for s in listed] == [("Big spenders", 3), ("Loyal", 2)]


def test_a_segment_can_be_saved_before_any_snapshot_and_has_no_size_yet(
    client: TestClient, analyst: dict[str, str]
) -> None:
    saved = save(client, analyst, "Big spenders", BIG_SPENDERS)

    assert saved["latest_size"] is None


def test_changing_the_rule_records_the_new_size_and_keeps_the_rest(
    client: TestClient, analyst: dict[str, str], published: Snapshot
) -> None:
    saved = save(client, analyst, "Big spenders", BIG_SPENDERS, description="kept")

    changed = client.patch(f"/v1/segments/{saved['id']}", json={"rule": LOYAL_IN_LONDON_OR_MUMBAI}, headers=analyst)

    assert changed.status_code == 200
    body = changed.json()
    assert (body["name"], body["description"], body["rule"]) == ("Big spenders", "kept", LOYAL_IN_LONDON_OR_MUMBAI)
    assert body["latest_size"]["size"] == 2


def test_names_are_unique(client: TestClient, analyst: dict[str, str], published: Snapshot) -> None:
    save(client, analyst, "Big spenders", BIG_SPENDERS)
    other = save(client, analyst, "Other", BIG_SPENDERS)

    again = client.post("/v1/segments", json={"name": "Big spenders", "rule": BIG_SPENDERS}, headers=analyst)
    renamed = client.patch(f"/v1/segments/{other['id']}", json={"name": "Big spenders"}, headers=analyst)

    assert (again.status_code, again.json()["error"]) == (409, "conflict")
    assert renamed.status_code == 409


def test_a_deleted_segment_is_gone(client: TestClient, analyst: dict[str, str], published: Snapshot) -> None:
    saved = save(client, analyst, "Big spenders", BIG_SPENDERS)

    assert client.delete(f"/v1/segments/{saved['id']}", headers=analyst).status_code == 204
    assert client.get(f"/v1/segments/{saved['id']}", headers=analyst).status_code == 404
    assert client.delete(f"/v1/segments/{saved['id']}", headers=analyst).status_code == 404
    assert client.patch(f"/v1/segments/{saved['id']}", json={"name": "x"}, headers=analyst).status_code == 404


def test_invalid_rules_are_refused_with_every_problem_path_and_field(
    client: TestClient, analyst: dict[str, str], published: Snapshot
) -> None:
    rule = {
        "and": [
            {"field": "total_spnd", "op": ">", "value": 5},
            {
                "or": [
                    {"field": "city", "op": ">", "value": "London"},
                    {"field": "order_count", "op": "=", "value": "x"},
                ]
            },
        ]
    }

    answer = client.post("/v1/segments", json={"name": "Broken", "rule": rule}, headers=analyst)

    assert answer.status_code == 422
    assert answer.json()["error"] == "invalid_rule"
    problems = {(p["path"], p["field"]): p["message"] for p in answer.json()["detail"]}
    assert set(problems) == {("and[0]", "total_spnd"), ("and[1].or[0]", "city"), ("and[1].or[1]", "order_count")}
    assert "did you mean `total_spend`" in problems["and[0]", "total_spnd"]
    assert "`>` does not apply to a category field" in problems["and[1].or[0]", "city"]
    assert "bad value 'x'" in problems["and[1].or[1]", "order_count"]
    assert client.get("/v1/segments", headers=analyst).json() == []


def test_a_malformed_rule_is_refused_with_where_it_breaks(
    client: TestClient, analyst: dict[str, str], published: Snapshot
) -> None:
    rule = {"and": [{"field": "total_spend", "op": "is about", "value": 5}, {"nor": []}]}

    answer = client.post("/v1/segments", json={"name": "Broken", "rule": rule}, headers=analyst)

    assert answer.status_code == 422
    problems = answer.json()["detail"]
    assert [problem["path"] for problem in problems] == ["and[0]", "and[1]"]
    assert problems[0]["message"].startswith("op: 'is about' is not allowed")
    assert "one of the keys" in problems[1]["message"]


def test_a_rule_on_a_trait_needs_a_snapshot_that_has_it(client: TestClient, analyst: dict[str, str]) -> None:
    gold = {"field": "trait_plan", "op": "=", "value": "gold"}

    before_any_snapshot = client.post("/v1/segments", json={"name": "Gold", "rule": gold}, headers=analyst)

    assert before_any_snapshot.status_code == 422
    assert before_any_snapshot.json()["detail"][0]["field"] == "trait_plan"


def test_a_segment_saved_before_a_bound_it_breaks_says_so_and_the_others_still_list(
    client: TestClient, analyst: dict[str, str], published: Snapshot, database: Engine
) -> None:
    save(client, analyst, "Big spenders", BIG_SPENDERS)
    long_ago = {"field": "last_order_at", "op": "more than days ago", "value": 800_000}  # allowed until the bound came
    with database.begin() as conn:
        conn.execute(
            text("UPDATE segments SET rule = CAST(:rule AS jsonb), name = 'Ancient' WHERE name = 'Big spenders'"),
            {"rule": orjson.dumps(long_ago).decode()},
        )
    save(client, analyst, "Loyal", LOYAL_IN_LONDON_OR_MUMBAI)

    listed = {segment["name"]: segment for segment in client.get("/v1/segments", headers=analyst).json()}

    assert set(listed) == {"Ancient", "Loyal"}
    assert listed["Ancient"]["sentence"].startswith("This rule can no longer be used (")
    assert "edit it to save it again" in listed["Ancient"]["sentence"]
    one = client.get(f"/v1/segments/{listed['Ancient']['id']}", headers=analyst)
    assert one.status_code == 200
