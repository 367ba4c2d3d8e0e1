"""E-mail: to the customer's e-mail address, with their e-mail consent; every message has a subject.

Sent over SMTP (`transports/smtp.py`) or a provider's HTTP API (`transports/email_api.py`) as a MIME message with
a text and an HTML part (`engine.channels.mime`): the HTML is the campaign's HTML template rendered for the
customer when it has one, else made from the text.
"""

from __future__ import annotations

from engine.channels.base import Channel

CHANNEL = Channel(
    name="email",
    label="e-mail",
    address="email",
    address_label="e-mail address",
    consent="email_consent",
    transports=("simulator", "smtp", "email_api"),
    subject=True,
    has_html=True,
    max_length=100_000,
    writing="E-mail: a short subject and a body of a few short paragraphs, signed by the brand.",
    failure_reasons=("mailbox full", "invalid address", "blocked as spam", "unsubscribed"),
)
