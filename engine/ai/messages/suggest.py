"""Message suggestions that can be used as they are: every variant checked, at least two of them.

The provider drafts one variant per tone; each is checked (`check_message`). Variants that fail are
dropped; when fewer than two pass, the provider is shown the problems once. A language model that cannot
be reached, or whose variants still fail, gives way to the local composer, with a note saying so.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

from engine.ai.errors import InvalidOutput, Refusal
from engine.ai.fallback import with_fallback
from engine.ai.messages.brief import MessageBrief
from engine.ai.messages.check import CheckedMessage, MessageProblem, check_message
from engine.ai.messages.intents import read_objective
from engine.ai.provider import Repair, TextProvider

MINIMUM_VARIANTS = 2


class NoUsableMessages(Refusal):
    """Not even the local composer could write two usable variants (say, a brand name too long for an SMS)."""

    code = "no_usable_messages"

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("No two message variants passed the checks: " + "; ".join(problems))

    def detail(self) -> dict[str, Any]:
        return {"message": str(self), "problems": self.problems}


@dataclass(frozen=True)
class MessageSuggestions:
    variants: tuple[CheckedMessage, ...]
    intent: str
    provider: str
    model: str | None
    notes: tuple[str, ...] = ()

    def output(self) -> dict[str, Any]:
        """The suggestions as the call log keeps them."""
        return {"intent": self.intent, "variants": [asdict(variant) for variant in self.variants]}


def suggest_messages(brief: MessageBrief, provider: TextProvider, fallback: TextProvider | None) -> MessageSuggestions:
    """Two or three checked variants for the brief; `NoUsableMessages` when even the fallback cannot write them."""
    return with_fallback(
        lambda asked, notes: _usable(brief, asked, notes), provider, fallback, NoUsableMessages, "messages"
    )


def _usable(brief: MessageBrief, provider: TextProvider, notes: list[str]) -> MessageSuggestions:
    repair: Repair | None = None
    problems: list[str] = []
    for _ in range(2):
        try:
            drafted = provider.draft_messages(brief, repair)
        except InvalidOutput as invalid:
            problems, previous = [invalid.reason], invalid.raw
        else:
            passed: list[CheckedMessage] = []
            problems = []
            for draft in drafted.drafts:
                try:
                    passed.append(check_message(draft, brief.channel, brief.catalog, brief.audience))
                except MessageProblem as problem:
                    problems.append(str(problem))
            if len(passed) >= MINIMUM_VARIANTS:
                intent = read_objective(brief.objective).kind
                all_notes = (*notes, *drafted.notes)
                return MessageSuggestions(tuple(passed), intent, provider.name, provider.model, all_notes)
            previous = json.dumps({"variants": [asdict(draft) for draft in drafted.drafts]})
        repair = Repair(previous, tuple(problems))
    raise NoUsableMessages(problems)
