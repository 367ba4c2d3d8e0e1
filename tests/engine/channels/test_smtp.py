"""E-mail over SMTP against a real relay on loopback (aiosmtpd): TLS, login, a reused pool of connections, proper
MIME with one-click unsubscribe, and what the relay's refusals become."""

from __future__ import annotations

import asyncio
import email
import email.policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
import redis
from pydantic import SecretStr
from sqlalchemy import Engine

from engine.campaigns.failures import failure_kind
from engine.campaigns.sender import run_sender
from engine.channels import get_channel
from engine.channels.base import Outgoing
from engine.channels.transports.base import Outcome, ProviderMisconfigured
from engine.channels.transports.smtp import SmtpTransport
from engine.consent.links import UNSUBSCRIBE, ConsentLink
from engine.settings import Settings
from tests.engine.campaigns.helpers import delivery_settings, features, launch, log_rows
from tests.engine.channels.smtp_server import Mailbox, self_signed_context, smtp_relay

EMAIL = get_channel("email")
LOGIN = ("mailer", "s3cret")


def smtp_settings(port: int, **changes: Any) -> Settings:
    defaults = {
        "channel_transports": {"email": "smtp"}, "smtp_host": "127.0.0.1", "smtp_port": port, "smtp_security": "none",
        "email_from": "Xeno Shop <news@shop.example>", "delivery_max_attempts": 3,
    }  # fmt: skip
    return delivery_settings(**{**defaults, **changes})


def outgoing(count: int, *, to: str | None = None) -> list[Outgoing]:
    return [
        Outgoing(
            n, f"xeno-7-{n}", to or f"customer{n}@example.com", f"Hi {n}, see https://shop.example/sale", "Sale", n
        )
        for n in range(1, count + 1)
    ]


def send(settings: Settings, messages: list[Outgoing]) -> Outcome:
    async def run() -> Outcome:
        transport = SmtpTransport(settings)
        try:
            return await transport.send(EMAIL, messages)
        finally:
            await transport.close()

    return asyncio.run(run())


def parsed(raw: bytes) -> EmailMessage:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return self_signed_context(Path(tmp_path_factory.mktemp("relay")))


def test_a_batch_goes_out_over_starttls_with_login_on_no_more_connections_than_the_pool(tls: Any) -> None:
    mailbox = Mailbox()
    with smtp_relay(mailbox, tls=tls, login=LOGIN) as port:
        settings = smtp_settings(port, smtp_security="starttls", smtp_verify_tls=False, smtp_username=LOGIN[0],
                                 smtp_password=SecretStr(LOGIN[1]), smtp_connections=3)  # fmt: skip
        outcome = send(settings, outgoing(30))

    assert outcome.failed == []
    assert sorted(log_id for log_id, _ in outcome.sent) == list(range(1, 31))
    assert len(mailbox.messages) == 30
    assert len(mailbox.peers) <= 3  # connections were reused, message after message
    sender, recipients, _ = mailbox.messages[0]
    assert sender == "news@shop.example"
    assert len(recipients) == 1
    assert dict(outcome.sent)[1] == "xeno-7-1@shop.example"


def test_each_e_mail_is_proper_mime_with_one_click_unsubscribe(tls: Any) -> None:
    mailbox = Mailbox()
    with smtp_relay(mailbox) as port:
        settings = smtp_settings(port)
        message = Outgoing(
            41,
            "xeno-9-41",
            "ana@example.com",
            "Namaste Ana,\n\nYour ₹500 voucher: https://shop.example/v",
            "Ana, ₹500 for you\r\nBcc: evil@example.com",
            7,
        )
        send(settings, [message])

    mail = parsed(mailbox.messages[0][2])
    assert mail["To"] == "ana@example.com"
    assert mail["Subject"] == "Ana, ₹500 for you Bcc: evil@example.com"  # a line break cannot add a header
    assert mail["Bcc"] is None
    assert mail["Message-ID"] == "<xeno-9-41@shop.example>"
    assert mail["Date"] is not None
    assert mail.get_content_type() == "multipart/alternative"
    text, html = (part for part in mail.iter_parts())
    assert text.get_content_type() == "text/plain"
    assert html.get_content_type() == "text/html"
    assert "Your ₹500 voucher: https://shop.example/v" in text.get_content()
    assert "Namaste Ana," in html.get_content()
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    unsubscribe = str(mail["List-Unsubscribe"]).strip("<>")
    assert unsubscribe in text.get_content()
    link = ConsentLink.from_token(settings, UNSUBSCRIBE, unsubscribe.rsplit("/", 1)[1])
    assert link == ConsentLink(7, "email", 41)


@pytest.mark.parametrize("pipelining", [True, False], ids=["pipelined", "one-command-at-a-time"])
def test_a_refused_recipient_fails_for_good_and_a_greylisted_one_is_sent_on_the_next_attempt(pipelining: bool) -> None:
    mailbox = Mailbox(
        refuse={"gone@example.com": "550 5.1.1 No such user", "later@example.com": "451 4.7.1 Later"},
        refuse_content={"spam@example.com": "554 5.7.1 Message rejected as spam"},
        pipelining=pipelining,
    )
    first, second, third = outgoing(3)
    refused = [Outgoing(n, f"k-{n}", f"{name}@example.com", "Hi", "Hi", n)
               for n, name in ((8, "gone"), (9, "later"), (10, "spam"))]  # fmt: skip
    with smtp_relay(mailbox) as port:  # one connection: the refusals sit between messages the relay takes
        outcome = send(smtp_settings(port, smtp_connections=1), [first, refused[0], second, *refused[1:], third])

    assert sorted(log_id for log_id, _ in outcome.sent) == [1, 2, 3, 9]
    assert sorted(outcome.failed) == [
        (8, "refused by the mail server (550): 5.1.1 No such user"),
        (10, "refused by the mail server (554): 5.7.1 Message rejected as spam"),
    ]
    assert {failure_kind(reason) for _, reason in outcome.failed} == {"permanent"}
    assert mailbox.refused.count("later@example.com") == 1
    assert sorted(recipients[0] for _, recipients, _ in mailbox.messages) == [
        "customer1@example.com", "customer2@example.com", "customer3@example.com", "later@example.com",
    ]  # fmt: skip


def test_a_relay_that_hangs_up_mid_run_loses_nothing_and_sends_the_rest_on_a_new_connection() -> None:
    mailbox = Mailbox(hang_up_after=4)
    with smtp_relay(mailbox) as port:
        outcome = send(smtp_settings(port, smtp_connections=1), outgoing(10))

    assert sorted(log_id for log_id, _ in outcome.sent) == list(range(1, 11))
    taken = [parsed(raw)["Message-ID"] for _, _, raw in mailbox.messages]
    assert sorted(set(taken)) == sorted(f"<xeno-7-{n}@shop.example>" for n in range(1, 11))
    assert len(taken) <= 11  # only the message whose answer was lost may arrive twice, with one Message-ID
    assert len(mailbox.peers) == 2


def test_lines_that_start_with_a_dot_arrive_as_written() -> None:
    mailbox = Mailbox()
    body = "Dots:\n.\n..two\n.hidden file\nend"
    with smtp_relay(mailbox) as port:
        send(smtp_settings(port), [Outgoing(1, "k-1", "ana@example.com", body, "Dots", 1)])

    text = next(parsed(mailbox.messages[0][2]).iter_parts())
    assert text.get_content().replace("\r\n", "\n").startswith(body)


def test_a_relay_that_stays_down_fails_the_messages_transiently() -> None:
    with smtp_relay(Mailbox()) as port:
        pass  # stopped: nothing listens there any more
    outcome = send(smtp_settings(port), outgoing(2))

    assert outcome.sent == []
    assert [log_id for log_id, _ in outcome.failed] == [1, 2]
    assert all(reason.startswith("the vendor did not accept it after 3 attempts") for _, reason in outcome.failed)
    assert {failure_kind(reason) for _, reason in outcome.failed} == {"transient"}


def test_wrong_credentials_or_an_untrusted_certificate_blame_the_sender_not_the_messages(tls: Any) -> None:
    with smtp_relay(Mailbox(), tls=tls, login=LOGIN) as port:
        wrong = smtp_settings(port, smtp_security="starttls", smtp_verify_tls=False, smtp_username="mailer",
                              smtp_password=SecretStr("guess"))  # fmt: skip
        with pytest.raises(ProviderMisconfigured, match="refused our credentials"):
            send(wrong, outgoing(1))
        untrusted = smtp_settings(port, smtp_security="starttls", smtp_verify_tls=True, smtp_username=LOGIN[0],
                                  smtp_password=SecretStr(LOGIN[1]))  # fmt: skip
        with pytest.raises(ProviderMisconfigured, match="TLS"):
            send(untrusted, outgoing(1))


def test_tls_from_the_first_byte(tls: Any) -> None:
    mailbox = Mailbox()
    with smtp_relay(mailbox, tls=tls, implicit_tls=True) as port:
        outcome = send(smtp_settings(port, smtp_security="tls", smtp_verify_tls=False), outgoing(2))
    assert len(outcome.sent) == 2
    assert len(mailbox.messages) == 2


def test_an_e_mail_campaign_is_sent_through_the_relay_and_logged_with_each_message_id(
    database: Engine, redis_client: redis.Redis
) -> None:
    mailbox = Mailbox(refuse={"customer3@example.com": "550 5.1.1 No such user"})
    with smtp_relay(mailbox) as port:
        settings = smtp_settings(port)
        frame = features(5)
        campaign_id = launch(
            database, redis_client, settings, frame, channel="email", subject="Hello {{ first_name }}"
        ).campaign_id
        report = asyncio.run(run_sender(database, redis_client, settings, consumer="tests", until_idle=True))

    assert (report.sent, report.failed) == (4, 1)
    rows = {row["customer_id"]: row for row in log_rows(database, campaign_id)}
    assert rows[3]["status"] == "failed"
    assert rows[3]["failure_kind"] == "permanent"
    sent = [rows[n] for n in (1, 2, 4, 5)]
    assert all(row["status"] == "sent" for row in sent)
    by_id = {parsed(raw)["Message-ID"]: parsed(raw) for _, _, raw in mailbox.messages}
    for row in sent:
        mail = by_id[f"<{row['vendor_message_id']}>"]
        assert mail["To"] == row["address"]
        assert mail["Subject"] == row["subject"]


HOSTILE_HTML = (
    '<table role="presentation" cellpadding="0"><tr><td style="padding:8px;color:#111">'
    '<p onclick="steal()">Hello {{ first_name }}, you spent {{ total_spend | money }}</p>'
    '<script>steal()</script><a href="javascript:steal()">tricked</a>'
    '<a href="https://shop.example/sale" onmouseover="steal()">Shop the sale</a></td></tr></table>'
)


def test_an_html_template_arrives_as_the_html_part_escaped_sanitised_and_instrumented(
    database: Engine, redis_client: redis.Redis
) -> None:
    mailbox = Mailbox()
    with smtp_relay(mailbox) as port:
        settings = smtp_settings(port)
        frame = features(2, first_name=["<script>alert(1)</script>", "Ana & Raj"], total_spend=[4269.5, 10.0])
        campaign_id = launch(
            database, redis_client, settings, frame, channel="email", subject="Hi", template="Hi {{ first_name }}",
            html_template=HOSTILE_HTML,
        ).campaign_id  # fmt: skip
        asyncio.run(run_sender(database, redis_client, settings, consumer="tests", until_idle=True))

    rows = {row["customer_id"]: row for row in log_rows(database, campaign_id)}
    mails = {parsed(raw)["To"]: parsed(raw) for _, _, raw in mailbox.messages}
    mail = mails["customer1@example.com"]
    assert mail.get_content_type() == "multipart/alternative"
    text, html = (part.get_content() for part in mail.iter_parts())
    assert text.startswith("Hi <script>alert(1)</script>")  # the text part is the text template, as written
    assert "Hello &lt;script&gt;alert(1)&lt;/script&gt;, you spent ₹4,269.50" in html
    assert "<script" not in html
    assert "steal()" not in html
    assert "javascript:" not in html
    assert 'style="padding:8px;color:#111"' in html  # layout stays
    assert "/v1/track/open/" in html  # the open pixel
    assert "https://shop.example/sale" not in html  # the link became a click redirect
    assert "/v1/track/click/" in html
    assert rows[1]["html"].startswith('<table role="presentation"')
    assert "Hello Ana &amp; Raj" in list(mails["customer2@example.com"].iter_parts())[1].get_content()
