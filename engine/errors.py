"""The few kinds of refusal the engine raises, so each client maps a kind once, not every exception.

An expected problem an engine function refuses with derives from one of these kinds: the API answers each kind
with its status (`api/errors.py`), whatever domain raised it. `error` is a machine-readable code a domain may make
more precise (`invalid_rule`), and `detail` what the caller is shown: the message, unless the error carries more
structure (a rule's problems with their paths).
"""

from __future__ import annotations

from typing import Any


class EngineError(Exception):
    """An expected refusal of the engine, of one of the kinds below."""

    error = "refused"

    @property
    def detail(self) -> Any:
        return str(self)


class NotFound(EngineError):
    """There is no such thing (a campaign, a customer, a record asked for)."""

    error = "not_found"


class Conflict(EngineError):
    """It clashes with what is there (a name taken, a status that does not allow the change)."""

    error = "conflict"


class Invalid(EngineError):
    """The input cannot be used as given (a rule, a template, a campaign); the detail says why."""

    error = "invalid_request"


class Forbidden(EngineError):
    """The caller may not do this, whoever they are to the engine."""

    error = "forbidden"
