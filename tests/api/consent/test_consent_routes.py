"""Unsubscribe links, the preference page and STOP replies work without signing in, and nothing forged changes
anything; operators see and manage the suppression list, topics and a customer's consent."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
import redis
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from engine.consent import links, replies
from engine.settings import Settings
from tests.engine.campaigns.helpers import delivery_settings, features, launch, log_rows
from tests.engine.consent.test_suppression import LATER, add_customers, fates
from tests.fixtures.users import auth_headers

AUTH_TOKEN = "twilio-auth-token-for-tests"
ONE_CLICK = {"List-Unsubscribe": "One-Click"}


@pytest.fixture
def settings(configure: object) -> Settings:
    return configure(XENO_TWILIO_AUTH_TOKEN=AUTH_TOKEN, XENO_PUBLIC_URL="https://crm.example.com")  # type: ignore[operator]


def path(url: str) -> str:
    return urlsplit(url).path


def consent_of(db: Engine, customer_id: int) -> tuple[bool, int]:
    with db.connect() as conn:
        consent = conn.execute(text("SELECT sms_consent FROM customers WHERE id = :id"), {"id": customer_id})
        return consent.scalar_one(), conn.execute(text("SELECT count(*) FROM suppressions")).scalar_one()


def test_one_click_unsubscribe_works_without_signing_in_and_stops_later_sends(
    api_client: TestClient, database: Engine, redis_client: redis.Redis, settings: Settings
) -> None:
    add_customers(database, 2)
    first = launch(database, redis_client, delivery_settings(), features(2))
    message = log_rows(database, first.campaign_id)[0]
    url = links.unsubscribe_url(settings, 1, "sms", message["id"])

    page = api_client.get(path(url))
    assert page.status_code == 200
    assert "Unsubscribe" in page.text
    assert "+919900000001" in page.text
    assert consent_of(database, 1) == (True, 0)  # opening the page changes nothing

    done = api_client.post(path(url), data=ONE_CLICK)
    assert done.status_code == 200
    assert "no longer receive" in done.text
    later = launch(database, redis_client, delivery_settings(), features(2), now=LATER)
    assert fates(database, later.campaign_id) == {1: ("skipped", "suppressed: unsubscribed"), 2: ("queued", None)}
    with database.connect() as conn:
        detail = conn.execute(text("SELECT source, detail FROM consent_changes WHERE customer_id = 1")).one()
    assert detail[0] == "unsubscribe link"
    assert (detail[1]["via"], detail[1]["campaign_id"], detail[1]["message_id"]) == (
        "one-click", first.campaign_id, message["id"],
    )  # fmt: skip


def test_a_one_click_post_as_multipart_form_data_unsubscribes_too(
    api_client: TestClient, database: Engine, settings: Settings
) -> None:
    add_customers(database, 1)
    url = path(links.unsubscribe_url(settings, 1, "sms"))

    assert api_client.post(url, files={"List-Unsubscribe": (None, "One-Click")}).status_code == 200

    assert consent_of(database, 1) == (False, 1)
    with database.connect() as conn:
        assert conn.execute(text("SELECT detail ->> 'via' FROM consent_changes")).scalar_one() == "one-click"


def test_a_forged_or_altered_unsubscribe_link_changes_nothing_and_says_why(
    api_client: TestClient, database: Engine, settings: Settings
) -> None:
    add_customers(database, 2)
    genuine = path(links.unsubscribe_url(settings, 1, "sms"))
    other = path(links.unsubscribe_url(settings, 2, "sms"))
    forged = other.rsplit(".", 1)[0] + "." + genuine.rsplit(".", 1)[1]  # customer 2's payload, customer 1's signature
    foreign = Settings.model_validate({"XENO_SECRET_KEY": "someone-elses-secret"})

    for url in (forged, genuine[:-3], path(links.unsubscribe_url(foreign, 2, "sms")),
                path(links.preferences_url(settings, 2)).replace("/preferences/", "/unsubscribe/")):  # fmt: skip
        answer = api_client.post(url, data=ONE_CLICK)
        assert answer.status_code == 400, url
        assert "cannot be used" in answer.text
        assert "nothing was changed" in answer.text

    assert consent_of(database, 2) == (True, 0)


def test_the_preference_page_leaves_and_rejoins_topics_and_channels(
    api_client: TestClient, database: Engine, settings: Settings
) -> None:
    add_customers(database, 1)
    admin = auth_headers(database, "marketer")
    for key, name in (("offers", "Offers"), ("order-updates", "Order updates")):
        assert api_client.put(f"/v1/topics/{key}", json={"name": name}, headers=admin).status_code == 200
    url = path(links.preferences_url(settings, 1))

    page = api_client.get(url)
    assert page.status_code == 200
    assert "Order updates" in page.text
    api_client.post(url, data={"channel": ["sms"], "topic": ["order-updates"]})  # e-mail and offers unchecked

    consent = api_client.get("/v1/customers/1/consent", headers=admin).json()
    assert consent["channels"] == {"sms": True, "email": False, "whatsapp": False}
    assert consent["topics"] == {"offers": False, "order-updates": True}
    assert {(c["channel"], c["topic"], c["subscribed"]) for c in consent["history"]} == {
        ("email", None, False), (None, "offers", False),
    }  # fmt: skip

    api_client.post(url, data={"channel": ["sms", "email"], "topic": ["offers", "order-updates"]})
    consent = api_client.get("/v1/customers/1/consent", headers=admin).json()
    assert (consent["channels"]["email"], consent["topics"]["offers"], len(consent["history"])) == (True, True, 4)


def test_a_signed_stop_reply_suppresses_the_number_and_a_badly_signed_one_is_refused(
    api_client: TestClient, database: Engine, settings: Settings
) -> None:
    add_customers(database, 1)
    form = {"From": "+919900000001", "To": "+15550001111", "Body": "STOP", "MessageSid": "SM123"}
    url = "https://crm.example.com/v1/inbound/sms"

    refused = api_client.post("/v1/inbound/sms", data=form, headers={"X-Twilio-Signature": "bm90IGl0"})
    assert refused.status_code == 401
    assert consent_of(database, 1) == (True, 0)

    signature = replies.twilio_signature(AUTH_TOKEN, url, form)
    answer = api_client.post("/v1/inbound/sms", data=form, headers={"X-Twilio-Signature": signature})
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/xml")
    assert consent_of(database, 1) == (False, 1)
    listed = api_client.get("/v1/suppressions", params={"channel": "sms", "address": "+91 99000 00001"},
                            headers=auth_headers(database, "viewer")).json()  # fmt: skip
    assert [(s["reason"], s["source"]) for s in listed] == [("stop", "sms reply")]


def test_operators_suppress_and_lift_addresses_by_hand(api_client: TestClient, database: Engine) -> None:
    marketer = auth_headers(database, "marketer")
    added = api_client.post("/v1/suppressions", json={"channel": "email", "address": "Bounced@Example.com"},
                            headers=marketer)  # fmt: skip
    assert added.status_code == 201
    assert added.json()["address"] == "bounced@example.com"
    assert api_client.post("/v1/suppressions", json={"channel": "pigeon", "address": "x"},
                           headers=marketer).status_code == 422  # fmt: skip
    assert api_client.delete(f"/v1/suppressions/{added.json()['id']}", headers=marketer).status_code == 204
    assert api_client.get("/v1/suppressions", headers=marketer).json() == []
