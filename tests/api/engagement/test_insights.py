"""AI insights use engagement: a campaign people opened, clicked and ordered after gets a fact with those figures,
and the local provider says them; a campaign nobody engaged with gets no such fact."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlsplit

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from engine.ai.insights.campaign import campaign_insights
from engine.ai.local import LocalProvider
from engine.campaigns.progress import get_campaign
from engine.engagement.links import click_url, open_pixel_url
from engine.settings import get_settings
from tests.api.engagement.conftest import SENT, Sent, add_order
from tests.fixtures.api import drain_ingest_stream


def test_insights_say_who_opened_clicked_and_ordered(api_client: TestClient, database: Engine, sent: Sent) -> None:
    settings = get_settings()
    for message in (sent.diwali_to_ada, sent.diwali_to_bob):
        assert api_client.get(urlsplit(open_pixel_url(settings, message)).path).status_code == 200
    link = urlsplit(click_url(settings, sent.diwali_to_bob, "https://shop.example/sale")).path
    assert api_client.get(link, follow_redirects=False).status_code == 302
    drain_ingest_stream()
    add_order(database, sent.bob, "after-diwali", "1250.00", SENT + timedelta(hours=3))

    diwali = campaign_insights(database, get_campaign(database, sent.diwali), LocalProvider(), None)
    follow_up = campaign_insights(database, get_campaign(database, sent.follow_up), LocalProvider(), None)

    [engagement] = [fact for fact in diwali.facts if fact.id == "engagement"]
    assert {key: engagement.values[key] for key in ("opened", "clicked", "clicks", "conversions")} == {
        "opened": 2,
        "clicked": 1,
        "clicks": 1,
        "conversions": 1,
    }
    assert engagement.values["revenue"] == "₹1,250.00"
    [said] = [insight.text for insight in diwali.insights if insight.fact_ids == ("engagement",)]
    assert said == (
        "This campaign was opened by 2 customers, and 1 clicked a link (1 click in all); "
        "it had 1 order worth ₹1,250.00 attributed to it (the last message before each)."
    )
    assert "engagement" not in [fact.id for fact in follow_up.facts]
