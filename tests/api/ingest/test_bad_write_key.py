"""An integrator whose write key is wrong is told about write keys, whatever form the key came in: never advised
to send a user's bearer token, which ingestion does not take."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

BATCH = {"batch": [{"type": "track", "userId": "u1", "event": "Order Completed"}]}


@pytest.mark.parametrize(
    "credential",
    [
        {"auth": ("a-segment-style-key", "")},  # Segment's SDKs send the key as the Basic user name
        {"auth": ("xk_nope_nope", "")},
        {"headers": {"Authorization": "Bearer not-a-key"}},
    ],
    ids=["basic, not our form", "basic, unknown key", "bearer, not our form"],
)
def test_a_bad_write_key_on_batch_is_answered_with_advice_about_write_keys(
    api_client: TestClient, credential: dict[str, object]
) -> None:
    answer = api_client.post("/v1/batch", json=BATCH, **credential)  # type: ignore[arg-type]

    assert answer.status_code == 401
    assert answer.json() == {"error": "unauthorized", "detail": "the write key is unknown or revoked"}
    assert answer.headers["WWW-Authenticate"] == 'Basic realm="xeno ingest"'
