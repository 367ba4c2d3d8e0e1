"""Where the AI routes get the audience from: the API's in-memory feature snapshot, and saved segments.

`audience_evaluator` is the one place the AI routes touch the snapshot; without a published snapshot it
is None and the routes answer without counts (saying so). Tests replace it with their own evaluator.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from api.errors import NotFound
from api.snapshot import loaded_snapshot
from engine.connections import get_engine
from engine.features.catalog import Catalog, base_catalog
from engine.segments import Rule, parse_rule
from engine.segments.polars_backend import PolarsEvaluator
from engine.segments.store import get_segment


def audience_evaluator(request: Request) -> PolarsEvaluator | None:
    """The current snapshot's evaluator, or None while no snapshot has been published."""
    snapshot = loaded_snapshot(request.app)
    return snapshot.evaluator if snapshot is not None else None


Evaluator = Annotated[PolarsEvaluator | None, Depends(audience_evaluator)]


def catalog_of(evaluator: PolarsEvaluator | None) -> Catalog:
    """The snapshot's catalog (traits included), or the static one before any snapshot."""
    return evaluator.catalog if evaluator is not None else base_catalog()


def saved_segment_rule(segment_id: int, catalog: Catalog) -> Rule:
    """A saved segment's rule; 404 when there is no such segment. `RuleError` if it no longer fits the catalog."""
    segment = get_segment(get_engine(), segment_id)
    if segment is None:
        raise NotFound(f"no segment with id {segment_id}")
    return parse_rule(segment.rule, catalog)
