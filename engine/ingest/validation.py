"""Validating a list of items one by one: the good ones are kept, each bad one is reported by index.

Both ingestion APIs first hold each item as sent to what Postgres can store (`unstorable`), then to its model.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import TypeAdapter, ValidationError

from engine.postgres_safe import all_plainly_storable, json_problem

T = TypeVar("T")
MAX_BATCH_ITEMS = 1000


@dataclass(frozen=True)
class ItemProblem:
    """Why item `index` of a batch was refused: which field, and what is wrong with it."""

    index: int
    field: str
    message: str


def problems_of(index: int, error: ValidationError) -> list[ItemProblem]:
    return [
        ItemProblem(index, ".".join(str(part) for part in detail["loc"]) or "(item)", detail["msg"])
        for detail in error.errors(include_url=False, include_input=False)
    ]


def unstorable(index: int, item: Any) -> ItemProblem | None:
    """Why Postgres could not store item `index` as sent (a NUL, a number past 64 bits, JSON nested too deep)."""
    found = json_problem(item)
    return ItemProblem(index, *found) if found else None


def validate_items(
    adapter: TypeAdapter[T], items: list[Any], check: Callable[[T], str | None] | None = None
) -> tuple[list[tuple[int, T]], list[ItemProblem]]:
    """Validate every item; return the valid ones with their index, and the problems of the others.

    `check` may refuse a valid-looking item with a message (a rule spanning fields). The items are screened for
    what Postgres cannot store all at once, and one by one only when that flags something.
    """
    valid: list[tuple[int, T]] = []
    problems: list[ItemProblem] = []
    all_storable = all_plainly_storable(items)
    for index, item in enumerate(items):
        refused = None if all_storable else unstorable(index, item)
        if refused:
            problems.append(refused)
            continue
        try:
            value = adapter.validate_python(item)
        except ValidationError as error:
            problems.extend(problems_of(index, error))
            continue
        refusal = check(value) if check else None
        if refusal:
            problems.append(ItemProblem(index, "(item)", refusal))
        else:
            valid.append((index, value))
    return valid, problems
