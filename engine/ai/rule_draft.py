"""What a provider hands back for a rule request: the rule's JSON, what it assumed, and what it skipped.

A request is answered from what was understood: a vague word ("VIP", "lapsed") becomes the team's
definition of it and is said as an `Assumption` with the question to confirm it; words that could not
become part of the rule are `skipped`, each with why. Only a request with nothing to build on is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engine.ai.errors import Unparsed


@dataclass(frozen=True)
class Assumption:
    """A vague word read as the team's definition of it: the words as written, and what they were taken to mean."""

    words: str
    meaning: str

    @property
    def question(self) -> str:
        return f"By “{self.words}” I assumed {self.meaning}. Is that what you meant?"


@dataclass(frozen=True)
class RuleDraft:
    """A provider's rule (JSON, not yet validated), its assumptions, the words it left out, and notes on how it
    read words ("Read “spnt” as “spent”")."""

    rule: Any
    assumptions: tuple[Assumption, ...] = ()
    skipped: tuple[Unparsed, ...] = ()
    notes: tuple[str, ...] = ()
