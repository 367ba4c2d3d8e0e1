"""Insight sentences refer to facts by placeholder (`{spend_high.rate}`); here they are checked and filled in.

This is what keeps every number in an insight a computed one. A sentence may say numbers only through
placeholders naming a fact and one of its values; a digit, or a number written in words ("ninety",
"twice", "percent"), anywhere else makes the sentence invalid, and so does a placeholder naming no fact
value or a sentence citing no fact at all. Filling substitutes each placeholder with the value as
printed (`Fact.printed`), and the insight keeps the ids of the facts it cites.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from engine.ai.insights.facts import Fact

PLACEHOLDER = re.compile(r"\{([a-z][a-z0-9_]*)\.([a-z_]+)\}")
_DIGIT = re.compile(r"\d+")
_NUMBER_WORDS = re.compile(
    r"\b(?:two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|sixteen"
    r"|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety|hundreds?"
    r"|thousands?|millions?|billions?|lakhs?|crores?|percent|per cent|percentage|twice|double|triple|half|dozens?)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Insight:
    """A finished sentence, and the ids of the facts its numbers come from."""

    text: str
    fact_ids: tuple[str, ...]


def sentence_problems(sentence: str, facts: Mapping[str, Fact]) -> list[str]:
    """What is wrong with a sentence written with placeholders (nothing, for a usable one)."""
    problems = []
    cited = PLACEHOLDER.findall(sentence)
    for fact_id, key in cited:
        fact = facts.get(fact_id)
        if fact is None:
            problems.append(f"“{sentence}” refers to {{{fact_id}.{key}}}, but there is no fact “{fact_id}”")
        elif key not in fact.printed:
            keys = ", ".join(fact.printed)
            problems.append(f"“{sentence}” refers to {{{fact_id}.{key}}}, but fact “{fact_id}” has only: {keys}")
    if not cited:
        problems.append(f"“{sentence}” cites no fact: state what it says with placeholders")
    rest = PLACEHOLDER.sub(" ", sentence)
    for pattern in (_DIGIT, _NUMBER_WORDS):
        for number in pattern.findall(rest):
            problems.append(
                f"“{sentence}” has a number of its own (“{number}”): every number must be a placeholder such as "
                "{overall.rate}"
            )
    if "{" in rest or "}" in rest:
        problems.append(f"“{sentence}” has a brace that is not a placeholder of the form {{fact_id.key}}")
    return problems


def fill(sentence: str, facts: Mapping[str, Fact]) -> Insight:
    """The sentence with its placeholders replaced by the printed values (checked with `sentence_problems` first)."""
    text = PLACEHOLDER.sub(lambda match: facts[match[1]].printed[match[2]], sentence).strip()
    cited = tuple(dict.fromkeys(fact_id for fact_id, _ in PLACEHOLDER.findall(sentence)))
    return Insight(text[:1].upper() + text[1:], cited)


def by_id(facts: Sequence[Fact]) -> dict[str, Fact]:
    return {fact.id: fact for fact in facts}
