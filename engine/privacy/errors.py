"""What privacy requests refuse with, each of one of the engine's kinds of refusal."""

from __future__ import annotations

from engine.errors import NotFound


class CustomerNotFound(NotFound, LookupError):
    """There is no customer with that id (404): never was, or already erased."""

    def __init__(self, customer_id: int) -> None:
        super().__init__(f"there is no customer {customer_id}")
        self.customer_id = customer_id
