"""The History page on the real API: campaigns newest first with how they went, one campaign's charts and
communication log, the moves its status allows, and "retry the failed" — campaigns really sent through the
vendor simulator."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
import pytest
import redis
from sqlalchemy import Engine, text
from streamlit.testing.v1 import AppTest

from engine.ai import queue
from engine.ai.insights.facts import percent
from engine.ai.jobs import HANDLERS
from engine.campaigns.audience import PublishedAudience
from engine.campaigns.failures import failure_kind
from engine.campaigns.launch import due_campaigns, give_up_launch, launch_campaign, record_launch_attempts
from engine.campaigns.progress import complete_finished_campaigns
from engine.campaigns.sender import run_sender
from engine.features.snapshot import Snapshot
from engine.settings import get_settings
from tests.api.segments.conftest import Publisher
from tests.dashboard.delivery import deliver, vendor
from tests.dashboard.helpers import campaign_status, chart_series, on_page, signed_in, table_with
from tests.e2e.test_delivery import settle
from tests.engine.campaigns.helpers import features, log_rows

EVERYONE = {"field": "total_spend", "op": ">=", "value": 0}  # all six customers
MOVES = ("unschedule", "pause", "resume", "cancel", "relaunch", "retry-failed", "open-follow-up")


def api(app: AppTest) -> Any:
    return app.session_state["api_client"]


def scheduled(app: AppTest, name: str) -> dict[str, Any]:
    """An SMS campaign to all six, saved and scheduled to launch now through the API as the signed-in user."""
    segment = api(app).create_segment({"name": f"Everyone for {name}", "description": "", "rule": EVERYONE})
    form = {"name": name, "channel": "sms", "template": "Hi {{ first_name }}!", "segment_id": segment["id"]}
    campaign = api(app).create_campaign({**form, "subject": None, "html_template": None})
    return dict(api(app).schedule_campaign(campaign["id"], None))


@pytest.fixture
def sent(
    api_url: str, reachable_shop: Snapshot, database: Engine, redis_client: redis.Redis
) -> tuple[AppTest, dict[str, Any]]:
    """A marketer's dashboard, and a campaign to the six sent to the end with half the messages failing."""
    app = signed_in("marketer")
    campaign = scheduled(app, "Hello everyone")
    with vendor(api_url, failure_rate=0.5) as simulator:
        deliver(database, redis_client, simulator, campaign["id"])
    outcomes = pd.DataFrame(log_rows(database, campaign["id"]))["status"].value_counts()
    assert outcomes.get("failed", 0) > 0, outcomes
    assert outcomes.get("delivered", 0) > 0, outcomes
    return on_page(app, "history"), campaign


def moves_offered(app: AppTest) -> list[str]:
    return [
        str(button.key).removeprefix("history_")
        for button in app.button
        if button.key in {f"history_{move}" for move in MOVES}
    ]


def metrics(app: AppTest) -> dict[str, str]:
    return {metric.label: metric.value for metric in app.metric}


def counts_of(database: Engine, campaign_id: int) -> dict[str, int]:
    statuses = [row["status"] for row in log_rows(database, campaign_id)]
    return {status: statuses.count(status) for status in ("delivered", "failed", "skipped")}


def test_campaigns_are_listed_newest_first_with_how_they_went(
    sent: tuple[AppTest, dict[str, Any]], database: Engine
) -> None:
    app, campaign = sent
    scheduled(app, "Later one")
    app.run()

    table = table_with(app, "delivered")
    assert table["name"].tolist() == ["Later one", "Hello everyone"]
    row = table.set_index("name").loc["Hello everyone"]
    assert row["segment"] == "Everyone for Hello everyone"
    expected = counts_of(database, campaign["id"])
    assert (row["audience"], row["sent"], row["skipped"]) == (6, 6, 0)
    assert (row["delivered"], row["failed"]) == (expected["delivered"], expected["failed"])
    assert row["status"] == "completed"


def test_a_campaigns_page_shows_its_counts_and_outcomes_over_time(
    sent: tuple[AppTest, dict[str, Any]], database: Engine
) -> None:
    app, campaign = sent

    assert app.caption[0].value.startswith("SMS to the segment “Everyone for Hello everyone” · created ")
    expected = counts_of(database, campaign["id"])
    shown = {metric.label: metric.value for metric in app.metric}
    assert (shown["Delivered"], shown["Failed"], shown["Sent"]) == (
        str(expected["delivered"]), str(expected["failed"]), "6",
    )  # fmt: skip
    assert shown["Delivery rate"] == f"{expected['delivered'] / 6:.0%}"
    in_all = chart_series(app, 0)  # messages by outcome, in all so far: each series ends at the campaign's count
    assert {outcome: values[-1] for outcome, values in in_all.items()} == {
        "sent": 6, "delivered": expected["delivered"], "failed": expected["failed"],
    }  # fmt: skip
    assert all(values == sorted(values) for values in in_all.values())


def test_the_communication_log_filters_by_status_customer_and_reason(
    sent: tuple[AppTest, dict[str, Any]], database: Engine
) -> None:
    app, campaign = sent
    assert len(table_with(app, "vendor_message_id")) == 6
    failed = [row for row in log_rows(database, campaign["id"]) if row["status"] == "failed"]

    app.selectbox(key="history_log_status").select("failed").run()
    assert sorted(table_with(app, "vendor_message_id")["customer_id"]) == [row["customer_id"] for row in failed]

    app.number_input(key="history_log_customer").set_value(failed[0]["customer_id"]).run()
    assert table_with(app, "vendor_message_id")["reason"].tolist() == [failed[0]["reason"]]

    app.selectbox(key="history_log_status").select("delivered").run()
    assert app.info[0].value == "No messages match."

    app.selectbox(key="history_log_status").select("any").run()
    app.number_input(key="history_log_customer").set_value(None).run()
    app.text_input(key="history_log_reason").input(failed[0]["reason"]).run()
    reasons = table_with(app, "vendor_message_id")["reason"]
    assert set(reasons) == {failed[0]["reason"]}
    assert len(reasons) == sum(row["reason"] == failed[0]["reason"] for row in failed)


def failed_as(database: Engine, campaign_id: int, reasons: dict[int, str]) -> None:
    """The campaign's outcome made this: the customers of `reasons` failed with that reason (and its kind, as the
    sender and the receipts applier record it), the others delivered; its counts are counted again."""
    with database.begin() as conn:
        conn.execute(
            text(
                "UPDATE communication_log SET status = 'delivered', reason = NULL, failure_kind = NULL "
                "WHERE campaign_id = :id"
            ),
            {"id": campaign_id},
        )
        for customer_id, reason in reasons.items():
            conn.execute(
                text(
                    "UPDATE communication_log SET status = 'failed', reason = :reason, failure_kind = :kind "
                    "WHERE campaign_id = :id AND customer_id = :customer_id"
                ),
                {"id": campaign_id, "customer_id": customer_id, "reason": reason, "kind": failure_kind(reason)},
            )
        conn.execute(text("UPDATE campaigns SET settled_counts = NULL WHERE id = :id"), {"id": campaign_id})


def retry_button(app: AppTest) -> Any:
    return app.button(key="history_retry-failed")


def test_retrying_the_failed_makes_a_follow_up_to_those_that_can_succeed_and_opens_it(
    sent: tuple[AppTest, dict[str, Any]], database: Engine, redis_client: redis.Redis
) -> None:
    app, campaign = sent
    failed_as(
        database, campaign["id"], {1: "unreachable", 2: "unsubscribed", 3: "carrier rejected", 4: "invalid number"}
    )
    app.run()
    assert moves_offered(app) == ["retry-failed"]
    assert retry_button(app).label == "Retry the 2 failed that can succeed"
    left_out = "Left out of a retry, as sending them again cannot succeed: 1 invalid number, 1 unsubscribed."
    assert left_out in [caption.value for caption in app.caption]

    retry_button(app).click().run()

    follow_up = api(app).campaigns()[0]
    assert (follow_up["parent_campaign_id"], follow_up["status"]) == (campaign["id"], "scheduled")
    assert app.success[0].value == (
        f"Retrying 2 failed of “Hello everyone” as campaign #{follow_up['id']}, which launches now. "
        "Left out: 1 invalid number, 1 unsubscribed."
    )
    assert app.header[0].value == f"{follow_up['name']} (#{follow_up['id']})"  # opened at once
    assert app.query_params["campaign"] == str(follow_up["id"])  # and its address can be shared
    assert table_with(app, "delivered")["id"].tolist() == [follow_up["id"], campaign["id"]]
    app.selectbox(key="history_pick").select(campaign["id"]).run()
    assert moves_offered(app) == ["open-follow-up"]  # not a second retry

    app.button(key="history_open-follow-up").click().run()

    assert app.header[0].value == f"{follow_up['name']} (#{follow_up['id']})"
    report = launch_campaign(database, redis_client, get_settings(), follow_up["id"], PublishedAudience(database))
    assert report.audience == 2
    assert {row["customer_id"] for row in log_rows(database, follow_up["id"])} == {1, 3}


def test_a_campaign_whose_failures_were_all_permanent_offers_no_retry_and_says_why(
    sent: tuple[AppTest, dict[str, Any]], database: Engine
) -> None:
    app, campaign = sent
    failed_as(database, campaign["id"], {1: "unsubscribed", 2: "invalid number", 5: "unsubscribed"})

    app.run()

    assert moves_offered(app) == []
    expected = "None of the failed can succeed if sent again, so none is retried: 2 unsubscribed, 1 invalid number."
    assert expected in [caption.value for caption in app.caption]
    assert metrics(app)["Failed"] == "3"


def test_a_sending_campaign_is_paused_resumed_and_cancelled(
    api_url: str, reachable_shop: Snapshot, database: Engine, redis_client: redis.Redis
) -> None:
    app = signed_in("marketer")
    campaign = scheduled(app, "Hello everyone")
    launch_campaign(database, redis_client, get_settings(), campaign["id"], PublishedAudience(database))
    app = on_page(app, "history")
    assert campaign_status(app) == "sending"
    assert metrics(app)["Waiting"] == "6"

    app.button(key="history_pause").click().run()
    assert app.success[0].value == "Paused “Hello everyone”: nothing more is sent until it is resumed."
    assert campaign_status(app) == "paused"

    app.button(key="history_resume").click().run()
    assert campaign_status(app) == "sending"

    app.button(key="history_cancel").click().run()
    assert api(app).campaign(campaign["id"])["status"] == "cancelled"
    assert table_with(app, "delivered")["status"].tolist() == ["cancelled"]
    assert moves_offered(app) == []


def test_a_launch_being_retried_says_why_and_one_given_up_on_is_tried_again_with_a_click(
    api_url: str, reachable_shop: Snapshot, database: Engine, redis_client: redis.Redis
) -> None:
    app = signed_in("marketer")
    campaign = scheduled(app, "Hello everyone")
    [due] = due_campaigns(database, datetime.now(UTC))
    timed_out = "DagsterUserCodeUnreachableError: User code server request timed out"
    record_launch_attempts(database, due, 2, timed_out)

    app = on_page(app, "history")
    assert [warning.value for warning in app.warning] == [
        f"2 launch attempts have not started it yet; the last: {timed_out}. It is tried again automatically."
    ]
    assert moves_offered(app) == ["unschedule", "cancel"]

    give_up_launch(database, due, 5, timed_out)
    app.run()
    assert campaign_status(app) == "failed"
    assert app.error[0].value == f"The launch failed: the launch failed 5 times; the last attempt: {timed_out}"
    assert moves_offered(app) == ["relaunch"]

    app.button(key="history_relaunch").click().run()
    assert app.success[0].value == "“Hello everyone” launches again now."
    assert campaign_status(app) == "scheduled"
    launch_campaign(database, redis_client, get_settings(), campaign["id"], PublishedAudience(database))
    app.run()
    assert campaign_status(app) == "sending"


def test_a_campaign_completed_before_its_receipts_came_keeps_updating_until_they_do(
    api_url: str, reachable_shop: Snapshot, database: Engine, redis_client: redis.Redis
) -> None:
    app = signed_in("marketer")
    campaign = scheduled(app, "Hello everyone")
    with vendor(api_url) as simulator:
        settings = simulator.settings
        report = launch_campaign(database, redis_client, settings, campaign["id"], PublishedAudience(database))
        asyncio.run(run_sender(database, redis_client, settings, consumer="tests", until_idle=True))
        past_the_receipt_timeout = datetime.now(UTC) + timedelta(seconds=settings.receipt_timeout_s + 60)
        assert complete_finished_campaigns(database, settings, past_the_receipt_timeout) == [campaign["id"]]
        app = on_page(app, "history")
        assert campaign_status(app) == "completed"
        assert metrics(app)["Delivered"] == "0"
        expected = "Updating every 30 s while outcomes are still to come for 6 of its messages."
        assert expected in [caption.value for caption in app.caption]

        settle(database, redis_client, settings, simulator.client, report.queued)  # the late receipts come in
    app.run()

    assert metrics(app)["Delivered"] == "6"
    assert not [caption.value for caption in app.caption if caption.value.startswith("Updating every")]


@pytest.fixture
def crowd(reachable_shop: Snapshot, publisher: Publisher) -> Snapshot:
    """Eighty customers in Mumbai who may all be messaged: forty who spent under 1,000, forty who spent more."""
    return publisher.publish(features(80, total_spend=[500.0] * 40 + [5000.0] * 40))


def test_the_ai_reads_a_campaign_and_its_delivery_rate_by_spend_and_city_is_drawn(
    api_url: str, crowd: Snapshot, database: Engine, redis_client: redis.Redis
) -> None:
    app = signed_in("marketer")
    campaign = scheduled(app, "Hello crowd")
    with vendor(api_url, failure_rate=0.3) as simulator:
        deliver(database, redis_client, simulator, campaign["id"])
    app = on_page(app, "history")
    charts_before = len(app.get("vega_lite_chart"))

    app.button(key="history_insights").click().run()
    assert app.info[0].value == "The AI is reading the campaign (queued)…"
    queue.work_once(database, redis_client, get_settings(), HANDLERS)
    app.run()

    insights = [item.value for item in app.markdown if str(item.value).startswith("- ")]
    assert any("delivered" in insight and insight.endswith("[1]") for insight in insights), insights
    facts = table_with(app, "numbers")
    assert facts["about"].tolist()[0] == "this campaign"
    captions = [caption.value for caption in app.caption]
    outcomes = counts_of(database, campaign["id"])
    rate = percent(outcomes["delivered"], outcomes["delivered"] + outcomes["failed"])
    assert f"rate {rate}%" in facts["numbers"].tolist()[0]
    assert f"By spend (the whole campaign: {rate}%)" in captions
    assert f"By city (the whole campaign: {rate}%)" in captions
    said_of_chance = [c for c in captions if c.startswith(("Beyond chance: ", "No band differs beyond chance"))]
    assert len(said_of_chance) == 2  # under each chart: which bands differ beyond chance, or that none does
    assert len(app.get("vega_lite_chart")) == charts_before + 2


def test_a_viewer_reads_the_history_without_the_log_or_the_buttons(
    sent: tuple[AppTest, dict[str, Any]], database: Engine
) -> None:
    failed_as(database, sent[1]["id"], {1: "unreachable"})  # a retry is possible, for a marketer
    app = on_page(signed_in("viewer"), "history")

    assert table_with(app, "delivered")["name"].tolist() == ["Hello everyone"]
    captions = [caption.value for caption in app.caption]
    assert "Pausing, resuming, cancelling and retrying campaigns needs the marketer role." in captions
    assert "The communication log holds each customer's message and address: it needs the marketer role." in captions
    assert "Drawn from the AI's reading of the campaign, which needs the analyst role to ask for." in captions
    assert moves_offered(app) == []


def test_a_link_with_the_campaign_opens_it_and_picking_another_updates_the_link(
    sent: tuple[AppTest, dict[str, Any]],
) -> None:
    app, campaign = sent
    later = scheduled(app, "Later one")
    app.query_params["campaign"] = str(campaign["id"])
    app.run()
    assert app.header[0].value == f"Hello everyone (#{campaign['id']})"

    app.selectbox(key="history_pick").set_value(later["id"]).run()

    assert app.header[0].value == f"Later one (#{later['id']})"
    assert app.query_params["campaign"] == str(later["id"])


def test_filtering_by_status_starts_again_from_the_newest(sent: tuple[AppTest, dict[str, Any]]) -> None:
    app, _ = sent
    app.session_state["history_offset"] = 50  # the marketer had paged back to older campaigns
    app.run()
    assert app.info[0].value == "No older campaigns."

    app.selectbox(key="history_status").select("completed").run()

    assert table_with(app, "delivered")["name"].tolist() == ["Hello everyone"]


def test_no_campaigns_yet_is_said_plainly(api_url: str) -> None:
    app = on_page(signed_in("viewer"), "history")

    assert app.info[0].value == "No campaigns yet."
