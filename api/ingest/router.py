"""`POST /v1/customers` and `POST /v1/orders`: one object or a batch of up to 1,000, validated per item."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request, Security, status
from pydantic import TypeAdapter

from api.deps import rate_limit
from api.errors import PayloadTooLarge, UnprocessableEntity
from api.ingest.body import read_json
from api.ingest.keys import authenticate, write_key_basic, write_key_bearer
from api.ingest.publish import publish_batch
from api.ingest.schemas import Accepted, ItemError
from api.openapi import body_schema
from engine.ingest.native import CustomerIn, OrderIn, customer_adapter, order_adapter
from engine.ingest.records import empty_batch
from engine.ingest.validation import MAX_BATCH_ITEMS, validate_items
from engine.settings import get_settings

router = APIRouter(
    prefix="/v1",
    tags=["ingestion"],
    dependencies=[Security(write_key_basic), Security(write_key_bearer), rate_limit("ingest")],
)

_REFUSED: dict[int | str, dict[str, Any]] = {
    401: {"description": "No write key, or an unknown or revoked one."},
    413: {"description": "The body or the batch is too large."},
    415: {"description": "The body is declared as something other than JSON (a form, plain text)."},
    422: {"description": "No item was valid; `detail` lists each problem by index and field."},
}


def _as_items(body: Any) -> list[Any]:
    items = body if isinstance(body, list) else [body]
    if len(items) > MAX_BATCH_ITEMS:
        raise PayloadTooLarge(f"a batch holds at most {MAX_BATCH_ITEMS} items; this one has {len(items)}")
    return items


async def _ingest(request: Request, adapter: TypeAdapter[Any], table: str) -> Accepted:
    await authenticate(request)
    body, _ = await read_json(request, get_settings().max_request_bytes)
    items = _as_items(body)
    valid, problems = validate_items(adapter, items)
    rejected = [ItemError(index=p.index, field=p.field, message=p.message) for p in problems]
    if not valid:
        raise UnprocessableEntity([item.model_dump() for item in rejected])
    received_at = datetime.now(UTC)
    batch = empty_batch()
    batch[table] = [value.to_record(received_at) for _, value in valid]  # type: ignore[literal-required]
    stream_id = await publish_batch(batch)
    return Accepted(
        accepted=len(valid),
        ids=[value.external_id for _, value in valid],
        rejected=rejected,
        stream_id=stream_id,
    )


@router.post(
    "/customers",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=Accepted,
    responses=_REFUSED,
    openapi_extra=body_schema(CustomerIn | list[CustomerIn]),
    summary="Create or update customers",
)
async def ingest_customers(request: Request) -> Accepted:
    """Write key. Customers keyed by `external_id`: sending one again updates it (the newest
    `updated_at` wins; unset fields keep their stored values). Bad items are refused, the rest accepted."""
    return await _ingest(request, customer_adapter, "customers")


@router.post(
    "/orders",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=Accepted,
    responses=_REFUSED,
    openapi_extra=body_schema(OrderIn | list[OrderIn]),
    summary="Create or update orders",
)
async def ingest_orders(request: Request) -> Accepted:
    """Write key. Orders keyed by `external_id`, each naming its customer's `customer_external_id`
    (a customer not seen yet is created bare, and filled in when its details arrive)."""
    return await _ingest(request, order_adapter, "orders")
