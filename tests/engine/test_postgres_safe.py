"""The batch screen for what Postgres cannot store: it never clears a batch holding an item `json_problem` refuses,
and it clears ordinary batches, brackets, quotes and backslashes in their strings included."""

from __future__ import annotations

from typing import Any

import orjson
from hypothesis import given
from hypothesis import strategies as st

from engine.postgres_safe import MAX_JSON_DEPTH, all_plainly_storable, json_problem, storable_json

TRICKY_TEXT = st.text(alphabet='ab{}[]"\\\x00:,', max_size=8)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**64), 2**64) | TRICKY_TEXT,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(TRICKY_TEXT, children, max_size=3),
    max_leaves=12,
)


def nested(levels: int, leaf: Any = "x") -> Any:
    """Objects and arrays `levels` deep in all, with a string of brackets at the bottom."""
    value = leaf
    for level in range(levels):
        value = {"k]": value} if level % 2 else [value]
    return value


@given(st.lists(JSON_VALUES, max_size=5))
def test_the_batch_screen_never_clears_an_item_postgres_would_refuse(items: list[Any]) -> None:
    if all_plainly_storable(items):
        assert [json_problem(item) for item in items] == [None] * len(items)


@given(st.lists(JSON_VALUES, max_size=5))
def test_the_json_of_a_screened_batch_is_what_orjson_writes(items: list[Any]) -> None:
    text = storable_json({"items": items}, levels=2)
    assert (text is not None) == all_plainly_storable(items)
    if text is not None:
        assert text == orjson.dumps({"items": items})


def test_a_batch_nested_as_deep_as_allowed_is_cleared_and_one_level_more_is_not() -> None:
    ordinary = {"properties": {"sku": 'a]}\\"[{'}, "context": {"library": {"name": "x"}}}
    as_deep_as_allowed = {"properties": nested(MAX_JSON_DEPTH, "]]]]")}
    too_deep = {"properties": nested(MAX_JSON_DEPTH + 1, "]]]]")}

    assert json_problem(as_deep_as_allowed) is None
    assert json_problem(too_deep) is not None
    assert all_plainly_storable([ordinary] * 100 + [as_deep_as_allowed])
    assert not all_plainly_storable([ordinary] * 100 + [too_deep])


def test_a_batch_with_a_nul_or_a_number_past_64_bits_is_not_cleared() -> None:
    ordinary = {"properties": {"price": 2**53 - 1}}

    assert all_plainly_storable([ordinary] * 10)
    assert not all_plainly_storable([ordinary, {"properties": {"name": "a\x00"}}])
    assert not all_plainly_storable([ordinary, {"properties": {"a\x00": 1}}])
    assert not all_plainly_storable([ordinary, {"properties": {"price": 2**63}}])
