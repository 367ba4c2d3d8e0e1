"""Insight sentences refer to facts by placeholder (`{spend_high.rate}`); here they are checked and filled in.

This is what keeps every number in an insight a computed one, said of the group it was computed for:
- A sentence may say numbers only through placeholders naming a fact and one of its values; a digit, a
  number written in words ("ninety", "twice", "percent") or a "%" anywhere else makes it invalid, and so
  does a placeholder naming no fact value or a sentence citing no fact at all.
- A fact's values may appear only in a sentence that also names the fact's group with `{id.label}`, so a
  real number cannot be said of the wrong group ("{spend_high.label} had a {spend_low.rate} delivery
  rate"). The one exception is the campaign itself (the `overall` fact): every insight is about it, so
  "the campaign's {overall.rate}" needs no label. The sender's other campaigns are no exception: "your
  other finished campaigns" and "your other finished SMS campaigns" are different groups, and so are
  the failure reasons.
- A group whose difference from the campaign is within chance (`versus` is "within chance of", and it
  has no `points`) may be described, but not compared: a sentence citing it with words that rank or
  compare ("lowest", "above", "better", "outperformed", "stood out", ...) is refused, so no insight
  states a difference the campaign's test did not find beyond chance.
- A rate is never said without how sure it is: when the insights give a fact's `rate`, one of them also
  gives its `interval` ("79–88% with 95% confidence"), once for all (`missing_intervals`).
- Values carry their unit: rates and shares print as "90%", gaps as "11 points" (`Fact.printed`). A unit
  written right after a placeholder ("{overall.rate}%", "{spend_high.points} points") would be printed
  twice, so it is refused.
Filling substitutes each placeholder with the value as printed, and the insight keeps the ids of the
facts it cites.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from engine.ai.insights.facts import WITHIN_CHANCE, Fact

PLACEHOLDER = re.compile(r"\{([a-z][a-z0-9_]*)\.([a-z_]+)\}")
IMPLICIT_SUBJECT_KINDS = frozenset({"overall"})  # facts whose values need no label beside them
_UNIT_AFTER_PLACEHOLDER = re.compile(
    PLACEHOLDER.pattern + r"\s*(?i:(%|per\s*cent\b|percent(?:age)?(?:\s+points?)?\b|pct\b|pp\b|pts?\b|points?\b))"
)
_COMPARING = re.compile(
    r"\b(?:above|below|higher|lower|highest|lowest|best|worst|better|worse|more|less|fewer|most|least|than"
    r"|top|bottom|ahead|behind|beat|beats|led|lead|leads|trail\w*|lag\w*|outperform\w*|underperform\w*"
    r"|exceed\w*|stood out|stands? out|strong\w*|weak\w*|poor\w*|notabl\w*|significant\w*)\b",
    re.IGNORECASE,
)
_DIGIT = re.compile(r"\d+")
_PERCENT_SIGN = re.compile(r"%")
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
    problems += _unnamed_groups(sentence, cited, facts)
    problems += _chance_compared(sentence, cited, facts)
    for fact_id, key, unit in _UNIT_AFTER_PLACEHOLDER.findall(sentence):
        problems.append(
            f"“{sentence}” writes “{unit}” after {{{fact_id}.{key}}}, but placeholders print with their unit "
            "(a rate as “90%”, a gap as “11 points”): leave the unit out"
        )
    rest = PLACEHOLDER.sub(" ", _UNIT_AFTER_PLACEHOLDER.sub(" ", sentence))
    for pattern in (_DIGIT, _NUMBER_WORDS, _PERCENT_SIGN):
        for number in pattern.findall(rest):
            problems.append(
                f"“{sentence}” has a number of its own (“{number}”): every number must be a placeholder such as "
                "{overall.rate}"
            )
    if "{" in rest or "}" in rest:
        problems.append(f"“{sentence}” has a brace that is not a placeholder of the form {{fact_id.key}}")
    return problems


def _unnamed_groups(sentence: str, cited: list[tuple[str, str]], facts: Mapping[str, Fact]) -> list[str]:
    """A problem for each fact whose values the sentence gives without naming the fact's group."""
    named = {fact_id for fact_id, key in cited if key == "label"}
    problems = []
    for fact_id in dict.fromkeys(fact_id for fact_id, key in cited if key != "label"):
        fact = facts.get(fact_id)
        if fact is None or fact.kind in IMPLICIT_SUBJECT_KINDS or fact_id in named:
            continue
        problems.append(
            f"“{sentence}” gives numbers of “{fact_id}” without naming its group: a sentence that uses "
            f"{{{fact_id}.…}} must also say who they are about with {{{fact_id}.label}}"
        )
    return problems


def missing_intervals(sentences: Sequence[str], facts: Mapping[str, Fact]) -> list[str]:
    """A problem for each fact whose rate the sentences give but whose interval none of them does."""
    cited = {(fact_id, key) for sentence in sentences for fact_id, key in PLACEHOLDER.findall(sentence)}
    return [
        f"the insights give {{{fact_id}.rate}} but not how sure it is: give {{{fact_id}.interval}} with it once"
        for fact_id in sorted({fact_id for fact_id, key in cited if key == "rate"})
        if fact_id in facts and "interval" in facts[fact_id].printed and (fact_id, "interval") not in cited
    ]


def _chance_compared(sentence: str, cited: list[tuple[str, str]], facts: Mapping[str, Fact]) -> list[str]:
    """A problem for each group within chance of the campaign that the sentence compares or ranks."""
    words = _COMPARING.findall(PLACEHOLDER.sub(" ", sentence))
    if not words:
        return []
    problems = []
    for fact_id in dict.fromkeys(fact_id for fact_id, _ in cited):
        fact = facts.get(fact_id)
        if fact is not None and fact.values.get("versus") == WITHIN_CHANCE:
            problems.append(
                f"“{sentence}” compares “{fact_id}” (“{words[0]}”), but its difference from the campaign is within "
                f"chance: say that {{{fact_id}.label}} did not differ beyond chance, or leave it out"
            )
    return problems


def fill(sentence: str, facts: Mapping[str, Fact]) -> Insight:
    """The sentence with its placeholders replaced by the printed values (checked with `sentence_problems` first)."""
    text = PLACEHOLDER.sub(lambda match: facts[match[1]].printed[match[2]], sentence).strip()
    cited = tuple(dict.fromkeys(fact_id for fact_id, _ in PLACEHOLDER.findall(sentence)))
    return Insight(text[:1].upper() + text[1:], cited)


def by_id(facts: Sequence[Fact]) -> dict[str, Fact]:
    return {fact.id: fact for fact in facts}
