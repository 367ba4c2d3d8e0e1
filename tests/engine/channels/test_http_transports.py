"""The HTTP transports against loopback servers speaking each provider's wire format: what goes on the wire,
and which refusals are transient or permanent."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import aiohttp
import pytest
import redis
from pydantic import SecretStr
from sqlalchemy import Engine
from starlette.applications import Starlette

from engine.campaigns.failures import failure_kind
from engine.campaigns.sender import run_sender
from engine.channels import get_channel
from engine.channels.base import Outgoing
from engine.channels.transports import TRANSPORTS
from engine.channels.transports.base import Outcome, ProviderMisconfigured
from engine.channels.transports.http import send_each
from engine.settings import Settings, get_settings
from tests.api.vendor.loopback import serve
from tests.engine.campaigns.helpers import delivery_settings, features, launch, log_rows
from tests.engine.channels import providers
from tests.engine.channels.providers import Provider


@pytest.fixture
def provider() -> Provider:
    return Provider()


Serve = Callable[[Starlette], str]


@pytest.fixture
def running() -> Iterator[Serve]:
    """Serves a provider's app on loopback until the test ends; its URL."""
    with ExitStack() as stack:
        yield lambda app: stack.enter_context(serve(app))


def send(transport: str, settings: Settings, channel: str, messages: list[Outgoing]) -> Outcome:
    async def run() -> Outcome:
        timeout = aiohttp.ClientTimeout(total=settings.delivery_request_timeout_s)  # as the sender's session
        async with aiohttp.ClientSession(timeout=timeout) as session:
            opened = TRANSPORTS[transport](settings, session)
            try:
                return await opened.send(get_channel(channel), messages)
            finally:
                await opened.close()

    return asyncio.run(run())


def message(log_id: int, address: str, body: str = "Hi there", subject: str | None = None) -> Outgoing:
    return Outgoing(log_id, f"xeno-5-{log_id}", address, body, subject, log_id)


def kinds(outcome: Outcome) -> dict[int, tuple[str, str]]:
    return {log_id: (reason, failure_kind(reason)) for log_id, reason in outcome.failed}


def test_e_mail_api_sends_a_batch_with_both_bodies_and_unsubscribe_headers(provider: Provider, running: Serve) -> None:
    url = running(providers.postmark(provider))
    settings = delivery_settings(
        email_api_url=url, email_api_token=SecretStr(providers.TOKEN), email_from="Shop <news@shop.example>"
    )
    batch = [
        message(1, "ana@example.com", "Hi Ana: https://shop.example", "Sale"),
        message(2, providers.BOUNCED_EMAIL, subject="Sale"),
        message(3, "raj@example.com", subject="Sale"),
    ]

    outcome = send("email_api", settings, "email", batch)

    assert dict(outcome.sent) == {1: "pm-0", 3: "pm-1"}
    reason, kind = kinds(outcome)[2]
    assert reason.startswith("inactive recipient (error 406)")
    assert kind == "permanent"
    [(headers, sent)] = provider.requests
    assert headers["x-postmark-server-token"] == providers.TOKEN
    first = sent[0]
    assert (first["From"], first["To"], first["Subject"], first["MessageStream"], first["Metadata"]) == (
        "Shop <news@shop.example>", "ana@example.com", "Sale", "broadcast", {"xeno_message": "1"},
    )  # fmt: skip
    assert first["TextBody"].startswith("Hi Ana: https://shop.example")
    assert "Hi Ana:" in first["HtmlBody"]
    assert "/v1/track/click/" in first["HtmlBody"]
    named = {header["Name"]: header["Value"] for header in first["Headers"]}
    assert named["Message-ID"] == "<xeno-5-1@shop.example>"
    assert named["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "/v1/unsubscribe/" in named["List-Unsubscribe"]


def test_e_mail_api_refusing_the_token_blames_the_sender(provider: Provider, running: Serve) -> None:
    url = running(providers.postmark(provider))
    with pytest.raises(ProviderMisconfigured):
        send("email_api", delivery_settings(email_api_url=url, email_api_token=SecretStr("wrong")), "email",
             [message(1, "ana@example.com", subject="Hi")])  # fmt: skip


def twilio_settings(url: str, **changes: Any) -> Settings:
    defaults = {"twilio_url": url, "twilio_account_sid": providers.ACCOUNT,
                "twilio_auth_token": SecretStr(providers.AUTH_TOKEN), "twilio_from": "+15005550000"}  # fmt: skip
    return delivery_settings(**{**defaults, **changes})


def test_twilio_sms_go_one_request_each_with_refusals_kept_apart(provider: Provider, running: Serve) -> None:
    url = running(providers.twilio(provider))
    batch = [message(1, "+919900000001", "Hi Ana"), message(2, providers.NOT_MOBILE), message(3, providers.STOPPED),
             message(4, providers.BUSY)]  # fmt: skip

    settings = twilio_settings(url)
    outcome = send("twilio", settings, "sms", batch)

    assert sorted(dict(outcome.sent)) == [1, 4]  # the 429 was retried after its Retry-After
    assert all(sid.startswith("SM") for sid in dict(outcome.sent).values())
    assert kinds(outcome) == {
        2: ("invalid number (error 21614): 'To' number is not a valid mobile number", "permanent"),
        3: ("unsubscribed (error 21610): Attempt to send to unsubscribed recipient", "permanent"),
    }
    headers, form = next(request for request in provider.requests if request[1]["To"] == "+919900000001")
    callback = f"{settings.public_base_url}/v1/receipts/twilio?ref=1"
    assert form == {"To": "+919900000001", "Body": "Hi Ana", "From": "+15005550000", "StatusCallback": callback}
    assert headers["idempotency-key"] == "xeno-5-1"


def test_twilio_messaging_service_and_wrong_credentials(provider: Provider, running: Serve) -> None:
    url = running(providers.twilio(provider))
    send("twilio", twilio_settings(url, twilio_from="MG00aa"), "sms", [message(1, "+919900000001")])
    assert provider.requests[0][1] == {
        "To": "+919900000001",
        "Body": "Hi there",
        "MessagingServiceSid": "MG00aa",
        "StatusCallback": get_settings().public_base_url + "/v1/receipts/twilio?ref=1",
    }
    with pytest.raises(ProviderMisconfigured):
        send("twilio", twilio_settings(url, twilio_auth_token=SecretStr("nope")), "sms", [message(2, "+919900000001")])


def test_an_sms_whose_answer_was_lost_is_retried_under_its_key_and_sent_once(
    provider: Provider, running: Serve
) -> None:
    url = running(providers.twilio(provider))
    provider.lose_answer_once.add("+919900000001")  # Twilio takes it; its answer never reaches us

    outcome = send("twilio", twilio_settings(url, delivery_request_timeout_s=1.0), "sms",
                   [message(1, "+919900000001")])  # fmt: skip

    assert len(provider.requests) == 2  # the first timed out, the retry carried the same key
    assert {headers["idempotency-key"] for headers, _ in provider.requests} == {"xeno-5-1"}
    assert list(provider.taken) == [sid for _, sid in outcome.sent]  # one message, logged under its one sid


def test_an_e_mail_batch_whose_answer_was_lost_is_posted_again_and_sent_once(
    provider: Provider, running: Serve
) -> None:
    url = running(providers.postmark(provider))
    settings = delivery_settings(
        email_api_url=url, email_api_token=SecretStr(providers.TOKEN), delivery_request_timeout_s=1.0
    )
    provider.lose_answer_once.add("ana@example.com")
    batch = [message(1, "ana@example.com", subject="Sale"), message(2, "raj@example.com", subject="Sale")]

    outcome = send("email_api", settings, "email", batch)
    again = send("email_api", settings, "email", batch)  # the entry posted again later

    assert len(provider.requests) == 3
    assert len({headers["idempotency-key"] for headers, _ in provider.requests}) == 1
    assert dict(outcome.sent) == dict(again.sent) == {1: "pm-0", 2: "pm-1"}
    assert sorted(provider.taken) == ["pm-0", "pm-1"]


def test_whatsapp_messages_fill_the_approved_template(provider: Provider, running: Serve) -> None:
    url = running(providers.meta(provider))
    settings = delivery_settings(
        meta_url=url, meta_token=SecretStr(providers.META_TOKEN), meta_template=providers.TEMPLATE,
        meta_phone_number_id=providers.PHONE_NUMBER_ID, meta_template_language="en_US",
    )  # fmt: skip

    outcome = send("meta", settings, "whatsapp", [message(1, "+919900000001", "Hi Ana, 10% off"),
                                                  message(2, providers.NOT_ON_WHATSAPP)])  # fmt: skip

    assert dict(outcome.sent) == {1: "wamid.0"}
    assert kinds(outcome)[2] == ("not a whatsapp user (error 131026): (#131026) Message Undeliverable.", "permanent")
    headers, body = provider.requests[0]
    assert headers["authorization"] == f"Bearer {providers.META_TOKEN}"
    assert body == {
        "messaging_product": "whatsapp", "recipient_type": "individual", "to": "+919900000001", "type": "template",
        "template": {"name": providers.TEMPLATE, "language": {"code": "en_US"},
                     "components": [{"type": "body", "parameters": [{"type": "text", "text": "Hi Ana, 10% off"}]}]},
        "biz_opaque_callback_data": "1",
    }  # fmt: skip


def test_webhook_messages_are_signed_and_keep_their_id_across_retries(provider: Provider, running: Serve) -> None:
    url = running(providers.webhook_receiver(provider))
    settings = delivery_settings(webhook_channel_url=f"{url}/hooks/messages",
                                 webhook_channel_secret=SecretStr(providers.WEBHOOK_SECRET))  # fmt: skip

    outcome = send("webhook", settings, "webhook", [message(1, "cus_1", "Hi Ana"), message(2, "refuses")])

    assert dict(outcome.sent) == {1: "xeno-5-1"}
    reason, kind = kinds(outcome)[2]
    assert reason == "refused by the vendor (422): unknown customer"
    assert kind == "permanent"
    headers, body = next(request for request in provider.requests if request[1]["message_id"] == 1)
    assert headers["webhook-id"] == "xeno-5-1"
    assert body == {"type": "message", "channel": "webhook", "message_id": 1, "customer_id": 1,
                    "external_id": "cus_1", "body": "Hi Ana"}  # fmt: skip


def test_a_webhook_receiver_that_is_down_fails_messages_transiently() -> None:
    settings = delivery_settings(webhook_channel_url="http://127.0.0.1:9/hooks", delivery_max_attempts=2,
                                 webhook_channel_secret=SecretStr(providers.WEBHOOK_SECRET))  # fmt: skip
    outcome = send("webhook", settings, "webhook", [message(1, "cus_1")])
    [(reason, kind)] = kinds(outcome).values()
    assert reason.startswith("the vendor did not accept it after 2 attempts")
    assert kind == "transient"


def test_an_sms_campaign_goes_through_twilio_and_is_logged_with_each_sid(
    database: Engine, redis_client: redis.Redis, provider: Provider, running: Serve
) -> None:
    url = running(providers.twilio(provider))
    settings = twilio_settings(url, channel_transports={"sms": "twilio"})
    frame = features(4, phone=["+919900000001", providers.STOPPED, "+919900000003", "+919900000004"])
    campaign_id = launch(database, redis_client, settings, frame).campaign_id

    report = asyncio.run(run_sender(database, redis_client, settings, consumer="tests", until_idle=True))

    assert (report.sent, report.failed) == (3, 1)
    rows = {row["customer_id"]: row for row in log_rows(database, campaign_id)}
    assert (rows[2]["status"], rows[2]["failure_kind"]) == ("failed", "permanent")
    assert {rows[n]["vendor_message_id"][:2] for n in (1, 3, 4)} == {"SM"}
    assert sorted(form["To"] for _, form in provider.requests) == sorted(frame["phone"].to_list())


def test_when_the_provider_refuses_the_sender_no_other_message_of_the_batch_goes_out_afterwards() -> None:
    started: list[int] = []

    async def send_one(message: Outgoing) -> Outcome:
        started.append(message.log_id)
        if message.log_id == 1:
            raise ProviderMisconfigured("401")
        return Outcome(sent=[(message.log_id, "id")])

    async def run() -> None:
        with pytest.raises(ProviderMisconfigured):
            await send_each([message(n, "+919900000001") for n in range(1, 5)], send_one, concurrency=1)
        for _ in range(5):  # turns of the event loop in which messages left running would start
            await asyncio.sleep(0)

    asyncio.run(run())
    assert started == [1]
