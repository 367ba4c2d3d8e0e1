"""One `backend` fixture for every segment test: the same frames, evaluated by Polars, DuckDB or Postgres.

Like narwhals' `constructor` fixture, a test written once against `make_evaluator(features, events)`
runs on all three backends. DuckDB reads the frames from Parquet files, as it reads snapshots. Postgres
gets a temporary features table and the real `events` table (with the customers its foreign key needs)
on one connection whose transaction is rolled back when the module's tests are done.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from itertools import count

import polars as pl
import pytest
from sqlalchemy import BigInteger, Column, Connection, DateTime, MetaData, Table, Text, insert, text
from sqlalchemy.dialects.postgresql import JSONB

from engine.connections import get_engine
from engine.features.catalog import Catalog, catalog_for_schema
from engine.schema import customers, events
from engine.segments.duckdb_backend import DuckDbEvaluator
from engine.segments.evaluation import SegmentEvaluator
from engine.segments.polars_backend import PolarsEvaluator
from engine.segments.sql_backend import SqlEvaluator, features_table

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
BACKENDS = ["polars", "duckdb", "sql"]

MakeEvaluator = Callable[[pl.DataFrame, pl.DataFrame], SegmentEvaluator]
_numbers = count()


def snapshot_catalog(features: pl.DataFrame) -> Catalog:
    """The catalog of a snapshot with exactly the frame's columns."""
    return Catalog(feature for feature in catalog_for_schema(features.schema) if feature.name in features.columns)


def temporary_events_table() -> Table:
    """A test-local events table with the columns of `engine.schema.events` that segments read."""
    return Table(
        f"segment_events_{next(_numbers)}",
        MetaData(),
        Column("customer_id", BigInteger),
        Column("name", Text),
        Column("properties", JSONB, nullable=False),
        Column("occurred_at", DateTime(timezone=True), nullable=False),
        prefixes=["TEMPORARY"],
    )


def postgres_evaluator(
    connection: Connection, features: pl.DataFrame, event_rows: pl.DataFrame, events_table: Table = events
) -> SqlEvaluator:
    """Load the frames on `connection` (features into a temporary table) and evaluate there."""
    catalog = snapshot_catalog(features)
    table = features_table(f"segment_features_{next(_numbers)}", catalog, temporary=True)
    table.create(connection)
    if events_table is not events:
        events_table.create(connection)
    rows = features.with_columns(pl.col(pl.Categorical, pl.Enum).cast(pl.String)).to_dicts()
    if rows:
        connection.execute(insert(table), rows)
    event_dicts = [{**event, "properties": json.loads(event["properties"] or "{}")} for event in event_rows.to_dicts()]
    if events_table is events:
        customer_rows = [{"id": id_, "external_id": f"c{id_}"} for id_ in features["customer_id"]]
        if customer_rows:
            connection.execute(insert(customers), customer_rows)
        for number, event in enumerate(event_dicts):
            event.update(message_id=f"m{number}", type="track")
    if event_dicts:
        connection.execute(insert(events_table), event_dicts)
    return SqlEvaluator(connection, table, events_table, now=NOW, catalog=catalog)


@pytest.fixture(scope="module", params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[MakeEvaluator]:
    """Makes an evaluator of the given backend over a features frame and an events frame.

    The evaluator for a pair of frames is made once per module (keyed by the frames' identity: the
    modules pass the same constant frames), so Postgres loads each dataset once.
    """
    made: dict[tuple[int, int], SegmentEvaluator] = {}

    def once(build: MakeEvaluator) -> MakeEvaluator:
        def make(features: pl.DataFrame, event_rows: pl.DataFrame) -> SegmentEvaluator:
            key = (id(features), id(event_rows))
            if key not in made:
                made[key] = build(features, event_rows)
            return made[key]

        return make

    if request.param == "polars":
        yield once(lambda features, event_rows: PolarsEvaluator(features, event_rows, now=NOW))
    elif request.param == "duckdb":
        folder = tmp_path_factory.mktemp("snapshots")

        def over_parquet(features: pl.DataFrame, event_rows: pl.DataFrame) -> SegmentEvaluator:
            number = next(_numbers)
            features.write_parquet(folder / f"features_{number}.parquet")
            event_rows.write_parquet(folder / f"events_{number}.parquet")
            return DuckDbEvaluator.over_parquet(
                str(folder / f"features_{number}.parquet"), str(folder / f"events_{number}.parquet"), now=NOW
            )

        yield once(over_parquet)
    else:
        request.getfixturevalue("service_urls")
        with get_engine().connect() as connection, connection.begin() as transaction:
            # Emptied inside the transaction, so the rollback below restores whatever was there.
            connection.execute(text("TRUNCATE customers, events CASCADE"))
            yield once(lambda features, event_rows: postgres_evaluator(connection, features, event_rows))
            transaction.rollback()
