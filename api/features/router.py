"""`GET /v1/features`: the features a segment rule can test, with types, operators and example values; and
`GET /v1/features/{name}/values`: a categorical feature's values in the snapshot, for the builder's pick lists."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel

from api.deps import Viewer, rate_limit
from api.errors import NotFound, UnprocessableEntity, error_responses
from api.snapshot import CurrentSnapshot, SnapshotOut, loaded_snapshot
from engine.features.catalog import FeatureType, base_catalog
from engine.segments.field_guide import common_values, field_guide

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


class ValueOut(BaseModel):
    value: Any
    customers: int


class ValuesOut(BaseModel):
    """A categorical feature's most common values in the current snapshot, most customers first."""

    name: str
    values: list[ValueOut]
    snapshot: SnapshotOut


@router.get(
    "/features/{name}/values",
    response_model=ValuesOut,
    responses=error_responses(404, 409),
    dependencies=[rate_limit("read")],
    summary="A categorical feature's values",
)
def get_feature_values(
    name: Annotated[str, Path(max_length=200)],
    _: Viewer,
    snapshot: CurrentSnapshot,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> ValuesOut:
    """The `limit` most common values of a categorical feature (city, country, ...) with how many customers have
    each, for picking values in a rule. Only categories answer: other features' values are customers' own data."""
    feature = snapshot.catalog.get(name)
    if feature is None:
        raise NotFound(f"there is no feature {name!r}")
    if feature.type is not FeatureType.CATEGORY:
        raise UnprocessableEntity(f"{name} is a {feature.type} feature: only categorical features list their values")
    values = common_values(feature, snapshot.features, limit)
    return ValuesOut(
        name=name, values=[ValueOut(value=v, customers=n) for v, n in values], snapshot=SnapshotOut.of(snapshot)
    )
