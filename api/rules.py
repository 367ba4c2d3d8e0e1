"""How the API answers a rule it cannot use (segments, campaign audiences): 422 listing each problem's
path, field and message, never a 500."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from api.errors import UnprocessableEntity
from engine.features.catalog import Catalog
from engine.segments import Rule, RuleError, UnsupportedRule, parse_rule


class InvalidRule(UnprocessableEntity):
    """A rule that does not parse or fit the catalog; the detail lists each problem's path, field and message."""

    error = "invalid_rule"


@contextmanager
def rule_problems() -> Iterator[None]:
    """Turn the rule errors raised inside into `InvalidRule`."""
    try:
        yield
    except RuleError as error:
        raise InvalidRule([problem.model_dump() for problem in error.problems]) from None
    except UnsupportedRule as error:
        raise InvalidRule([{"path": error.path, "field": None, "message": str(error)}]) from None


def checked_rule(rule: Any, catalog: Catalog) -> Rule:
    """`rule` (JSON data) parsed against `catalog`; `InvalidRule` when it does not fit."""
    with rule_problems():
        return parse_rule(rule, catalog)
