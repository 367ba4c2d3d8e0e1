"""`/v1/pipelines`: stream backlogs and lag, the newest snapshot, and dead letters with replay (admins only)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import orjson
import redis
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from engine.auth import audit
from engine.ingest import deadletters
from engine.services.supervisor import free_port
from engine.settings import Settings, get_settings
from engine.streams import publish
from tests.api.segments import data
from tests.api.segments.conftest import Publisher, publisher  # noqa: F401
from tests.fixtures.users import auth_headers
from tests.pipelines.helpers import fail_an_ingest_run, launches_in_trouble

CUSTOMER = {"external_id": "cus_9", "email": "nine@shop.example"}


def dead_letter(db: Engine, kind: str = "customers", payload: str = orjson.dumps(CUSTOMER).decode()) -> int:
    with db.begin() as conn:
        deadletters.record(conn, "1-0", kind, payload, "value too long for type character varying(200)")
    return deadletters.list_dead_letters(db)[-1].id


def test_the_status_shows_each_streams_backlog_and_how_old_its_oldest_entry_is(
    api_client: TestClient, database: Engine, redis_client: redis.Redis
) -> None:
    for _ in range(3):
        publish(redis_client, get_settings().stream("ingest"), {"customers": [CUSTOMER], "orders": [], "events": []})

    status = api_client.get("/v1/pipelines/status", headers=auth_headers(database, "analyst")).json()

    streams = {stream["name"]: stream for stream in status["streams"]}
    assert set(streams) == {"ingest", "delivery", "receipts", "ai"}
    assert (streams["ingest"]["undelivered"], streams["ingest"]["pending"]) == (3, 0)
    assert 0 <= streams["ingest"]["lag_seconds"] < 60
    assert streams["delivery"]["lag_seconds"] is None
    assert status["snapshot"] is None


def test_the_status_shows_the_newest_snapshot_and_the_dead_letters_waiting(
    api_client: TestClient,
    database: Engine,
    publisher: Publisher,  # noqa: F811
) -> None:
    publisher.publish(data.features())
    publisher.publish(data.features())
    dead_letter(database)

    status = api_client.get("/v1/pipelines/status", headers=auth_headers(database, "analyst")).json()

    assert (status["snapshot"]["version"], status["snapshot"]["customers"]) == (2, 6)
    assert 0 <= status["snapshot"]["age_seconds"] < 60
    assert status["dead_letters_waiting"] == 1


def test_an_admin_replays_a_dead_letter_onto_the_ingest_stream_and_it_is_audited(
    api_client: TestClient, database: Engine, redis_client: redis.Redis
) -> None:
    letter = dead_letter(database)
    admin = auth_headers(database, "admin", "boss@shop.example")

    answer = api_client.post("/v1/pipelines/dead-letters/replay", json={"ids": [letter]}, headers=admin)

    assert answer.json() == {"replayed": [letter]}
    assert redis_client.xlen(get_settings().stream("ingest")) == 1
    assert api_client.get("/v1/pipelines/dead-letters", headers=admin).json() == []
    replayed = api_client.get("/v1/pipelines/dead-letters", params={"include_replayed": True}, headers=admin).json()
    assert [(item["id"], item["replayed_at"] is not None) for item in replayed] == [(letter, True)]
    entry = audit.list_entries(database, action="dead_letters.replayed")[0]
    assert (entry.actor, entry.detail) == ("boss@shop.example", {"ids": [letter]})


def test_an_analyst_sees_dead_letters_but_may_not_replay_them(api_client: TestClient, database: Engine) -> None:
    letter = dead_letter(database)
    analyst = auth_headers(database, "analyst")

    listed = api_client.get("/v1/pipelines/dead-letters", headers=analyst).json()
    refused = api_client.post("/v1/pipelines/dead-letters/replay", json={"ids": None}, headers=analyst)

    assert [(item["id"], item["kind"], item["error"]) for item in listed] == [
        (letter, "customers", "value too long for type character varying(200)")
    ]
    assert refused.status_code == 403


def test_an_entry_that_was_never_json_cannot_be_replayed(api_client: TestClient, database: Engine) -> None:
    letter = dead_letter(database, kind="entry", payload="{not json")

    answer = api_client.post(
        "/v1/pipelines/dead-letters/replay", json={"ids": [letter]}, headers=auth_headers(database, "admin")
    )

    assert answer.status_code == 409
    assert "cannot be replayed" in answer.json()["detail"]


def test_a_viewer_may_not_read_the_pipelines(api_client: TestClient, database: Engine) -> None:
    assert api_client.get("/v1/pipelines/status", headers=auth_headers(database, "viewer")).status_code == 403


def test_the_status_shows_failed_runs_with_why_and_the_launches_being_retried_or_given_up(
    api_client: TestClient, database: Engine, dagster_home: Path
) -> None:
    retrying, doomed = launches_in_trouble(database)
    fail_an_ingest_run()

    status = api_client.get("/v1/pipelines/status", headers=auth_headers(database, "analyst")).json()

    assert status["runs_unavailable"] is None
    [failed] = status["runs"]
    assert (failed["job"], failed["status"], failed["run_key"]) == ("ingest_stream_job", "FAILURE", "drain-3")
    assert "the code server no longer runs it" in failed["reason"]
    launches = {launch["campaign_id"]: launch for launch in status["launches"]}
    assert (launches[retrying]["status"], launches[retrying]["attempts"]) == ("scheduled", 2)
    assert launches[retrying]["reason"] == "the code server did not answer"
    assert (launches[doomed]["status"], launches[doomed]["attempts"]) == ("failed", 5)


def test_without_dagster_the_status_says_so_and_shows_the_rest(
    api_client: TestClient, database: Engine, configure: Callable[..., Settings]
) -> None:
    configure(XENO_DAGSTER_URL=f"http://127.0.0.1:{free_port()}")

    status = api_client.get("/v1/pipelines/status", headers=auth_headers(database, "analyst")).json()

    assert status["runs"] == []
    assert "did not answer" in status["runs_unavailable"]
    assert {stream["name"] for stream in status["streams"]} == {"ingest", "delivery", "receipts", "ai"}
