"""Running the simulator: flipping faults at runtime, resetting, configuring from the environment, starting it."""

from __future__ import annotations

import os
import subprocess
import sys

import httpx
import pytest
from pydantic import ValidationError

from api.vendor.config import Faults, VendorConfig
from engine.services.supervisor import free_port
from tests.api.vendor.loopback import ReceiptInbox, StartVendor, message, send_batches, stats, wait_until


def test_put_replaces_the_faults_leaving_out_knobs_at_their_startup_values(start_vendor: StartVendor) -> None:
    vendor = start_vendor(Faults(latency_ms=5, failure_rate=0.2))

    vendor.put("/v1/admin/faults", json={"error_rate_5xx": 0.5, "latency_ms": 0})
    replaced = vendor.put("/v1/admin/faults", json={"duplicate_rate": 0.25})

    assert replaced.status_code == 200
    assert replaced.json() == {**Faults(latency_ms=5, failure_rate=0.2).model_dump(), "duplicate_rate": 0.25}
    assert vendor.get("/v1/admin/faults").json() == replaced.json()


def test_patch_changes_only_the_knobs_given(vendor: httpx.Client) -> None:
    vendor.patch("/v1/admin/faults", json={"error_rate_429": 0.5, "retry_after_s": 3})
    patched = vendor.patch("/v1/admin/faults", json={"late_rate": 0.1})

    assert patched.json()["error_rate_429"] == 0.5
    assert patched.json()["retry_after_s"] == 3
    assert patched.json()["late_rate"] == 0.1


@pytest.mark.parametrize(
    "knobs",
    [
        {"error_rate_5xx": 1.5},
        {"no_such_knob": 1},
        {"receipt_batch_size": 0},
        {"error_rate_5xx": 0.6, "error_rate_429": 0.6},
    ],
)
def test_impossible_faults_are_refused_and_the_old_ones_kept(vendor: httpx.Client, knobs: dict[str, float]) -> None:
    before = vendor.get("/v1/admin/faults").json()

    response = vendor.patch("/v1/admin/faults", json=knobs)

    assert response.status_code == 422
    assert response.json()["error"] in {"invalid_request", "invalid_faults"}
    assert vendor.get("/v1/admin/faults").json() == before


def test_rates_that_add_up_past_one_with_the_current_ones_are_refused(vendor: httpx.Client) -> None:
    vendor.patch("/v1/admin/faults", json={"timeout_rate": 0.7})

    response = vendor.patch("/v1/admin/faults", json={"error_rate_5xx": 0.5})

    assert response.status_code == 422
    assert response.json()["error"] == "invalid_faults"


def test_a_flipped_fault_takes_effect_on_the_next_request(vendor: httpx.Client) -> None:
    vendor.patch("/v1/admin/faults", json={"error_rate_5xx": 1})
    refused = vendor.post("/v1/messages", json=message(1))
    vendor.patch("/v1/admin/faults", json={"error_rate_5xx": 0})
    accepted = vendor.post("/v1/messages", json=message(1))

    assert (refused.status_code, accepted.status_code) == (503, 202)


def test_reset_forgets_messages_keys_and_counters(vendor: httpx.Client, inbox: ReceiptInbox) -> None:
    first = send_batches(vendor, [message(1)])[0]
    wait_until(lambda: stats(vendor)["receipts_posted"] == 1, lambda: stats(vendor))

    assert vendor.post("/v1/admin/reset").status_code == 204
    assert stats(vendor) == {
        "sent": 0,
        "duplicates_suppressed": 0,
        "outcomes": {},
        "responses": {},
        "receipts_pending": 0,
        "receipts_posted": 0,
        "receipts_posted_by_status": {},
        "receipts_dropped": 0,
        "callbacks_posted": 0,
        "callback_failures": 0,
        "status_lookups": 0,
    }
    assert vendor.get(f"/v1/messages/{first['vendor_message_id']}").status_code == 404
    again = send_batches(vendor, [message(1)])[0]
    assert again["duplicate"] is False
    assert again["vendor_message_id"] != first["vendor_message_id"]


def test_the_config_is_read_from_xeno_vendor_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XENO_VENDOR_CALLBACK_URL", "http://127.0.0.1:8000/v1/receipts")
    monkeypatch.setenv("XENO_VENDOR_WEBHOOK_SECRET", "whsec_c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0")
    monkeypatch.setenv("XENO_VENDOR_SEED", "3")
    monkeypatch.setenv("XENO_VENDOR_FAULTS__LATENCY_MS", "25")
    monkeypatch.setenv("XENO_VENDOR_FAULTS__RECEIPT_BATCH_SIZE", "100")

    config = VendorConfig()

    assert config.callback_url == "http://127.0.0.1:8000/v1/receipts"
    assert config.seed == 3
    assert (config.faults.latency_ms, config.faults.receipt_batch_size) == (25, 100)
    assert config.faults.failure_rate == 0.1


def test_a_callback_url_needs_a_valid_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("XENO_VENDOR_WEBHOOK_SECRET", raising=False)

    with pytest.raises(ValidationError, match="WEBHOOK_SECRET"):
        VendorConfig(callback_url="http://127.0.0.1:8000/v1/receipts")
    with pytest.raises(ValidationError, match="base64"):
        VendorConfig(callback_url="http://127.0.0.1:8000/v1/receipts", webhook_secret="whsec_!!")


def test_the_simulator_imports_nothing_from_the_rest_of_the_api() -> None:
    probe = (
        "import sys, api.vendor.app; "
        "print(sorted(m for m in sys.modules if m.startswith('api.') and not m.startswith('api.vendor')))"
    )

    imported = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)

    assert imported.stdout.strip() == "[]"


def test_uvicorn_starts_it_from_the_factory_with_environment_config(inbox: ReceiptInbox) -> None:
    port = free_port()
    env = {
        **os.environ,
        "XENO_VENDOR_CALLBACK_URL": inbox.url,
        "XENO_VENDOR_WEBHOOK_SECRET": inbox.secret,
        "XENO_VENDOR_FAULTS__RECEIPT_DELAY_MS": "0",
    }
    command = [sys.executable, "-m", "uvicorn", "api.vendor.app:create_app", "--factory", f"--port={port}"]
    server = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=5) as vendor:
            wait_until(lambda: _answers(vendor), lambda: server.poll(), timeout=20)
            assert vendor.get("/health").json() == {"status": "ok"}
            send_batches(vendor, [message(n) for n in range(3)])
            assert len(inbox.wait_for(3)) == 3
    finally:
        server.terminate()
        server.wait(timeout=10)
    assert inbox.refused == 0


def _answers(client: httpx.Client) -> bool:
    try:
        return client.get("/health").status_code == 200
    except httpx.TransportError:
        return False
