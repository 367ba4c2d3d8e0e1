"""The Pipelines page: stream lag, the newest snapshot's age, dead letters with replay, links into Dagster."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import redis
from sqlalchemy import Engine

from engine.features.snapshot import Snapshot
from engine.services.supervisor import free_port
from engine.settings import Settings, get_settings
from engine.streams import publish
from tests.api.pipelines.test_pipelines import CUSTOMER, dead_letter
from tests.dashboard.helpers import on_page, signed_in, table_with
from tests.pipelines.helpers import fail_an_ingest_run, launches_in_trouble


def test_it_shows_the_ingest_backlog_and_the_snapshot(api_url: str, shop: Snapshot, redis_client: redis.Redis) -> None:
    for _ in range(3):
        publish(redis_client, get_settings().stream("ingest"), {"customers": [CUSTOMER], "orders": [], "events": []})

    app = on_page(signed_in("analyst"), "pipelines")

    metrics = {metric.label: metric.value for metric in app.metric}
    assert metrics["ingest backlog"] == "3"
    assert metrics["delivery backlog"] == "0"
    assert (metrics["Version"], metrics["Customers"]) == (str(shop.version), "6")


def test_an_admin_replays_a_dead_letter_and_it_leaves_the_list(
    api_url: str, database: Engine, redis_client: redis.Redis
) -> None:
    letter = dead_letter(database)
    app = on_page(signed_in("admin"), "pipelines")
    assert table_with(app, "error")["id"].tolist() == [letter]

    app.multiselect(key="deadletters_pick").set_value([letter]).run()
    app.button(key="deadletters_replay").click().run()

    assert app.success[0].value == "Replayed 1: the ingest job applies them again."
    assert app.success[1].value == "No dead letters."
    assert redis_client.xlen(get_settings().stream("ingest")) == 1


def test_an_analyst_sees_dead_letters_without_a_replay_button(api_url: str, database: Engine) -> None:
    dead_letter(database)

    app = on_page(signed_in("analyst"), "pipelines")

    assert len(table_with(app, "error")) == 1
    assert "Replaying dead letters needs the admin role." in [caption.value for caption in app.caption]
    with pytest.raises(KeyError):
        app.button(key="deadletters_replay")


def test_the_dagster_links_go_to_the_configured_dagster(api_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XENO_DAGSTER_URL", "http://dagster.example:3000/")

    app = on_page(signed_in("analyst"), "pipelines")

    links = {link.proto.label: link.proto.url for link in app.get("link_button")}
    assert links["Runs"] == "http://dagster.example:3000/runs"
    assert links["Feature snapshot asset"] == "http://dagster.example:3000/assets/customer_features"
    assert app.warning[0].value.startswith("No feature snapshot has been published yet")


def test_failed_runs_say_why_and_launches_being_retried_or_given_up_link_to_their_campaign(
    api_url: str, database: Engine, dagster_home: Path
) -> None:
    retrying, doomed = launches_in_trouble(database)
    fail_an_ingest_run()

    app = on_page(signed_in("analyst"), "pipelines")

    assert app.warning[1].value == (
        f"“Diwali” (campaign {retrying}): 2 launch attempts have not gone through; tried again automatically. "
        "The last: the code server did not answer"
    )
    assert app.error[0].value == (
        f"“Holi” (campaign {doomed}): the launch was given up on. "
        "the launch failed 5 times; the last attempt: the code server did not answer"
    )
    assert app.error[1].value == "1 of the last 1 runs failed; their work is tried again (see README)."
    runs = table_with(app, "Why it failed")
    assert runs[["Status", "Job", "Attempt"]].values.tolist() == [["failure", "ingest_stream_job", "drain-3"]]
    assert "the code server no longer runs it" in runs["Why it failed"][0]


def test_without_dagster_the_page_says_the_runs_cannot_be_read(
    api_url: str, database: Engine, configure: Callable[..., Settings]
) -> None:
    configure(XENO_DAGSTER_URL=f"http://127.0.0.1:{free_port()}")

    app = on_page(signed_in("analyst"), "pipelines")

    warnings = [warning.value for warning in app.warning]
    assert any(warning.startswith("Dagster's runs could not be read: Dagster's webserver at") for warning in warnings)
