"""`GET /v1/features`: the features a segment rule can test, with types, operators and example values."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel

from api.auth.schemas import error_responses
from api.deps import Viewer, rate_limit
from api.snapshot import SnapshotOut, loaded_snapshot
from engine.features.catalog import FeatureType, base_catalog
from engine.segments.field_guide import field_guide

router = APIRouter(prefix="/v1", tags=["segments"], responses=error_responses(401, 403, 429))


class FeatureOut(BaseModel):
    name: str
    type: FeatureType
    label: str
    description: str
    examples: list[Any]
    operators: list[str]


class CatalogOut(BaseModel):
    """The catalog of the current snapshot (declared features plus its traits); without a snapshot yet,
    the declared features only, and `snapshot` is null."""

    snapshot: SnapshotOut | None
    features: list[FeatureOut]


@router.get("/features", response_model=CatalogOut, dependencies=[rate_limit("read")], summary="The feature catalog")
def get_features(_: Viewer, request: Request) -> CatalogOut:
    """Every feature a rule may test: name, type, label, description, example values and the operators its
    type allows (see `GET /v1/segments/schema` for the shape of a rule)."""
    snapshot = loaded_snapshot(request.app)
    if snapshot is None:
        guide = field_guide(base_catalog())
        return CatalogOut(snapshot=None, features=[FeatureOut(**vars(item)) for item in guide])
    return CatalogOut(
        snapshot=SnapshotOut.of(snapshot),
        features=[FeatureOut(**vars(item)) for item in snapshot.field_guide],
    )
