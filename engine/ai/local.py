"""The local provider: plain logic, no network and no model, always available and the fallback of the others.

Rules come from the plain-language reader (`engine.ai.language`); messages from the pattern composer
(`engine.ai.messages.compose`); insights from the facts composer (`engine.ai.insights.compose`). All are
deterministic, so a repair request gets the same answer: the reader only ever builds rules from the
catalog it is given.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import ClassVar

from engine.ai.insights.compose import compose_insights
from engine.ai.insights.facts import Fact
from engine.ai.language import parse_text
from engine.ai.language.terms import Terms
from engine.ai.messages.brief import MessageBrief, MessageDrafts
from engine.ai.messages.compose import compose_messages
from engine.ai.provider import Repair, TextProvider
from engine.ai.rule_draft import RuleDraft
from engine.features.catalog import Catalog
from engine.segments import dump_rule


class LocalProvider(TextProvider):
    name: ClassVar[str] = "local"
    model = None

    def __init__(self, terms: Terms | None = None) -> None:
        self.terms = terms  # the team's vague words; None: the built-in ones

    def draft_rule(self, text: str, catalog: Catalog, today: date, repair: Repair | None = None) -> RuleDraft:
        reading = parse_text(text, catalog, today, self.terms)
        return RuleDraft(dump_rule(reading.rule), reading.assumptions, reading.skipped, reading.notes)

    def draft_messages(self, brief: MessageBrief, repair: Repair | None = None) -> MessageDrafts:
        return compose_messages(brief)

    def phrase_insights(self, facts: Sequence[Fact], repair: Repair | None = None) -> tuple[str, ...]:
        return compose_insights(facts)
