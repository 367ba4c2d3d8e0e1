"""Message suggestions that can be used as they are: every variant checked, at least two of them.

The provider drafts one variant per tone; each is checked (`check_message`): a valid template of known
features, an SMS that fits, and every fact of the objective's offer stated unchanged ("up to 40% off",
"on sarees", the code, the deadline). When any variant fails, the provider is shown the problems once and
its corrected variants are used if at least two pass; a variant still failing is left out, and the notes
say which and why. A language model that cannot be reached, or that gives fewer than two usable
variants, gives way to the local composer, with a note saying so.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

from engine.ai.errors import InvalidOutput, Refusal
from engine.ai.fallback import with_fallback
from engine.ai.messages.brief import MessageBrief, MessageDrafts
from engine.ai.messages.check import CheckedMessage, MessageProblem, check_message
from engine.ai.messages.intents import read_objective
from engine.ai.messages.offer import OfferFact, offer_facts
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
    offer: tuple[str, ...] = ()  # the objective's offer facts, as it says them: every variant states each

    def output(self) -> dict[str, Any]:
        """The suggestions as the call log keeps them."""
        variants = [asdict(variant) for variant in self.variants]
        return {"intent": self.intent, "offer": list(self.offer), "variants": variants}


def suggest_messages(brief: MessageBrief, provider: TextProvider, fallback: TextProvider | None) -> MessageSuggestions:
    """Two or three checked variants for the brief; `NoUsableMessages` when even the fallback cannot write them."""
    return with_fallback(
        lambda asked, notes: _usable(brief, asked, notes), provider, fallback, NoUsableMessages, "messages"
    )


@dataclass(frozen=True)
class _Round:
    """One answer of the provider, checked: the variants that passed, and why the others did not."""

    passed: tuple[CheckedMessage, ...]
    refused: tuple[MessageProblem, ...]
    notes: tuple[str, ...]


def _usable(brief: MessageBrief, provider: TextProvider, notes: list[str]) -> MessageSuggestions:
    facts = offer_facts(brief.objective)
    repair: Repair | None = None
    problems: list[str] = []
    usable: _Round | None = None  # the first answer with enough variants, should the repair not be better
    for attempt in range(2):
        try:
            drafted = provider.draft_messages(brief, repair)
        except InvalidOutput as invalid:
            problems, previous = [invalid.reason], invalid.raw
        else:
            checked = _checked(drafted, brief, facts)
            enough = len(checked.passed) >= MINIMUM_VARIANTS
            if enough and (not checked.refused or attempt == 1):
                if attempt:
                    notes.append("Some variants failed the checks; the provider was shown why and corrected them.")
                return _suggestions(brief, provider, checked, facts, notes)
            usable = usable or (checked if enough else None)
            problems = [str(problem) for problem in checked.refused]
            previous = json.dumps({"variants": [asdict(draft) for draft in drafted.drafts]})
        repair = Repair(previous, tuple(problems))
    if usable is not None:
        return _suggestions(brief, provider, usable, facts, notes)
    raise NoUsableMessages(problems)


def _checked(drafted: MessageDrafts, brief: MessageBrief, facts: tuple[OfferFact, ...]) -> _Round:
    passed, refused = [], []
    for draft in drafted.drafts:
        try:
            passed.append(check_message(draft, brief.channel, brief.catalog, brief.audience, facts))
        except MessageProblem as problem:
            refused.append(problem)
    return _Round(tuple(passed), tuple(refused), drafted.notes)


def _suggestions(
    brief: MessageBrief, provider: TextProvider, checked: _Round, facts: tuple[OfferFact, ...], notes: list[str]
) -> MessageSuggestions:
    left_out = [
        f"The {refused.tone} variant was left out: {'; '.join(refused.problems)}." for refused in checked.refused
    ]
    intent = read_objective(brief.objective).kind
    all_notes = (*notes, *checked.notes, *left_out)
    offer = tuple(fact.said for fact in facts)
    return MessageSuggestions(checked.passed, intent, provider.name, provider.model, all_notes, offer)
