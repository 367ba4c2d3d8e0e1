"""Plain language to a segment rule that is valid, or to a clear refusal: never an invalid rule.

The provider drafts; `parse_rule(..., catalog)` decides. A draft that does not parse or fit the catalog
goes back to the provider once with the problems (the repair); still invalid, it is refused with them.
A rule must also compile: it is evaluated once on an empty snapshot of the catalog's shape. A language
model that cannot be reached gives way to the local provider, and the outcome says so in its notes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import polars as pl

from engine.ai.errors import InvalidOutput, ProviderUnavailable, Refusal, RuleRefused
from engine.ai.provider import Repair, TextProvider
from engine.features.catalog import Catalog
from engine.segments import Rule, RuleError, UnsupportedRule, describe, dump_rule, parse_rule
from engine.segments.polars_backend import PolarsEvaluator

EMPTY_EVENTS = pl.Schema(
    {"customer_id": pl.Int64(), "name": pl.String(), "occurred_at": pl.Datetime("us", "UTC"), "properties": pl.String()}
)


@dataclass(frozen=True)
class RuleOutcome:
    """What came of a request: a valid rule with its English reading, or the refusal; who answered; notes."""

    provider: str
    model: str | None
    notes: tuple[str, ...] = ()
    rule: Rule | None = None
    english: str | None = None
    refusal: Refusal | None = None
    repaired: bool = False

    def output(self) -> dict[str, Any] | None:
        """The outcome as the call log keeps it."""
        if self.rule is None:
            return None
        return {"rule": dump_rule(self.rule), "english": self.english, "repaired": self.repaired}


def suggest_rule(text: str, catalog: Catalog, provider: TextProvider, fallback: TextProvider | None) -> RuleOutcome:
    """The rule `text` describes, from `provider`, or from `fallback` when the provider cannot answer."""
    notes: list[str] = []
    try:
        return _valid_rule(text, catalog, provider, notes)
    except ProviderUnavailable as failure:
        if fallback is None:
            raise
        notes.append(
            f"The language model ({provider.model}) could not answer: {failure.reason}. "
            "The local parser answered instead."
        )
        return _valid_rule(text, catalog, fallback, notes)


def _valid_rule(text: str, catalog: Catalog, provider: TextProvider, notes: list[str]) -> RuleOutcome:
    repair: Repair | None = None
    problems: tuple[str, ...] = ()
    for attempt in range(2):
        try:
            draft = provider.draft_rule(text, catalog, repair)
        except Refusal as refusal:
            return RuleOutcome(provider.name, provider.model, tuple(notes), refusal=refusal, repaired=attempt > 0)
        except InvalidOutput as invalid:
            problems, previous = (invalid.reason,), invalid.raw
        else:
            try:
                rule = parse_rule(draft, catalog)
                compile_check(rule, catalog)
            except RuleError as error:
                problems, previous = tuple(str(problem) for problem in error.problems), json.dumps({"rule": draft})
            except UnsupportedRule as error:
                problems, previous = (str(error),), json.dumps({"rule": draft})
            else:
                if attempt:
                    notes.append("The model's first rule was invalid; it was shown the problems and corrected it.")
                english = describe(rule, catalog)
                return RuleOutcome(provider.name, provider.model, tuple(notes), rule, english, repaired=attempt > 0)
        repair = Repair(previous, problems)
    return RuleOutcome(provider.name, provider.model, tuple(notes), refusal=RuleRefused(problems), repaired=True)


def compile_check(rule: Rule, catalog: Catalog) -> None:
    """Raise `UnsupportedRule` unless the rule compiles and evaluates on a snapshot of the catalog's shape."""
    _empty_evaluator(catalog).count(rule)


@lru_cache(maxsize=8)
def _empty_evaluator(catalog: Catalog) -> PolarsEvaluator:
    features = pl.DataFrame(schema=catalog.polars_schema())
    events = pl.DataFrame(schema=EMPTY_EVENTS)
    return PolarsEvaluator(features, events, now=datetime(2000, 1, 1, tzinfo=UTC), catalog=catalog)
