"""The segment tests' API, customers and snapshot publisher (`tests.api.segments.conftest`), for customer routes."""

from tests.api.segments.conftest import analyst, client, loads, published, publisher, viewer  # noqa: F401
