"""A campaign whose template would eat the API or a worker, or whose audience rule no compiler can evaluate, is
a quick 422 when it is saved or previewed, with where the problem is; never a 500 or minutes of work."""

from __future__ import annotations

import time
from typing import Any

import pytest
import redis
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from engine.features.snapshot import Snapshot
from tests.api.campaigns.conftest import create, launch_now
from tests.api.segments import data

CENTERED = "Hi\n{{ first_name|center(1000000000) }}"
QUICK_CPU_S = 5.0  # CPU time, which a loaded machine does not stretch: the same requests once took 8-15 s each


def body(path: str, **fields: Any) -> dict[str, Any]:
    """What `path` takes, with `fields`: a rule as `rule`, a campaign's message as `template` and `subject`."""
    rule = fields.pop("rule", data.BIG_SPENDERS)
    if path == "/v1/segments/preview":
        return {"rule": rule}
    if path == "/v1/segments":
        return {"name": "Hostile", "rule": rule}
    message = {"template": "Hi", "audience_rule": rule, **fields}
    return (
        message
        if path == "/v1/campaigns/preview"
        else {"name": "Hostile", "channel": "email", "subject": "Hello", **message}
    )


@pytest.mark.parametrize("path", ["/v1/campaigns", "/v1/campaigns/preview"])
@pytest.mark.parametrize(
    ("part", "source", "line", "column"),
    [
        ("template", CENTERED, 2, 15),
        ("template", "{{ '{:>999999999}'.format(first_name) }}", 1, 20),
        ("subject", "{% macro again() %}{{ again() }}{% endmacro %}{{ again() }}", 1, 10),
        ("html_template", "<p>{{ first_name|center(1000000000) }}</p>", 1, 18),
    ],
)
def test_a_template_that_trips_a_bound_is_a_quick_422_with_its_position(
    client: TestClient,
    marketer: dict[str, str],
    published: Snapshot,
    path: str,
    part: str,
    source: str,
    line: int,
    column: int,
) -> None:
    started = time.process_time()
    answer = client.post(path, json=body(path, **{part: source}), headers=marketer)

    assert time.process_time() - started < QUICK_CPU_S
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"] == "invalid_template"
    [problem] = answer.json()["detail"]
    assert (problem["part"], problem["line"], problem["column"]) == (part, line, column)


@pytest.mark.parametrize("path", ["/v1/campaigns", "/v1/campaigns/preview", "/v1/segments/preview", "/v1/segments"])
@pytest.mark.parametrize(
    ("rule", "field", "says"),
    [
        ({"field": "last_order_at", "op": "within last days", "value": 800_000}, "last_order_at", "36,500"),
        ({"field": "last_order_at", "op": "more than days ago", "value": 10**12}, "last_order_at", "36,500"),
        ({"event": "purchase", "within_days": 1_000_000}, None, "within_days"),
        ({"event": "purchase", "count": 10**12}, None, "count"),
        ({"field": "total_spend", "op": ">", "value": 10**30}, "total_spend", "64 bits"),
    ],
)
def test_an_audience_rule_no_compiler_can_evaluate_is_a_422_naming_the_field(
    client: TestClient,
    marketer: dict[str, str],
    published: Snapshot,
    path: str,
    rule: dict[str, Any],
    field: str | None,
    says: str,
) -> None:
    answer = client.post(path, json=body(path, rule=rule), headers=marketer)

    assert answer.status_code == 422, answer.text
    assert answer.json()["error"] == "invalid_rule"
    [problem] = answer.json()["detail"]
    assert problem["field"] == field
    assert says in problem["message"]


def test_a_template_that_trips_a_bound_for_some_customers_fails_only_their_messages_at_launch(
    client: TestClient, marketer: dict[str, str], published: Snapshot, database: Engine, redis_client: redis.Redis
) -> None:
    everyone = {"field": "customer_id", "op": ">=", "value": 0}
    grows = "Hi {{ first_name" + "|replace('a', 'aaaaaaaaaa')" * 5 + " }}"  # "Ada" has one a, "Ravi" one
    campaign = create(client, marketer, template=grows, audience_rule=everyone)
    assert client.post(f"/v1/campaigns/{campaign['id']}/schedule", json={}, headers=marketer).status_code == 200

    launch_now(database, redis_client, campaign["id"])

    with database.connect() as conn:
        rows = conn.execute(
            text("SELECT customer_id, status, reason FROM communication_log WHERE campaign_id = :id ORDER BY 1"),
            {"id": campaign["id"]},
        ).all()
    refused = {customer_id for customer_id, status, _ in rows if status == "skipped"}
    assert len(rows) == 6
    assert refused == {person[0] for person in data.PEOPLE if "a" in person[1].lower()}  # all but Mei and Noor
    assert all("could not be rendered" in reason for _, status, reason in rows if status == "skipped")


def test_an_ai_drafted_rule_past_the_bounds_is_a_422_naming_the_bound(
    client: TestClient, marketer: dict[str, str], published: Snapshot
) -> None:
    text = "customers who ordered in the last 800000 days"
    answer = client.post("/v1/ai/segment-rule", json={"text": text}, headers=marketer)

    assert answer.status_code == 422, answer.text
    assert "36,500" in answer.text
