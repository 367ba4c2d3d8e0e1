"""The local provider's reader of plain language: text in, a rule of the segment language out.

    parse_text("customers who spent over ₹10K but ordered fewer than 3 times", base_catalog(), today)
    → {"and": [{"field": "total_spend", "op": ">", "value": 10000},
               {"field": "order_count", "op": "<", "value": 3}]}

No model and no network: `spelling` first mends typos and reads Hinglish into English (keeping where each
word was), `lexicon` holds the words (amounts, comparisons, windows, places, events, synonyms of catalog
features), `terms` the team's vague words ("VIP", "lapsed") and what they mean, `values` reads numbers,
windows, dates and places, `clauses` reads one condition, `grammar` combines conditions with and / or / not,
and `nodes` builds the rule's JSON.

It understands or asks, and never fails silently: the rule is built from what was understood, a vague word
becomes the team's definition and is said as an assumption, and words it could not read are listed as
skipped with why. A leading label ("loyal customers: ...") is read as the segment's name unless it names a
condition ("Hyderabad shoppers: ..."). Only a request with no condition in it at all is refused whole
(`NotUnderstood`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from engine.ai.errors import NotUnderstood, Unparsed
from engine.ai.language.clauses import Clauses
from engine.ai.language.grammar import Grammar
from engine.ai.language.nodes import Node, join
from engine.ai.language.spelling import mend
from engine.ai.language.terms import Terms, load_terms
from engine.ai.rule_draft import Assumption
from engine.features.catalog import Catalog
from engine.segments import Rule, RuleError, parse_rule

NOTHING_TO_TEST = "no condition found: say what these customers did or have, e.g. “spent over ₹10K”"
_LABEL = re.compile(r"\s*(?P<label>[^:—–\n]{1,60}?)\s*(?::|—|–|\s-\s)\s*(?=\S)")


@dataclass(frozen=True)
class Reading:
    """What the reader made of a request: the rule, the assumptions it made, the words it skipped, and notes."""

    rule: Rule
    assumptions: tuple[Assumption, ...] = ()
    skipped: tuple[Unparsed, ...] = ()
    notes: tuple[str, ...] = ()


def parse_text(text: str, catalog: Catalog, today: date, terms: Terms | None = None) -> Reading:
    """The rule `text` describes as of `today`, checked against `catalog`; `NotUnderstood` when nothing in it is
    a condition. `terms` are the team's vague words (the built-in ones when None)."""
    mended = mend(text)
    clauses = Clauses(mended.text, catalog, today, terms or load_terms())
    node, grammar, label_note = _read_labelled(mended.text, clauses)
    skipped = tuple(mended.original(problem) for problem in grammar.problems)
    if node is None:
        raise NotUnderstood(text, skipped or [Unparsed(0, len(text), text, NOTHING_TO_TEST)])
    try:
        rule = parse_rule(node, catalog)
    except RuleError as error:  # a reading the catalog refuses is not understood either
        raise NotUnderstood(text, [Unparsed(0, len(text), text, str(error))]) from None
    assumptions = []
    for start, end, meaning in grammar.assumed:
        words = mended.original(Unparsed(start, end, "", meaning))
        assumptions.append(Assumption(words.text, meaning))
    notes = (*mended.notes(), *label_note, *dict.fromkeys(grammar.notes))
    return Reading(rule, tuple(dict.fromkeys(assumptions)), skipped, notes)


def _read_labelled(text: str, clauses: Clauses) -> tuple[Node | None, Grammar, tuple[str, ...]]:
    """The rule with a leading label ("loyal customers: ...") read apart: of the label, only conditions it names
    count, not vague words (the rest defines them) nor words that are only a name ("Diwali push")."""
    label = _LABEL.match(text)
    if label is not None:
        body_only = " " * label.end() + text[label.end() :]
        body = Grammar(body_only, clauses.over(body_only))
        node = body.read()
        if node is not None:
            label_only = text[: label.end("label")] + " " * (len(text) - label.end("label"))
            named = Grammar(label_only, clauses.over(label_only, with_terms=False)).read()
            note = () if named is not None else (f"“{label.group('label')}” was taken as the segment's name.",)
            return join("and", named, node), body, note
    whole = Grammar(text, clauses)
    return whole.read(), whole, ()


__all__ = ["NotUnderstood", "Reading", "Unparsed", "parse_text"]
