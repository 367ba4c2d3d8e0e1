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

Between versions, deltas (`engine.features.deltas`) carry the recomputed rows of the customers ingest touched:
`latest_snapshot` is the newest version with the deltas newer than it applied (`Snapshot.with_deltas`), and a
reader holding one applies the deltas published since (`deltas_after`). The Postgres table and the Parquet file of a
version (what the SQL and DuckDB segment backends read) stay as published.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

import polars as pl
from sqlalchemy import Connection, Engine, MetaData, RowMapping, Table, delete, func, insert, select, text

from engine.connections import psycopg_connection
from engine.features.catalog import Catalog, catalog_for_schema
from engine.schema import feature_deltas, feature_snapshots
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
class DeltaInfo:
    """One published delta, as its `feature_deltas` row describes it."""

    id: int
    taken_at: datetime
    source_changes: int
    row_count: int
    features_path: Path
    events_path: Path
    removed_ids: list[int]
    unfit_columns: list[str]

    @property
    def touched_ids(self) -> pl.Series:
        """The customers whose rows this delta replaces (or removes)."""
        kept = pl.read_parquet(self.features_path, columns=["customer_id"]).get_column("customer_id")
        return pl.concat([kept, pl.Series("customer_id", self.removed_ids, dtype=pl.Int64)])

    @property
    def events_touched_ids(self) -> pl.Series:
        """The customers whose events this delta replaces: those whose rows it replaces, and those only events
        touched (their events are in it, their rows are not)."""
        named = pl.read_parquet(self.events_path, columns=["customer_id"]).get_column("customer_id")
        return pl.concat([self.touched_ids, named]).unique()


@dataclass(frozen=True)
class Snapshot:
    """A published version loaded into memory: the features (one row per customer) and the events, with the
    deltas published since applied (oldest first)."""

    info: SnapshotInfo
    features: pl.DataFrame
    events: pl.DataFrame
    catalog: Catalog
    deltas: tuple[DeltaInfo, ...] = ()

    @property
    def version(self) -> int:
        return self.info.version

    @property
    def created_at(self) -> datetime:
        return self.info.created_at

    @property
    def taken_at(self) -> datetime:
        """The "now" of its newest rows: the newest delta's, else the version's."""
        return self.deltas[-1].taken_at if self.deltas else self.info.taken_at

    @property
    def delta_id(self) -> int:
        """The newest delta applied (0: none)."""
        return self.deltas[-1].id if self.deltas else 0

    def with_deltas(self, deltas: Sequence[DeltaInfo]) -> Snapshot:
        """This snapshot with `deltas` (published after those it has, newest last) applied."""
        if not deltas:
            return self
        return replace(
            self,
            features=updated_features(self.features, deltas),
            events=updated_events(self.events, deltas),
            deltas=(*self.deltas, *deltas),
        )


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
            features_path = write_parquet(features, snapshots_dir / f"customer_features_v{version}.parquet", written)
            events_path = write_parquet(events, snapshots_dir / f"events_v{version}.parquet", written)
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
    with connection_of(db) as conn:
        version = conn.scalar(select(func.max(feature_snapshots.c.version)))
    return None if version is None else int(version)


def snapshot_info(db: Engine | Connection, version: int | None = None) -> SnapshotInfo | None:
    """The row of `version` (the newest when None), or None when there is no such version."""
    query = select(feature_snapshots)
    if version is None:
        query = query.order_by(feature_snapshots.c.version.desc()).limit(1)
    else:
        query = query.where(feature_snapshots.c.version == version)
    with connection_of(db) as conn:
        row = conn.execute(query).first()
    return None if row is None else _info(row._mapping)


def list_snapshots(db: Engine | Connection) -> list[SnapshotInfo]:
    """Every kept version, newest first."""
    with connection_of(db) as conn:
        rows = conn.execute(select(feature_snapshots).order_by(feature_snapshots.c.version.desc())).all()
    return [_info(row._mapping) for row in rows]


def load_snapshot(info: SnapshotInfo) -> Snapshot:
    """The version's files read into memory, with the catalog of its columns."""
    features = pl.read_parquet(info.features_path)
    events = pl.read_parquet(info.events_path)
    return Snapshot(info, features, events, catalog_for_schema(features.schema))


def latest_snapshot(db: Engine | Connection) -> Snapshot | None:
    """The newest version loaded into memory with the deltas published on it, or None before the first."""
    with connection_of(db) as conn:
        info = snapshot_info(conn)
        if info is None:
            return None
        snapshot = load_snapshot(info)
        return snapshot.with_deltas(deltas_after(conn, 0, info.source_changes))


def deltas_after(db: Engine | Connection, after_id: int, newer_than: int | None) -> list[DeltaInfo]:
    """The deltas past `after_id` that read more changes than `newer_than` (a snapshot's `source_changes`; None:
    a snapshot from before counting, which every delta is newer than), oldest first."""
    query = select(feature_deltas).where(feature_deltas.c.id > after_id).order_by(feature_deltas.c.id)
    if newer_than is not None:
        query = query.where(feature_deltas.c.source_changes > newer_than)
    with connection_of(db) as conn:
        return [_delta_info(row._mapping) for row in conn.execute(query)]


def updated_features(features: pl.DataFrame, deltas: Sequence[DeltaInfo]) -> pl.DataFrame:
    """`features` (sorted by customer id) with each delta's customers replaced by its rows, or removed, in order: a
    later delta wins for a customer both touched. Still sorted by customer id.

    Updated by key: a delta holds thousands of rows and the snapshot a million, so the rows of customers it already
    has are written over in place (a copy of each column and a scatter, no join over the million rows), customers new
    to it (newer ids, as a rule) are appended, and only an erasure filters the whole frame."""
    if not deltas:
        return features
    last_touch = _last_touch(deltas)
    rows = [pl.read_parquet(delta.features_path).with_columns(delta=pl.lit(n)) for n, delta in enumerate(deltas)]
    newest = _aligned_to(features, pl.concat(_unified(rows), how="diagonal_relaxed"))
    newest = newest.join(last_touch, on=["customer_id", "delta"], how="semi").drop("delta").sort("customer_id")
    features, newest = _unified([features, newest])
    ids = features.get_column("customer_id")
    positions, held = _rows_of(ids, newest.get_column("customer_id"))
    replaced, added = newest.filter(held), newest.filter(~held)
    updated = features.select(
        _scattered(features.get_column(name), positions.filter(held), replaced.get_column(name))
        for name in features.columns
    )
    removed = last_touch.join(newest, on="customer_id", how="anti").get_column("customer_id")
    if not removed.is_empty():
        updated = updated.filter(~pl.col("customer_id").is_in(removed.implode()))
    if added.is_empty():
        return updated
    if updated.is_empty() or added.item(0, "customer_id") > updated.item(-1, "customer_id"):
        return updated.vstack(added)
    return updated.merge_sorted(added, key="customer_id")


def _rows_of(ids: pl.Series, keys: pl.Series) -> tuple[pl.Series, pl.Series]:
    """Where each of `keys` is or would go in the sorted `ids`, and whether it is there."""
    positions = ids.search_sorted(keys)
    if ids.is_empty():
        return positions, pl.Series([False] * keys.len(), dtype=pl.Boolean)
    return positions, keys == ids.gather(positions.clip(upper_bound=ids.len() - 1))


def _scattered(column: pl.Series, positions: pl.Series, values: pl.Series) -> pl.Series:
    """A copy of `column` with `values` written at `positions` (the column itself is shared with older snapshots
    and stays as it is)."""
    if positions.is_empty():
        return column
    copy = column.clone()
    copy.scatter(positions, values)
    return copy


def updated_events(events: pl.DataFrame, deltas: Sequence[DeltaInfo]) -> pl.DataFrame:
    """`events` with each delta's customers' events replaced by the delta's (the newest delta touching one wins)."""
    if not deltas:
        return events
    last_touch = _last_touch(deltas, events=True)
    published = [pl.read_parquet(delta.events_path).with_columns(delta=pl.lit(n)) for n, delta in enumerate(deltas)]
    fresh = pl.concat(_unified(published), how="diagonal_relaxed").join(
        last_touch, on=["customer_id", "delta"], how="semi"
    )
    # A membership test against the few touched customers, not a join over every event.
    kept = events.filter(~pl.col("customer_id").is_in(last_touch.get_column("customer_id").implode()).fill_null(False))
    return pl.concat(_unified([kept, fresh.select(kept.columns)]))


def _last_touch(deltas: Sequence[DeltaInfo], *, events: bool = False) -> pl.DataFrame:
    """customer_id and the index in `deltas` of the newest delta that touched the customer's row (or `events`)."""
    touched = [
        (delta.events_touched_ids if events else delta.touched_ids).to_frame().with_columns(delta=pl.lit(n))
        for n, delta in enumerate(deltas)
    ]
    return pl.concat(touched).group_by("customer_id").agg(pl.col("delta").max())


def _aligned_to(features: pl.DataFrame, rows: pl.DataFrame) -> pl.DataFrame:
    """Delta rows with the columns of `features`: a column a delta lacks (its snapshot had no such trait yet)
    keeps the value `features` has for the customer; one `features` lacks is left out."""
    missing = [name for name in features.columns if name not in rows.columns]
    if missing:
        rows = rows.join(features.select("customer_id", *missing), on="customer_id", how="left")
    schema = features.schema
    return rows.select(
        *(
            pl.col(name) if isinstance(schema[name], pl.Enum) else pl.col(name).cast(schema[name], strict=False)
            for name in features.columns
        ),
        "delta",
    )


def _unified(frames: list[pl.DataFrame]) -> list[pl.DataFrame]:
    """The frames with each category column of any of them as one `Enum` holding every frame's values, the first
    frame's categories first (its codes stay)."""
    names = {name for frame in frames for name, dtype in frame.schema.items() if isinstance(dtype, pl.Enum)}
    if not names:
        return frames
    enums: dict[str, pl.Enum] = {}
    for name in names:
        categories: dict[str, None] = {}
        for frame in frames:
            if name in frame.columns:
                column = frame.get_column(name)
                found = column.dtype.categories.to_list() if isinstance(column.dtype, pl.Enum) else []
                categories.update(dict.fromkeys(found or column.cast(pl.String).drop_nulls().unique().sort()))
        enums[name] = pl.Enum(list(categories))
    return [
        frame.with_columns(pl.col(name).cast(pl.String).cast(enums[name]) for name in names if name in frame.columns)
        if any(name in frame.columns and frame.schema[name] != enums[name] for name in names)
        else frame
        for frame in frames
    ]


def snapshot_table(db: Engine | Connection, info: SnapshotInfo) -> Table:
    """The version's Postgres table, for the SQL segment compiler (`SqlEvaluator`)."""
    schema, name = info.table_name.split(".", 1)
    with connection_of(db) as conn:
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


def write_parquet(frame: pl.DataFrame, path: Path, written: list[Path]) -> Path:
    """`frame` written to `path` under a temporary name and renamed (both names added to `written`, for the caller
    to remove if its transaction fails); the absolute path."""
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


def _delta_info(row: RowMapping) -> DeltaInfo:
    return DeltaInfo(
        id=int(row["id"]),
        taken_at=row["taken_at"],
        source_changes=int(row["source_changes"]),
        row_count=int(row["row_count"]),
        features_path=Path(row["features_path"]),
        events_path=Path(row["events_path"]),
        removed_ids=[int(customer_id) for customer_id in row["removed_ids"]],
        unfit_columns=list(row["unfit_columns"]),
    )


def connection_of(db: Engine | Connection) -> AbstractContextManager[Connection]:
    """A new connection from an engine, or the caller's own connection."""
    return nullcontext(db) if isinstance(db, Connection) else db.connect()
