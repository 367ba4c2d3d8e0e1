"""The evaluation set and its scoring: enough varied cases, scoring by members, and the local provider's level."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from engine.ai.evals import Case, evaluate, load_cases
from engine.ai.evals.frames import synthetic_snapshot
from engine.ai.insights.facts import Fact
from engine.ai.local import LocalProvider
from engine.ai.messages.brief import MessageBrief, MessageDrafts
from engine.ai.provider import Repair, TextProvider
from engine.features.catalog import Catalog

SNAPSHOTS = [synthetic_snapshot(customers=1_500, seed=1), synthetic_snapshot(customers=1_500, seed=2)]


class Always(TextProvider):
    """Answers every request with the same rule."""

    name = "always"

    def __init__(self, rule: dict[str, Any]) -> None:
        self.rule = rule

    def draft_rule(self, text: str, catalog: Catalog, repair: Repair | None = None) -> Any:
        return self.rule

    def draft_messages(self, brief: MessageBrief, repair: Repair | None = None) -> MessageDrafts:
        raise NotImplementedError

    def phrase_insights(self, facts: Sequence[Fact], repair: Repair | None = None) -> tuple[str, ...]:
        raise NotImplementedError


def test_the_set_has_at_least_60_distinct_phrasings_with_refusals_among_them() -> None:
    cases = load_cases()

    assert len(cases) >= 60
    assert len({case.text for case in cases}) == len(cases)
    assert sum(case.rule is None for case in cases) >= 10
    assert sum(case.held_out for case in cases) >= 15


def test_rules_that_mean_the_same_score_as_right_and_a_near_miss_as_wrong() -> None:
    case = Case("bought something in the past year", {"field": "orders_365d", "op": ">=", "value": 1})
    same_meaning = Always({"field": "last_order_at", "op": "within last days", "value": 365})
    near_miss = Always({"field": "orders_365d", "op": ">", "value": 1})

    assert evaluate(same_meaning, [case], SNAPSHOTS).accuracy == 1.0
    assert evaluate(near_miss, [case], SNAPSHOTS).accuracy == 0.0


def test_a_rule_where_a_refusal_was_expected_is_wrong() -> None:
    report = evaluate(Always({"field": "total_spend", "op": ">", "value": 0}), [Case("big spenders", None)], SNAPSHOTS)

    assert report.accuracy == 0.0
    assert report.results[0].detail == "should have refused"


def test_the_local_provider_reads_the_set_well_held_out_cases_included() -> None:
    report = evaluate(LocalProvider(), load_cases(), SNAPSHOTS)

    assert report.accuracy >= 0.95, [result.case.text for result in report.results if not result.correct]
    right, total = report.tally(lambda case: case.held_out)
    assert right / total >= 0.9
