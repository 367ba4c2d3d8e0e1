"""The product's Prometheus instruments, declared once, in the process's default registry.

Each process counts what it does itself, and serves its own figures at `GET /metrics` (the API on its port, the
workers beside their `/health`): the API its requests and the records it accepted; consumers the records they
applied or dead-lettered and the receipts they applied; senders their messages and rate-limit waits; any process its
AI calls. The state of the pipeline as a whole is read when scraped instead (`engine.operations.metrics`).
This module imports nothing of ours, so that any layer may count.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

HTTP_REQUESTS = Counter(
    "xeno_http_requests", "HTTP requests answered, by method, route and status.", ["method", "route", "status"]
)
HTTP_LATENCY = Histogram(
    "xeno_http_request_duration_seconds", "How long HTTP requests took to answer, by method and route.",
    ["method", "route"], buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)  # fmt: skip
INGEST_ACCEPTED = Counter(
    "xeno_ingest_accepted_records", "Records the API accepted onto the ingest stream, by kind.", ["kind"]
)
INGEST_APPLIED = Counter(
    "xeno_ingest_applied_records",
    "Records the ingest consumer took off the stream, by outcome: applied, duplicate or dead_lettered.",
    ["outcome"],
)
MESSAGES = Counter(
    "xeno_messages", "Campaign messages the senders handled, by channel and outcome: sent, failed or duplicate.",
    ["channel", "outcome"],
)  # fmt: skip
RATE_LIMIT_WAIT = Counter(
    "xeno_delivery_rate_limit_wait_seconds", "Seconds senders waited for their turn under a delivery rate limit.",
    ["limit"],
)  # fmt: skip
RECEIPTS = Counter(
    "xeno_receipts", "Delivery receipts the applier read, by outcome: changed a message, unchanged, or malformed.",
    ["outcome"],
)  # fmt: skip
AI_CALLS = Counter("xeno_ai_calls", "AI calls, by kind, provider and outcome.", ["kind", "provider", "outcome"])
AI_LATENCY = Histogram(
    "xeno_ai_call_duration_seconds", "How long AI calls took, by kind and provider.", ["kind", "provider"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)  # fmt: skip
