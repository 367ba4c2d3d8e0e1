"""Fixtures for the campaign tests: vendor simulators on loopback."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import httpx
import pytest

from api.vendor.app import create_app
from api.vendor.config import Faults, VendorConfig
from tests.api.vendor.loopback import serve

Vendor = Callable[..., tuple[str, httpx.Client]]


@pytest.fixture
def start_vendor() -> Iterator[Vendor]:
    """Starts a simulator with these faults and settings (no receipts unless given a callback URL); returns its
    URL and a client for its admin API. Every simulator started is stopped after the test."""
    with ExitStack() as stack:

        def start(faults: Faults | None = None, **config: Any) -> tuple[str, httpx.Client]:
            app = create_app(VendorConfig(**{"seed": 11, "faults": faults or Faults(), **config}))
            url = stack.enter_context(serve(app))
            return url, stack.enter_context(httpx.Client(base_url=url, timeout=10))

        yield start
