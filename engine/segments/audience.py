"""What the product shows of a rule's audience on an in-memory snapshot: a preview, pages, and exports.

A preview is what the rule builder redraws on every change, so it is one pass over the snapshot giving
the per-clause counts (the root's count is the size) and the first members in customer-id order. Pages
and exports walk the members in customer-id order too, so a cursor is simply the last id seen. They
expect the features frame sorted by `customer_id` (the API's snapshot holder sorts it once on loading).
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import polars as pl
import pyarrow.parquet as pq

from engine.pagination import cut_page, fetch_size
from engine.segments.english import describe
from engine.segments.polars_backend import PolarsEvaluator
from engine.segments.rules import And, Not, Or, Rule, child_nodes, walk
from engine.segments.validation import check_rule

# The columns a sample or a page of members shows, when the snapshot has them.
SUMMARY_COLUMNS = (
    "customer_id",
    "external_id",
    "first_name",
    "last_name",
    "email",
    "city",
    "total_spend",
    "order_count",
    "last_order_at",
)
EXPORT_CHUNK_ROWS = 50_000
FORMULA_START = r"^[=+\-@\t\r]"  # what makes a spreadsheet read a CSV cell as a formula


@dataclass(frozen=True)
class Preview:
    """An unsaved rule's audience: its size, per-clause counts by node path, a sample, the sentence, and the
    funnel: how many customers the root group's first clause matches, then the first two together, and so on (an
    AND narrows, an OR widens; empty when the rule is not a group); and `members`, which of the snapshot's rows
    match (a boolean per row, to ask more about them without evaluating the rule again)."""

    size: int
    clause_counts: dict[str, int]
    sample: list[dict[str, Any]]
    sentence: str
    funnel: list[int]
    members: pl.Series = field(repr=False, compare=False)


@dataclass(frozen=True)
class MemberPage:
    """Members after a cursor, in customer-id order; `next_cursor` is None on the last page."""

    members: list[dict[str, Any]]
    next_cursor: int | None


def summary_columns(evaluator: PolarsEvaluator) -> list[str]:
    return [name for name in SUMMARY_COLUMNS if name in evaluator.features.columns]


def preview(evaluator: PolarsEvaluator, rule: Rule, sample_size: int = 10) -> Preview:
    """Size, per-clause counts, the first `sample_size` members (by id) and the English reading, in one pass.

    Each condition becomes a boolean column once; groups combine those columns, as the evaluator's
    `clause_counts` does; the same query also finds the positions of the first members, so the rule is
    evaluated over the snapshot once rather than once for the counts and again for the sample.
    """
    check_rule(rule, evaluator.catalog)
    nodes = list(walk(rule))
    columns = {path: f"__segment_node {path}" for path, _ in nodes}
    conditions = evaluator.features.lazy().select(
        evaluator.compiler.compile(node, path).alias(columns[path])
        for path, node in nodes
        if not isinstance(node, And | Or | Not)
    )

    def matched(path: str, node: Rule) -> pl.Expr:
        children = [matched(child_path, child) for child_path, child in child_nodes(node, path)]
        if isinstance(node, And):
            return pl.all_horizontal(children)
        if isinstance(node, Or):
            return pl.any_horizontal(children)
        if isinstance(node, Not):
            return ~children[0]
        return pl.col(columns[path])

    clauses = [matched(path, node) for path, node in child_nodes(rule, "")] if isinstance(rule, And | Or) else []
    combine = pl.all_horizontal if isinstance(rule, And) else pl.any_horizontal
    answer = conditions.select(
        *(matched(path, node).sum().alias(columns[path]) for path, node in nodes),
        *(combine(clauses[: step + 1]).sum().alias(f"__segment_funnel {step}") for step in range(len(clauses))),
        pl.arg_where(matched("", rule)).head(sample_size).implode().alias("__segment_sample"),
        matched("", rule).implode().alias("__segment_members"),
    ).collect()
    clause_counts = {path: int(answer.item(0, columns[path])) for path, _ in nodes}
    funnel = [int(answer.item(0, f"__segment_funnel {step}")) for step in range(len(clauses))]
    sample = evaluator.features.select(summary_columns(evaluator))[answer.item(0, "__segment_sample")]
    members = answer.item(0, "__segment_members")
    return Preview(
        clause_counts[""], clause_counts, sample.to_dicts(), describe(rule, evaluator.catalog), funnel, members
    )


def member_page(evaluator: PolarsEvaluator, rule: Rule, *, after: int | None, limit: int) -> MemberPage:
    """Up to `limit` members with ids above `after` (from the start when None)."""
    matching = evaluator.compile(rule)
    if after is not None:
        matching = matching & (pl.col("customer_id") > after)
    rows = (
        evaluator.features.lazy()
        .filter(matching)
        .head(fetch_size(limit))
        .select(summary_columns(evaluator))
        .collect()
        .to_dicts()
    )
    page = cut_page(rows, limit, key=lambda row: int(row["customer_id"]))
    return MemberPage(page.items, page.next_cursor)


def members_frame(evaluator: PolarsEvaluator, rule: Rule) -> pl.DataFrame:
    """Every member's full feature row, in customer-id order."""
    return evaluator.features.filter(evaluator.compile(rule))


def spreadsheet_safe(frame: pl.DataFrame) -> pl.DataFrame:
    """`frame` with every text cell a spreadsheet would run as a formula (starting with `=`, `+`, `-`, `@`, a tab
    or a carriage return) prefixed with `'`, as OWASP advises for CSV files; number columns are left alone."""
    text = [name for name, dtype in frame.schema.items() if isinstance(dtype, pl.String | pl.Categorical | pl.Enum)]
    return frame.with_columns(
        pl.when(pl.col(name).cast(pl.String).str.contains(FORMULA_START))
        .then(pl.lit("'") + pl.col(name).cast(pl.String))
        .otherwise(pl.col(name).cast(pl.String))
        .alias(name)
        for name in text
    )


def csv_chunks(members: pl.DataFrame) -> Iterator[bytes]:
    """The members as CSV (one header line, text cells `spreadsheet_safe`), in pieces of `EXPORT_CHUNK_ROWS` rows
    for streaming."""
    for start in range(0, max(members.height, 1), EXPORT_CHUNK_ROWS):
        buffer = io.BytesIO()
        spreadsheet_safe(members.slice(start, EXPORT_CHUNK_ROWS)).write_csv(buffer, include_header=start == 0)
        yield buffer.getvalue()


def parquet_chunks(members: pl.DataFrame) -> Iterator[bytes]:
    """The members as one Parquet file, a row group per `EXPORT_CHUNK_ROWS` rows, yielded as written."""
    sink = _DrainableSink()
    table = members.to_arrow()
    with pq.ParquetWriter(sink, table.schema, compression="zstd") as writer:
        for batch in table.to_batches(max_chunksize=EXPORT_CHUNK_ROWS):
            writer.write_batch(batch)
            yield sink.drain()
    yield sink.drain()


class _DrainableSink(io.RawIOBase):
    """A write-only file whose bytes so far can be taken out, so a file can be streamed while it is written."""

    def __init__(self) -> None:
        self._pending = bytearray()
        self._position = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        view = memoryview(data)
        self._pending += view
        self._position += view.nbytes
        return view.nbytes

    def tell(self) -> int:
        return self._position

    def drain(self) -> bytes:
        taken = bytes(self._pending)
        self._pending.clear()
        return taken
