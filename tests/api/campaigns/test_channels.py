"""The channel registry through the API: `GET /v1/channels`, and campaigns on every registered channel, checked
against what their channel declares."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.api.campaigns.conftest import OFFER
from tests.api.segments import data

pytestmark = pytest.mark.usefixtures("published")
DRAFT = {"name": "Diwali offer", "template": OFFER, "audience_rule": data.BIG_SPENDERS}


def test_clients_are_told_every_channel_and_how_it_goes(client: TestClient, marketer: dict[str, str]) -> None:
    response = client.get("/v1/channels", headers=marketer)

    assert response.status_code == 200
    channels = {channel["name"]: channel for channel in response.json()}
    assert list(channels) == ["sms", "email", "whatsapp", "webhook"]
    assert channels["email"]["subject_required"] is True
    assert (channels["email"]["address"], channels["email"]["consent"]) == ("email", "email_consent")
    assert channels["whatsapp"]["consent"] == "trait_whatsapp_consent"
    assert channels["webhook"]["consent"] is None
    assert channels["sms"]["max_length"] == 1530
    assert set(channels["email"]["transports"]) == {"simulator", "smtp", "email_api"}
    assert {channel["transport"] for channel in channels.values()} == {"simulator"}


def test_the_channel_list_needs_a_sign_in(client: TestClient) -> None:
    assert client.get("/v1/channels").status_code == 401


@pytest.mark.parametrize("channel", ["whatsapp", "webhook"])
def test_a_campaign_can_use_the_newer_channels(client: TestClient, marketer: dict[str, str], channel: str) -> None:
    response = client.post("/v1/campaigns", json={**DRAFT, "channel": channel}, headers=marketer)

    assert response.status_code == 201, response.json()
    assert response.json()["channel"] == channel


@pytest.mark.parametrize("subject", [None, "", "   "])
def test_an_e_mail_campaign_without_a_subject_is_refused(
    client: TestClient, marketer: dict[str, str], subject: str | None
) -> None:
    body = {**DRAFT, "channel": "email", **({} if subject is None else {"subject": subject})}

    response = client.post("/v1/campaigns", json=body, headers=marketer)

    assert response.status_code == 422
    assert "subject" in str(response.json()["detail"])
    assert client.get("/v1/campaigns", headers=marketer).json() == []


def test_an_unknown_channel_is_refused_naming_the_channels_there_are(
    client: TestClient, marketer: dict[str, str]
) -> None:
    response = client.post("/v1/campaigns", json={**DRAFT, "channel": "fax"}, headers=marketer)

    assert response.status_code == 422
    assert "sms, email, whatsapp, webhook" in str(response.json()["detail"])
