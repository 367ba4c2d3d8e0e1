"""How the vendor simulator is set up (`VendorConfig`, from `XENO_VENDOR_*` variables) and how it misbehaves.

`Faults` holds everything a test may want to flip while the simulator runs (through `PUT /v1/admin/faults`);
its startup values come from `XENO_VENDOR_FAULTS__<NAME>` variables (or `XENO_VENDOR_FAULTS` as JSON).
"""

from __future__ import annotations

from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from engine.webhooks import secret_key


class Faults(BaseModel):
    """Runtime knobs: how sends fail, and when, how and how often receipts come back."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    latency_ms: float = Field(0, ge=0, description="added to every send request before it is answered")
    error_rate_5xx: float = Field(0, ge=0, le=1, description="share of send requests refused with 503")
    error_rate_429: float = Field(0, ge=0, le=1, description="share of send requests refused with 429")
    retry_after_s: int = Field(1, ge=0, description="the Retry-After of a 429, in seconds")
    timeout_rate: float = Field(
        0, ge=0, le=1, description="share of send requests accepted, then answered only after a hang"
    )
    timeout_hang_ms: float = Field(30_000, ge=0, description="how long a timed-out request hangs")

    failure_rate: float = Field(0.1, ge=0, le=1, description="share of messages that fail to arrive")
    receipts_enabled: bool = True
    sent_receipts: bool = Field(False, description="post a `sent` receipt before each final one")
    receipt_delay_ms: float = Field(200, ge=0, description="from acceptance until the final receipt is due")
    receipt_batch_size: int = Field(
        500, ge=1, le=10_000, description="receipts per callback; 1 posts each receipt as a single object"
    )
    duplicate_rate: float = Field(
        0, ge=0, le=1, description="share of messages whose receipts are posted again, in a later callback"
    )
    out_of_order_rate: float = Field(
        0,
        ge=0,
        le=1,
        description="share of messages whose final receipt comes before their sent receipt; "
        "any value above 0 also shuffles the receipts inside each callback",
    )
    late_rate: float = Field(0, ge=0, le=1, description="share of messages whose receipts are held back")
    late_ms: float = Field(5_000, ge=0, description="how much longer late receipts are held back")
    redelivery_rate: float = Field(
        0, ge=0, le=1, description="share of acknowledged callbacks posted again with the same webhook-id"
    )

    @model_validator(mode="after")
    def _error_rates_fit(self) -> Self:
        if self.error_rate_5xx + self.error_rate_429 + self.timeout_rate > 1:
            raise ValueError("error_rate_5xx + error_rate_429 + timeout_rate must not exceed 1")
        return self


class VendorConfig(BaseSettings):
    """Startup settings of the simulator; every field is an `XENO_VENDOR_<NAME>` environment variable."""

    model_config = SettingsConfigDict(
        env_prefix="XENO_VENDOR_", env_nested_delimiter="__", env_file=".env", extra="ignore"
    )

    callback_url: str | None = Field(None, description="where receipts are posted; none means no receipts")
    webhook_secret: str | None = Field(None, description="`whsec_<base64>` used to sign receipts")
    api_key: str | None = Field(None, description="when set, /v1 requests need `Authorization: Bearer <key>`")
    seed: int | None = Field(None, description="makes every random choice repeatable")
    max_batch_size: int = Field(1_000, ge=1)
    idempotency_ttl_s: float = Field(24 * 3600, gt=0, description="how long an idempotency key is honoured")
    receipt_concurrency: int = Field(8, ge=1, description="callbacks in flight at once")
    receipt_timeout_s: float = Field(10, gt=0)
    receipt_max_attempts: int = Field(8, ge=1, description="tries before a callback is dropped")
    receipt_backoff_s: float = Field(0.5, gt=0, description="first retry delay; doubles per attempt")
    receipt_backoff_max_s: float = Field(30, gt=0)
    faults: Faults = Faults()

    @model_validator(mode="after")
    def _callbacks_need_a_secret(self) -> Self:
        if self.callback_url is not None:
            if self.webhook_secret is None:
                raise ValueError("XENO_VENDOR_CALLBACK_URL needs XENO_VENDOR_WEBHOOK_SECRET to sign receipts")
            secret_key(self.webhook_secret)
        return self
