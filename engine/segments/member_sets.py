"""A segment's members at one snapshot as a compressed bitmap: compact to store, quick to compare.

Customer ids are small dense integers (an identity column), so a set of them is one bit per id up to the
largest: 125 kB for a million ids before compression, and much less after (zstd squeezes the long runs
of a small or a near-total segment). Who entered and who left between two snapshots is a bitwise
difference of two bitmaps, and a size is a population count, both vectorized.

Stored form: the bitmap's byte length (8 bytes, little-endian), then the zstd-compressed bitmap
(bit `i % 8` of byte `i // 8` is customer `i`).
"""

from __future__ import annotations

import struct

import numpy as np
import numpy.typing as npt
import pyarrow as pa

_HEADER = struct.Struct("<Q")
_CODEC = "zstd"


class MemberSet:
    """An immutable set of customer ids (non-negative integers)."""

    __slots__ = ("_bits",)

    def __init__(self, bits: npt.NDArray[np.uint8]) -> None:
        self._bits = bits

    @classmethod
    def of(cls, ids: npt.ArrayLike) -> MemberSet:
        """The set of the given ids: a list, range, NumPy array or Polars series (any order, repeats allowed)."""
        array = np.asarray(ids, dtype=np.int64)
        if array.size and array.min() < 0:
            raise ValueError("customer ids are never negative")
        flags = np.zeros(int(array.max()) + 1 if array.size else 0, dtype=bool)
        flags[array] = True
        return cls(np.packbits(flags, bitorder="little"))

    @classmethod
    def from_bytes(cls, stored: bytes) -> MemberSet:
        """The set written by `to_bytes`."""
        (length,) = _HEADER.unpack_from(stored)
        if length == 0:
            return cls(np.zeros(0, dtype=np.uint8))
        raw = pa.decompress(stored[_HEADER.size :], decompressed_size=length, codec=_CODEC, asbytes=True)
        return cls(np.frombuffer(raw, dtype=np.uint8))

    def to_bytes(self) -> bytes:
        bits = np.trim_zeros(self._bits, "b")
        compressed = pa.compress(bits.tobytes(), codec=_CODEC, asbytes=True) if bits.size else b""
        return _HEADER.pack(bits.size) + compressed

    def ids(self) -> npt.NDArray[np.int64]:
        """The members' ids, ascending."""
        return np.flatnonzero(np.unpackbits(self._bits, bitorder="little")).astype(np.int64)

    def __len__(self) -> int:
        return int(np.bitwise_count(self._bits).sum())

    def __sub__(self, other: MemberSet) -> MemberSet:
        """The members of this set that are not in `other`."""
        mine, theirs = self._bits, other._bits[: self._bits.size]
        result = mine.copy()
        result[: theirs.size] &= ~theirs
        return MemberSet(result)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, MemberSet):
            return NotImplemented
        return np.array_equal(np.trim_zeros(self._bits, "b"), np.trim_zeros(other._bits, "b"))

    def __repr__(self) -> str:
        return f"MemberSet({len(self)} members)"
