"""Telling failures that may succeed when sent again from those that cannot."""

from __future__ import annotations

import pytest

from engine.campaigns.failures import failure_kind


@pytest.mark.parametrize(
    "reason",
    [
        "the vendor did not accept it after 5 attempts (HTTP 503)",
        "the vendor did not accept it after 5 attempts (TimeoutError)",
        "the vendor did not accept it after 5 attempts (ClientConnectorError)",
        "refused by the vendor (429): too many requests",
        "unreachable",
        "number unreachable",
        "Mailbox full",
        "carrier rejected (error 30007)",
        "timeout",
        "delivery timed out",
        "service temporarily unavailable",
        "connection reset by the carrier",
    ],
)
def test_failures_that_may_succeed_next_time_are_transient(reason: str) -> None:
    assert failure_kind(reason) == "transient"


@pytest.mark.parametrize(
    "reason",
    [
        "unsubscribed",
        "invalid number",
        "Invalid address",
        "blocked as spam",
        "refused by the vendor (422): [{'loc': ['to'], 'msg': 'too long'}]",
        "refused by the vendor (400): bad request",
        "unreachable, and unsubscribed since",  # a permanent phrase wins
        "failed without a reason",  # not known to be retryable
        "",
        None,
    ],
)
def test_failures_that_cannot_succeed_or_are_not_known_to_be_permanent(reason: str | None) -> None:
    assert failure_kind(reason) == "permanent"


def test_the_vendors_own_flag_wins_over_the_reason() -> None:
    assert (failure_kind("mailbox full", permanent=True), failure_kind("unsubscribed", permanent=False)) == (
        "permanent",
        "transient",
    )
