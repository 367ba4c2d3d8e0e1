"""The evaluation of plain-language-to-rule providers: a fixed set of phrasings and how many each gets right.

`segment_rules.json` holds the phrasings with the rule a careful analyst would write, or `refuse` where
no rule should be given. A provider's answer is right when:
  - expected a rule: it gave a valid rule selecting exactly the expected customers on two synthetic
    snapshots (different seeds; `frames`). Comparing members rather than JSON credits rules that mean
    the same but are written differently (`orders_365d >= 1` or `last_order_at within last 365 days`,
    `in ["Mumbai"]` or `= "Mumbai"`), and the two seeds make a lucky match on one snapshot count for nothing;
  - expected a refusal: it refused (a rule there is a guess the user did not ask for).
Each answer goes through `suggest_rule`, the same path as the API: validation and the one repair included.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib.resources import files
from typing import Any

from engine.ai.errors import ProviderUnavailable
from engine.ai.evals.frames import Snapshot, synthetic_snapshot
from engine.ai.provider import TextProvider
from engine.ai.rules import suggest_rule
from engine.segments import UnsupportedRule, dump_rule, parse_rule
from engine.segments.polars_backend import PolarsEvaluator


@dataclass(frozen=True)
class Case:
    text: str
    rule: dict[str, Any] | None  # None: must be refused
    why_refuse: str | None = None
    held_out: bool = False  # written after the local reader, and not used to tune it


@dataclass(frozen=True)
class Result:
    case: Case
    correct: bool
    got: dict[str, Any] | None
    detail: str


@dataclass(frozen=True)
class Report:
    provider: str
    model: str | None
    results: tuple[Result, ...]

    @property
    def accuracy(self) -> float:
        return sum(result.correct for result in self.results) / len(self.results)

    def tally(self, keep: Callable[[Case], bool]) -> tuple[int, int]:
        """(right, total) over the cases `keep` chooses."""
        chosen = [result for result in self.results if keep(result.case)]
        return sum(result.correct for result in chosen), len(chosen)


def load_cases() -> list[Case]:
    data = json.loads(files("engine.ai.evals").joinpath("segment_rules.json").read_text(encoding="utf-8"))
    return [
        Case(item["text"], item.get("rule"), item.get("refuse"), item.get("held_out", False)) for item in data["cases"]
    ]


def evaluate(
    provider: TextProvider,
    cases: Sequence[Case],
    snapshots: Sequence[Snapshot] | None = None,
    on_result: Callable[[Result], None] | None = None,
) -> Report:
    """Ask `provider` every case (no fallback: a failure to answer counts as wrong) and score the answers."""
    chosen = list(snapshots) if snapshots is not None else [synthetic_snapshot(seed=1), synthetic_snapshot(seed=2)]
    evaluators = [PolarsEvaluator(s.features, s.events, now=s.now, catalog=s.catalog) for s in chosen]
    catalog = chosen[0].catalog
    results = []
    for case in cases:
        result = _score(case, provider, catalog, evaluators)
        results.append(result)
        if on_result is not None:
            on_result(result)
    return Report(provider.name, provider.model, tuple(results))


def _score(case: Case, provider: TextProvider, catalog: Any, evaluators: list[PolarsEvaluator]) -> Result:
    try:
        outcome = suggest_rule(case.text, catalog, provider, fallback=None)
    except ProviderUnavailable as failure:
        return Result(case, False, None, f"no answer: {failure.reason}")
    got = dump_rule(outcome.rule) if outcome.rule is not None else None
    if case.rule is None:
        return Result(case, outcome.rule is None, got, "refused" if outcome.rule is None else "should have refused")
    if outcome.rule is None:
        return Result(case, False, None, f"refused: {outcome.refusal}")
    expected = parse_rule(case.rule, catalog)
    try:
        same = all(set(ev.member_ids(outcome.rule)) == set(ev.member_ids(expected)) for ev in evaluators)
    except UnsupportedRule as error:
        return Result(case, False, got, f"does not evaluate: {error}")
    return Result(case, same, got, "same members" if same else "different members")
