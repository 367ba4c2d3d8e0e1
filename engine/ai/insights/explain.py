"""Facts phrased as insights by a provider, checked number by number, with one repair and the local fallback.

The provider writes sentences with placeholders (`engine.ai.insights.placeholders`); any sentence failing
their checks (a number of its own, a placeholder that names no fact, a number not beside its group's
label, a unit printed twice, a group compared that is within chance), or a rate the answer gives without
its interval, fails the whole answer, which goes back to the provider once with the problems. Still
failing, or a language model that cannot be reached, gives way to the local composer,
with a note saying so.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from engine.ai.errors import InvalidOutput, Refusal
from engine.ai.fallback import with_fallback
from engine.ai.insights.facts import Fact
from engine.ai.insights.placeholders import Insight, by_id, fill, missing_intervals, sentence_problems
from engine.ai.provider import Repair, TextProvider


class InsightsRefused(Refusal):
    """The provider's sentences still failed the checks after one repair."""

    code = "invalid_insights"

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = tuple(problems)
        super().__init__("The insights failed the checks even after one repair: " + "; ".join(self.problems))

    def detail(self) -> dict[str, Any]:
        return {"message": str(self), "problems": list(self.problems)}


@dataclass(frozen=True)
class PhrasedInsights:
    insights: tuple[Insight, ...]
    provider: str
    model: str | None
    notes: tuple[str, ...] = ()
    repaired: bool = False


def phrase_insights(facts: Sequence[Fact], provider: TextProvider, fallback: TextProvider | None) -> PhrasedInsights:
    """Checked insights about `facts` from `provider`, or from `fallback` when it cannot give them."""
    return with_fallback(
        lambda asked, notes: _checked(facts, asked, notes), provider, fallback, InsightsRefused, "insights"
    )


def _checked(facts: Sequence[Fact], provider: TextProvider, notes: list[str]) -> PhrasedInsights:
    found = by_id(facts)
    repair: Repair | None = None
    problems: list[str] = []
    for attempt in range(2):
        try:
            sentences = provider.phrase_insights(facts, repair)
        except InvalidOutput as invalid:
            problems, previous = [invalid.reason], invalid.raw
        else:
            problems = [problem for sentence in sentences for problem in sentence_problems(sentence, found)]
            problems += missing_intervals(sentences, found)
            if not sentences:
                problems.append("there are no insights: write at least one sentence")
            if not problems:
                if attempt:
                    notes.append("The model's first insights failed the checks; it was shown why and corrected them.")
                insights = tuple(fill(sentence, found) for sentence in sentences)
                return PhrasedInsights(insights, provider.name, provider.model, tuple(notes), repaired=attempt > 0)
            previous = json.dumps({"insights": [{"text": sentence} for sentence in sentences]}, ensure_ascii=False)
        repair = Repair(previous, tuple(problems))
    raise InsightsRefused(problems)
