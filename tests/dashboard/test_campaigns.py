"""The Campaigns page on the real API: a message for a saved segment, written by hand or from the AI's
suggestions, previewed for sample customers, saved as a draft, scheduled (at a suggested send hour from past
delivery outcomes, logged here straight to Postgres) or launched once confirmed, and watched sending."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import polars as pl
import redis
from sqlalchemy import Engine
from streamlit.testing.v1 import AppTest

from engine.consent.suppression import suppress
from engine.features.snapshot import Snapshot
from engine.segments.history import record_snapshot_sizes
from tests.api.segments import data
from tests.api.segments.conftest import Publisher
from tests.dashboard.delivery import deliver, vendor
from tests.dashboard.helpers import campaign_status, chart_series, on_page, signed_in, table_with
from tests.engine.ai.history import launched_campaign, log_messages, outcomes

BIG_SPENDERS = "Big spenders"  # Ada, Sam and Noor
OFFER = "Hi {{ first_name }}, 10% off in {{ city }} this week!"
OPT_OUT = "\nReply STOP to opt out"  # what every SMS ends with (engine.consent), shown in the preview as it goes out


def campaigns_page(role: str = "marketer") -> AppTest:
    """The Campaigns page, with the segment of big spenders saved."""
    app = signed_in(role)
    app.session_state["api_client"].create_segment({"name": BIG_SPENDERS, "description": "", "rule": data.BIG_SPENDERS})
    return on_page(app, "campaigns")


def write(app: AppTest, name: str = "Weekly offer", template: str = OFFER, channel: str = "sms") -> AppTest:
    app.text_input(key="campaign_name").input(name)
    app.selectbox(key="campaign_segment").select_index(0)
    app.radio(key="campaign_channel").set_value(channel)
    app.text_area(key="campaign_template").input(template)
    app.run()
    assert not app.exception, app.exception
    return app


def campaigns(app: AppTest, status: str | None = None) -> list[dict[str, Any]]:
    return list(app.session_state["api_client"].campaigns(status))


def metrics(app: AppTest) -> dict[str, str]:
    return {metric.label: metric.value for metric in app.metric}


def test_the_message_is_previewed_as_sample_customers_would_get_it(api_url: str, reachable_shop: Snapshot) -> None:
    app = write(campaigns_page())

    assert metrics(app)["Audience now"] == "3"
    assert "3 will receive it by SMS" in markdown(app)
    assert table_with(app, "message")["message"].tolist() == [
        f"Hi Ada, 10% off in London this week!{OPT_OUT}",
        f"Hi Sam, 10% off in Mumbai this week!{OPT_OUT}",
        f"Hi Noor, 10% off in Delhi this week!{OPT_OUT}",
    ]
    assert "As customer 1 gets it (58 characters · 1 SMS):" in [caption.value for caption in app.caption]
    assert app.code[0].value == f"Hi Ada, 10% off in London this week!{OPT_OUT}"  # in full, not cut off in a cell


def test_the_preview_and_the_launch_confirmation_count_who_will_actually_receive_it(
    api_url: str, reachable_shop: Snapshot, database: Engine
) -> None:
    with database.begin() as conn:  # Ada replied STOP
        suppress(conn, "sms", "+447700900001", "stop", "test")
    app = write(campaigns_page())

    assert metrics(app)["Audience now"] == "3"
    assert "2 will receive it by SMS; not: 1 suppressed: replied STOP" in markdown(app)
    app.button(key="campaign_launch").click().run()
    assert "“Weekly offer” goes by **SMS** to **2 of the 3 customers** now, all at once." in markdown(app)
    assert "Left out: 1 suppressed: replied STOP." in [caption.value for caption in app.caption]


def test_the_preview_follows_a_new_snapshot_of_the_segment(
    api_url: str, reachable_shop: Snapshot, publisher: Publisher, database: Engine
) -> None:
    app = write(campaigns_page())
    assert metrics(app)["Audience now"] == "3"

    noor_spent_less = reachable_shop.features.with_columns(
        pl.when(pl.col("first_name") == "Noor").then(100.0).otherwise(pl.col("total_spend")).alias("total_spend")
    )
    record_snapshot_sizes(database, publisher.publish(noor_spent_less))
    api_has_loaded_it(app, audience_size=2)
    app.run()

    assert metrics(app)["Audience now"] == "2"
    assert table_with(app, "message")["message"].tolist() == [
        f"Hi Ada, 10% off in London this week!{OPT_OUT}",
        f"Hi Sam, 10% off in Mumbai this week!{OPT_OUT}",
    ]


def api_has_loaded_it(app: AppTest, audience_size: int) -> None:
    """Wait until the API (which looks for a new snapshot every few seconds) previews for the new one."""
    segment_id = app.session_state["campaign_segment"]
    asked = {"template": OFFER, "subject": None, "html_template": None, "segment_id": segment_id, "channel": "sms"}
    deadline = time.monotonic() + 20
    while app.session_state["api_client"].preview_campaign(asked, 1)["audience_size"] != audience_size:
        assert time.monotonic() < deadline, "the API did not load the new snapshot"
        time.sleep(0.2)


def test_a_template_error_is_shown_with_its_line_and_column(api_url: str, reachable_shop: Snapshot) -> None:
    app = write(campaigns_page(), template="Hello!\nHi {{ frist_name }}, 10% off")

    where = "Please check the input: message, line 2, column 7: "
    assert app.error[0].value.startswith(where)
    problem = app.error[0].value.removeprefix(where)
    assert problem.startswith("unknown variable 'frist_name'")
    assert app.code[0].value == "Hi {{ frist_name }}, 10% off\n      ^ " + problem
    assert app.get("dataframe") == []


def test_an_e_mail_takes_an_html_template_previewed_escaped_and_sanitised_and_saved(
    api_url: str, reachable_shop: Snapshot
) -> None:
    app = write(campaigns_page(), name="Styled offer", channel="email")
    app.text_input(key="campaign_subject").input("Hi")
    app.text_area(key="campaign_html_template").input(
        '<p onclick="steal()">Hi {{ first_name }}<script>x()</script></p>'
    )
    app.run()

    assert table_with(app, "html")["html"].tolist()[0] == "<p>Hi Ada</p>"
    app.button(key="campaign_save").click().run()
    [draft] = campaigns(app, status="draft")
    assert draft["html_template"] == '<p onclick="steal()">Hi {{ first_name }}<script>x()</script></p>'
    app.text_area(key="campaign_html_template").input("<p>{{ frist_name }}</p>").run()
    assert app.error[0].value.startswith("Please check the input: HTML, line 1, column 7: unknown variable")


def test_an_e_mail_with_only_html_is_previewed_and_saved_with_its_text_read_off_the_html(
    api_url: str, reachable_shop: Snapshot
) -> None:
    app = write(campaigns_page(), name="Designed", channel="email", template="")
    app.text_input(key="campaign_subject").input("Hi")
    app.text_area(key="campaign_html_template").input(
        '<p>Hi {{ first_name }}, see <a href="https://shop.example/sale">the sale</a></p>'
    )
    app.run()

    assert table_with(app, "message")["message"].tolist()[0] == "Hi Ada, see the sale (https://shop.example/sale)"
    app.button(key="campaign_save").click().run()
    [draft] = campaigns(app, status="draft")
    assert (draft["template"], draft["name"]) == ("", "Designed")


def test_an_ai_suggestion_fills_the_message_and_subject(api_url: str, reachable_shop: Snapshot) -> None:
    app = write(campaigns_page(), channel="email", template="placeholder")

    app.text_input(key="campaign_ai_objective").input("thank our best customers with 20% off, code THANKS20")
    app.text_input(key="campaign_ai_brand").input("Kurta & Co")
    app.button(key="campaign_ai_suggest").click().run()
    suggested = app.session_state["campaign_suggestions"]["variants"]
    assert len(suggested) >= 2
    assert all("20% off" in variant["body"] and "Kurta & Co" in variant["body"] for variant in suggested)
    assert "Every variant states the objective's “20% off”, “THANKS20” unchanged." in [c.value for c in app.caption]
    app.button(key="campaign_ai_use_1").click().run()

    assert app.text_area(key="campaign_template").value == suggested[1]["body"]
    assert app.text_input(key="campaign_subject").value == suggested[1]["subject"]
    assert "error" not in table_with(app, "message").columns  # no problem: no column of "None"


def test_a_draft_is_saved_opened_again_and_deleted(api_url: str, reachable_shop: Snapshot) -> None:
    app = write(campaigns_page(), name="Draft offer")

    app.button(key="campaign_save").click().run()
    assert app.success[0].value == "Saved “Draft offer” as a draft."
    [draft] = campaigns(app, status="draft")
    assert (draft["name"], draft["template"], draft["channel"]) == ("Draft offer", OFFER, "sms")

    app.selectbox(key="campaign_pick").set_value(0).run()
    assert app.text_input(key="campaign_name").value == ""
    app.selectbox(key="campaign_pick").set_value(draft["id"]).run()
    assert app.text_area(key="campaign_template").value == OFFER

    app.button(key="campaign_delete").click().run()
    assert app.success[0].value == "Deleted the draft “Draft offer”."
    assert campaigns(app) == []


def test_an_incomplete_campaign_is_not_saved_and_the_page_says_what_is_missing(
    api_url: str, reachable_shop: Snapshot
) -> None:
    app = campaigns_page()
    app.text_area(key="campaign_template").input(OFFER)

    app.button(key="campaign_launch").click().run()

    assert app.warning[0].value == "Give the campaign a name, a segment first."
    assert campaigns(app) == []


def test_a_campaign_scheduled_for_later_is_read_in_the_time_zone_picked(api_url: str, reachable_shop: Snapshot) -> None:
    app = write(campaigns_page())
    tomorrow_ten = (datetime.now(UTC) + timedelta(days=1)).replace(hour=10, minute=0, second=0, microsecond=0)

    app.radio(key="campaign_when").set_value("Schedule for later").run()
    assert app.selectbox(key="campaign_zone").value == "UTC"  # AppTest's browser names no zone
    app.selectbox(key="campaign_zone").select("Asia/Kolkata").run()
    app.datetime_input(key="campaign_at").set_value(tomorrow_ten.replace(tzinfo=None)).run()
    app.button(key="campaign_launch").click().run()

    [campaign] = campaigns(app)
    assert campaign["status"] == "scheduled"
    assert datetime.fromisoformat(campaign["scheduled_at"]) == tomorrow_ten - timedelta(hours=5, minutes=30)
    said = f"Scheduled “Weekly offer” for {tomorrow_ten:%Y-%m-%d} 10:00 Asia/Kolkata (04:30 UTC)."
    assert app.success[0].value == said
    assert app.button(key="campaign_watch_unschedule")
    captions = [caption.value for caption in app.caption]
    assert "Updating every 30 s while the campaign is scheduled." in captions  # not every second until tomorrow


def test_a_launched_campaign_shows_its_counts_rise_as_it_sends(
    api_url: str, reachable_shop: Snapshot, database: Engine, redis_client: redis.Redis
) -> None:
    app = write(campaigns_page(), channel="email", template="Hi {{ first_name }}, 10% off this week!")
    app.text_input(key="campaign_subject").input("A gift for you").run()

    app.button(key="campaign_launch").click().run()
    app.button(key="campaign_launch_confirm").click().run()
    [campaign] = campaigns(app)
    assert app.success[0].value == "Scheduled “Weekly offer” to launch now."
    assert campaign_status(app) == "scheduled"
    assert "Updating every 1.5 s while the campaign is scheduled." in [caption.value for caption in app.caption]
    assert app.text_input(key="campaign_name").value == ""  # the form is ready for the next campaign
    [to_history] = app.get("page_link")
    assert (to_history.proto.page, to_history.proto.query_string) == ("history", f"campaign={campaign['id']}")

    with vendor(api_url) as simulator:
        deliver(database, redis_client, simulator, campaign["id"])
    app.run()

    shown = metrics(app)
    assert (shown["Audience"], shown["Sent"], shown["Delivered"], shown["Failed"]) == ("3", "3", "3", "0")
    assert campaign_status(app) == "completed"


def test_launching_now_asks_to_confirm_with_the_audience_and_channel_and_sends_nothing_until_confirmed(
    api_url: str, reachable_shop: Snapshot
) -> None:
    app = write(campaigns_page())

    app.button(key="campaign_launch").click().run()
    assert "“Weekly offer” goes by **SMS** to **3 customers** now, all at once." in markdown(app)
    assert campaigns(app) == []
    app.button(key="campaign_launch_cancel").click().run()
    assert not has_button(app, "campaign_launch_confirm")
    assert campaigns(app) == []
    assert app.text_input(key="campaign_name").value == "Weekly offer"  # the form is kept

    app.button(key="campaign_launch").click().run()
    app.button(key="campaign_launch_confirm").click().run()
    [campaign] = campaigns(app)
    assert (campaign["name"], campaign["status"]) == ("Weekly offer", "scheduled")
    assert datetime.fromisoformat(campaign["scheduled_at"]) <= datetime.now(UTC)  # now, not later
    assert app.success[0].value == "Scheduled “Weekly offer” to launch now."
    assert not has_button(app, "campaign_launch_confirm")


def markdown(app: AppTest) -> list[str]:
    return [str(item.value) for item in app.markdown]


def has_button(app: AppTest, key: str) -> bool:
    return any(button.key == key for button in app.button)


def sent_at_utc_hour(database: Engine, hour: int, delivered: int, customers: range = range(1, 51)) -> None:
    """A finished SMS campaign to `customers` sent two days ago at `hour`:15 UTC (the six's own time: they name no
    time zone, and the default is UTC), its first `delivered` messages delivered, the rest failed."""
    sent_at = (datetime.now(UTC) - timedelta(days=2)).replace(hour=hour, minute=15, second=0, microsecond=0)
    log_messages(database, launched_campaign(database), outcomes(customers, delivered, sent_at=sent_at))


def saved_draft(app: AppTest) -> AppTest:
    app.button(key="campaign_save").click().run()
    assert app.success[0].value == "Saved “Weekly offer” as a draft."
    return app


def test_a_suggested_send_hour_is_shown_with_its_evidence_and_fills_the_schedule(
    api_url: str, reachable_shop: Snapshot, database: Engine
) -> None:
    for hour in range(9, 21):  # 50 messages an hour: 96% delivered at 10:00, 80% at 14:00, 70% otherwise
        sent_at_utc_hour(database, hour, {10: 48, 14: 40}.get(hour, 35))
    app = saved_draft(write(campaigns_page()))

    app.button(key="campaign_send_time_ask").click().run()

    shown = markdown(app)
    assert "**Suggested: 10:00 in each customer's own time zone.**" in shown
    assert (
        "Send at 10:00 in each customer's time zone: 96% of 50 messages sent then were delivered, 16 points more than "
        "at 14:00, the next best (80% of 50)." in shown
    )
    captions = [caption.value for caption in app.caption]
    assert any(caption.startswith("From all customers' history on SMS: 600 messages") for caption in captions)
    assert any(caption.startswith("The audience's own history is too thin") for caption in captions)
    bars = chart_series(app, 0)
    assert [rate for rate in bars["suggested"] if rate == rate] == [96.0]  # NaN (no bar) elsewhere
    assert sorted(rate for rate in bars["compared"] if rate == rate) == [70.0] * 10 + [80.0]
    evidence = table_with(app, "delivery rate %")
    assert evidence.set_index("hour").loc["10:00", ["sent", "delivered"]].tolist() == [50, 48]

    app.button(key="campaign_send_time_use").click().run()

    assert app.radio(key="campaign_when").value == "Schedule for later"
    assert app.selectbox(key="campaign_zone").value == "UTC"
    at = app.datetime_input(key="campaign_at").value
    assert at is not None
    now = datetime.now(UTC).replace(tzinfo=None)
    assert (at.hour, at.minute) == (10, 0)
    assert now < at <= now + timedelta(days=1, minutes=15)  # the next 10:00 far enough ahead to launch at
    app.button(key="campaign_launch").click().run()  # scheduling for later needs no confirmation
    [campaign] = campaigns(app, status="scheduled")
    assert datetime.fromisoformat(campaign["scheduled_at"]) == at.replace(tzinfo=UTC)


def test_too_little_history_says_there_is_not_enough_evidence_and_offers_no_hour(
    api_url: str, reachable_shop: Snapshot, database: Engine
) -> None:
    sent_at_utc_hour(database, 10, 10, customers=range(1, 11))
    sent_at_utc_hour(database, 15, 5, customers=range(1, 11))
    app = saved_draft(write(campaigns_page()))

    app.button(key="campaign_send_time_ask").click().run()

    [warning] = app.warning
    assert warning.value.startswith("Not enough evidence to suggest a send hour: 20 messages with a known outcome")
    assert not any(item.startswith("**Suggested:") for item in markdown(app))
    assert not has_button(app, "campaign_send_time_use")
    assert app.radio(key="campaign_when").value == "Launch now"
