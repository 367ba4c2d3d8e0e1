"""A body declared as something other than JSON is a 415 that says what to send; real SDKs keep working.

Segment's browser library (analytics.js) posts its JSON as `text/plain` (a "simple" request a browser sends
without a CORS preflight), so the Segment-compatible endpoints take `text/plain` JSON; ours take JSON only.
"""

from __future__ import annotations

import orjson
import pytest
from fastapi.testclient import TestClient

from tests.fixtures.api import drain_ingest_stream

CUSTOMER = {"external_id": "ct-1", "email": "ct@example.com"}
TRACK = {"type": "track", "userId": "ct-1", "event": "Viewed", "messageId": "ct-m1"}


@pytest.mark.parametrize(
    ("path", "body", "content_type"),
    [
        ("/v1/customers", b"external_id=ct-1&email=ct%40example.com", "application/x-www-form-urlencoded"),
        ("/v1/customers", orjson.dumps(CUSTOMER), "text/plain"),
        ("/v1/orders", b"--b\r\n\r\n{}\r\n--b--", "multipart/form-data; boundary=b"),
        ("/v1/batch", b"batch=1", "application/x-www-form-urlencoded"),
        ("/v1/track", b"userId=ct-1&event=Viewed", "application/x-www-form-urlencoded"),
        ("/v1/identify", b"<identify/>", "application/xml"),
    ],
)
def test_a_body_that_is_not_json_is_a_415_saying_to_send_json(
    api_client: TestClient, write_key: str, path: str, body: bytes, content_type: str
) -> None:
    answer = api_client.post(path, content=body, headers={"Content-Type": content_type}, auth=(write_key, ""))

    assert answer.status_code == 415, answer.text
    assert answer.json()["error"] == "unsupported_media_type"
    assert content_type.partition(";")[0] in answer.json()["detail"]
    assert "Content-Type: application/json" in answer.json()["detail"]


def test_analytics_js_text_plain_json_is_accepted_by_the_segment_endpoints(
    api_client: TestClient, write_key: str
) -> None:
    body = orjson.dumps({"batch": [TRACK], "writeKey": write_key, "sentAt": "2026-11-20T09:30:01.000Z"})
    answer = api_client.post("/v1/batch", content=body, headers={"Content-Type": "text/plain"})
    single = api_client.post(
        "/v1/page", content=orjson.dumps({"userId": "ct-1", "name": "Home"}), headers={"Content-Type": "text/plain"},
        auth=(write_key, ""),
    )  # fmt: skip

    assert (answer.status_code, single.status_code) == (200, 200), answer.text + single.text
    assert answer.json()["accepted"] == 1
    assert drain_ingest_stream().applied == 2


@pytest.mark.parametrize("content_type", ["application/json; charset=utf-8", "application/vnd.api+json", None])
def test_json_with_a_charset_a_json_suffix_or_no_declared_type_is_accepted(
    api_client: TestClient, write_key: str, content_type: str | None
) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    answer = api_client.post("/v1/customers", content=orjson.dumps(CUSTOMER), headers=headers, auth=(write_key, ""))

    assert answer.status_code == 202, answer.text
