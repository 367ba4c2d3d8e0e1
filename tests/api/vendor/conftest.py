"""Fixtures for the vendor tests: an inbox standing in for the CRM, and simulators posting to it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Route

from api.vendor.app import create_app
from api.vendor.config import Faults, VendorConfig
from engine.webhooks import generate_secret
from tests.api.vendor.loopback import ReceiptInbox, StartVendor, serve


@pytest.fixture
def inbox() -> Iterator[ReceiptInbox]:
    receiver = ReceiptInbox(secret=generate_secret())
    app = Starlette(routes=[Route("/v1/receipts", receiver.receive, methods=["POST"])])
    with serve(app) as base_url:
        receiver.url = f"{base_url}/v1/receipts"
        yield receiver


@pytest.fixture
def start_vendor(inbox: ReceiptInbox) -> Iterator[StartVendor]:
    """Starts a simulator posting receipts to `inbox` (seeded, quick receipts unless told otherwise);
    returns an HTTP client bound to it. Every simulator started is stopped after the test."""
    with ExitStack() as stack:

        def start(faults: Faults | None = None, **settings: Any) -> httpx.Client:
            config = VendorConfig(
                **{
                    "callback_url": inbox.url,
                    "webhook_secret": inbox.secret,
                    "seed": 7,
                    "receipt_backoff_s": 0.05,
                    "faults": faults or Faults(receipt_delay_ms=20),
                    **settings,
                }
            )
            base_url = stack.enter_context(serve(create_app(config)))
            return stack.enter_context(httpx.Client(base_url=base_url, timeout=10))

        yield start


@pytest.fixture
def vendor(start_vendor: StartVendor) -> httpx.Client:
    """A simulator with the default faults except quick receipts."""
    return start_vendor()
