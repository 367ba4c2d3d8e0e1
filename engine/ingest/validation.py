"""Validating a list of items one by one: the good ones are kept, each bad one is reported by index."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import TypeAdapter, ValidationError

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


def validate_items(
    adapter: TypeAdapter[T], items: Iterable[Any], check: Callable[[T], str | None] | None = None
) -> tuple[list[tuple[int, T]], list[ItemProblem]]:
    """Validate every item; return the valid ones with their index, and the problems of the others.

    `check` may refuse a valid-looking item with a message (a rule spanning fields).
    """
    valid: list[tuple[int, T]] = []
    problems: list[ItemProblem] = []
    for index, item in enumerate(items):
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
