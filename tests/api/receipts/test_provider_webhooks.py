"""Providers' delivery webhooks: a campaign sent through the loopback Twilio and Postmark-style servers, then the
providers' own status reports settle its messages through the one receipts applier; a hard bounce keeps the next
campaign away from the address; forged reports change nothing, and reports of messages we never sent are
acknowledged and ignored."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from datetime import datetime, timedelta
from typing import Any, NamedTuple

import orjson
import pytest
import redis
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from engine.campaigns.receipts import STREAM, drain_receipts
from engine.campaigns.sender import run_sender
from engine.consent.replies import twilio_signature
from engine.settings import Settings, get_settings
from tests.api.vendor.loopback import serve
from tests.engine.campaigns.helpers import NOON, delivery_settings, features, launch, log_rows
from tests.engine.channels import providers
from tests.engine.channels.providers import Provider

WEBHOOK_USER, WEBHOOK_PASSWORD = "postmark", "hook-password"
META_APP_SECRET, META_VERIFY_TOKEN = "meta-app-secret", "meta-verify-token"


class Providers(NamedTuple):
    twilio: Provider
    email: Provider
    meta: Provider


@pytest.fixture
def sending(configure: Callable[..., Settings]) -> Iterator[Providers]:
    """SMS through the loopback Twilio, e-mail through the loopback Postmark-style API, WhatsApp through the loopback
    Meta Cloud API, with their webhooks' keys."""
    with ExitStack() as stack:
        loopback = Providers(Provider(), Provider(), Provider())
        twilio_url = stack.enter_context(serve(providers.twilio(loopback.twilio)))
        email_url = stack.enter_context(serve(providers.postmark(loopback.email)))
        meta_url = stack.enter_context(serve(providers.meta(loopback.meta)))
        configure(
            XENO_CHANNEL_TRANSPORTS='{"sms": "twilio", "email": "email_api", "whatsapp": "meta"}',
            XENO_TWILIO_URL=twilio_url, XENO_TWILIO_ACCOUNT_SID=providers.ACCOUNT,
            XENO_TWILIO_AUTH_TOKEN=providers.AUTH_TOKEN, XENO_TWILIO_FROM="+15005550000",
            XENO_EMAIL_API_URL=email_url, XENO_EMAIL_API_TOKEN=providers.TOKEN,
            XENO_EMAIL_API_WEBHOOK_USERNAME=WEBHOOK_USER, XENO_EMAIL_API_WEBHOOK_PASSWORD=WEBHOOK_PASSWORD,
            XENO_META_URL=meta_url, XENO_META_TOKEN=providers.META_TOKEN, XENO_META_TEMPLATE=providers.TEMPLATE,
            XENO_META_PHONE_NUMBER_ID=providers.PHONE_NUMBER_ID, XENO_META_APP_SECRET=META_APP_SECRET,
            XENO_META_WEBHOOK_VERIFY_TOKEN=META_VERIFY_TOKEN,
        )  # fmt: skip
        yield loopback


def send_campaign(
    db: Engine, client: redis.Redis, channel: str, count: int, *, now: datetime = NOON, **columns: Any
) -> dict[int, Any]:
    """Launch a campaign to customers 1..count (with these feature `columns`) at `now` and send it; its log rows
    by customer."""
    config = delivery_settings()
    subject = "A gift" if channel == "email" else None
    report = launch(db, client, config, features(count, **columns), now=now, channel=channel, subject=subject)
    asyncio.run(run_sender(db, client, config, consumer="tests", until_idle=True))
    return {row["customer_id"]: row for row in log_rows(db, report.campaign_id)}


def twilio_callback(api: TestClient, form: dict[str, str], signature: str | None = None, url: str | None = None) -> Any:
    """Post a status callback as Twilio does, to `url` (the message's StatusCallback; default: the plain route)."""
    url = url or get_settings().public_base_url + "/v1/receipts/twilio"
    signed = signature if signature is not None else twilio_signature(providers.AUTH_TOKEN, url, form)
    path = url.removeprefix(get_settings().public_base_url)
    return api.post(path, data=form, headers={"X-Twilio-Signature": signed})


def email_webhook(api: TestClient, record: dict[str, Any], password: str = WEBHOOK_PASSWORD) -> Any:
    credentials = base64.b64encode(f"{WEBHOOK_USER}:{password}".encode()).decode()
    return api.post("/v1/receipts/email-api", json=record, headers={"Authorization": f"Basic {credentials}"})


def meta_webhook(api: TestClient, statuses: list[dict[str, Any]], secret: str = META_APP_SECRET) -> Any:
    body = orjson.dumps({"object": "whatsapp_business_account", "entry": [{"id": "WABA", "changes": [
        {"field": "messages", "value": {"messaging_product": "whatsapp", "statuses": statuses}}]}]})  # fmt: skip
    signature = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    headers = {"X-Hub-Signature-256": signature, "content-type": "application/json"}
    return api.post("/v1/receipts/meta", content=body, headers=headers)


def apply_receipts(db: Engine, client: redis.Redis) -> None:
    drain_receipts(db, client, get_settings(), consumer="tests")


def stream_length(client: redis.Redis) -> int:
    return int(client.xlen(get_settings().stream(STREAM)))


def fates(db: Engine, campaign_id: int) -> dict[int, tuple[str, str | None, str | None]]:
    return {
        row["customer_id"]: (row["status"], row["reason"], row["failure_kind"]) for row in log_rows(db, campaign_id)
    }


@pytest.mark.usefixtures("sending")
def test_twilio_status_callbacks_settle_sms_and_a_dead_number_is_suppressed(
    api_client: TestClient, database: Engine, redis_client: redis.Redis
) -> None:
    sent = send_campaign(database, redis_client, "sms", 3)
    sids = {customer: row["vendor_message_id"] for customer, row in sent.items()}
    assert {row["status"] for row in sent.values()} == {"sent"}
    assert all(sid.startswith("SM") for sid in sids.values())

    answers = [
        twilio_callback(api_client, {"MessageSid": sids[1], "MessageStatus": "delivered"}),
        twilio_callback(api_client, {"MessageSid": sids[2], "MessageStatus": "undelivered", "ErrorCode": "30005"}),
        twilio_callback(api_client, {"MessageSid": sids[3], "MessageStatus": "undelivered", "ErrorCode": "30003"}),
        twilio_callback(api_client, {"MessageSid": sids[1], "MessageStatus": "delivered"}),  # Twilio retrying
    ]
    apply_receipts(database, redis_client)

    assert [answer.status_code for answer in answers] == [204] * 4
    campaign_id = sent[1]["campaign_id"]
    assert fates(database, campaign_id) == {
        1: ("delivered", None, None),
        2: ("failed", "invalid number (error 30005)", "permanent"),
        3: ("failed", "unreachable (error 30003)", "transient"),
    }
    later = send_campaign(database, redis_client, "sms", 3, now=NOON + timedelta(days=1))
    assert {customer: (row["status"], row["reason"]) for customer, row in later.items()} == {
        1: ("sent", None), 2: ("skipped", "suppressed: invalid address"), 3: ("sent", None),
    }  # fmt: skip


@pytest.mark.usefixtures("sending")
def test_a_hard_bounce_fails_the_e_mail_and_the_next_campaign_skips_the_address(
    api_client: TestClient, database: Engine, redis_client: redis.Redis
) -> None:
    sent = send_campaign(database, redis_client, "email", 4)
    ids = {customer: row["vendor_message_id"] for customer, row in sent.items()}

    answers = [
        email_webhook(api_client, {"RecordType": "Delivery", "MessageID": ids[1],
                                   "DeliveredAt": "2026-11-25T12:00:03Z", "Recipient": "customer1@example.com"}),
        email_webhook(api_client, {"RecordType": "Bounce", "Type": "HardBounce", "MessageID": ids[2],
                                   "Description": "The server was unable to deliver your message", "Inactive": True,
                                   "BouncedAt": "2026-11-25T12:00:04Z", "Email": "customer2@example.com"}),
        email_webhook(api_client, {"RecordType": "Bounce", "Type": "SoftBounce", "MessageID": ids[3],
                                   "Description": "Mailbox full", "Inactive": False}),
        email_webhook(api_client, {"RecordType": "SpamComplaint", "MessageID": ids[4], "Type": "SpamComplaint",
                                   "Email": "customer4@example.com"}),
    ]  # fmt: skip
    apply_receipts(database, redis_client)

    assert [answer.status_code for answer in answers] == [204] * 4
    campaign_id = sent[1]["campaign_id"]
    assert fates(database, campaign_id) == {
        1: ("delivered", None, None),
        2: ("failed", "HardBounce: The server was unable to deliver your message", "permanent"),
        3: ("failed", "SoftBounce: Mailbox full", "transient"),
        4: ("failed", "spam complaint", "permanent"),
    }
    assert log_rows(database, campaign_id)[0]["delivered_at"].isoformat() == "2026-11-25T12:00:03+00:00"
    later = send_campaign(database, redis_client, "email", 4, now=NOON + timedelta(days=1))
    assert {customer: (row["status"], row["reason"]) for customer, row in later.items()} == {
        1: ("sent", None), 2: ("skipped", "suppressed: hard bounce"), 3: ("sent", None),
        4: ("skipped", "suppressed: spam complaint"),
    }  # fmt: skip


@pytest.mark.usefixtures("sending")
def test_forged_reports_are_refused_and_change_nothing(
    api_client: TestClient, database: Engine, redis_client: redis.Redis
) -> None:
    sid = send_campaign(database, redis_client, "sms", 1)[1]["vendor_message_id"]
    failed = {"MessageSid": sid, "MessageStatus": "failed", "ErrorCode": "21610"}
    forged = twilio_signature("not-the-token", get_settings().public_base_url + "/v1/receipts/twilio", failed)

    answers = [
        twilio_callback(api_client, failed, signature=forged),
        twilio_callback(api_client, failed, signature=""),
        email_webhook(api_client, {"RecordType": "Delivery", "MessageID": "pm-0"}, password="guess"),
        api_client.post("/v1/receipts/email-api", json={"RecordType": "Delivery", "MessageID": "pm-0"}),
    ]

    assert [answer.status_code for answer in answers] == [401] * 4
    assert answers[3].headers["WWW-Authenticate"].startswith("Basic")
    assert stream_length(redis_client) == 0


@pytest.mark.usefixtures("sending")
def test_a_body_that_is_no_report_gets_422_naming_what_is_missing(
    api_client: TestClient, redis_client: redis.Redis
) -> None:
    answers = [
        email_webhook(api_client, {"MessageID": "pm-0"}),
        email_webhook(api_client, {"RecordType": "Bounce"}),
        meta_webhook(api_client, [{"status": "delivered"}]),
    ]

    assert [answer.status_code for answer in answers] == [422] * 3
    assert "RecordType" in answers[0].text
    assert "MessageID" in answers[1].text
    assert "needs its message's id" in answers[2].text
    assert stream_length(redis_client) == 0


@pytest.mark.usefixtures("sending")
def test_reports_of_messages_we_never_sent_are_acknowledged_and_ignored(
    api_client: TestClient, database: Engine, redis_client: redis.Redis
) -> None:
    sent = send_campaign(database, redis_client, "sms", 1)

    answers = [
        twilio_callback(api_client, {"MessageSid": "SM" + "f" * 32, "MessageStatus": "failed", "ErrorCode": "21610"}),
        twilio_callback(api_client, {"MessageSid": sent[1]["vendor_message_id"], "MessageStatus": "sending"}),
        email_webhook(api_client, {"RecordType": "Bounce", "Type": "HardBounce", "MessageID": "pm-unknown"}),
        email_webhook(api_client, {"RecordType": "Open", "MessageID": "pm-0"}),
    ]

    assert [answer.status_code for answer in answers] == [204] * 4
    assert stream_length(redis_client) == 0
    unreadable = [
        twilio_callback(api_client, {"MessageStatus": "delivered"}),
        email_webhook(api_client, {"RecordType": "Bounce", "Type": "HardBounce"}),
    ]
    assert [answer.status_code for answer in unreadable] == [422, 422]
    assert "MessageSid" in unreadable[0].json()["detail"]


@pytest.mark.usefixtures("sending")
def test_meta_status_webhooks_settle_whatsapp_messages_once_subscribed(
    api_client: TestClient, database: Engine, redis_client: redis.Redis
) -> None:
    sent = send_campaign(database, redis_client, "whatsapp", 3, trait_whatsapp_consent=True)
    ids = {customer: row["vendor_message_id"] for customer, row in sent.items()}
    check = {"hub.mode": "subscribe", "hub.challenge": "1158201444", "hub.verify_token": META_VERIFY_TOKEN}

    subscribed = api_client.get("/v1/receipts/meta", params=check)
    refused = api_client.get("/v1/receipts/meta", params={**check, "hub.verify_token": "guess"})
    answers = [
        meta_webhook(api_client, [
            {"id": ids[1], "status": "sent", "timestamp": "1764072000", "recipient_id": "919900000001"},
            {"id": ids[1], "status": "delivered", "timestamp": "1764072003", "recipient_id": "919900000001"},
            {"id": ids[2], "status": "failed", "timestamp": "1764072004", "recipient_id": "919900000002",
             "errors": [{"code": 131026, "title": "Message undeliverable"}]},
        ]),
        meta_webhook(api_client, [{"id": ids[3], "status": "failed", "errors": [{"code": 131026}]}], secret="forged"),
    ]  # fmt: skip
    apply_receipts(database, redis_client)

    assert (subscribed.status_code, subscribed.text, refused.status_code) == (200, "1158201444", 403)
    assert [answer.status_code for answer in answers] == [204, 401]
    campaign_id = sent[1]["campaign_id"]
    assert fates(database, campaign_id) == {
        1: ("delivered", None, None),
        2: ("failed", "not a whatsapp user (error 131026): Message undeliverable", "permanent"),
        3: ("sent", None, None),
    }
    assert log_rows(database, campaign_id)[0]["delivered_at"].timestamp() == 1764072003


def test_a_twilio_status_callback_that_beats_the_send_answer_settles_the_message_once(
    api_client: TestClient, database: Engine, redis_client: redis.Redis, sending: Providers
) -> None:
    answers, changed = [], []

    def report_before_answering(message: dict[str, str]) -> None:
        delivered = {"MessageSid": message["sid"], "MessageStatus": "delivered"}
        answers.append(twilio_callback(api_client, delivered, url=message["StatusCallback"]))
        changed.append(drain_receipts(database, redis_client, get_settings(), consumer="tests").changed)

    sending.twilio.before_answer = report_before_answering
    sent = send_campaign(database, redis_client, "sms", 2)
    retried = [twilio_callback(api_client, {"MessageSid": row["vendor_message_id"], "MessageStatus": "delivered"})
               for row in sent.values()]  # fmt: skip

    assert [answer.status_code for answer in answers + retried] == [204] * 4
    assert changed == [1, 1]  # each report settled its message as it came, before Twilio's answer
    assert stream_length(redis_client) == 0  # Twilio's retries of the reports were recognised
    assert {customer: row["status"] for customer, row in sent.items()} == {1: "delivered", 2: "delivered"}
    assert all(row["sent_at"] is not None and row["delivered_at"] is not None for row in sent.values())
    assert sorted(row["vendor_message_id"] for row in sent.values()) == sorted(sending.twilio.taken)


def test_an_e_mail_bounce_that_beats_the_send_answer_fails_the_message_and_suppresses_the_address(
    api_client: TestClient, database: Engine, redis_client: redis.Redis, sending: Providers
) -> None:
    def bounce_before_answering(messages: list[dict[str, Any]]) -> None:
        [provider_id] = [found for found, message in sending.email.taken.items() if message is messages[0]]
        bounce = {"RecordType": "Bounce", "Type": "HardBounce", "MessageID": provider_id,
                  "Metadata": messages[0]["Metadata"], "Description": "Mailbox unavailable"}  # fmt: skip
        email_webhook(api_client, bounce)
        apply_receipts(database, redis_client)

    sending.email.before_answer = bounce_before_answering
    sent = send_campaign(database, redis_client, "email", 1)
    later = send_campaign(database, redis_client, "email", 1, now=NOON + timedelta(days=1))

    assert (sent[1]["status"], sent[1]["reason"]) == ("failed", "HardBounce: Mailbox unavailable")
    assert sent[1]["vendor_message_id"] in sending.email.taken
    assert (later[1]["status"], later[1]["reason"]) == ("skipped", "suppressed: hard bounce")


@pytest.mark.usefixtures("sending")
def test_a_reference_naming_another_message_does_not_move_it(
    api_client: TestClient, database: Engine, redis_client: redis.Redis
) -> None:
    sent = send_campaign(database, redis_client, "email", 2)

    email_webhook(api_client, {"RecordType": "Delivery", "MessageID": sent[1]["vendor_message_id"],
                               "Metadata": {"xeno_message": str(sent[2]["id"])}})  # fmt: skip
    apply_receipts(database, redis_client)

    assert fates(database, sent[1]["campaign_id"]) == {1: ("delivered", None, None), 2: ("sent", None, None)}


def test_a_whatsapp_failure_that_beats_the_send_answer_fails_the_message_by_its_echoed_reference(
    api_client: TestClient, database: Engine, redis_client: redis.Redis, sending: Providers
) -> None:
    def fail_before_answering(message: dict[str, Any]) -> None:
        meta_webhook(api_client, [{"id": message["id"], "status": "failed", "recipient_id": message["to"],
                                   "biz_opaque_callback_data": message["biz_opaque_callback_data"],
                                   "errors": [{"code": 131026, "title": "Message undeliverable"}]}])  # fmt: skip
        apply_receipts(database, redis_client)

    sending.meta.before_answer = fail_before_answering
    sent = send_campaign(database, redis_client, "whatsapp", 1, trait_whatsapp_consent=True)

    assert (sent[1]["status"], sent[1]["failure_kind"]) == ("failed", "permanent")
    assert sent[1]["reason"] == "not a whatsapp user (error 131026): Message undeliverable"
    assert sent[1]["vendor_message_id"] in sending.meta.taken
