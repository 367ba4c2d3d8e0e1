"""Conversions: an order goes to the campaign of the last message its customer was sent within the attribution
window (5 days unless set), once, and campaign history shows the orders and their revenue."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from engine.engagement.analytics import campaign_engagement
from engine.settings import get_settings
from tests.api.engagement.conftest import SENT, Sent, add_campaign, add_message, add_order
from tests.fixtures.users import auth_headers

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


def test_each_order_goes_once_to_the_campaign_that_touched_its_customer_last(
    api_client: TestClient, database: Engine, sent: Sent
) -> None:
    add_order(database, sent.ada, "before-any-message", "10.00", SENT - HOUR)
    add_order(database, sent.ada, "after-the-e-mail", "100.50", SENT + 2 * HOUR)
    add_order(database, sent.ada, "after-the-sms", "40.25", SENT + DAY + HOUR)  # the SMS came after the e-mail
    add_order(database, sent.bob, "cancelled", "70.00", SENT + HOUR, status="cancelled")
    add_order(database, sent.bob, "within-the-window", "5.00", SENT + 4 * DAY)
    add_order(database, sent.bob, "past-the-window", "900.00", SENT + 6 * DAY)

    answer = api_client.get(
        "/v1/engagement/campaigns",
        params={"campaign_id": [sent.follow_up, sent.diwali]},
        headers=auth_headers(database, "viewer"),
    )

    assert answer.status_code == 200
    assert [(row["campaign_id"], row["conversions"], Decimal(row["revenue"])) for row in answer.json()] == [
        (sent.follow_up, 1, Decimal("40.25")),
        (sent.diwali, 2, Decimal("105.50")),
    ]
    alone = campaign_engagement(database, get_settings(), [sent.diwali])[sent.diwali]  # the SMS still came later
    assert (alone.conversions, alone.revenue) == (2, Decimal("105.50"))


def test_the_window_is_a_setting_and_messages_never_sent_are_no_touch(database: Engine, sent: Sent) -> None:
    failed = add_campaign(database, "Failed", "sms")
    add_message(database, failed, sent.bob, SENT + DAY, status="failed")
    add_order(database, sent.bob, "two-days-after", "30.00", SENT + 2 * DAY)

    default = campaign_engagement(database, get_settings(), [sent.diwali, failed])
    one_day_window = get_settings().model_copy(update={"attribution_window_days": 1})
    one_day = campaign_engagement(database, one_day_window, [sent.diwali])

    assert (default[sent.diwali].conversions, default[failed].conversions) == (1, 0)
    assert one_day[sent.diwali].conversions == 0


def test_asking_for_no_campaign_or_a_bad_id_is_refused(api_client: TestClient, database: Engine) -> None:
    headers = auth_headers(database, "viewer")

    assert api_client.get("/v1/engagement/campaigns", headers=headers).status_code == 422
    assert api_client.get("/v1/engagement/campaigns?campaign_id=x", headers=headers).status_code == 422
    assert api_client.get("/v1/engagement/campaigns?campaign_id=0", headers=headers).status_code == 422
