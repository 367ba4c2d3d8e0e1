"""What privacy requests refuse with, so the API can answer each with its status code."""

from __future__ import annotations


class CustomerNotFound(LookupError):
    """There is no customer with that id (404): never was, or already erased."""

    def __init__(self, customer_id: int) -> None:
        super().__init__(f"there is no customer {customer_id}")
        self.customer_id = customer_id
