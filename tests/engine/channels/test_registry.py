"""The channel registry: each channel's declarations hold together, SMS is measured as carriers count it, the
per-channel settings are checked when they load, and the contact policy follows each channel's columns and cap."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import polars as pl
import pytest
import redis
from pydantic import ValidationError
from sqlalchemy import Engine

from engine.ai.messages.brief import MessageBrief
from engine.ai.messages.check import check_message
from engine.ai.messages.compose import compose_messages
from engine.ai.prompts import message_system_prompt
from engine.campaigns.policy import apply_contact_policy
from engine.channels import CHANNELS, get_channel
from engine.channels.sms import sms_size
from engine.channels.transports import TRANSPORTS
from engine.features.catalog import TRAIT_PREFIX, base_catalog
from engine.settings import Settings
from tests.engine.campaigns.helpers import delivery_settings, features, launch, log_rows

NOON = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize("name", list(CHANNELS))
def test_each_channel_names_real_feature_columns_and_known_transports(name: str) -> None:
    channel = CHANNELS[name]
    catalog = base_catalog()
    assert channel.address in catalog
    assert channel.consent is None or channel.consent in catalog or channel.consent.startswith(TRAIT_PREFIX)
    assert channel.transports[0] == "simulator"
    assert set(channel.transports) <= set(TRANSPORTS)
    assert channel.failure_reasons


@pytest.mark.parametrize(
    ("text", "characters", "parts", "part_length"),
    [
        ("Hello", 5, 1, 160),
        ("a" * 160, 160, 1, 160),
        ("a" * 161, 161, 2, 160),  # 153 per part once split
        ("a" * 307, 307, 3, 160),
        ("[offer]", 9, 1, 160),  # GSM extension characters count twice
        ("Save ₹500", 9, 1, 70),  # one character outside GSM makes it UCS-2
        ("₹" * 71, 71, 2, 70),
    ],
)
def test_sms_are_measured_in_gsm_or_ucs2_segments(text: str, characters: int, parts: int, part_length: int) -> None:
    size = sms_size(text)
    assert (size.characters, size.parts, size.part_length) == (characters, parts, part_length)


def test_a_message_longer_than_its_channel_carries_says_so() -> None:
    sms = get_channel("sms")
    assert sms.too_long("a" * 1530) is None
    assert sms.too_long("a" * 1531) == "too long for SMS: 1531 characters, at most 1530"
    assert get_channel("whatsapp").too_long("é" * 1025) == "too long for WhatsApp: 1025 characters, at most 1024"


@pytest.mark.parametrize(
    ("environment", "problem"),
    [
        ({"XENO_CHANNEL_TRANSPORTS": '{"fax": "smtp"}'}, "XENO_CHANNEL_TRANSPORTS: unknown channel 'fax'"),
        ({"XENO_CHANNEL_TRANSPORTS": '{"sms": "smtp"}'}, "sms cannot go by 'smtp' (it can by simulator, twilio)"),
        ({"XENO_CHANNEL_TRANSPORTS": '{"sms": "twilio"}'}, "sms by twilio needs XENO_TWILIO_ACCOUNT_SID"),
        ({"XENO_CHANNEL_RATE_LIMITS": '{"pager": 5}'}, "XENO_CHANNEL_RATE_LIMITS: unknown channel 'pager'"),
        ({"XENO_CHANNEL_FREQUENCY_CAPS": '{"sms": 0}'}, "greater than 0"),
        (
            {"XENO_CHANNEL_TRANSPORTS": '{"webhook": "webhook"}', "XENO_WEBHOOK_CHANNEL_URL": "http://h/",
             "XENO_WEBHOOK_CHANNEL_SECRET": "whsec_!!"},
            "XENO_WEBHOOK_CHANNEL_SECRET",
        ),
    ],
)  # fmt: skip
def test_channel_settings_that_cannot_work_are_refused_when_they_load(
    monkeypatch: pytest.MonkeyPatch, environment: dict[str, str], problem: str
) -> None:
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError, match=problem.replace("(", r"\(").replace(")", r"\)")):
        Settings()


def test_real_messages_in_production_need_the_public_address_their_links_point_to(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ENVIRONMENT", "production")
    monkeypatch.setenv("XENO_SECRET_KEY", "a-real-secret-of-this-installation")
    monkeypatch.setenv("XENO_CHANNEL_TRANSPORTS", '{"email": "smtp"}')
    with pytest.raises(ValidationError, match="XENO_PUBLIC_URL: email messages carry links back to the API"):
        Settings()
    monkeypatch.setenv("XENO_PUBLIC_URL", "https://crm.shop.example/")
    assert Settings().public_base_url == "https://crm.shop.example"


def test_channel_settings_that_can_work_load(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XENO_CHANNEL_TRANSPORTS", '{"email": "smtp", "sms": "twilio"}')
    monkeypatch.setenv("XENO_TWILIO_ACCOUNT_SID", "AC1")
    monkeypatch.setenv("XENO_TWILIO_AUTH_TOKEN", "t")
    monkeypatch.setenv("XENO_TWILIO_FROM", "+15005550000")
    monkeypatch.setenv("XENO_CHANNEL_RATE_LIMITS", '{"sms": 30}')
    settings = Settings()
    assert settings.channel_transports == {"email": "smtp", "sms": "twilio"}
    assert settings.channel_rate_limits == {"sms": 30}


def members(**columns: list[object]) -> pl.DataFrame:
    base: dict[str, list[object]] = {
        "customer_id": [1, 2, 3], "phone": ["+919900000001", "+919900000002", None],
        "external_id": ["c1", "c2", "c3"], "sms_consent": [True, True, True], "timezone": ["UTC"] * 3,
    }  # fmt: skip
    return pl.DataFrame({**base, **columns})


NO_RECENT = pl.DataFrame(schema={"customer_id": pl.Int64, "recent": pl.Int64, "recent_on_channel": pl.Int64})


def plan(channel: str, frame: pl.DataFrame, recent: pl.DataFrame = NO_RECENT, **settings: Any) -> list[tuple]:
    result = apply_contact_policy(frame, get_channel(channel), recent, delivery_settings(**settings), NOON)
    return list(zip(result["status"], result["reason"], strict=True))


def test_whatsapp_needs_its_own_opt_in_not_sms_consent() -> None:
    assert plan("whatsapp", members()) == [("skipped", "no consent to WhatsApp")] * 3
    opted_in = members(trait_whatsapp_consent=[True, False, True])
    assert plan("whatsapp", opted_in) == [
        ("queued", None), ("skipped", "no consent to WhatsApp"), ("skipped", "no phone number"),
    ]  # fmt: skip


def test_webhook_asks_no_consent_and_addresses_customers_by_external_id() -> None:
    assert plan("webhook", members(sms_consent=[False] * 3)) == [("queued", None)] * 3


def test_a_channel_s_own_frequency_cap_counts_only_its_messages() -> None:
    recent = pl.DataFrame({"customer_id": [1, 2], "recent": [2, 2], "recent_on_channel": [2, 0]})
    statuses = plan("sms", members(), recent, frequency_cap=5, channel_frequency_caps={"sms": 2})
    assert statuses == [
        ("skipped", "frequency cap on SMS: 2 messages in 7 days"), ("queued", None), ("skipped", "no phone number"),
    ]  # fmt: skip


def test_a_message_too_long_for_its_channel_is_skipped_at_launch_with_its_length(
    database: Engine, redis_client: redis.Redis
) -> None:
    frame = features(2, first_name=["Ana", "A" * 1500])
    report = launch(database, redis_client, delivery_settings(), frame)

    assert report.queued == 1
    rows = {row["customer_id"]: row for row in log_rows(database, report.campaign_id)}
    assert rows[2]["status"] == "skipped"
    assert rows[2]["reason"] == "too long for SMS: 1562 characters, at most 1530"  # with the opt-out line


@pytest.mark.parametrize("name", list(CHANNELS))
def test_ai_message_suggestions_are_written_for_each_channel(name: str) -> None:
    channel = get_channel(name)
    brief = MessageBrief("bring back customers who have not ordered in 60 days with 10% off", name, base_catalog(),
                         "Shop")  # fmt: skip

    drafts = compose_messages(brief).drafts

    assert drafts
    assert all((draft.subject is not None) == channel.subject for draft in drafts)
    assert all(check_message(draft, name, base_catalog()) for draft in drafts)
    assert channel.writing in message_system_prompt(brief)
