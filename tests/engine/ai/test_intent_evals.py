"""The objective reader's evaluation: a held-out part nobody tuned the reader on, scored apart from the
development part, and the reader's level on both."""

from __future__ import annotations

from collections import Counter

from engine.ai.evals.intents import IntentReport, evaluate_intents, load_intent_cases
from engine.ai.local import LocalProvider
from engine.ai.messages.brief import MessageBrief
from engine.ai.messages.patterns import PATTERNS
from engine.ai.messages.suggest import suggest_messages
from engine.cli.ai import intent_scores
from engine.features.catalog import base_catalog


def test_the_set_has_a_held_out_part_of_distinct_objectives_for_every_intent() -> None:
    cases = load_intent_cases()
    held_out = [case for case in cases if case.held_out]

    assert len(held_out) >= 75
    assert len({case.text.lower() for case in cases}) == len(cases)  # no objective in both parts
    assert {case.intent for case in cases} == set(PATTERNS)
    assert min(Counter(case.intent for case in held_out).values()) >= 5


def test_the_local_reader_reads_the_held_out_objectives_it_was_not_tuned_on() -> None:
    report = evaluate_intents(load_intent_cases())

    held_right, held_total = report.tally(held_out=True)
    dev_right, dev_total = report.tally(held_out=False)
    assert held_right / held_total >= 0.9
    assert dev_right / dev_total >= 0.95, [r.case.text for r in report.results if not r.case.held_out and not r.correct]


def test_xeno_ai_eval_reports_the_development_and_held_out_scores_apart() -> None:
    report = evaluate_intents(load_intent_cases())
    table = intent_scores()

    [development], [held_out] = (column._cells for column in table.columns[1:])
    assert development == "{}/{} ({:.1%})".format(*report.tally(held_out=False), _share(report, held_out=False))
    assert held_out == "{}/{} ({:.1%})".format(*report.tally(held_out=True), _share(report, held_out=True))


def _share(report: IntentReport, held_out: bool) -> float:
    right, total = report.tally(held_out=held_out)
    return right / total


def test_thanking_the_best_customers_is_a_thank_you_not_an_upsell() -> None:
    brief = MessageBrief("Thank our best customers with 15% off", "email", base_catalog(), "Kurta & Co")

    suggestions = suggest_messages(brief, LocalProvider(), None)

    assert suggestions.intent == "thank_you"
    assert all("thank" in variant.body.lower() and "15% off" in variant.body for variant in suggestions.variants)
    assert not any("upgrade" in variant.body.lower() for variant in suggestions.variants)
