"""The one interface every source of AI text implements, and choosing the source from settings.

A provider drafts; it never decides. Each method answers one question in the form the product can check
(a rule's JSON, message templates), and the callers in `engine.ai.rules` and `engine.ai.messages`
validate every answer, ask for one repair when it is wrong, and fall back to the local provider when a
language model cannot be reached. The local provider needs no network or model; the OpenAI-compatible
one talks to OpenAI, Vertex AI's OpenAI endpoint, vLLM or Ollama.

Campaign insights fit the same way: their numbers are computed from the communication log first (Polars,
on the AI queue, `engine.ai.insights.facts`), and a provider only phrases the given facts, writing every
number as a placeholder that `engine.ai.insights.explain` checks and fills in.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import ClassVar

from engine.ai.insights.facts import Fact
from engine.ai.messages.brief import MessageBrief, MessageDrafts
from engine.ai.rule_draft import RuleDraft
from engine.features.catalog import Catalog


@dataclass(frozen=True)
class Repair:
    """A second chance: the provider's previous answer as it gave it, and what was wrong with it."""

    previous: str
    problems: tuple[str, ...]


class TextProvider(ABC):
    """A source of AI text. `name` and `model` are what the call log records."""

    name: ClassVar[str]
    model: str | None = None

    @abstractmethod
    def draft_rule(self, text: str, catalog: Catalog, today: date, repair: Repair | None = None) -> RuleDraft:
        """A rule for `text` as of `today` (not yet validated) with what it assumed and skipped, or a corrected
        one given `repair`.

        Raises `ProviderUnavailable` (could not answer), `InvalidOutput` (answered in the wrong form) or a
        `Refusal` (the text cannot become a rule).
        """

    @abstractmethod
    def draft_messages(self, brief: MessageBrief, repair: Repair | None = None) -> MessageDrafts:
        """Message variants for the brief, one per tone (not yet validated), or corrected ones given `repair`.

        Raises `ProviderUnavailable` or `InvalidOutput` as `draft_rule` does.
        """

    @abstractmethod
    def phrase_insights(self, facts: Sequence[Fact], repair: Repair | None = None) -> tuple[str, ...]:
        """Short sentences about the facts, every number written as a placeholder `{fact_id.key}` (not yet
        checked), or corrected ones given `repair`.

        Raises `ProviderUnavailable` or `InvalidOutput` as `draft_rule` does.
        """
