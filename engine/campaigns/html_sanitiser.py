"""What a marketer's HTML e-mail may hold: layout and inline styles, never scripts.

An e-mail campaign's HTML template renders per customer (values HTML-escaped, `engine.campaigns.templates`) and
every rendered HTML goes through `sanitise_html` before it is stored or sent, so nothing a template (or a value in
it) produces can run in a mail client or the dashboard's preview: `<script>`, `<style>`, event-handler attributes
(`onclick`), `javascript:` URLs and unknown tags are dropped. The rendered output is sanitised rather than the
template's source, whose Jinja tags (`{% if total_spend > 100 %}`) an HTML parser would mangle. The whole document
around it (`<html>`, `<head>`, the page's width) is ours (`engine.channels.mime`), so it keeps only its body's markup.
Ammonia (through `nh3`) does the parsing, a maintained HTML5 sanitiser.
"""

from __future__ import annotations

import nh3

STYLE_PROPERTIES = frozenset({
    "background", "background-color", "border", "border-bottom", "border-collapse", "border-color", "border-left",
    "border-radius", "border-right", "border-spacing", "border-style", "border-top", "border-width", "color",
    "display", "font", "font-family", "font-size", "font-style", "font-weight", "height", "letter-spacing",
    "line-height", "margin", "margin-bottom", "margin-left", "margin-right", "margin-top", "max-width", "min-width",
    "padding", "padding-bottom", "padding-left", "padding-right", "padding-top", "text-align", "text-decoration",
    "text-transform", "vertical-align", "white-space", "width",
})  # fmt: skip
"""Inline CSS an e-mail's layout needs; any other property in a `style` attribute is dropped."""

_ATTRIBUTES = {
    **nh3.ALLOWED_ATTRIBUTES,
    "*": {"style", "class", "align", "valign", "width", "height", "bgcolor", "dir", "lang", "title"},
    "table": {"cellpadding", "cellspacing", "border", "role"},
}
_URL_SCHEMES = {"http", "https", "mailto", "tel"}


def sanitise_html(html: str) -> str:
    """`html` without anything that could run or reach outside plain web links: see the module's docstring."""
    return nh3.clean(
        html,
        attributes=_ATTRIBUTES,
        url_schemes=_URL_SCHEMES,
        filter_style_properties=set(STYLE_PROPERTIES),
        link_rel=None,
    )
