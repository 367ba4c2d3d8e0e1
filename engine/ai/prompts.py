"""What a language model is told, and the JSON Schemas that hold its answers to the shape we can check.

The rule schema is the rule language's own (`rule_json_schema`), wrapped in an object (`{"rule": ...,
"cannot": ...}`: strict structured output needs an object at the root, and "cannot" lets the model
decline instead of inventing) and made strict: every property required, optional ones nullable, no
defaults. Field names are constrained to the catalog's. The system prompt lists the catalog (name, type,
meaning, operators, examples) so the model knows what each field holds.

For insights the model is given the computed facts with their printed values and must write every number
as a placeholder naming one of them; it never sees a way to state a number of its own.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date
from typing import Any

from engine.ai.insights.facts import Fact
from engine.ai.language.lexicon import KNOWN_EVENTS
from engine.ai.language.terms import Terms
from engine.ai.messages.brief import MessageBrief
from engine.ai.messages.offer import offer_facts
from engine.channels import get_channel
from engine.features.catalog import Catalog
from engine.segments import rule_json_schema
from engine.segments.validation import OPERATORS_BY_TYPE

_NULL = {"type": "null"}


def strict(schema: Any) -> Any:
    """The schema as OpenAI's strict structured output accepts it: all properties required, optional ones
    nullable, no defaults. An answer to it, with nulls dropped (`drop_nulls`), is an answer to the original."""
    if isinstance(schema, list):
        return [strict(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    shaped = {
        key: strict(value) for key, value in schema.items() if key not in ("default", "title", "properties", "$defs")
    }
    if "$defs" in schema:
        shaped["$defs"] = {name: strict(definition) for name, definition in schema["$defs"].items()}
    if "properties" in schema:
        properties = {name: strict(value) for name, value in schema["properties"].items()}
        optional = set(properties) - set(schema.get("required", ()))
        shaped["properties"] = {
            name: _nullable(value) if name in optional else value for name, value in properties.items()
        }
        shaped["required"] = list(properties)
        shaped["additionalProperties"] = False
    return shaped


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    if "anyOf" in schema:
        return schema if _NULL in schema["anyOf"] else {**schema, "anyOf": [*schema["anyOf"], _NULL]}
    return {"anyOf": [schema, _NULL]}


def drop_nulls(data: Any) -> Any:
    """The answer without the nulls strict output puts for properties it leaves unset."""
    if isinstance(data, dict):
        return {key: drop_nulls(value) for key, value in data.items() if value is not None}
    if isinstance(data, list):
        return [drop_nulls(item) for item in data]
    return data


def rule_answer_schema(catalog: Catalog) -> dict[str, Any]:
    """`{"rule": <rule or null>, "cannot": <why not, or null>, "assumed": [...], "skipped": [...]}`, with fields
    limited to the catalog's: what the model took a vague word to mean, and the words it left out and why."""
    rule = rule_json_schema()
    definitions = {name: strict(definition) for name, definition in rule.pop("$defs").items()}
    definitions["Condition"]["properties"]["field"] = {"type": "string", "enum": [feature.name for feature in catalog]}
    return {
        "type": "object",
        "properties": {
            "rule": {"anyOf": [*rule["anyOf"], _NULL]},
            "cannot": {
                "anyOf": [{"type": "string"}, _NULL],
                "description": "Only when nothing in the request can be expressed with these fields and events: why.",
            },
            "assumed": _pairs("words", "meaning", "Vague words read as a team term, and the meaning used."),
            "skipped": _pairs("words", "why", "Words left out of the rule, and why."),
        },
        "required": ["rule", "cannot", "assumed", "skipped"],
        "additionalProperties": False,
        "$defs": definitions,
    }


def _pairs(first: str, second: str, description: str) -> dict[str, Any]:
    item = {
        "type": "object",
        "properties": {first: {"type": "string"}, second: {"type": "string"}},
        "required": [first, second],
        "additionalProperties": False,
    }
    return {"type": "array", "items": item, "description": description}


def catalog_lines(catalog: Catalog) -> str:
    """One line per feature: name, type, label, meaning, operators and examples."""
    lines = []
    for feature in catalog:
        operators = ", ".join(sorted(OPERATORS_BY_TYPE[feature.type]))
        examples = (
            f" Examples: {', '.join(json.dumps(example) for example in feature.examples)}." if feature.examples else ""
        )
        meaning = f"{feature.description} Operators: {operators}.{examples}"
        lines.append(f"- {feature.name} ({feature.type}, “{feature.label}”): {meaning}")
    return "\n".join(lines)


RULE_LANGUAGE = """\
A rule is JSON, one of:
  {"and": [rule, ...]}  {"or": [rule, ...]}  {"not": rule}
  {"field": F, "op": OP, "value": V}   a test of a customer feature F from the catalog below
  {"event": E, "op": "at least" | "at most" | "exactly", "count": N, "within_days": D, "where": [...]}
  {"never": E, "within_days": D, "where": [...]}     no such event (in the last D days)
"where" filters event properties: {"property": P, "op": OP, "value": V}. within_days is optional.
"between" takes [low, high]; "in" / "not in" take a list; "is set" / "is not set" take no value.
Time tests on datetime fields: "within last days" (value: N days) and "more than days ago" (value: N days).
A condition on a missing value is false; "not" is the plain opposite."""

RULE_GUIDANCE = """\
Write amounts as plain numbers in the store's currency: ₹10K is 10000, Rs 1.5 lakh is 150000, 2 crore is
20000000, $2M is 2000000. Months are 30 days, a quarter 90, a year 365. For spend or order counts over the
last 30, 90 or 365 days use the windowed features (spend_30d, orders_90d, ...); for "ordered in the last N
days" use last_order_at "within last days"; for "inactive / lapsed for N days" use last_order_at "more than
days ago". "Within the last N days" means at most N whole days ago. "Visits" are orders. Dates counted from
today ("this month", "since March", "since Diwali") become fixed dates. City names as the data writes them
(Mumbai, Delhi, Bengaluru); countries as ISO codes (IN, GB). Read Hinglish ("Mumbai wale customers jinhone
5000 se zyada kharida": in Mumbai, spent over 5000) and typos as meant. A leading label ("loyal customers:
...") names the segment; only conditions it states count.
Use only the fields listed. A vague word that is one of the team's terms below means that term's rule: use
it and list it in "assumed" with the term's meaning. Build the rule from what you understood and list the
words you could not express in "skipped" with why (a field, event or window that does not exist); never
guess a threshold that is neither said nor a team term. Only when nothing at all can be expressed, set
"rule" to null and say why in "cannot"."""


def rule_system_prompt(catalog: Catalog, terms: Terms, today: date, events: Sequence[str] = KNOWN_EVENTS) -> str:
    team_terms = "\n".join(
        f"- {', '.join(term.words)}: {term.meaning}: {json.dumps(term.rule, ensure_ascii=False)}"
        for term in terms.terms
    )
    return (
        "You turn a marketer's description of customers into a segment rule of Xeno CRM.\n\n"
        f"{RULE_LANGUAGE}\n\nCatalog of customer features:\n{catalog_lines(catalog)}\n\n"
        f"Events recorded: {', '.join(events)}.\n\nThe team's terms:\n{team_terms}\n\nToday is {today.isoformat()}.\n\n"
        f"{RULE_GUIDANCE}\n\n"
        'Answer with JSON only: {"rule": <rule or null>, "cannot": <reason or null>, "assumed": '
        '[{"words", "meaning"}], "skipped": [{"words", "why"}]}.'
    )


def repair_prompt(problems: Sequence[str], answer: str = "a valid rule") -> str:
    listed = "\n".join(f"- {problem}" for problem in problems)
    return f"That answer is not {answer}:\n{listed}\nAnswer again, in the same JSON form, with the problems fixed."


def message_answer_schema(variants: int) -> dict[str, Any]:
    """`{"variants": [{"tone", "subject", "body"}, ...]}` with exactly `variants` items."""
    variant = {
        "type": "object",
        "properties": {
            "tone": {"type": "string"},
            "subject": {"anyOf": [{"type": "string"}, _NULL], "description": "E-mail only; null for SMS."},
            "body": {"type": "string"},
        },
        "required": ["tone", "subject", "body"],
        "additionalProperties": False,
    }
    return {
        "type": "object",
        "properties": {"variants": {"type": "array", "items": variant, "minItems": variants, "maxItems": variants}},
        "required": ["variants"],
        "additionalProperties": False,
    }


def message_system_prompt(brief: MessageBrief) -> str:
    variables = "\n".join(f"- {feature.name}: {feature.label} ({feature.type})" for feature in brief.catalog)
    channel = get_channel(brief.channel).writing
    return (
        f"You write marketing messages for the brand “{brief.brand}”. Write one variant for each tone, in this "
        f"order: {', '.join(brief.tones)}.\n\n"
        "Each subject and body is a template: plain text, where {{ feature }} inserts a customer's feature and "
        '{{ feature | default("fallback") }} gives a fallback when it is unset, e.g. {{ first_name | default("friend") '
        "}}. Use only these features:\n"
        f"{variables}\n\n{channel}\n"
        "Never invent facts the objective does not state: no prices, discounts, codes or dates of your own. "
        "Every variant states each fact of the objective's offer as the objective says it: the same amount or "
        "percentage with the same qualifier (“up to 40% off” is not “40% off”), the same product, code and "
        "date; never widen it (“on everything”)."
    )


def message_user_prompt(brief: MessageBrief) -> str:
    audience = f"\nAudience: {brief.audience.summary('')}" if brief.audience else ""
    facts = ", ".join(f"“{fact.said}”" for fact in offer_facts(brief.objective))
    kept = f"\nEvery variant must state, unchanged: {facts}" if facts else ""
    return f"Objective: {brief.objective}\nChannel: {brief.channel}{audience}{kept}"


def insight_answer_schema() -> dict[str, Any]:
    """`{"insights": [{"text": ...}, ...]}`: one to six sentences."""
    sentence = {
        "type": "object",
        "properties": {"text": {"type": "string", "description": "One sentence; numbers only as placeholders."}},
        "required": ["text"],
        "additionalProperties": False,
    }
    return {
        "type": "object",
        "properties": {"insights": {"type": "array", "items": sentence, "minItems": 1, "maxItems": 6}},
        "required": ["insights"],
        "additionalProperties": False,
    }


INSIGHT_RULES = """\
You write short insights for a marketer about how one campaign's messages were delivered, from facts
computed for you. Each fact has an id, a label and values; a delivery rate is delivered / (delivered +
failed). Write two to five plain sentences about what matters most: how the campaign did overall, the
groups of customers that did notably better or worse than the campaign, how it compares with the
sender's other campaigns, and the main failure reasons.

Numbers: never write a number, a percentage or a number word yourself. Every number, and every label,
goes in as a placeholder {fact_id.key} that is replaced by the fact's printed value, e.g.
"{spend_high.label} had a {spend_high.rate} delivery rate, {spend_high.points} {spend_high.versus} the
campaign's {overall.rate}." becomes "Customers who spent over ₹10,000 had a 95% delivery rate, 8 points
above the campaign's 87%." A fact's "points" and "versus" compare its rate with this campaign's: the
fact's group is {id.points} {id.versus} the campaign (for the sender's other campaigns too). A group has
"points" only when its difference is beyond chance (tested, corrected for the number of groups); a group
whose "versus" is "within chance of" did not differ: never rank or compare it (no "lowest", "above",
"better"), at most say it did not differ beyond chance. Each rate has an "interval" ("80–87% with 95%
confidence"): give it with the rates you state. Use only the facts and keys listed. Every sentence cites
at least one fact.
A sentence that uses a fact's values names that fact's group with its {id.label} too (only the campaign's
own values, such as {overall.rate}, need no label), so every number is said of the group it was computed for.
Values print with their unit ("95%", "8 points"): never write %, percent or points after a placeholder.
Answer with JSON only: {"insights": [{"text": ...}, ...]}."""


def insight_user_prompt(facts: Sequence[Fact]) -> str:
    listed = [{"id": fact.id, "kind": fact.kind, "values": fact.printed} for fact in facts]
    return "Facts:\n" + json.dumps(listed, ensure_ascii=False, indent=1)
