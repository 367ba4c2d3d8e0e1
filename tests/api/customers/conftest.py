"""The segment tests' API, customers and snapshot shelf (`tests.api.segments.conftest`), for customer routes."""

from tests.api.segments.conftest import analyst, client, published, shelf, viewer  # noqa: F401
