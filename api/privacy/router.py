"""`/v1/customers/{id}/export` and `/v1/customers/{id}/erase`: a customer's privacy requests, for admins only.

Both are recorded in the audit log with who asked and from where.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request, Response
from pydantic import BaseModel

from api.auth.dependencies import client_ip
from api.deps import Admin, Db, rate_limit
from api.errors import error_responses
from engine.privacy.erase import erase_customer
from engine.privacy.export import as_json, customer_export

router = APIRouter(
    prefix="/v1/customers",
    tags=["privacy"],
    responses=error_responses(401, 403, 404, 429),
)
CustomerId = Annotated[int, Path(ge=1, le=2**63 - 1)]


class ErasureOut(BaseModel):
    """What the erasure removed, rows per table, and how many of the customer's addresses are now suppressed (kept
    only as hashes); the feature snapshot forgets the customer at its next refresh."""

    customer_id: int
    removed: dict[str, int]
    suppressed: int


@router.get(
    "/{customer_id}/export",
    response_class=Response,
    responses={200: {"content": {"application/json": {}}, "description": "Everything held about the customer"}},
    dependencies=[rate_limit("read")],
    summary="Export a customer's data",
)
def export_customer(customer_id: CustomerId, admin: Admin, db: Db, request: Request) -> Response:
    """Everything held about the customer as one JSON document (a download): their profile, one list per table
    holding rows about them (orders, events, communication_log, ...), their features and dead letters naming them."""
    held = customer_export(db, customer_id, admin.email, client_ip(request))
    disposition = f'attachment; filename="customer-{customer_id}.json"'
    return Response(as_json(held), media_type="application/json", headers={"Content-Disposition": disposition})


@router.post(
    "/{customer_id}/erase",
    response_model=ErasureOut,
    dependencies=[rate_limit("write")],
    summary="Erase a customer",
)
def erase(customer_id: CustomerId, admin: Admin, db: Db, request: Request) -> ErasureOut:
    """Removes the customer and everything held about them, for good. Their addresses are suppressed (kept only as
    hashes), so no later campaign reaches them."""
    erasure = erase_customer(db, customer_id, admin.email, client_ip(request))
    return ErasureOut(**vars(erasure))
