"""The vendor simulator's HTTP face: `create_app(config)`; run it with
`uvicorn api.vendor.app:create_app --factory --port 8100` (configured by `XENO_VENDOR_*` variables).

Send endpoints answer 202 with a vendor message id per message, honouring idempotency keys; status
endpoints answer what became of messages (as their receipts would say), by id; the admin endpoints let tests
flip faults and read counters. Errors are JSON `{"error": <code>, "detail": ...}`.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Annotated

import orjson
from fastapi import APIRouter, Depends, FastAPI, Header, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response

from api.vendor.config import Faults, VendorConfig
from api.vendor.receipts import ReceiptDispatcher, receipt_json
from api.vendor.schemas import (
    BatchResult,
    BatchSend,
    Health,
    MessageStatus,
    OutgoingMessage,
    SendResult,
    Stats,
    StatusBatch,
    StatusQuery,
)
from api.vendor.simulator import Simulator

log = logging.getLogger(__name__)


class VendorError(Exception):
    """An expected refusal, answered as `{"error": code, "detail": detail}` with `status_code`."""

    def __init__(
        self, status_code: int, code: str, detail: object = None, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(code)
        self.status_code = status_code
        self.code = code
        self.detail = detail
        self.headers = headers


async def _simulator(request: Request) -> Simulator:
    simulator: Simulator = request.app.state.simulator
    return simulator


VendorSimulator = Annotated[Simulator, Depends(_simulator)]


async def _require_api_key(simulator: VendorSimulator, authorization: Annotated[str | None, Header()] = None) -> None:
    expected = simulator.config.api_key
    if expected is None:
        return
    offered = (authorization or "").removeprefix("Bearer ").encode()
    if not hmac.compare_digest(offered, expected.encode()):
        raise VendorError(401, "unauthorized", "send `Authorization: Bearer <api key>`")


router = APIRouter(prefix="/v1", dependencies=[Depends(_require_api_key)])


async def _answer(simulator: Simulator, messages: Sequence[OutgoingMessage]) -> list[dict[str, object]]:
    """Apply the request-level faults around `Simulator.send`: latency, 5xx, 429, or a hang after sending."""
    faults = simulator.faults
    if faults.latency_ms:
        await asyncio.sleep(faults.latency_ms / 1000)
    fault = simulator.roll_request_fault()
    simulator.counters.responses[fault or "accepted"] += 1
    if fault == "5xx":
        raise VendorError(503, "unavailable", "the vendor is temporarily unavailable; retry later")
    if fault == "429":
        raise VendorError(429, "rate_limited", "too many requests", headers={"Retry-After": str(faults.retry_after_s)})
    results = simulator.send(messages)
    if fault == "timeout":
        await asyncio.sleep(faults.timeout_hang_ms / 1000)
    return results


def _json(payload: object, status_code: int = 202) -> Response:
    return Response(orjson.dumps(payload), status_code=status_code, media_type="application/json")


@router.post("/messages", status_code=202, responses={202: {"model": SendResult}})
async def send_message(
    message: OutgoingMessage,
    simulator: VendorSimulator,
    idempotency_key: Annotated[str | None, Header(min_length=1, max_length=255)] = None,
) -> Response:
    """Send one message; its idempotency key comes from the body or the `Idempotency-Key` header."""
    key = message.get("idempotency_key") or idempotency_key
    if key is None:
        raise VendorError(422, "idempotency_key_required", "give `idempotency_key` or `Idempotency-Key`")
    if idempotency_key is not None and key != idempotency_key:
        raise VendorError(422, "conflicting_idempotency_keys", "the body and the header disagree")
    results = await _answer(simulator, [{**message, "idempotency_key": key}])
    return _json(results[0])


@router.post("/messages/batch", status_code=202, responses={202: {"model": BatchResult}})
async def send_batch(batch: BatchSend, simulator: VendorSimulator) -> Response:
    """Send up to `max_batch_size` messages, each with its own `idempotency_key`; results keep their order."""
    messages = batch["messages"]
    if len(messages) > simulator.config.max_batch_size:
        raise VendorError(413, "batch_too_large", f"at most {simulator.config.max_batch_size} messages per batch")
    unkeyed = [i for i, m in enumerate(messages) if "idempotency_key" not in m]
    if unkeyed:
        raise VendorError(422, "idempotency_key_required", {"messages_without_key": unkeyed})
    results = await _answer(simulator, messages)
    duplicates = sum(1 for r in results if r["duplicate"])
    return _json({"messages": results, "accepted": len(results) - duplicates, "duplicates": duplicates})


def _status_json(simulator: Simulator, vendor_message_id: str) -> dict[str, object]:
    receipt = simulator.status(vendor_message_id)
    if receipt is None:
        return {"vendor_message_id": vendor_message_id, "reference": None, "status": "unknown", "reason": None,
                "permanent": None, "occurred_at": None}  # fmt: skip
    return receipt_json(receipt)


@router.post("/messages/status", responses={200: {"model": StatusBatch}})
async def message_statuses(query: StatusQuery, simulator: VendorSimulator) -> Response:
    """The status of each message asked about (up to 1,000), in the order asked; `unknown` for ids not known."""
    return _json({"messages": [_status_json(simulator, vendor_id) for vendor_id in query["ids"]]}, status_code=200)


@router.get("/messages/{vendor_message_id}", responses={200: {"model": MessageStatus}})
async def message_status(vendor_message_id: str, simulator: VendorSimulator) -> Response:
    """The status of one message; 404 for an id the vendor never gave or has forgotten."""
    answer = _status_json(simulator, vendor_message_id)
    if answer["status"] == "unknown":
        raise VendorError(404, "unknown_message", f"no message {vendor_message_id!r} is known here")
    return _json(answer, status_code=200)


@router.get("/stats")
async def stats(simulator: VendorSimulator) -> Stats:
    """Counters since start or the last reset."""
    return simulator.stats()


@router.get("/admin/faults")
async def read_faults(simulator: VendorSimulator) -> Faults:
    return simulator.faults


@router.put("/admin/faults")
async def replace_faults(faults: Faults, simulator: VendorSimulator) -> Faults:
    """Set the faults to the body; knobs left out go back to their startup values."""
    return _set_faults(simulator, simulator.config.faults, faults)


@router.patch("/admin/faults")
async def update_faults(faults: Faults, simulator: VendorSimulator) -> Faults:
    """Change only the knobs in the body."""
    return _set_faults(simulator, simulator.faults, faults)


def _set_faults(simulator: Simulator, base: Faults, changes: Faults) -> Faults:
    merged = {**base.model_dump(), **changes.model_dump(exclude_unset=True)}
    try:
        simulator.faults = Faults.model_validate(merged)
    except ValueError as exc:
        raise VendorError(422, "invalid_faults", str(exc)) from exc
    return simulator.faults


@router.post("/admin/reset", status_code=204)
async def reset(simulator: VendorSimulator) -> Response:
    """Forget every message, idempotency key, pending receipt and counter."""
    simulator.reset()
    return Response(status_code=204)


def create_app(config: VendorConfig | None = None) -> FastAPI:
    """The simulator app; without `config` it reads `XENO_VENDOR_*` variables."""
    vendor_config = config if config is not None else VendorConfig()
    simulator = Simulator(vendor_config)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        dispatching = None
        url, secret = vendor_config.callback_url, vendor_config.webhook_secret
        if url is not None and secret is not None:
            log.info("vendor simulator: posting receipts to %s", url)
            dispatching = asyncio.create_task(ReceiptDispatcher(simulator, url, secret).run())
        else:
            log.info("vendor simulator: no XENO_VENDOR_CALLBACK_URL, so no receipts")
        log.info("vendor simulator faults: %s", simulator.faults.model_dump())
        yield
        if dispatching is not None:
            dispatching.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await dispatching

    app = FastAPI(
        title="Xeno delivery vendor simulator",
        version="0.1.0",
        summary="Accepts SMS and e-mail sends and posts signed delivery receipts, with faults on request.",
        lifespan=lifespan,
    )
    app.state.simulator = simulator
    app.include_router(router)

    @app.get("/health")
    async def health() -> Health:
        return Health()

    @app.exception_handler(VendorError)
    async def vendor_error(_: Request, exc: VendorError) -> JSONResponse:
        body = {"error": exc.code, "detail": exc.detail}
        return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        detail = [{"loc": e["loc"], "msg": e["msg"]} for e in exc.errors()]
        return JSONResponse({"error": "invalid_request", "detail": detail}, status_code=422)

    return app
