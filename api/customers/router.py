"""`/v1/customers`: search customers, and read one customer's profile. Both show people, so both need an
analyst (see `engine.auth.roles`)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel

from api.deps import Analyst, Db, rate_limit
from api.errors import NotFound, error_responses
from api.snapshot import SnapshotOut, loaded_snapshot
from engine.customers.profile import customer_record, segments_containing, snapshot_row
from engine.customers.search import CustomerSummary, search_customers
from engine.postgres_safe import PostgresText
from engine.segments.store import list_segments

router = APIRouter(
    prefix="/v1/customers",
    tags=["customers"],
    responses=error_responses(401, 403, 429),
    dependencies=[rate_limit("read")],
)


class CustomerOut(BaseModel):
    id: int
    external_id: str
    email: str | None
    phone: str | None
    first_name: str | None
    last_name: str | None
    city: str | None
    created_at: datetime


class CustomerSearchPage(BaseModel):
    """Customers in id order; pass `next_cursor` as `cursor` for the next page (null: no more)."""

    customers: list[CustomerOut]
    next_cursor: int | None


class SegmentRef(BaseModel):
    id: int
    name: str


class CustomerProfile(BaseModel):
    """Who the customer is, their newest orders and events, their features on the current snapshot and the
    saved segments they are in there (both null before any snapshot, or when the customer is newer than it)."""

    customer: dict[str, Any]
    orders: list[dict[str, Any]]
    recent_events: list[dict[str, Any]]
    features: dict[str, Any] | None
    segments: list[SegmentRef] | None
    snapshot: SnapshotOut | None


@router.get("", response_model=CustomerSearchPage, summary="Search customers")
def get_customers(
    _: Analyst,
    db: Db,
    q: Annotated[
        PostgresText | None,
        Query(max_length=200, description="The start of a name, e-mail, phone or external id (any case); blank: all"),
    ] = None,
    cursor: Annotated[int | None, Query(ge=0, le=2**63 - 1, description="`next_cursor` of the previous page")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> CustomerSearchPage:
    """Customers whose e-mail, phone, external id, first or last name starts with `q` ("ada lov" finds Ada
    Lovelace; "4477" finds "+4477..."), in id order, a page at a time."""
    page = search_customers(db, q, after=cursor, limit=limit)
    return CustomerSearchPage(customers=[_summary(found) for found in page.customers], next_cursor=page.next_cursor)


@router.get("/{customer_id}", response_model=CustomerProfile, responses=error_responses(404), summary="A customer")
def get_customer(
    customer_id: Annotated[int, Path(ge=1, le=2**63 - 1)],
    _: Analyst,
    db: Db,
    request: Request,
    orders: Annotated[int, Query(ge=0, le=500, description="How many of the newest orders")] = 50,
    events: Annotated[int, Query(ge=0, le=500, description="How many of the newest events")] = 50,
) -> CustomerProfile:
    record = customer_record(db, customer_id, orders_limit=orders, events_limit=events)
    if record is None:
        raise NotFound(f"there is no customer {customer_id}")
    snapshot = loaded_snapshot(request.app)
    row = snapshot_row(snapshot.features, customer_id) if snapshot else None
    in_snapshot = snapshot is not None and row is not None and not row.is_empty()
    return CustomerProfile(
        customer=record.attributes,
        orders=record.orders,
        recent_events=record.events,
        features=row.row(0, named=True) if in_snapshot and row is not None else None,
        segments=[
            SegmentRef(id=segment.id, name=segment.name)
            for segment in segments_containing(snapshot.evaluator, customer_id, list_segments(db))
        ]
        if in_snapshot and snapshot is not None
        else None,
        snapshot=SnapshotOut.of(snapshot) if snapshot else None,
    )


def _summary(found: CustomerSummary) -> CustomerOut:
    return CustomerOut(**vars(found))
