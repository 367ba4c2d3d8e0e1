"""Instrumenting a rendered e-mail's HTML for one message: an open pixel, and links turned into click redirects.

The channel calls `instrument_email` once per message, after rendering and before building the MIME body, so
it is written to be cheap (senders aim at thousands of e-mails a second): one regular-expression pass finds
the `<a>` start tags while stepping over comments, scripts and styles (so markup there is never taken for a
link) and over quoted attribute values (a `>` or `href=` inside one ends nothing). Each tag with a web link
is written again with the redirect in its `href`; the rest of the document is kept byte for byte. Links to
our own API (unsubscribe, preferences) are left alone: they are signed already, and leaving is not a click.
"""

from __future__ import annotations

import re
from html import escape, unescape

from engine.engagement.links import click_url, is_trackable, open_pixel_url
from engine.settings import Settings

_VALUE = r"""(?:"[^"]*"|'[^']*'|[^\s"'>]+)"""
_ATTRIBUTE = re.compile(rf"""([^\s"'>/=]+)(?:\s*=\s*({_VALUE}))?""")
# A comment, a script or style with its content, or an `<a>` start tag (group 1: its attributes).
_SKIPPED_OR_ANCHOR = re.compile(
    rf"""<!--.*?-->|<(?:script|style)\b.*?</(?:script|style)\s*>|<a((?:\s+[^\s"'>/=]+(?:\s*=\s*{_VALUE})?)*)\s*/?>""",
    re.IGNORECASE | re.DOTALL,
)
_BODY_END = re.compile(r"</body\s*>", re.IGNORECASE)


def _attributes(written: str) -> list[tuple[str, str | None]]:
    """A start tag's attributes as (lower-case name, unescaped value or None)."""
    return [
        (name.lower(), None if value == "" else unescape(value[1:-1] if value[:1] in "\"'" else value))
        for name, value in _ATTRIBUTE.findall(written)
    ]


def _start_tag(attrs: list[tuple[str, str | None]]) -> str:
    written = "".join(f" {name}" if value is None else f' {name}="{escape(value)}"' for name, value in attrs)
    return f"<a{written}>"


def tracked_links(settings: Settings, html: str, message_id: int) -> str:
    """`html` with every web link (outside our own API) going through a click redirect for `message_id`."""
    own = settings.public_base_url + "/"
    parts, done = [], 0
    for found in _SKIPPED_OR_ANCHOR.finditer(html):
        if found.group(1) is None:
            continue
        attrs = _attributes(found.group(1))
        rewritten = [
            (name, click_url(settings, message_id, value))
            if name == "href" and value is not None and is_trackable(value) and not value.startswith(own)
            else (name, value)
            for name, value in attrs
        ]
        if rewritten != attrs:
            parts += [html[done : found.start()], _start_tag(rewritten)]
            done = found.end()
    return "".join(parts) + html[done:]


def open_pixel(settings: Settings, message_id: int) -> str:
    """The 1×1 image whose loading records the message as opened."""
    src = escape(open_pixel_url(settings, message_id))
    return f'<img src="{src}" width="1" height="1" alt="" style="display:block;border:0;width:1px;height:1px">'


def instrument_email(settings: Settings, html: str, message_id: int) -> str:
    """The e-mail's HTML as sent for message `message_id` (its communication-log id): links tracked, and the open
    pixel placed just before `</body>` (at the end when there is none)."""
    tracked = tracked_links(settings, html, message_id)
    pixel = open_pixel(settings, message_id)
    ends = list(_BODY_END.finditer(tracked))
    if not ends:
        return tracked + pixel
    at = ends[-1].start()
    return tracked[:at] + pixel + tracked[at:]
