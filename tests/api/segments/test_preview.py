"""Previews of unsaved rules: the size, per-clause counts and sample agree with the engine, read as a sentence."""

from __future__ import annotations

from fastapi.testclient import TestClient

from engine.features.snapshot import Snapshot
from engine.segments import parse_rule
from engine.segments.polars_backend import PolarsEvaluator
from tests.api.segments.data import LOYAL_IN_LONDON_OR_MUMBAI, RECENT_BUYERS


def test_a_preview_counts_each_clause_as_the_engine_does(
    client: TestClient, analyst: dict[str, str], published: Snapshot
) -> None:
    rule = {"or": [LOYAL_IN_LONDON_OR_MUMBAI, RECENT_BUYERS]}
    engine = PolarsEvaluator(published.features, published.events, now=published.taken_at, catalog=published.catalog)

    answer = client.post("/v1/segments/preview", json={"rule": rule}, headers=analyst)

    assert answer.status_code == 200, answer.text
    preview = answer.json()
    assert preview["size"] == engine.count(parse_rule(rule)) == 3  # 1, 4 and 5
    assert preview["clause_counts"] == engine.clause_counts(parse_rule(rule))
    assert preview["clause_counts"] == {
        "": 3,
        "or[0]": 2,
        "or[0].and[0]": 3,
        "or[0].and[0].or[0]": 2,
        "or[0].and[0].or[1]": 3,
        "or[0].and[1]": 4,
        "or[1]": 2,
    }
    assert preview["snapshot"] == {"version": 1, "taken_at": "2026-06-01T12:00:00Z", "customers": 6}


def test_a_preview_shows_the_first_members_and_reads_the_rule_as_a_sentence(
    client: TestClient, analyst: dict[str, str], published: Snapshot
) -> None:
    answer = client.post("/v1/segments/preview", json={"rule": RECENT_BUYERS, "sample_size": 1}, headers=analyst)

    preview = answer.json()
    assert preview["sample"] == [
        {
            "customer_id": 1,
            "external_id": "cus_1",
            "first_name": "Ada",
            "last_name": "Lovelace",
            "email": "ada@shop.example",
            "city": "London",
            "total_spend": 1200.0,
            "order_count": 5,
            "last_order_at": "2026-05-22T12:00:00Z",
        }
    ]
    assert preview["sentence"] == "customers who performed purchase at least once in the last 30 days"


def test_an_invalid_rule_is_refused_naming_where(
    client: TestClient, analyst: dict[str, str], published: Snapshot
) -> None:
    rule = {"not": {"field": "last_order_at", "op": "contains", "value": "May"}}

    answer = client.post("/v1/segments/preview", json={"rule": rule}, headers=analyst)

    assert answer.status_code == 422
    [problem] = answer.json()["detail"]
    assert (problem["path"], problem["field"]) == ("not", "last_order_at")


def test_without_a_snapshot_previews_say_to_run_the_features_pipeline(
    client: TestClient, analyst: dict[str, str]
) -> None:
    answer = client.post("/v1/segments/preview", json={"rule": RECENT_BUYERS}, headers=analyst)

    assert answer.status_code == 409
    assert answer.json()["error"] == "no_feature_snapshot"
    assert "customer_features" in answer.json()["detail"]
    assert answer.headers["Retry-After"] == "30"


def test_a_snapshot_whose_files_are_gone_is_a_503_saying_so(
    client: TestClient, analyst: dict[str, str], published: Snapshot
) -> None:
    published.info.features_path.unlink()

    answer = client.post("/v1/segments/preview", json={"rule": RECENT_BUYERS}, headers=analyst)

    assert (answer.status_code, answer.json()["error"]) == (503, "feature_snapshot_unreadable")
    assert "No such file" in answer.json()["detail"]


def test_a_preview_counts_how_many_remain_after_each_clause_of_the_top_group(
    client: TestClient, analyst: dict[str, str], published: Snapshot
) -> None:
    narrowing = {"and": [*LOYAL_IN_LONDON_OR_MUMBAI["and"], RECENT_BUYERS]}
    widening = {"or": [RECENT_BUYERS, {"field": "city", "op": "in", "value": ["Paris"]}]}

    answers = [client.post("/v1/segments/preview", json={"rule": rule}, headers=analyst).json() for rule in
               (narrowing, widening, RECENT_BUYERS)]  # fmt: skip

    assert [answer["funnel"] for answer in answers] == [[3, 2, 1], [2, 3], []]


def test_a_preview_for_a_channel_says_who_would_receive_it_and_why_the_others_not(
    client: TestClient, analyst: dict[str, str], published: Snapshot
) -> None:
    answer = client.post(
        "/v1/segments/preview", json={"rule": RECENT_BUYERS, "channel": "email"}, headers=analyst
    ).json()
    unknown = client.post("/v1/segments/preview", json={"rule": RECENT_BUYERS, "channel": "pigeon"}, headers=analyst)

    assert answer["reach"] == {
        "channel": "email",
        "audience": 2,
        "receiving": 0,
        "held": 0,
        "skipped": {"no consent to e-mail": 2},
    }
    assert unknown.status_code == 422
    assert "pigeon" in unknown.text
