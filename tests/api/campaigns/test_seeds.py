"""Send a test: a campaign's message reaches seed addresses through the real transport before launch, and leaves
no trace in the campaign."""

from __future__ import annotations

from collections.abc import Callable
from email import message_from_bytes, policy

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from engine.consent import suppression
from engine.settings import Settings
from tests.api.campaigns.conftest import create
from tests.engine.channels.smtp_server import Mailbox, smtp_relay

pytestmark = pytest.mark.usefixtures("published")
TEMPLATE = "Hi {{ first_name | default('there') }}, you have spent {{ total_spend | money }} with us."


def test_a_test_e_mail_reaches_the_seeds_over_smtp_and_not_the_campaign_log(
    client: TestClient, marketer: dict[str, str], database: Engine, configure: Callable[..., Settings]
) -> None:
    mailbox = Mailbox()
    with database.begin() as conn:
        suppression.suppress(conn, "email", "bounced@shop.example", "hard_bounce", "tests")
    campaign = create(client, marketer, channel="email", template=TEMPLATE, subject="A gift for {{ first_name }}")
    with smtp_relay(mailbox) as port:
        configure(XENO_CHANNEL_TRANSPORTS='{"email": "smtp"}', XENO_SMTP_PORT=str(port), XENO_SMTP_SECURITY="none")
        seeds = ["qa@shop.example", "bounced@shop.example", "qa@shop.example"]
        answer = client.post(f"/v1/campaigns/{campaign['id']}/test", headers=marketer, json={"addresses": seeds})

    assert answer.status_code == 200, answer.text
    test = answer.json()
    assert test["customer_id"] in {1, 4, 5}  # the big spenders
    assert test["subject"].startswith("[TEST] A gift for ")
    assert "you have spent ₹" in test["message"]
    assert [(r["address"], r["sent"]) for r in test["results"]] == [
        ("qa@shop.example", True), ("bounced@shop.example", False),
    ]  # fmt: skip
    assert test["results"][1]["detail"] == "suppressed: hard bounce"
    [(_, recipients, raw)] = mailbox.messages
    mail = message_from_bytes(raw, policy=policy.default)
    assert recipients == ["qa@shop.example"]
    assert mail["Subject"] == test["subject"]
    assert test["message"] in mail.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    with database.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM communication_log")).scalar_one() == 0
    assert client.get(f"/v1/campaigns/{campaign['id']}", headers=marketer).json()["status"] == "draft"


def test_a_test_names_its_problem_instead_of_sending(client: TestClient, marketer: dict[str, str]) -> None:
    campaign = create(client, marketer)
    url = f"/v1/campaigns/{campaign['id']}/test"

    assert client.post(url, headers=marketer, json={"addresses": []}).status_code == 422
    assert client.post(url, headers=marketer, json={"addresses": ["+1"] * 11}).status_code == 422
    unknown = client.post(url, headers=marketer, json={"addresses": ["+15550001111"], "customer_id": 999})
    assert unknown.status_code == 422
    assert "customer 999" in unknown.json()["detail"]
    assert client.post(url, json={"addresses": ["+15550001111"]}).status_code == 401
