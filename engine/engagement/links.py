"""The signed URLs of the open pixel and click redirects, and reading their tokens back.

Tokens are made and checked by `engine.consent.links` (one signer for every link a customer opens without
signing in), each kind under its own purpose, so an open token is no click token and neither unsubscribes
anyone. A token names the message (its communication-log id); a click token also the link's target, so
the redirect goes only where the e-mail pointed and nobody can use it to send people elsewhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from engine.consent.links import BadLink, sign, verify
from engine.settings import Settings

OPEN = "email-open"
CLICK = "link-click"
TRACKED_SCHEMES = ("http", "https")


@dataclass(frozen=True)
class Click:
    """A click redirect: the message it was in, and where it leads."""

    message_id: int
    url: str


def open_pixel_url(settings: Settings, message_id: int) -> str:
    return f"{settings.public_base_url}/v1/track/open/{sign(settings, OPEN, {'m': message_id})}"


def click_url(settings: Settings, message_id: int, url: str) -> str:
    return f"{settings.public_base_url}/v1/track/click/{sign(settings, CLICK, {'m': message_id, 'u': url})}"


def is_trackable(url: str) -> bool:
    """Only web links become click redirects (not `mailto:`, `tel:`, anchors or template leftovers)."""
    parts = urlsplit(url)
    return parts.scheme.lower() in TRACKED_SCHEMES and bool(parts.netloc)


def opened_message(settings: Settings, token: str) -> int:
    """The message an open token names; `BadLink` when the token is not ours."""
    message = verify(settings, OPEN, token).get("m")
    if not isinstance(message, int):
        raise BadLink("this link does not say which message it is for")
    return message


def clicked_link(settings: Settings, token: str) -> Click:
    """The message and target a click token names; `BadLink` when the token is not ours."""
    payload = verify(settings, CLICK, token)
    message, url = payload.get("m"), payload.get("u")
    if not isinstance(message, int) or not isinstance(url, str) or not is_trackable(url):
        raise BadLink("this link does not say where it leads")
    return Click(message, url)
