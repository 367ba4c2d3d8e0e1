"""The evaluation of plain-language-to-rule providers: two sets of phrasings, and how many each gets right.

`segment_rules.json` is the development set, the one the local reader is tuned on; `held_out_rules.json`
was written (and committed) before the reader was changed for its styles, and is never used to tune it,
so its score says how the reader does on phrasings nobody tuned for. Each case expects one of:
  - `rule`: a valid rule selecting exactly the expected customers on two synthetic snapshots (different
    seeds; `frames`). Comparing audiences rather than JSON credits rules that mean the same but are written
    differently (`orders_365d >= 1` or `last_order_at within last 365 days`), and the two seeds make a lucky
    match on one snapshot count for nothing. With `assumes`, the answer must also say what it assumed
    (a vague word read as a team term);
  - `ask`: the request needs something the catalog has not; the answer must ask (a refusal naming the
    words, or a rule with the skipped words and questions), never answer silently;
  - `refuse`: nonsense; no rule at all.
Each answer goes through `suggest_rule`, the same path as the API: validation and the one repair included,
as of the snapshots' "now".
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib.resources import files
from typing import Any, Literal

from engine.ai.errors import ProviderUnavailable
from engine.ai.evals.frames import Snapshot, synthetic_snapshot
from engine.ai.provider import TextProvider
from engine.ai.rules import RuleOutcome, suggest_rule
from engine.segments import UnsupportedRule, dump_rule, parse_rule
from engine.segments.polars_backend import PolarsEvaluator

Part = Literal["development", "held-out"]
Expect = Literal["rule", "ask", "refuse"]
PARTS: dict[Part, str] = {"development": "segment_rules.json", "held-out": "held_out_rules.json"}


@dataclass(frozen=True)
class Case:
    text: str
    rule: dict[str, Any] | None  # None: must ask or refuse
    why: str | None = None  # why it must ask or refuse
    expect: Expect = "rule"
    assumes: bool = False  # the answer must say it assumed a team term
    part: Part = "development"
    style: str = "plain"


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


def load_cases(parts: Sequence[Part] = ("development", "held-out")) -> list[Case]:
    """The cases of the chosen parts of the evaluation set."""
    cases = []
    for part in parts:
        data = json.loads(files("engine.ai.evals").joinpath(PARTS[part]).read_text(encoding="utf-8"))
        for item in data["cases"]:
            expect: Expect = "rule" if "rule" in item else "ask" if "ask" in item else "refuse"
            why = item.get("ask") or item.get("refuse")
            style = item.get("style", "plain")
            cases.append(Case(item["text"], item.get("rule"), why, expect, item.get("assumes", False), part, style))
    return cases


def evaluate(
    provider: TextProvider,
    cases: Sequence[Case],
    snapshots: Sequence[Snapshot] | None = None,
    on_result: Callable[[Result], None] | None = None,
) -> Report:
    """Ask `provider` every case (no fallback: a failure to answer counts as wrong) and score the answers."""
    chosen = list(snapshots) if snapshots is not None else [synthetic_snapshot(seed=1), synthetic_snapshot(seed=2)]
    evaluators = [PolarsEvaluator(s.features, s.events, now=s.now, catalog=s.catalog) for s in chosen]
    results = []
    for case in cases:
        result = _score(case, provider, chosen[0], evaluators)
        results.append(result)
        if on_result is not None:
            on_result(result)
    return Report(provider.name, provider.model, tuple(results))


def _score(case: Case, provider: TextProvider, snapshot: Snapshot, evaluators: list[PolarsEvaluator]) -> Result:
    try:
        outcome = suggest_rule(case.text, snapshot.catalog, provider, fallback=None, today=snapshot.now.date())
    except ProviderUnavailable as failure:
        return Result(case, False, None, f"no answer: {failure.reason}")
    got = dump_rule(outcome.rule) if outcome.rule is not None else None
    if case.expect == "refuse":
        return Result(case, got is None, got, "refused" if got is None else f"should have refused: {case.why}")
    if case.expect == "ask":
        asked = got is None or bool(outcome.skipped or outcome.assumptions)
        return Result(case, asked, got, "asked" if asked else f"answered without asking: {case.why}")
    return _same_audience(case, outcome, snapshot, evaluators)


def _same_audience(case: Case, outcome: RuleOutcome, snapshot: Snapshot, evaluators: list[PolarsEvaluator]) -> Result:
    if outcome.rule is None:
        return Result(case, False, None, f"refused: {outcome.refusal}")
    got = dump_rule(outcome.rule)
    expected = parse_rule(case.rule, snapshot.catalog)
    try:
        same = all(set(ev.member_ids(outcome.rule)) == set(ev.member_ids(expected)) for ev in evaluators)
    except UnsupportedRule as error:
        return Result(case, False, got, f"does not evaluate: {error}")
    if not same:
        return Result(case, False, got, "different members")
    if case.assumes and not outcome.assumptions:
        return Result(case, False, got, "same members, but did not say what it assumed")
    return Result(case, True, got, "same members")
