"""What PostgreSQL cannot store, refused where it comes in, with a message that names the field.

Postgres refuses a NUL character in `text` and `jsonb`, whole numbers past 64 bits in a `bigint`, and
psycopg cannot read back a time past the year 9999. Without these checks such a value is accepted by the
API and fails later, where nobody can answer the sender: in a pipeline, a worker or a 500. The API checks
every string it passes to Postgres with `PostgresText`, and every ingested item with `json_problem` and
`storable_time`, so one bad value costs one clear 4xx.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any

import orjson
from pydantic import AfterValidator, Field

NUL = "\x00"
NUL_MESSAGE = "text cannot contain the NUL character (\\u0000)"
MAX_JSON_DEPTH = 32  # objects and arrays in an ingested item, counted from its own fields (`traits` is 1)
BIGINT_MIN = -(2**63)
BIGINT_MAX = 2**63 - 1
TIME_RANGE_MESSAGE = "the time must fall within the years 1 to 9999 in UTC"


def refuse_nul(text: str) -> str:
    if NUL in text:
        raise ValueError(NUL_MESSAGE)
    return text


NO_NUL = AfterValidator(refuse_nul)
# Text Postgres can store. Constraints go on the `str` before `NO_NUL` (`Annotated[str, StringConstraints(...),
# NO_NUL]`): put after it, they check (and strip) nothing and speak of "items", not characters. A field's own
# `Field(min_length=...)` is fine on `PostgresText`.
PostgresText = Annotated[str, NO_NUL]
BigInt = Annotated[int, Field(ge=BIGINT_MIN, le=BIGINT_MAX)]


def storable_time(moment: datetime) -> datetime:
    """`moment` with a zone (UTC when it has none), if it falls within years 1 to 9999 in UTC; else ValueError."""
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    if 1 < aware.year < 9999:  # a zone's offset is under a day: only the first and last years can overflow
        return aware
    try:
        aware.astimezone(UTC)
    except OverflowError:
        raise ValueError(TIME_RANGE_MESSAGE) from None
    return aware


def json_problem(data: Any) -> tuple[str, str] | None:
    """The first value in JSON data (an ingested item) that Postgres cannot store: its dotted path and why.

    Refused: NUL characters in strings and keys, integers outside 64 bits, and objects or arrays nested more
    than `MAX_JSON_DEPTH` levels below the top. (Parsed JSON holds no NaN or infinity: orjson refuses them.)
    """
    if storable_json(data) is not None:
        return None
    pending: list[tuple[tuple[str | int, ...], Any]] = [((), data)]
    while pending:
        path, value = pending.pop()
        message = _problem(path, value)
        if message is not None:
            return ".".join(str(part).replace(NUL, "\\u0000") for part in path) or "(item)", message
        if isinstance(value, dict):
            pending.extend(((*path, key), child) for key, child in reversed(value.items()))
        elif isinstance(value, list):
            pending.extend(((*path, index), value[index]) for index in range(len(value) - 1, -1, -1))
    return None


def all_plainly_storable(items: list[Any]) -> bool:
    """Whether `json_problem` would clear every one of `items`, screened together: one serialization and a few scans
    of the text for a whole batch, where screening item by item costs a couple of microseconds each. False means
    that some item may be refused: screen them one by one to find it."""
    return storable_json(items, levels=1) is not None


def storable_json(data: Any, levels: int = 0) -> bytes | None:
    """`data` as JSON (what `orjson.dumps` writes) when a screen clears it of all `json_problem` would refuse in the
    items `levels` containers below its top (0: in `data` itself), else None. Several times faster than walking the
    data in Python, and the text serves whoever writes it next (an ingested batch's stream entry).

    orjson refuses integers past 53 bits with OPT_STRICT_INTEGER (a bigint holds 63, so those are looked at closely)
    and writes a NUL as the escape `\\u0000`: text without a backslash holds no NUL, and no quote or backslash inside
    a string, which leaves only brackets to measure the nesting by (`_nesting`).
    """
    try:
        text = orjson.dumps(data, option=orjson.OPT_STRICT_INTEGER)
    except orjson.JSONEncodeError:
        return None
    brackets = text
    if b"\\" in text:
        if b"\\u0000" in text:
            return None
        brackets = text.replace(b"\\\\", b"").replace(b'\\"', b"")
    max_nesting = MAX_JSON_DEPTH + 1 + levels
    return text if _nesting(brackets, max_nesting) <= max_nesting else None


_QUOTES_AND_BRACKETS = b'"{}[]'
_NEITHER = bytes(set(range(256)) - set(_QUOTES_AND_BRACKETS))
_ONE_KIND = bytes.maketrans(b"[]", b"{}")
_STRING = re.compile(rb'"[^"]*"')


def _nesting(text: bytes, limit: int) -> int:
    """How deep the objects and arrays of JSON `text` nest, its escaped quotes and backslashes taken out (counting
    stops past `limit`).

    Only brackets outside strings count. Of the text, quotes and brackets are kept (all brackets as braces), and the
    strings taken out: each one quote pair, or more when brackets are in it (taking out the adjacent pairs leaves a
    quote then). Of the braces left, each pass takes out the innermost pairs, one level.
    """
    kept = text.translate(_ONE_KIND, _NEITHER)
    braces = kept.replace(b'""', b"")
    if b'"' in braces:
        braces = _STRING.sub(b"", kept)
    depth = 0
    while braces and depth <= limit:
        braces = braces.replace(b"{}", b"")
        depth += 1
    return depth


def _problem(path: tuple[str | int, ...], value: Any) -> str | None:
    if path and isinstance(path[-1], str) and NUL in path[-1]:
        return NUL_MESSAGE
    if isinstance(value, str):
        return NUL_MESSAGE if NUL in value else None
    if isinstance(value, dict | list):
        return f"nested more than {MAX_JSON_DEPTH} levels deep" if len(path) > MAX_JSON_DEPTH else None
    if isinstance(value, int) and not isinstance(value, bool) and not BIGINT_MIN <= value <= BIGINT_MAX:
        return "a whole number must fit in 64 bits (±9.2e18)"
    return None
