"""The evaluation set and its scoring: a development part and a held-out part scored apart, by audience; the
local provider's level on both; and the same evaluation run through the OpenAI-compatible path."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict
from datetime import date
from typing import Any

import openai
from fastapi import FastAPI, Request

from engine.ai.errors import NotUnderstood
from engine.ai.evals import Case, evaluate, load_cases
from engine.ai.evals.frames import synthetic_snapshot
from engine.ai.insights.facts import Fact
from engine.ai.language import parse_text
from engine.ai.local import LocalProvider
from engine.ai.messages.brief import MessageBrief, MessageDrafts
from engine.ai.openai_compatible import OpenAICompatibleProvider
from engine.ai.provider import Repair, TextProvider
from engine.ai.rule_draft import Assumption, RuleDraft
from engine.cli.ai import compare_providers
from engine.features.catalog import Catalog
from engine.segments import dump_rule
from tests.engine.ai.loopback import serving

SNAPSHOTS = [synthetic_snapshot(customers=1_500, seed=1), synthetic_snapshot(customers=1_500, seed=2)]


class Always(TextProvider):
    """Answers every request with the same rule (and assumption, if given)."""

    name = "always"

    def __init__(self, rule: dict[str, Any], assumed: tuple[Assumption, ...] = ()) -> None:
        self.rule = rule
        self.assumed = assumed

    def draft_rule(self, text: str, catalog: Catalog, today: date, repair: Repair | None = None) -> RuleDraft:
        return RuleDraft(self.rule, self.assumed)

    def draft_messages(self, brief: MessageBrief, repair: Repair | None = None) -> MessageDrafts:
        raise NotImplementedError

    def phrase_insights(self, facts: Sequence[Fact], repair: Repair | None = None) -> tuple[str, ...]:
        raise NotImplementedError


def test_the_held_out_part_has_150_phrasings_in_every_style_none_shared_with_development() -> None:
    development, held_out = load_cases(("development",)), load_cases(("held-out",))

    assert len(held_out) >= 150
    assert {"label", "vague", "time", "amount", "hinglish", "typo", "relative"} <= {case.style for case in held_out}
    assert not {case.text.lower() for case in development} & {case.text.lower() for case in held_out}
    assert sum(case.expect == "refuse" for case in held_out) >= 5
    assert sum(case.assumes for case in held_out) >= 20


def test_rules_that_mean_the_same_score_as_right_and_a_near_miss_as_wrong() -> None:
    case = Case("bought something in the past year", {"field": "orders_365d", "op": ">=", "value": 1})
    same_meaning = Always({"field": "last_order_at", "op": "within last days", "value": 365})
    near_miss = Always({"field": "orders_365d", "op": ">", "value": 1})

    assert evaluate(same_meaning, [case], SNAPSHOTS).accuracy == 1.0
    assert evaluate(near_miss, [case], SNAPSHOTS).accuracy == 0.0


def test_a_vague_word_must_be_said_as_an_assumption_to_count() -> None:
    vip = {"field": "total_spend", "op": ">=", "value": 50000}
    case = Case("VIPs", vip, assumes=True)

    silent = evaluate(Always(vip), [case], SNAPSHOTS)
    said = evaluate(Always(vip, (Assumption("VIPs", "total spend of ₹50,000 or more"),)), [case], SNAPSHOTS)

    assert (silent.accuracy, silent.results[0].detail) == (0.0, "same members, but did not say what it assumed")
    assert said.accuracy == 1.0


def test_a_silent_rule_where_a_question_or_refusal_was_expected_is_wrong() -> None:
    anything = Always({"field": "total_spend", "op": ">", "value": 0})
    cases = [
        Case("customers who love us", None, "no affection feature", "ask"),
        Case("asdf", None, "nonsense", "refuse"),
    ]
    report = evaluate(anything, cases, SNAPSHOTS)

    assert report.accuracy == 0.0
    assert [result.detail for result in report.results] == [
        "answered without asking: no affection feature",
        "should have refused: nonsense",
    ]


def test_the_local_provider_reads_both_parts_well() -> None:
    report = evaluate(LocalProvider(), load_cases(), SNAPSHOTS)

    development = report.tally(lambda case: case.part == "development")
    held_out = report.tally(lambda case: case.part == "held-out")
    assert development[0] / development[1] >= 0.97
    assert held_out[0] / held_out[1] >= 0.9  # measured once per change; never tuned on


def local_model_app() -> FastAPI:
    """An OpenAI-compatible chat server whose "model" is the local reader: it answers the rule schema the
    provider asks for, from the request's text and the date the system prompt gives."""
    app = FastAPI()

    @app.post("/v1/chat/completions")
    async def complete(request: Request) -> dict[str, Any]:
        body = await request.json()
        system, text = body["messages"][0]["content"], body["messages"][1]["content"]
        today = date.fromisoformat(re.search(r"Today is (\d{4}-\d{2}-\d{2})", system).group(1))  # type: ignore[union-attr]
        try:
            reading = parse_text(text, SNAPSHOTS[0].catalog, today)
        except NotUnderstood as refused:
            answer: dict[str, Any] = {"rule": None, "cannot": str(refused), "assumed": [], "skipped": []}
        else:
            answer = {
                "rule": dump_rule(reading.rule),
                "cannot": None,
                "assumed": [asdict(assumption) for assumption in reading.assumptions],
                "skipped": [{"words": item.text, "why": item.reason} for item in reading.skipped],
            }
        message = {"role": "assistant", "content": json.dumps(answer), "refusal": None}
        return {
            "id": "chatcmpl-local", "object": "chat.completion", "created": int(time.time()), "model": body["model"],
            "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
        }  # fmt: skip

    return app


@contextmanager
def local_model() -> Iterator[OpenAICompatibleProvider]:
    with serving(local_model_app()) as url:
        client = openai.OpenAI(base_url=f"{url}/v1", api_key="test-key", timeout=10, max_retries=0)
        yield OpenAICompatibleProvider(client, "local-reader", 10)


def test_the_openai_compatible_path_gets_the_same_evaluation_and_a_side_by_side_report() -> None:
    cases = [case for case in load_cases(("held-out",)) if case.style in ("vague", "hinglish", "nonsense", "unknown")]
    local = evaluate(LocalProvider(), cases, SNAPSHOTS)
    with local_model() as provider:
        through_the_wire = evaluate(provider, cases, SNAPSHOTS)

    assert [result.correct for result in through_the_wire.results] == [result.correct for result in local.results]
    assert through_the_wire.tally(lambda case: case.assumes)[0] > 0  # assumptions come back over the wire
    summary, by_style = (_rows(table) for table in compare_providers([local, through_the_wire]).renderables)
    assert [row[:2] for row in summary] == [["local", "-"], ["openai", "local-reader"]]
    assert summary[0][2:] == summary[1][2:]
    assert {row[0] for row in by_style} == {"hinglish", "nonsense", "unknown", "vague"}
    assert all(row[1] == row[2] for row in by_style)


def _rows(table: Any) -> list[list[str]]:
    columns = [list(column.cells) for column in table.columns]
    return [list(row) for row in zip(*columns, strict=True)]
