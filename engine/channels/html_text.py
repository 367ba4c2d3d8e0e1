"""An e-mail's text part read off its HTML, for a campaign that gives only an HTML template.

Mail clients that show text (and spam filters, which mistrust HTML-only mail) get the words as a reader would see
them: block elements (paragraphs, headings, list items, table rows) on lines of their own, `<br>` as a line break,
a link as `words (url)` (just the url when the words are the url), images by their `alt` text, and nothing of
`<head>`, `<style>` or `<script>`. Entities are decoded; runs of blank space collapse as a browser collapses them.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

BLOCKS = frozenset({
    "address", "article", "aside", "blockquote", "div", "dl", "dt", "dd", "fieldset", "figcaption", "figure",
    "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li", "main", "nav", "ol", "p", "pre",
    "section", "table", "tr", "ul",
})  # fmt: skip
PARAGRAPHS = frozenset({"blockquote", "h1", "h2", "h3", "h4", "h5", "h6", "ol", "p", "pre", "table", "ul"})
LINES = frozenset({"dd", "div", "dt", "li", "tr"})  # a line of its own, which the next such line ends
HIDDEN = frozenset({"head", "script", "style", "template", "title"})
_SPACE = re.compile(r"[ \t\r\n\f]+")
_BLANK_LINES = re.compile(r"\n{3,}")


class _Reader(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.hidden = 0
        self.links: list[tuple[str | None, int]] = []  # each open link's href, and where its words start

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in HIDDEN:
            self.hidden += 1
        elif tag in BLOCKS:
            self.out.append("\n\n" if tag in PARAGRAPHS else "\n")
            if tag == "li":
                self.out.append("- ")
        elif tag == "br":
            self.out.append("\n")
        elif tag == "img" and not self.hidden:
            self.out.append(dict(attrs).get("alt") or "")
        elif tag == "a":
            self.links.append((dict(attrs).get("href"), len(self.out)))
        elif tag in {"td", "th"}:
            self.out.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in HIDDEN:
            self.hidden = max(0, self.hidden - 1)
        elif tag in BLOCKS and tag not in LINES:
            self.out.append("\n\n" if tag in PARAGRAPHS else "\n")
        elif tag == "a" and self.links:
            href, start = self.links.pop()
            words = _SPACE.sub(" ", "".join(self.out[start:])).strip()
            if href and href.startswith(("http://", "https://", "mailto:", "tel:")) and href != words:
                self.out.append(f" ({href})" if words else href)

    def handle_data(self, data: str) -> None:
        if not self.hidden:
            self.out.append(_SPACE.sub(" ", data))


def html_as_text(html: str) -> str:
    """`html` as readable plain text: its words, lines where its blocks break, links as `words (url)`."""
    reader = _Reader()
    reader.feed(html)
    reader.close()
    lines = [_SPACE.sub(" ", line).strip() for line in "".join(reader.out).split("\n")]
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()
