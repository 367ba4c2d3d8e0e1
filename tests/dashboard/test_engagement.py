"""Opens, clicks and conversions on the History page: a campaign really sent, then opened, clicked and followed by
an order, shows them in the list and on its own page."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
from sqlalchemy import Engine, text
from streamlit.testing.v1 import AppTest

from engine.engagement.links import click_url, open_pixel_url
from engine.settings import get_settings
from tests.dashboard.helpers import table_with
from tests.dashboard.test_history import metrics, sent  # noqa: F401
from tests.engine.campaigns.helpers import log_rows
from tests.fixtures.api import drain_ingest_stream


def test_history_shows_who_opened_and_clicked_and_the_orders_the_campaign_brought(
    sent: tuple[AppTest, dict[str, Any]],  # noqa: F811
    api_url: str,
    database: Engine,
) -> None:
    app, campaign = sent
    delivered = [row for row in log_rows(database, campaign["id"]) if row["status"] == "delivered"]
    reader = delivered[0]
    with httpx.Client(base_url=api_url) as browser:
        for _ in range(2):
            assert browser.get(urlsplit(open_pixel_url(get_settings(), reader["id"])).path).status_code == 200
        click = browser.get(urlsplit(click_url(get_settings(), reader["id"], "https://shop.example/sale")).path)
        assert click.status_code == 302
    drain_ingest_stream()
    with database.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO orders (external_id, customer_id, amount, currency, ordered_at) "
                "VALUES ('after-the-campaign', :customer, 1250.00, 'INR', :at)"
            ),
            {"customer": reader["customer_id"], "at": reader["sent_at"] + timedelta(hours=2)},
        )

    app.run()

    row = table_with(app, "opened").set_index("name").loc["Hello everyone"]
    assert (row["opened"], row["clicked"], row["conversions"], row["revenue"]) == (1, 1, 1, 1250.0)
    shown = metrics(app)
    assert (shown["Opened"], shown["Clicked"], shown["Conversions"], shown["Revenue"]) == ("1", "1", "1", "₹1,250.00")
