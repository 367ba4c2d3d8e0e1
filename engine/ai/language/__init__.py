"""The local provider's reader of plain language: text in, a rule of the segment language out.

    parse_text("customers who spent over ₹10K but ordered fewer than 3 times", base_catalog())
    → {"and": [{"field": "total_spend", "op": ">", "value": 10000},
               {"field": "order_count", "op": "<", "value": 3}]}

No model and no network: `lexicon` holds the words (amounts, comparisons, windows, places, events,
synonyms of catalog features), `values` reads numbers, windows, dates and places, `clauses` reads one
condition, `grammar` combines conditions with and / or / not, and `nodes` builds the rule's JSON. What it
cannot read it refuses, naming the words (`NotUnderstood`), rather than guess.
"""

from __future__ import annotations

from engine.ai.errors import NotUnderstood, Unparsed
from engine.ai.language.clauses import Clauses
from engine.ai.language.grammar import Grammar
from engine.features.catalog import Catalog
from engine.segments import Rule, RuleError, parse_rule

NOTHING_TO_TEST = "no condition found: say what these customers did or have, e.g. “spent over ₹10K”"


def parse_text(text: str, catalog: Catalog) -> Rule:
    """The rule `text` describes, checked against `catalog`; `NotUnderstood` naming the words it could not read."""
    grammar = Grammar(text, Clauses(text, catalog))
    node = grammar.read()
    if grammar.problems:
        raise NotUnderstood(text, grammar.problems)
    if node is None:
        raise NotUnderstood(text, [Unparsed(0, len(text), text, NOTHING_TO_TEST)])
    try:
        return parse_rule(node, catalog)
    except RuleError as error:  # a reading the catalog refuses is not understood either
        raise NotUnderstood(text, [Unparsed(0, len(text), text, str(error))]) from None


__all__ = ["NotUnderstood", "Unparsed", "parse_text"]
