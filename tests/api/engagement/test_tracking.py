"""Opens and clicks: the pixel and the click redirect record `Email Opened` / `Link Clicked` on the customer the
message went to, through the ingest stream, exactly as documented (an e-mail opens once, every click counts), and
campaign history counts them; a token we did not sign is refused and records nothing."""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import urlsplit

import orjson
import redis
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import Engine, text

from engine.consent.links import sign
from engine.engagement.links import CLICK, click_url, open_pixel_url
from engine.privacy.erase import erase_customer
from engine.settings import get_settings
from tests.api.engagement.conftest import Sent
from tests.fixtures.api import drain_ingest_stream
from tests.fixtures.users import auth_headers

SALE = "https://shop.example/sale?utm_source=xeno&x=1"


def _path(url: str) -> str:
    return urlsplit(url).path


def _engagement(client: TestClient, database: Engine, *campaign_ids: int) -> dict[int, dict[str, Any]]:
    answer = client.get(
        "/v1/engagement/campaigns", params={"campaign_id": list(campaign_ids)}, headers=auth_headers(database, "viewer")
    )
    assert answer.status_code == 200, answer.text
    return {row["campaign_id"]: row for row in answer.json()}


def _tracked_events(database: Engine) -> list[tuple[str, str, dict[str, Any]]]:
    with database.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT c.external_id, e.name, e.properties FROM events e JOIN customers c ON c.id = e.customer_id "
                "ORDER BY e.id"
            )
        )
        return [(row.external_id, row.name, row.properties) for row in rows]


def test_an_open_and_clicks_land_once_on_the_customer_and_campaign_of_the_message(
    api_client: TestClient, database: Engine, sent: Sent
) -> None:
    settings = get_settings()
    pixel = _path(open_pixel_url(settings, sent.diwali_to_ada))
    link = _path(click_url(settings, sent.diwali_to_bob, SALE))

    opened = [api_client.get(pixel) for _ in range(3)]  # a reloaded image
    clicked = [api_client.get(link, follow_redirects=False) for _ in range(2)]  # and a second click
    drain_ingest_stream()
    api_client.get(pixel)  # opened again later, in another batch
    drain_ingest_stream()

    assert {(answer.status_code, answer.headers["content-type"]) for answer in opened} == {(200, "image/gif")}
    assert "no-store" in opened[0].headers["cache-control"]
    assert [(answer.status_code, answer.headers["location"]) for answer in clicked] == [(302, SALE)] * 2
    diwali = {"campaign_id": sent.diwali, "campaign_name": "Diwali offer", "channel": "email"}
    assert _tracked_events(database) == [
        ("ada", "Email Opened", {**diwali, "message_id": sent.diwali_to_ada}),
        ("bob", "Link Clicked", {**diwali, "message_id": sent.diwali_to_bob, "url": SALE}),
        ("bob", "Link Clicked", {**diwali, "message_id": sent.diwali_to_bob, "url": SALE}),
    ]
    figures = _engagement(api_client, database, sent.diwali, sent.follow_up)
    assert {key: figures[sent.diwali][key] for key in ("opened", "clicked", "clicks")} == {
        "opened": 1,
        "clicked": 1,
        "clicks": 2,
    }
    assert {key: figures[sent.follow_up][key] for key in ("opened", "clicked", "clicks")} == {
        "opened": 0,
        "clicked": 0,
        "clicks": 0,
    }


def test_a_forged_or_altered_tracking_token_is_refused_and_records_nothing(
    api_client: TestClient, redis_client: redis.Redis, sent: Sent
) -> None:
    settings = get_settings()
    elsewhere = settings.model_copy(update={"secret_key": SecretStr("someone-elses-secret")})
    signature = _path(click_url(settings, sent.diwali_to_bob, SALE)).rsplit(".", 1)[1]
    payload = base64.urlsafe_b64encode(orjson.dumps({"m": sent.diwali_to_bob, "u": "https://phish.example"}))
    redirected_elsewhere = f"/v1/track/click/{payload.decode().rstrip('=')}.{signature}"
    forged = [
        _path(open_pixel_url(elsewhere, sent.diwali_to_ada)),
        _path(click_url(elsewhere, sent.diwali_to_bob, "https://phish.example")),
        redirected_elsewhere,
        "/v1/track/open/" + sign(settings, CLICK, {"m": sent.diwali_to_ada, "u": SALE}),  # a click token as a pixel
    ]

    answers = [api_client.get(path, follow_redirects=False) for path in forged]

    assert [(answer.status_code, answer.json()["error"]) for answer in answers] == [(404, "not_found")] * 4
    assert redis_client.xlen(settings.stream("ingest")) == 0


def test_opening_a_message_of_a_customer_no_longer_held_still_answers_but_records_nothing(
    api_client: TestClient, database: Engine, redis_client: redis.Redis, sent: Sent
) -> None:
    with database.begin() as conn:
        conn.execute(text("DELETE FROM communication_log WHERE id = :id"), {"id": sent.diwali_to_ada})

    answer = api_client.get(_path(open_pixel_url(get_settings(), sent.diwali_to_ada)))

    assert answer.status_code == 200
    assert redis_client.xlen(get_settings().stream("ingest")) == 0


def test_an_open_and_a_click_still_on_the_stream_when_the_customer_is_erased_do_not_bring_them_back(
    api_client: TestClient, database: Engine, sent: Sent
) -> None:
    settings = get_settings()
    api_client.get(_path(open_pixel_url(settings, sent.diwali_to_ada)))
    api_client.get(_path(click_url(settings, sent.diwali_to_ada, SALE)), follow_redirects=False)
    api_client.get(_path(click_url(settings, sent.diwali_to_bob, SALE)), follow_redirects=False)
    erase_customer(database, sent.ada, actor="admin@example.com")

    report = drain_ingest_stream()

    with database.connect() as conn:
        held = conn.execute(text("SELECT external_id FROM customers ORDER BY external_id")).scalars().all()
    assert held == ["bob"]
    assert _tracked_events(database) == [
        ("bob", "Link Clicked", {"campaign_id": sent.diwali, "campaign_name": "Diwali offer", "channel": "email",
                                 "message_id": sent.diwali_to_bob, "url": SALE}),
    ]  # fmt: skip
    assert (report.applied, report.erased, report.duplicates) == (1, 2, 0)
