"""Member sets survive storage exactly and tell who entered and who left."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.segments.member_sets import MemberSet

ids = st.sets(st.integers(min_value=1, max_value=5_000), max_size=300)


@given(before=ids, after=ids)
def test_stored_sets_read_back_equal_and_their_differences_are_the_set_differences(
    before: set[int], after: set[int]
) -> None:
    stored_before = MemberSet.from_bytes(MemberSet.of(sorted(before)).to_bytes())
    stored_after = MemberSet.from_bytes(MemberSet.of(sorted(after)).to_bytes())

    assert stored_after.ids().tolist() == sorted(after)
    assert len(stored_after) == len(after)
    assert (stored_after - stored_before).ids().tolist() == sorted(after - before)
    assert (stored_before - stored_after).ids().tolist() == sorted(before - after)


def test_a_million_member_segment_is_stored_in_a_few_kilobytes_per_hundred_thousand_ids() -> None:
    rng = np.random.default_rng(3)
    half = np.flatnonzero(rng.random(1_000_000) < 0.5)

    stored = MemberSet.of(half).to_bytes()

    assert len(stored) < 130_000  # at most one bit per customer id
    assert MemberSet.from_bytes(stored) == MemberSet.of(half)


def test_negative_ids_are_refused() -> None:
    with pytest.raises(ValueError, match="never negative"):
        MemberSet.of([1, -2])
