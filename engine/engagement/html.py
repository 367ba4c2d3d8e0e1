"""Instrumenting a rendered e-mail's HTML for one message: an open pixel, and links turned into click redirects.

The channel calls `instrument_email` once per message, after rendering and before building the MIME body.
Links are found with the standard library's HTML parser (so markup in comments, scripts or attribute
values is never mistaken for a link) and each `<a>` start tag with a web link is written again with the
redirect in its `href`; the rest of the document is kept byte for byte. Links to our own API (unsubscribe,
preferences) are left alone: they are signed already, and leaving is not a click.
"""

from __future__ import annotations

import re
from html import escape
from html.parser import HTMLParser
from itertools import accumulate

from engine.engagement.links import click_url, is_trackable, open_pixel_url
from engine.settings import Settings

_BODY_END = re.compile(r"</body\s*>", re.IGNORECASE)


class _AnchorFinder(HTMLParser):
    """Collects each `<a>` start tag with an `href`: where it starts, its text as written, and its attributes."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.anchors: list[tuple[int, int, str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        raw = self.get_starttag_text()
        if tag == "a" and raw is not None and any(name == "href" for name, _ in attrs):
            line, column = self.getpos()
            self.anchors.append((line, column, raw, attrs))


def _start_tag(attrs: list[tuple[str, str | None]]) -> str:
    written = "".join(f" {name}" if value is None else f' {name}="{escape(value)}"' for name, value in attrs)
    return f"<a{written}>"


def tracked_links(settings: Settings, html: str, message_id: int) -> str:
    """`html` with every web link (outside our own API) going through a click redirect for `message_id`."""
    finder = _AnchorFinder()
    finder.feed(html)
    finder.close()
    line_starts = [0, *accumulate(len(line) + 1 for line in html.split("\n"))]
    own = settings.public_base_url + "/"
    parts, done = [], 0
    for line, column, raw, attrs in finder.anchors:
        start = line_starts[line - 1] + column
        rewritten = [
            (name, click_url(settings, message_id, value))
            if name == "href" and value is not None and is_trackable(value) and not value.startswith(own)
            else (name, value)
            for name, value in attrs
        ]
        if rewritten != attrs:
            parts += [html[done:start], _start_tag(rewritten)]
            done = start + len(raw)
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
