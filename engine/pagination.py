"""One way to cut a page for every list that pages by cursor: fetch one row more than the page holds, and let that
extra row say whether there is a next page, so the last page never hands out a cursor that leads nowhere."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    """A page of `items`; `next_cursor` (the last item's key) asks for the next one, None on the last page."""

    items: list[T]
    next_cursor: int | None


def cut_page(rows: Sequence[T], limit: int, key: Callable[[T], int]) -> Page[T]:
    """The first `limit` of `rows`, which were fetched as up to `limit + 1` (`fetch_size`) in cursor order."""
    items = list(rows[:limit])
    return Page(items, key(items[-1]) if len(rows) > limit else None)


def fetch_size(limit: int) -> int:
    """How many rows to fetch for a page of `limit`: one more, to know whether another page follows."""
    return limit + 1
