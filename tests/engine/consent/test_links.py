"""Signed links: a customer's link verifies, and nothing altered, re-purposed or made elsewhere does."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest

from engine.consent import links
from engine.consent.links import PREFERENCES, UNSUBSCRIBE, BadLink, ConsentLink, ExpiredLink
from engine.settings import Settings

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)


def _settings(**env: str) -> Settings:
    return Settings.model_validate({"environment": "test", "XENO_SECRET_KEY": "s3cret-for-links", **env})


def _token(url: str) -> str:
    return urlsplit(url).path.rsplit("/", 1)[1]


def test_an_unsubscribe_link_names_its_customer_channel_and_message() -> None:
    settings = _settings(XENO_PUBLIC_URL="https://crm.example.com/")
    url = links.unsubscribe_url(settings, 42, "email", message_id=7)
    assert url.startswith("https://crm.example.com/v1/unsubscribe/")
    assert ConsentLink.from_token(settings, UNSUBSCRIBE, _token(url)) == ConsentLink(42, "email", 7)


def test_a_changed_payload_or_signature_is_refused() -> None:
    settings = _settings()
    token = _token(links.unsubscribe_url(settings, 42, "email"))
    other = _token(links.unsubscribe_url(settings, 43, "email"))
    forged = other.split(".")[0] + "." + token.split(".")[1]
    for bad in (forged, token[:-2], token + "A", "", ".", "not-a-token", token.replace(".", "")):
        with pytest.raises(BadLink):
            ConsentLink.from_token(settings, UNSUBSCRIBE, bad)


def test_a_token_of_one_purpose_or_installation_is_refused_for_another() -> None:
    settings = _settings()
    token = _token(links.preferences_url(settings, 42))
    with pytest.raises(BadLink):
        ConsentLink.from_token(settings, UNSUBSCRIBE, token)
    with pytest.raises(BadLink):
        ConsentLink.from_token(_settings(XENO_SECRET_KEY="another-secret"), PREFERENCES, token)


def test_links_keep_working_after_the_secret_is_rotated() -> None:
    token = _token(links.unsubscribe_url(_settings(), 42, "sms"))
    rotated = _settings(XENO_SECRET_KEY="new-secret", XENO_PREVIOUS_SECRET_KEYS="old, s3cret-for-links")
    assert ConsentLink.from_token(rotated, UNSUBSCRIBE, token).customer_id == 42


def test_an_expiring_token_says_it_expired_rather_than_that_it_is_bad() -> None:
    settings = _settings()
    token = links.sign(settings, "click", {"u": "https://shop.example"}, expires_at=NOW + timedelta(days=1))
    assert links.verify(settings, "click", token, now=NOW) == {"u": "https://shop.example"}
    with pytest.raises(ExpiredLink):
        links.verify(settings, "click", token, now=NOW + timedelta(days=2))
