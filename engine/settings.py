"""One settings class for every process, read from the environment (and `.env`) on first use.

`DATABASE_URL` and `REDIS_URL` name external servers. Left unset, the product uses the embedded
servers that `xeno up` starts under the data folder, so these properties always give an address.
"""

from __future__ import annotations

import re
from datetime import time
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, FilePath, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from engine.webhooks import secret_key

PLACEHOLDER_SECRET = "change-me"  # noqa: S105 - the value we refuse outside development


RateLimitGroup = Literal["auth", "ingest", "read", "write", "ai"]
RATE_PERIODS = {"second": 1, "minute": 60, "hour": 3600}


def parse_rate(rate: str) -> tuple[int, int]:
    """`"120/minute"` as `(120, 60)`; a clear error for anything else."""
    count, _, period = rate.partition("/")
    if not count.strip().isdigit() or int(count) <= 0 or period.strip() not in RATE_PERIODS:
        raise ValueError(f"rate {rate!r} must look like '120/minute' (per second, minute or hour)")
    return int(count), RATE_PERIODS[period.strip()]


def revealed(secret: SecretStr | None) -> str | None:
    """The value of a secret setting (None when unset), read where it is used: a `SecretStr` prints as `**********`,
    so settings and the errors and log lines that show them never give a secret away."""
    return None if secret is None else secret.get_secret_value()


class Settings(BaseSettings):
    """Everything a Xeno process can be configured with; each field is an environment variable. Secrets are
    `SecretStr` (`revealed` reads one)."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    environment: Literal["development", "test", "production"] = "development"
    data_dir: Path = Field(Path(".xeno"), validation_alias="XENO_DATA_DIR")
    secret_key: SecretStr = Field(SecretStr(PLACEHOLDER_SECRET), validation_alias="XENO_SECRET_KEY")

    # Keys XENO_SECRET_KEY replaced: links signed with them (unsubscribe, preferences, tracking) keep working.
    previous_secret_keys: Annotated[list[SecretStr], NoDecode] = Field([], validation_alias="XENO_PREVIOUS_SECRET_KEYS")
    # Where people reach the API from outside (unsubscribe and preference links, tracking); unset: api_host:port.
    public_url: str | None = Field(None, validation_alias="XENO_PUBLIC_URL")

    database_url: str | None = None
    redis_url: str | None = None
    db_pool_size: int = 10
    db_max_overflow: int = 10
    redis_max_connections: int = 64
    # How long a caller waits for a free pooled connection (Postgres or Redis) before giving up: a burst queues.
    pool_timeout_s: float = Field(60, gt=0)

    embedded_postgres_port: int = 54329
    embedded_redis_port: int = 63799
    embedded_redis_appendfsync: Literal["always", "everysec", "no"] = "everysec"

    api_host: str = "127.0.0.1"
    api_port: int = 8000
    dagster_port: int = 3000
    dagster_code_port: int = 4000  # the one Dagster code server (gRPC) webserver and daemon share
    dagster_database: str = "dagster"
    vendor_port: int = 8100
    dashboard_port: int = 8501
    # A worker (`xeno deliver`, `xeno ai worker`) answers GET /health on this loopback port; `xeno up` sets it.
    health_port: int | None = Field(None, validation_alias="XENO_HEALTH_PORT")
    # Logs (engine/observability/logs.py): plain lines or one JSON object per line, from this level up.
    log_format: Literal["text", "json"] = Field("text", validation_alias="XENO_LOG_FORMAT")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = Field(
        "INFO", validation_alias="XENO_LOG_LEVEL"
    )
    # Prometheus metrics at GET /metrics (engine/observability/metrics.py); off: the API counts no requests and
    # answers 404 there (for an API exposed where its figures should not be read).
    metrics_enabled: bool = Field(True, validation_alias="XENO_METRICS_ENABLED")

    redis_prefix: str = "xeno"  # every Redis key of the product starts with it
    ingest_batch_size: int = 200
    # Batches a consumer process applies at once (one thread and one Postgres connection each): while Postgres
    # writes one, the next is decoded and staged, and with a backlog Postgres writes on several cores.
    ingest_appliers: int = Field(2, ge=1, le=16)
    ingest_claim_idle_ms: int = 60_000
    max_request_bytes: int = 4 * 1024 * 1024

    # --- Recovery of the work Dagster runs (pipelines/defs/retries.py) ---
    # A failed run is tried again after `pipeline_retry_backoff_s`, doubling with each failure in a row up to
    # `pipeline_retry_backoff_max_s`; a campaign whose launch failed `launch_max_attempts` times is marked failed.
    pipeline_retry_backoff_s: float = Field(10, gt=0, validation_alias="XENO_PIPELINE_RETRY_BACKOFF_S")
    pipeline_retry_backoff_max_s: float = Field(300, gt=0, validation_alias="XENO_PIPELINE_RETRY_BACKOFF_MAX_S")
    launch_max_attempts: int = Field(5, gt=0, validation_alias="XENO_LAUNCH_MAX_ATTEMPTS")
    # The features are refreshed while they are behind what was ingested, at most once per this many seconds (a
    # full refresh reads everything: under steady ingest, back-to-back refreshes would keep a core busy for ever).
    features_min_interval_s: float = Field(30, ge=0, validation_alias="XENO_FEATURES_MIN_INTERVAL_S")
    # Where the API and `xeno status` read Dagster's runs (its GraphQL endpoint); unset: http://127.0.0.1:<port>.
    dagster_url: str | None = Field(None, validation_alias="XENO_DAGSTER_URL")

    # --- Sign-in, tokens, roles and API hardening (engine/auth, api/auth, api/admin) ---
    # Who may sign in: verified e-mails in an allowed domain or on the allow list; the admin list become
    # admins, other newcomers get `default_role`. Lists are comma-separated in the environment.
    oidc_issuer: str = Field("https://accounts.google.com", validation_alias="XENO_OIDC_ISSUER")
    oidc_client_id: str | None = Field(None, validation_alias="XENO_OIDC_CLIENT_ID")
    oidc_client_secret: SecretStr | None = Field(None, validation_alias="XENO_OIDC_CLIENT_SECRET")
    oidc_redirect_uri: str | None = Field(None, validation_alias="XENO_OIDC_REDIRECT_URI")
    signin_allowed_domains: Annotated[list[str], NoDecode] = Field([], validation_alias="XENO_SIGNIN_ALLOWED_DOMAINS")
    signin_allowed_emails: Annotated[list[str], NoDecode] = Field([], validation_alias="XENO_SIGNIN_ALLOWED_EMAILS")
    admin_emails: Annotated[list[str], NoDecode] = Field([], validation_alias="XENO_ADMIN_EMAILS")
    default_role: Literal["viewer", "analyst", "marketer", "admin"] = Field(
        "viewer", validation_alias="XENO_DEFAULT_ROLE"
    )
    dev_signin: bool = Field(False, validation_alias="XENO_DEV_SIGNIN")
    access_token_minutes: int = Field(15, gt=0, validation_alias="XENO_ACCESS_TOKEN_MINUTES")
    refresh_token_days: int = Field(30, gt=0, validation_alias="XENO_REFRESH_TOKEN_DAYS")
    # A refresh token spent this many seconds ago or less may be presented again (two tabs opening at once share
    # the browser's cookie) and gets a fresh token of its session; later, a second presentation ends the session.
    refresh_reuse_interval_s: float = Field(30, ge=0, le=300, validation_alias="XENO_REFRESH_REUSE_INTERVAL_S")
    dashboard_origin: str = Field("http://localhost:8501", validation_alias="XENO_DASHBOARD_ORIGIN")
    # Requests per user, write key or (unauthenticated) client address, as "<count>/<second|minute|hour>".
    rate_limits_enabled: bool = Field(True, validation_alias="XENO_RATE_LIMITS_ENABLED")
    rate_limit_auth: str = Field("30/minute", validation_alias="XENO_RATE_LIMIT_AUTH")
    rate_limit_ingest: str = Field("60000/minute", validation_alias="XENO_RATE_LIMIT_INGEST")
    rate_limit_read: str = Field("1200/minute", validation_alias="XENO_RATE_LIMIT_READ")
    rate_limit_write: str = Field("300/minute", validation_alias="XENO_RATE_LIMIT_WRITE")
    rate_limit_ai: str = Field("30/minute", validation_alias="XENO_RATE_LIMIT_AI")

    # --- Campaigns and delivery (engine/campaigns, api/receipts) ---
    # Where senders post messages; the vendor's batch endpoint takes up to 1,000 per request.
    delivery_vendor_url: str = Field("http://127.0.0.1:8100", validation_alias="XENO_DELIVERY_VENDOR_URL")
    delivery_vendor_api_key: SecretStr | None = Field(None, validation_alias="XENO_DELIVERY_VENDOR_API_KEY")
    # Messages per second across all senders; each sender keeps `delivery_concurrency` requests in flight.
    delivery_rate_limit: int = Field(20_000, gt=0, validation_alias="XENO_DELIVERY_RATE_LIMIT")
    delivery_batch_size: int = Field(500, gt=0, le=1_000, validation_alias="XENO_DELIVERY_BATCH_SIZE")
    delivery_concurrency: int = Field(8, gt=0, validation_alias="XENO_DELIVERY_CONCURRENCY")
    delivery_request_timeout_s: float = Field(10, gt=0, validation_alias="XENO_DELIVERY_REQUEST_TIMEOUT_S")
    delivery_max_attempts: int = Field(8, gt=0, validation_alias="XENO_DELIVERY_MAX_ATTEMPTS")
    delivery_backoff_s: float = Field(0.2, gt=0, validation_alias="XENO_DELIVERY_BACKOFF_S")
    delivery_backoff_max_s: float = Field(10, gt=0, validation_alias="XENO_DELIVERY_BACKOFF_MAX_S")
    delivery_claim_idle_ms: int = Field(60_000, gt=0, validation_alias="XENO_DELIVERY_CLAIM_IDLE_MS")
    # Receipts: the vendor signs them with this `whsec_...` secret (the simulator's XENO_VENDOR_WEBHOOK_SECRET).
    receipts_webhook_secret: SecretStr | None = Field(None, validation_alias="XENO_RECEIPTS_WEBHOOK_SECRET")
    receipts_tolerance_s: int = Field(300, gt=0, validation_alias="XENO_RECEIPTS_TOLERANCE_S")
    receipts_replay_ttl_s: int = Field(86_400, gt=0, validation_alias="XENO_RECEIPTS_REPLAY_TTL_S")
    receipts_batch_entries: int = Field(40, gt=0, validation_alias="XENO_RECEIPTS_BATCH_ENTRIES")
    # A campaign completes once every message has its final receipt, or this long after its last send.
    receipt_timeout_s: int = Field(86_400, gt=0, validation_alias="XENO_RECEIPT_TIMEOUT_S")
    # A message still `sent` this long after it went out is looked up at the vendor (and again this long after
    # each lookup), in rounds every `receipt_reconcile_every_s`; the answers go through the receipts stream.
    receipt_reconcile_after_s: float = Field(300, gt=0, validation_alias="XENO_RECEIPT_RECONCILE_AFTER_S")
    receipt_reconcile_every_s: float = Field(30, gt=0, validation_alias="XENO_RECEIPT_RECONCILE_EVERY_S")
    # Conversions (engine/engagement): an order is the campaign's whose message its customer was sent last,
    # if that was at most this many days before the order.
    attribution_window_days: float = Field(5, gt=0, le=365, validation_alias="XENO_ATTRIBUTION_WINDOW_DAYS")
    # Contact policy: at most `frequency_cap` marketing messages per customer in `frequency_cap_days`
    # (0: no cap); no sends in the customer's quiet hours (both unset or equal: none).
    frequency_cap: int = Field(3, ge=0, validation_alias="XENO_FREQUENCY_CAP")
    frequency_cap_days: float = Field(7, gt=0, validation_alias="XENO_FREQUENCY_CAP_DAYS")
    quiet_hours_start: time | None = Field(time(21), validation_alias="XENO_QUIET_HOURS_START")
    quiet_hours_end: time | None = Field(time(9), validation_alias="XENO_QUIET_HOURS_END")
    default_timezone: str = Field("UTC", validation_alias="XENO_DEFAULT_TIMEZONE")  # customers without one
    # How message templates write money, numbers and dates (`| money`, `| number`, `| date`): a CLDR locale
    # (en_IN groups by lakh) and an ISO 4217 currency; dates are shown in `default_timezone`.
    message_locale: str = Field("en_IN", validation_alias="XENO_MESSAGE_LOCALE")
    message_currency: str = Field("INR", pattern=r"^[A-Z]{3}$", validation_alias="XENO_MESSAGE_CURRENCY")

    # --- Channels and their transports (engine/channels) ---
    # Per channel, as JSON objects keyed by channel name: the transport that carries it (default: the simulator at
    # XENO_DELIVERY_VENDOR_URL), a cap of messages per customer on that channel in `frequency_cap_days` (beside
    # `frequency_cap` across channels), and messages per second across all senders (beside `delivery_rate_limit`).
    channel_transports: dict[str, str] = Field({}, validation_alias="XENO_CHANNEL_TRANSPORTS")
    channel_frequency_caps: dict[str, Annotated[int, Field(gt=0)]] = Field(
        {}, validation_alias="XENO_CHANNEL_FREQUENCY_CAPS"
    )
    channel_rate_limits: dict[str, Annotated[int, Field(gt=0)]] = Field({}, validation_alias="XENO_CHANNEL_RATE_LIMITS")
    # E-mail: who it is from (also the domain of each Message-ID); over SMTP (security: starttls, tls or none;
    # `smtp_connections` connections reused across batches) or a Postmark-style HTTP API.
    email_from: str = Field("Xeno <news@xeno.localhost>", validation_alias="XENO_EMAIL_FROM")
    smtp_host: str = Field("127.0.0.1", validation_alias="XENO_SMTP_HOST")
    smtp_port: int = Field(587, gt=0, validation_alias="XENO_SMTP_PORT")
    smtp_security: Literal["starttls", "tls", "none"] = Field("starttls", validation_alias="XENO_SMTP_SECURITY")
    smtp_username: str | None = Field(None, validation_alias="XENO_SMTP_USERNAME")
    smtp_password: SecretStr | None = Field(None, validation_alias="XENO_SMTP_PASSWORD")
    smtp_connections: int = Field(4, gt=0, validation_alias="XENO_SMTP_CONNECTIONS")
    smtp_verify_tls: bool = Field(True, validation_alias="XENO_SMTP_VERIFY_TLS")
    email_api_url: str = Field("https://api.postmarkapp.com", validation_alias="XENO_EMAIL_API_URL")
    email_api_token: SecretStr | None = Field(None, validation_alias="XENO_EMAIL_API_TOKEN")
    # The e-mail API's delivery webhooks (Delivery, Bounce, SpamComplaint) come with these as basic auth on their URL.
    email_api_webhook_username: str | None = Field(None, validation_alias="XENO_EMAIL_API_WEBHOOK_USERNAME")
    email_api_webhook_password: SecretStr | None = Field(None, validation_alias="XENO_EMAIL_API_WEBHOOK_PASSWORD")
    # SMS over a Twilio-style API (From: a number, or a messaging service `MG...`).
    twilio_url: str = Field("https://api.twilio.com", validation_alias="XENO_TWILIO_URL")
    twilio_account_sid: str | None = Field(None, validation_alias="XENO_TWILIO_ACCOUNT_SID")
    twilio_auth_token: SecretStr | None = Field(None, validation_alias="XENO_TWILIO_AUTH_TOKEN")
    twilio_from: str | None = Field(None, validation_alias="XENO_TWILIO_FROM")
    # WhatsApp over Meta's Cloud API: each message fills the one body parameter of this approved template.
    meta_url: str = Field("https://graph.facebook.com/v21.0", validation_alias="XENO_META_URL")
    meta_token: SecretStr | None = Field(None, validation_alias="XENO_META_TOKEN")
    meta_phone_number_id: str | None = Field(None, validation_alias="XENO_META_PHONE_NUMBER_ID")
    meta_template: str | None = Field(None, validation_alias="XENO_META_TEMPLATE")
    meta_template_language: str = Field("en", validation_alias="XENO_META_TEMPLATE_LANGUAGE")
    # Meta signs its status webhooks (X-Hub-Signature-256) with the app's secret, and subscribes one by echoing a
    # challenge sent with this verify token.
    meta_app_secret: SecretStr | None = Field(None, validation_alias="XENO_META_APP_SECRET")
    meta_webhook_verify_token: SecretStr | None = Field(None, validation_alias="XENO_META_WEBHOOK_VERIFY_TOKEN")
    # The webhook channel posts each message here, signed with this `whsec_...` secret.
    webhook_channel_url: str | None = Field(None, validation_alias="XENO_WEBHOOK_CHANNEL_URL")
    webhook_channel_secret: SecretStr | None = Field(None, validation_alias="XENO_WEBHOOK_CHANNEL_SECRET")

    # --- Notifications (engine/notifications, api/notifications) ---
    # A campaign is flagged once more than `notify_failure_rate` of its delivered-or-failed messages failed,
    # counted from `notify_failure_min` of them; the feature snapshot is stale once older than
    # `notify_snapshot_stale_s` (the hourly refresh schedule plus grace).
    notify_failure_rate: float = Field(0.2, gt=0, le=1, validation_alias="XENO_NOTIFY_FAILURE_RATE")
    notify_failure_min: int = Field(20, gt=0, validation_alias="XENO_NOTIFY_FAILURE_MIN")
    notify_snapshot_stale_s: int = Field(5_400, gt=0, validation_alias="XENO_NOTIFY_SNAPSHOT_STALE_S")
    # Campaign and delivery events are also posted here, signed per Standard Webhooks with the `whsec_...`
    # secret, and retried with exponential backoff up to `notify_webhook_max_attempts` times.
    notify_webhook_url: str | None = Field(None, validation_alias="XENO_NOTIFY_WEBHOOK_URL")
    notify_webhook_secret: SecretStr | None = Field(None, validation_alias="XENO_NOTIFY_WEBHOOK_SECRET")
    notify_webhook_timeout_s: float = Field(10, gt=0, validation_alias="XENO_NOTIFY_WEBHOOK_TIMEOUT_S")
    notify_webhook_max_attempts: int = Field(10, gt=0, validation_alias="XENO_NOTIFY_WEBHOOK_MAX_ATTEMPTS")
    notify_webhook_backoff_s: float = Field(5, gt=0, validation_alias="XENO_NOTIFY_WEBHOOK_BACKOFF_S")
    notify_webhook_backoff_max_s: float = Field(3_600, gt=0, validation_alias="XENO_NOTIFY_WEBHOOK_BACKOFF_MAX_S")

    # --- AI helpers (engine/ai, api/ai) ---
    # Text: an OpenAI-compatible chat completions API (OpenAI, Vertex AI's OpenAI endpoint, vLLM, Ollama) when
    # a model is set, else the local provider, which needs no network. "auto" picks by that rule. A timeout or
    # provider error falls back to the local provider, with a note in the answer.
    ai_provider: Literal["auto", "local", "openai"] = Field("auto", validation_alias="XENO_AI_PROVIDER")
    ai_base_url: str | None = Field(None, validation_alias="XENO_AI_BASE_URL")  # unset: OpenAI's own
    ai_api_key: SecretStr | None = Field(None, validation_alias="XENO_AI_API_KEY")
    ai_model: str | None = Field(None, validation_alias="XENO_AI_MODEL")
    ai_timeout_s: float = Field(20, gt=0, validation_alias="XENO_AI_TIMEOUT_S")
    # The team's meanings of vague words ("VIP", "lapsed"): a JSON file like engine/ai/language/terms.json
    ai_terms_file: FilePath | None = Field(None, validation_alias="XENO_AI_TERMS_FILE")
    # Images: a Replicate-compatible predictions API when a token and model are set, else an offline banner.
    image_provider: Literal["auto", "offline", "replicate"] = Field("auto", validation_alias="XENO_IMAGE_PROVIDER")
    replicate_api_url: str = Field("https://api.replicate.com", validation_alias="XENO_REPLICATE_API_URL")
    replicate_api_token: SecretStr | None = Field(None, validation_alias="XENO_REPLICATE_API_TOKEN")
    replicate_model: str | None = Field(None, validation_alias="XENO_REPLICATE_MODEL")  # owner/name[:version]
    replicate_timeout_s: float = Field(120, gt=0, validation_alias="XENO_REPLICATE_TIMEOUT_S")
    replicate_poll_s: float = Field(1, gt=0, validation_alias="XENO_REPLICATE_POLL_S")
    # The sender's brand: AI message suggestions are signed with it and banners carry it (never our product's name).
    brand_name: str | None = Field(None, min_length=1, max_length=60, validation_alias="XENO_BRAND_NAME")
    brand_colors: Annotated[list[str], NoDecode] = Field(["#4F46E5", "#0EA5E9"], validation_alias="XENO_BRAND_COLORS")
    # Finished AI jobs (images, later insights) keep their result this long for `GET /v1/ai/jobs/{id}`.
    ai_job_ttl_s: int = Field(7 * 86_400, gt=0, validation_alias="XENO_AI_JOB_TTL_S")

    @field_validator("signin_allowed_domains", "signin_allowed_emails", "admin_emails", mode="before")
    @classmethod
    def _split_lowercase_list(cls, value: object) -> object:
        if isinstance(value, str):
            value = value.split(",")
        if isinstance(value, list | tuple):
            return [str(item).strip().lower().lstrip("@") for item in value if str(item).strip()]
        return value

    @field_validator("message_locale")
    @classmethod
    def _known_locale(cls, value: str) -> str:
        from babel import Locale, UnknownLocaleError  # only the message filters need it otherwise

        try:
            Locale.parse(value)
        except (UnknownLocaleError, ValueError):
            raise ValueError(f"unknown locale {value!r}: use a CLDR name such as en_IN or en_US") from None
        return value

    @field_validator("previous_secret_keys", mode="before")
    @classmethod
    def _split_keys(cls, value: object) -> object:
        return [key.strip() for key in value.split(",") if key.strip()] if isinstance(value, str) else value

    @field_validator("rate_limit_auth", "rate_limit_ingest", "rate_limit_read", "rate_limit_write",
                     "rate_limit_ai")  # fmt: skip
    @classmethod
    def _check_rate(cls, value: str) -> str:
        parse_rate(value)
        return value

    @field_validator("quiet_hours_start", "quiet_hours_end", mode="before")
    @classmethod
    def _blank_means_none(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("brand_colors", mode="before")
    @classmethod
    def _split_colors(cls, value: object) -> object:
        if isinstance(value, str):
            value = [item.strip() for item in value.split(",") if item.strip()]
        if isinstance(value, list | tuple):
            for color in value:
                if not re.fullmatch(r"#[0-9A-Fa-f]{6}", str(color)):
                    raise ValueError(f"brand colour {color!r} must look like #4F46E5")
        return value

    @model_validator(mode="after")
    def _chosen_ai_providers_are_configured(self) -> Settings:
        if self.ai_provider == "openai" and not self.ai_model:
            raise ValueError("XENO_AI_PROVIDER=openai needs XENO_AI_MODEL (and XENO_AI_BASE_URL / XENO_AI_API_KEY)")
        if self.image_provider == "replicate" and not (self.replicate_api_token and self.replicate_model):
            raise ValueError("XENO_IMAGE_PROVIDER=replicate needs XENO_REPLICATE_API_TOKEN and XENO_REPLICATE_MODEL")
        return self

    @model_validator(mode="after")
    def _receipts_are_reconciled_before_the_timeout(self) -> Settings:
        if self.receipt_reconcile_after_s * 2 > self.receipt_timeout_s:
            raise ValueError(
                "XENO_RECEIPT_RECONCILE_AFTER_S must be at most half of XENO_RECEIPT_TIMEOUT_S: a message whose "
                "receipt never came is to be looked up well before its campaign stops waiting for it"
            )
        return self

    @model_validator(mode="after")
    def _notify_webhook_is_signed(self) -> Settings:
        if self.notify_webhook_url and not self.notify_webhook_secret:
            raise ValueError("XENO_NOTIFY_WEBHOOK_URL needs XENO_NOTIFY_WEBHOOK_SECRET (whsec_...) to sign with")
        if self.notify_webhook_secret:
            secret_key(self.notify_webhook_secret.get_secret_value())
        return self

    @model_validator(mode="after")
    def _channel_settings_name_channels(self) -> Settings:
        from engine.channels.transports import configuration_problems  # it reads Settings: imported when used

        problems = configuration_problems(self)
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @property
    def uses_llm(self) -> bool:
        """Whether text AI goes to the OpenAI-compatible API (else the local provider answers)."""
        return self.ai_provider == "openai" or (self.ai_provider == "auto" and self.ai_model is not None)

    @property
    def uses_replicate(self) -> bool:
        """Whether images come from the Replicate-compatible API (else the offline banner)."""
        configured = self.replicate_api_token is not None and self.replicate_model is not None
        return self.image_provider == "replicate" or (self.image_provider == "auto" and configured)

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_case_level(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("default_timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise ValueError(f"unknown time zone {value!r}") from error
        return value

    def rate_limit(self, group: RateLimitGroup) -> tuple[int, int]:
        """The limit of a route group as (requests, per seconds)."""
        return parse_rate(getattr(self, f"rate_limit_{group}"))

    @property
    def public_base_url(self) -> str:
        """The API's address as people outside reach it, without a trailing slash."""
        return (self.public_url or f"http://{self.api_host}:{self.api_port}").rstrip("/")

    @property
    def oidc_callback_url(self) -> str:
        """Where the OIDC provider sends the browser back: our `/v1/auth/callback`, unless set."""
        return self.oidc_redirect_uri or f"http://{self.api_host}:{self.api_port}/v1/auth/callback"

    @model_validator(mode="after")
    def _refuse_placeholder_secrets(self) -> Settings:
        if self.environment == "production" and self.secret_key.get_secret_value() == PLACEHOLDER_SECRET:
            raise ValueError("XENO_SECRET_KEY must be set to a real secret outside development")
        return self

    @property
    def uses_embedded_postgres(self) -> bool:
        return self.database_url is None

    @property
    def uses_embedded_redis(self) -> bool:
        return self.redis_url is None

    @property
    def postgres_url(self) -> str:
        """The Postgres address as `postgresql://...`, the embedded server's when none is set."""
        if self.database_url is not None:
            return self.database_url
        return f"postgresql://postgres@127.0.0.1:{self.embedded_postgres_port}/xeno"

    @property
    def sqlalchemy_url(self) -> str:
        """The Postgres address for SQLAlchemy with the psycopg 3 driver."""
        scheme, rest = self.postgres_url.split("://", 1)
        return f"postgresql+psycopg://{rest}" if scheme.startswith("postgres") else self.postgres_url

    @property
    def dagster_postgres_url(self) -> str:
        """Dagster's own storage: the `dagster` database on the same server, through psycopg2."""
        rest = self.postgres_url.split("://", 1)[1]
        server = rest.rsplit("/", 1)[0]
        return f"postgresql+psycopg2://{server}/{self.dagster_database}"

    @property
    def dagster_address(self) -> str:
        """The Dagster webserver (its UI and GraphQL endpoint)."""
        return (self.dagster_url or f"http://127.0.0.1:{self.dagster_port}").rstrip("/")

    @property
    def redis_address(self) -> str:
        if self.redis_url is not None:
            return self.redis_url
        return f"redis://127.0.0.1:{self.embedded_redis_port}/0"

    def redis_key(self, name: str) -> str:
        """The Redis key `name` of this installation (`ratelimit:...`, `auth:login:...`)."""
        return f"{self.redis_prefix}:{name}"

    def stream(self, name: str) -> str:
        """The Redis key of a named stream (`ingest`, `delivery`, `receipts`, ...)."""
        return self.redis_key(name)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings, built once on first use."""
    return Settings()
