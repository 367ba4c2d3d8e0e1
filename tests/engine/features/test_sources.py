"""The bulk readers return exactly what Postgres holds: binary COPY of fixed-width columns, CSV with UTC text times."""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl
import pytest
from sqlalchemy import Engine

from engine.features.sources import parse_utc, read_transaction

VALUES = """
SELECT * FROM (VALUES
    (1::int8, 2.5::float8, timestamptz '2026-11-25 12:00:00.123456+05:30'),
    (-9000000000::int8, -0.1::float8, timestamptz '1969-07-20 20:17:40Z')
) AS v(id, amount, at)
"""


def test_binary_copy_reads_integers_floats_and_instants_on_both_sides_of_2000(database: Engine) -> None:
    with read_transaction(database) as reader:
        frame = reader.fixed_width_frame(VALUES, {"id": "int8", "amount": "float8", "at": "timestamptz"})

    assert frame.schema == pl.Schema({"id": pl.Int64(), "amount": pl.Float64(), "at": pl.Datetime("us", "UTC")})
    assert frame.rows() == [
        (1, 2.5, datetime(2026, 11, 25, 6, 30, 0, 123456, tzinfo=UTC)),
        (-9_000_000_000, -0.1, datetime(1969, 7, 20, 20, 17, 40, tzinfo=UTC)),
    ]


def test_binary_copy_refuses_nulls_rather_than_misreading_them(database: Engine) -> None:
    with read_transaction(database) as reader, pytest.raises(ValueError, match="a NULL"):
        reader.fixed_width_frame("SELECT 1::int8, NULL::int8", {"a": "int8", "b": "int8"})
    with read_transaction(database) as reader, pytest.raises(ValueError, match="a NULL"):
        # Seven NULL rows of 6 bytes are as long as three rows of one int8 (14 bytes): only the fields tell.
        reader.fixed_width_frame("SELECT NULL::int8 FROM generate_series(1, 7)", {"a": "int8"})


def test_binary_copy_of_no_rows_is_an_empty_typed_frame(database: Engine) -> None:
    with read_transaction(database) as reader:
        frame = reader.fixed_width_frame("SELECT 1::int8 AS a WHERE false", {"a": "int8"})

    assert frame.schema == pl.Schema({"a": pl.Int64()})
    assert frame.height == 0


def test_csv_times_come_in_utc_whatever_the_session_zone(database: Engine) -> None:
    with read_transaction(database) as reader:
        reader.rows("SELECT 1")
        text = reader.frame(
            "SELECT timestamptz '2026-11-25 12:00:00+05:30', timestamptz '2026-01-01 00:00:00.5Z', NULL::timestamptz",
            pl.Schema({"a": pl.String(), "b": pl.String(), "c": pl.String()}),
        )

    times = text.select(parse_utc("a"), parse_utc("b"), parse_utc("c")).row(0)
    assert times == (datetime(2026, 11, 25, 6, 30, tzinfo=UTC), datetime(2026, 1, 1, 0, 0, 0, 500000, tzinfo=UTC), None)
