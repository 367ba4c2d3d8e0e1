"""Versioned feature snapshots: publish one (Postgres table, Parquet files, a `feature_snapshots` row), load one.

Publishing version N, all in one transaction under an advisory lock (so publishers take turns):
- the table `features.customer_features_v<N>` (columns typed as the SQL segment compiler expects),
  bulk-loaded with `COPY ... FROM STDIN (FORMAT csv, FREEZE)` (autovacuum analyses it);
- `<snapshots_dir>/customer_features_v<N>.parquet` and `events_v<N>.parquet` for Polars and DuckDB
  (written under a temporary name and renamed; removed again if the transaction fails);
- the view `customer_features` re-pointed at the new table;
- the row in `feature_snapshots`, visible to readers only once all of the above is.

Readers ask `latest_version` (one indexed lookup) and load with `latest_snapshot` / `load_snapshot` only
when the version changed. `prune_snapshots` keeps the newest `keep` versions and removes the rest: rows,
tables and files, including leftovers of publishes that died half-way.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import polars as pl
from sqlalchemy import Connection, Engine, MetaData, RowMapping, Table, delete, func, insert, select, text

from engine.connections import psycopg_connection
from engine.features.catalog import Catalog, catalog_for_schema
from engine.schema import feature_snapshots
from engine.schema.features import FEATURES_SCHEMA
from engine.segments.sql_backend import features_table

DEFAULT_KEEP = 3
TABLE_PREFIX = "customer_features_v"
VIEW = "customer_features"
_LOCK = "SELECT pg_advisory_xact_lock(hashtext('xeno.feature_snapshots'))"
_VERSIONED_FILE = re.compile(r"^(?:customer_features|events)_v(\d+)\.parquet(?:\.tmp)?$")
_COPY_ROWS = 100_000  # rows per CSV chunk handed to COPY: bounds the text held in memory at once


@dataclass(frozen=True)
class SnapshotInfo:
    """One published version, as its `feature_snapshots` row describes it."""

    version: int
    created_at: datetime
    taken_at: datetime  # the "now" its features were computed as of
    row_count: int
    event_count: int
    table_name: str  # schema-qualified, e.g. features.customer_features_v7
    features_path: Path
    events_path: Path
    columns: dict[str, str]  # column -> Polars dtype, in column order
    source_totals: dict[str, float]  # customers, orders and spend as Postgres counted them
    source_changes: int | None = None  # the changes to the sources it read (None: published before counting)


@dataclass(frozen=True)
class Snapshot:
    """A published version loaded into memory: the features (one row per customer) and the events."""

    info: SnapshotInfo
    features: pl.DataFrame
    events: pl.DataFrame
    catalog: Catalog

    @property
    def version(self) -> int:
        return self.info.version

    @property
    def created_at(self) -> datetime:
        return self.info.created_at

    @property
    def taken_at(self) -> datetime:
        return self.info.taken_at


def publish_snapshot(
    db: Engine,
    snapshots_dir: Path,
    features: pl.DataFrame,
    events: pl.DataFrame,
    *,
    taken_at: datetime,
    source_totals: Mapping[str, float],
    source_changes: int | None = None,
) -> SnapshotInfo:
    """Publish `features` (one row per customer, catalog columns) and `events` as the newest version; it read
    `source_changes` changes to the sources (see `engine.features.freshness`)."""
    snapshots_dir.mkdir(parents=True, exist_ok=True)
    catalog = catalog_for_schema(features.schema)
    written: list[Path] = []
    try:
        with db.begin() as conn:
            conn.execute(text(_LOCK))
            version = int(conn.scalar(text("SELECT nextval(pg_get_serial_sequence('feature_snapshots', 'version'))")))
            table = _create_table(conn, version, catalog)
            _copy_into(conn, table, features)
            features_path = _write_parquet(features, snapshots_dir / f"customer_features_v{version}.parquet", written)
            events_path = _write_parquet(events, snapshots_dir / f"events_v{version}.parquet", written)
            conn.execute(text(f"DROP VIEW IF EXISTS {VIEW}"))
            conn.execute(text(f"CREATE VIEW {VIEW} AS SELECT * FROM {FEATURES_SCHEMA}.{table.name}"))
            row = conn.execute(
                insert(feature_snapshots)
                .values(
                    version=version,
                    taken_at=taken_at,
                    row_count=features.height,
                    event_count=events.height,
                    table_name=f"{FEATURES_SCHEMA}.{table.name}",
                    features_path=str(features_path),
                    events_path=str(events_path),
                    columns=[[name, str(dtype)] for name, dtype in features.schema.items()],
                    source_totals=dict(source_totals),
                    source_changes=source_changes,
                )
                .returning(*feature_snapshots.c)
            ).one()
    except BaseException:
        for path in written:
            path.unlink(missing_ok=True)
        raise
    return _info(row._mapping)


def latest_version(db: Engine | Connection) -> int | None:
    """The newest published version, or None before the first: cheap enough to ask on every request."""
    with _connection(db) as conn:
        version = conn.scalar(select(func.max(feature_snapshots.c.version)))
    return None if version is None else int(version)


def snapshot_info(db: Engine | Connection, version: int | None = None) -> SnapshotInfo | None:
    """The row of `version` (the newest when None), or None when there is no such version."""
    query = select(feature_snapshots)
    if version is None:
        query = query.order_by(feature_snapshots.c.version.desc()).limit(1)
    else:
        query = query.where(feature_snapshots.c.version == version)
    with _connection(db) as conn:
        row = conn.execute(query).first()
    return None if row is None else _info(row._mapping)


def list_snapshots(db: Engine | Connection) -> list[SnapshotInfo]:
    """Every kept version, newest first."""
    with _connection(db) as conn:
        rows = conn.execute(select(feature_snapshots).order_by(feature_snapshots.c.version.desc())).all()
    return [_info(row._mapping) for row in rows]


def load_snapshot(info: SnapshotInfo) -> Snapshot:
    """The version's files read into memory, with the catalog of its columns."""
    features = pl.read_parquet(info.features_path)
    events = pl.read_parquet(info.events_path)
    return Snapshot(info, features, events, catalog_for_schema(features.schema))


def latest_snapshot(db: Engine | Connection) -> Snapshot | None:
    """The newest version loaded into memory, or None before the first is published."""
    info = snapshot_info(db)
    return None if info is None else load_snapshot(info)


def snapshot_table(db: Engine | Connection, info: SnapshotInfo) -> Table:
    """The version's Postgres table, for the SQL segment compiler (`SqlEvaluator`)."""
    schema, name = info.table_name.split(".", 1)
    with _connection(db) as conn:
        return Table(name, MetaData(), schema=schema, autoload_with=conn)


def prune_snapshots(db: Engine, snapshots_dir: Path, keep: int = DEFAULT_KEEP) -> list[int]:
    """Remove every version but the newest `keep` (at least one): rows, tables, files. Returns those removed."""
    if keep < 1:
        raise ValueError("keep at least one snapshot version")
    with db.begin() as conn:
        conn.execute(text(_LOCK))
        kept_versions = select(feature_snapshots.c.version).order_by(feature_snapshots.c.version.desc()).limit(keep)
        kept = set(conn.scalars(kept_versions))
        removed = conn.scalars(
            delete(feature_snapshots)
            .where(feature_snapshots.c.version.not_in(kept))
            .returning(feature_snapshots.c.version)
        ).all()
        for table_name, version in _snapshot_tables(conn):
            if version not in kept:
                conn.execute(text(f'DROP TABLE {FEATURES_SCHEMA}."{table_name}" CASCADE'))
        # Still under the lock, so no publish is writing a file of a version this does not know.
        for path in snapshots_dir.glob("*.parquet*"):
            match = _VERSIONED_FILE.match(path.name)
            if match and int(match.group(1)) not in kept:
                path.unlink(missing_ok=True)
    return sorted(int(version) for version in removed)


def _create_table(conn: Connection, version: int, catalog: Catalog) -> Table:
    table = features_table(f"{TABLE_PREFIX}{version}", catalog).to_metadata(MetaData(), schema=FEATURES_SCHEMA)
    # A leftover of the same number (the sequence was reset, or a publish died) is never a live version.
    conn.execute(text(f'DROP TABLE IF EXISTS {FEATURES_SCHEMA}."{table.name}" CASCADE'))
    table.create(conn)
    return table


def _copy_into(conn: Connection, table: Table, features: pl.DataFrame) -> None:
    columns = ", ".join(f'"{name}"' for name in features.columns)
    statement = f'COPY {FEATURES_SCHEMA}."{table.name}" ({columns}) FROM STDIN (FORMAT csv, FREEZE)'
    # Polars writes plain strings and naive datetimes with a fixed format 3-4x faster than Enums and zoned ones.
    as_text = features.lazy().with_columns(
        pl.col(pl.Enum, pl.Categorical).cast(pl.String), pl.col(pl.Datetime("us", "UTC")).dt.replace_time_zone(None)
    )
    with psycopg_connection(conn).cursor() as cursor, cursor.copy(statement) as copy:
        for start in range(0, features.height, _COPY_ROWS):
            chunk = as_text.slice(start, _COPY_ROWS).collect()
            copy.write(chunk.write_csv(include_header=False, datetime_format="%Y-%m-%d %H:%M:%S%.6f+00"))


def _write_parquet(frame: pl.DataFrame, path: Path, written: list[Path]) -> Path:
    partial = path.with_name(path.name + ".tmp")
    written += [partial, path]
    frame.write_parquet(partial, compression="zstd", statistics=True)
    partial.replace(path)
    return path.resolve()


def _snapshot_tables(conn: Connection) -> list[tuple[str, int]]:
    names = conn.scalars(
        text("SELECT tablename FROM pg_tables WHERE schemaname = :schema"), {"schema": FEATURES_SCHEMA}
    ).all()
    pattern = re.compile(rf"^{TABLE_PREFIX}(\d+)$")
    return [(name, int(match.group(1))) for name in names if (match := pattern.match(name))]


def _info(row: RowMapping) -> SnapshotInfo:
    return SnapshotInfo(
        version=int(row["version"]),
        created_at=row["created_at"],
        taken_at=row["taken_at"],
        row_count=int(row["row_count"]),
        event_count=int(row["event_count"]),
        table_name=row["table_name"],
        features_path=Path(row["features_path"]),
        events_path=Path(row["events_path"]),
        columns=dict(row["columns"]),  # [[name, dtype], ...] keeps the order JSONB objects lose
        source_totals=dict(row["source_totals"]),
        source_changes=row["source_changes"],
    )


def _connection(db: Engine | Connection) -> AbstractContextManager[Connection]:
    """A new connection from an engine, or the caller's own connection."""
    return nullcontext(db) if isinstance(db, Connection) else db.connect()
