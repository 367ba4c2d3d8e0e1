"""The local provider's insight writer: picks what is notable in the facts and says it with placeholders.

In order: the overall delivery rate with its interval (and what is still on its way); who opened, clicked
and ordered after it (when anyone did); the band that did best and the one that did worst against the
campaign's rate, among those whose difference is beyond chance (`engine.ai.insights.chance`; else that no
band differs beyond chance); how the creator's other finished campaigns (on the same channel when there are
such) delivered against this one, a difference only when it is beyond chance; the main failure reason; the
main reason customers were skipped. Every number is a placeholder, so the sentences pass the same check as a
language model's.
"""

from __future__ import annotations

from collections.abc import Sequence

from engine.ai.insights.facts import Fact
from engine.ai.insights.placeholders import by_id

BAND_KINDS = ("spend", "recency", "city")


def compose_insights(facts: Sequence[Fact]) -> tuple[str, ...]:
    found = by_id(facts)
    overall = found["overall"]
    if "rate" not in overall.values:
        waiting = " {overall.awaiting} are still on their way." if overall.values["awaiting"] else ""
        return (f"None of the {{overall.messages}} messages has a delivery outcome yet.{waiting}",)
    sentences = [_overall(overall)]
    if "engagement" in found:
        sentences.append(_engaged(found["engagement"]))
    sentences += _bands([fact for fact in facts if fact.kind in BAND_KINDS])
    comparison = next((fact for fact in facts if fact.kind == "comparison" and fact.id != "others"), None)
    comparison = comparison or found.get("others")
    if comparison is not None:
        sentences.append(_compared(comparison))
    if "failure_1" in found:
        noun = _plural(found["failure_1"], "count", "message")
        sentences.append(
            f"The most common failure reason was “{{failure_1.label}}”: {{failure_1.count}} {noun}, "
            "{failure_1.share} of the failures."
        )
    if "skip_1" in found:
        skipped = f"{{skip_1.count}} {_plural(found['skip_1'], 'count', 'customer')} could not be messaged"
        if "skip_2" in found:
            sentences.append(f"{skipped} ({{skip_1.label}}): {{skip_1.share}} of those skipped.")
        else:
            sentences.append(f"{skipped}: {{skip_1.label}}.")
    return tuple(sentences)


def _overall(overall: Fact) -> str:
    sentence = (
        "{overall.delivered} of the {overall.outcomes} messages with a known outcome were delivered: "
        "a delivery rate of {overall.rate} ({overall.interval})"
    )
    if overall.values["awaiting"]:
        sentence += "; {overall.awaiting} more are still awaiting a receipt"
    return sentence + "."


def _bands(bands: list[Fact]) -> list[str]:
    if not bands:
        return []
    above = [fact for fact in bands if fact.values["versus"] == "above"]
    below = [fact for fact in bands if fact.values["versus"] == "below"]
    sentences = []
    if above:
        best = max(above, key=lambda fact: (_points(fact), fact.values["outcomes"]))
        sentences.append(
            f"{{{best.id}.label}} had a {{{best.id}.rate}} delivery rate ({{{best.id}.interval}}), "
            f"{{{best.id}.points}} above the campaign's {{overall.rate}}."
        )
    if below:
        worst = max(below, key=lambda fact: (_points(fact), fact.values["outcomes"]))
        sentences.append(
            f"{{{worst.id}.label}} had the lowest delivery rate, {{{worst.id}.rate}} ({{{worst.id}.interval}}): "
            f"{{{worst.id}.points}} below the campaign's {{overall.rate}}."
        )
    if not sentences:
        kinds = list(dict.fromkeys(fact.kind for fact in bands))
        listed = kinds[0] if len(kinds) == 1 else ", ".join(kinds[:-1]) + " or " + kinds[-1]
        sentences.append(f"No {listed} group differs beyond chance from the campaign's {{overall.rate}} delivery rate.")
    return sentences


def _engaged(fact: Fact) -> str:
    parts = []
    if fact.values["opened"] or fact.values["clicked"]:
        customers, clicks = _plural(fact, "opened", "customer"), _plural(fact, "clicks", "click")
        parts.append(
            f"was opened by {{engagement.opened}} {customers}, and {{engagement.clicked}} clicked a link "
            f"({{engagement.clicks}} {clicks} in all)"
        )
    if fact.values["conversions"]:
        orders = _plural(fact, "conversions", "order")
        parts.append(
            f"{'it ' if parts else ''}had {{engagement.conversions}} {orders} worth {{engagement.revenue}} "
            "attributed to it (the last message before each)"
        )
    return "{engagement.label} " + "; ".join(parts) + "."


def _compared(fact: Fact) -> str:
    campaigns = _plural(fact, "campaigns", "campaign")
    delivered = (
        f"{{{fact.id}.label}} delivered {{{fact.id}.rate}} ({{{fact.id}.interval}}) over {{{fact.id}.campaigns}} "
        f"{campaigns}"
    )
    if "points" not in fact.values:
        return f"{delivered}, no different beyond chance from this campaign's {{overall.rate}}."
    return f"{delivered}, {{{fact.id}.points}} {{{fact.id}.versus}} this campaign's {{overall.rate}}."


def _points(fact: Fact) -> int:
    points = fact.values["points"]
    assert isinstance(points, int)
    return points


def _plural(fact: Fact, key: str, noun: str) -> str:
    return noun if fact.values[key] == 1 else f"{noun}s"
