"""Plain language to a segment rule that is valid, or to a clear refusal: never an invalid rule.

The provider drafts from what it understood, saying what it assumed (a team term for a vague word) and what
it skipped; `parse_rule(..., catalog)` decides. A draft that does not parse or fit the catalog
goes back to the provider once with the problems (the repair); still invalid, it is refused with them.
A rule must also compile: it is evaluated once on an empty snapshot of the catalog's shape. A language
model that cannot be reached gives way to the local provider, and the outcome says so in its notes.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from functools import lru_cache
from typing import Any

import polars as pl

from engine.ai.errors import InvalidOutput, ProviderUnavailable, Refusal, RuleRefused, Unparsed
from engine.ai.provider import Repair, TextProvider
from engine.ai.rule_draft import Assumption
from engine.features.catalog import Catalog
from engine.segments import Rule, RuleError, UnsupportedRule, describe, dump_rule, parse_rule
from engine.segments.polars_backend import PolarsEvaluator

EMPTY_EVENTS = pl.Schema(
    {"customer_id": pl.Int64(), "name": pl.String(), "occurred_at": pl.Datetime("us", "UTC"), "properties": pl.String()}
)


@dataclass(frozen=True)
class RuleOutcome:
    """What came of a request: a valid rule with its English reading, what it assumed and skipped, or the
    refusal; who answered; notes."""

    provider: str
    model: str | None
    notes: tuple[str, ...] = ()
    rule: Rule | None = None
    english: str | None = None
    refusal: Refusal | None = None
    repaired: bool = False
    assumptions: tuple[Assumption, ...] = ()
    skipped: tuple[Unparsed, ...] = ()

    @property
    def questions(self) -> tuple[str, ...]:
        """What the user should confirm: each assumption, and each stretch of words left out of the rule."""
        left_out = (f"I left out “{item.text}” ({item.reason}). What did you mean by it?" for item in self.skipped)
        return (*(assumption.question for assumption in self.assumptions), *left_out)

    def output(self) -> dict[str, Any] | None:
        """The outcome as the call log keeps it."""
        if self.rule is None:
            return None
        return {
            "rule": dump_rule(self.rule),
            "english": self.english,
            "repaired": self.repaired,
            "assumptions": [asdict(assumption) for assumption in self.assumptions],
            "skipped": [asdict(item) for item in self.skipped],
            "questions": list(self.questions),
        }


def suggest_rule(
    text: str, catalog: Catalog, provider: TextProvider, fallback: TextProvider | None, today: date
) -> RuleOutcome:
    """The rule `text` describes as of `today`, from `provider`, or from `fallback` when the provider cannot answer."""
    notes: list[str] = []
    try:
        return _valid_rule(text, catalog, provider, notes, today)
    except ProviderUnavailable as failure:
        if fallback is None:
            raise
        notes.append(
            f"The language model ({provider.model}) could not answer: {failure.reason}. "
            "The local parser answered instead."
        )
        return _valid_rule(text, catalog, fallback, notes, today)


def _valid_rule(text: str, catalog: Catalog, provider: TextProvider, notes: list[str], today: date) -> RuleOutcome:
    repair: Repair | None = None
    problems: tuple[str, ...] = ()
    for attempt in range(2):
        try:
            draft = provider.draft_rule(text, catalog, today, repair)
        except Refusal as refusal:
            return RuleOutcome(provider.name, provider.model, tuple(notes), refusal=refusal, repaired=attempt > 0)
        except InvalidOutput as invalid:
            problems, previous = (invalid.reason,), invalid.raw
        else:
            try:
                rule = parse_rule(draft.rule, catalog)
                compile_check(rule, catalog)
            except RuleError as error:
                problems = tuple(str(problem) for problem in error.problems)
                previous = json.dumps({"rule": draft.rule})
            except UnsupportedRule as error:
                problems, previous = (str(error),), json.dumps({"rule": draft.rule})
            else:
                if attempt:
                    notes.append("The model's first rule was invalid; it was shown the problems and corrected it.")
                return RuleOutcome(
                    provider.name,
                    provider.model,
                    (*notes, *draft.notes),
                    rule,
                    describe(rule, catalog),
                    repaired=attempt > 0,
                    assumptions=draft.assumptions,
                    skipped=draft.skipped,
                )
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
