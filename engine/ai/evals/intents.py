"""The evaluation of the objective reader: does it read what kind of message a campaign wants?

`message_intents.json` holds objectives as marketers type them (labels, Hinglish, typos, offers in lakh
and Rs) with the intent a careful marketer would read. Its `held_out` part was written and committed
before the reader (`engine.ai.messages.intents`) was tuned and is never used to tune it; the
`development` part is what tuning looks at. The two are scored apart, so the held-out score says how the
reader does on phrasings nobody tuned it for.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib.resources import files

from engine.ai.messages.intents import read_objective


@dataclass(frozen=True)
class IntentCase:
    text: str
    intent: str
    held_out: bool


@dataclass(frozen=True)
class IntentResult:
    case: IntentCase
    got: str

    @property
    def correct(self) -> bool:
        return self.got == self.case.intent


@dataclass(frozen=True)
class IntentReport:
    results: tuple[IntentResult, ...]

    def tally(self, held_out: bool) -> tuple[int, int]:
        """(right, total) over the held-out part, or over the development part."""
        chosen = [result for result in self.results if result.case.held_out is held_out]
        return sum(result.correct for result in chosen), len(chosen)


def load_intent_cases() -> list[IntentCase]:
    data = json.loads(files("engine.ai.evals").joinpath("message_intents.json").read_text(encoding="utf-8"))
    return [
        IntentCase(item["text"], item["intent"], part == "held_out")
        for part in ("held_out", "development")
        for item in data[part]
    ]


def evaluate_intents(cases: list[IntentCase]) -> IntentReport:
    return IntentReport(tuple(IntentResult(case, read_objective(case.text).kind) for case in cases))
