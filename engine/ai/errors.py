"""What can go wrong when the AI is asked for something, one exception per way, so each is answered rightly.

A provider that cannot answer (timeout, network, an error from the service) is `ProviderUnavailable`: the
caller falls back to the local provider. An answer of the wrong form is `InvalidOutput`: it goes back to
the model for repair. The rest are refusals, shown to the user as a clear 422: words the local parser did
not understand (`NotUnderstood`, with where they are), a request the model says the rule language cannot
express (`CannotExpress`), or a rule still invalid after its one repair (`RuleRefused`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any


class AIError(Exception):
    """Any problem of the AI helpers."""


class ProviderUnavailable(AIError):
    """The provider did not answer usefully: a timeout, a network failure or an error from the service."""

    def __init__(self, provider: str, reason: str) -> None:
        self.provider = provider
        self.reason = reason
        super().__init__(f"{provider}: {reason}")


class InvalidOutput(AIError):
    """The provider answered, but not in the form asked for (not JSON, or not the requested shape)."""

    def __init__(self, raw: str, reason: str) -> None:
        self.raw = raw
        self.reason = reason
        super().__init__(reason)


class Refusal(AIError):
    """A request the AI will not answer with a result; `code` and `detail()` make the API's 422."""

    code = "refused"

    def detail(self) -> dict[str, Any]:
        return {"message": str(self)}


@dataclass(frozen=True)
class Unparsed:
    """Words of the user's text that could not become part of a rule: where they are, and why."""

    start: int
    end: int
    text: str
    reason: str


class NotUnderstood(Refusal):
    """The local parser met words it could not turn into conditions."""

    code = "not_understood"

    def __init__(self, text: str, unparsed: Sequence[Unparsed]) -> None:
        self.text = text
        self.unparsed = tuple(unparsed)
        quoted = "; ".join(f"“{item.text}” ({item.reason})" for item in self.unparsed)
        super().__init__(f"I could not turn all of this into a rule: {quoted}")

    def detail(self) -> dict[str, Any]:
        return {"message": str(self), "unparsed": [asdict(item) for item in self.unparsed]}


class CannotExpress(Refusal):
    """The model says the request cannot be expressed with the rule language and the catalog."""

    code = "cannot_express"

    def __init__(self, reason: str) -> None:
        super().__init__(f"This cannot be expressed as a segment rule: {reason}")


class RuleRefused(Refusal):
    """The model's rule was still invalid after it was given the problems once to repair them."""

    code = "invalid_rule"

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = tuple(problems)
        super().__init__(
            "The model's rule was invalid even after one repair, so no rule is offered: " + "; ".join(self.problems)
        )

    def detail(self) -> dict[str, Any]:
        return {"message": str(self), "problems": list(self.problems)}
