"""Instrumenting an e-mail: its web links go through signed click redirects and an open pixel is added, nothing
else in the document changes, and only tokens we signed are read back."""

from __future__ import annotations

from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest
from pydantic import SecretStr

from engine.consent.links import BadLink, sign
from engine.engagement.html import instrument_email
from engine.engagement.links import CLICK, OPEN, Click, clicked_link, opened_message
from engine.settings import Settings

SETTINGS = Settings.model_validate({"XENO_SECRET_KEY": "s3cret-for-tracking", "XENO_PUBLIC_URL": "https://crm.example"})
EMAIL = """<html><body>
<p>Hi Ada, our <a class="cta" href="https://shop.example/sale?a=1&amp;b=2">sale</a> is on.</p>
<a href="mailto:help@shop.example">Write to us</a> <a href="#top">top</a>
<!-- <a href="https://shop.example/in-a-comment"> -->
<a title='href="https://not.a.link"' href='http://shop.example/shoes'>Shoes</a>
<a href="https://crm.example/v1/unsubscribe/abc">Unsubscribe</a>
<script>document.write('<a href="https://shop.example/in-a-script">')</script>
<A TITLE="1 > 0" HREF=https://shop.example/caps>Caps</A>
</body></html>"""


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []
        self.images: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "a":
            self.hrefs.append(found["href"] or "")
        if tag == "img":
            self.images.append(found["src"] or "")


def _parsed(html: str) -> _Links:
    links = _Links()
    links.feed(html)
    return links


def _token(url: str) -> str:
    return urlsplit(url).path.rsplit("/", 1)[1]


def test_web_links_become_click_redirects_to_the_same_target_and_the_rest_is_left_alone() -> None:
    hrefs = _parsed(instrument_email(SETTINGS, EMAIL, 42)).hrefs

    sale, mail, top, shoes, unsubscribe, caps = hrefs
    assert sale.startswith("https://crm.example/v1/track/click/")
    assert clicked_link(SETTINGS, _token(sale)) == Click(42, "https://shop.example/sale?a=1&b=2")
    assert clicked_link(SETTINGS, _token(shoes)) == Click(42, "http://shop.example/shoes")
    assert clicked_link(SETTINGS, _token(caps)) == Click(42, "https://shop.example/caps")
    assert (mail, top, unsubscribe) == ("mailto:help@shop.example", "#top", "https://crm.example/v1/unsubscribe/abc")


def test_the_document_is_kept_apart_from_the_rewritten_tags_and_the_pixel_before_the_body_ends() -> None:
    instrumented = instrument_email(SETTINGS, EMAIL, 42)

    assert '<!-- <a href="https://shop.example/in-a-comment"> -->' in instrumented
    assert """document.write('<a href="https://shop.example/in-a-script">')""" in instrumented
    assert '<a title="1 &gt; 0" href="https://crm.example/v1/track/click/' in instrumented
    assert 'title="href=&quot;https://not.a.link&quot;"' in instrumented
    assert instrumented.startswith('<html><body>\n<p>Hi Ada, our <a class="cta" href="https://crm.example/v1/track/')
    [pixel] = _parsed(instrumented).images
    assert opened_message(SETTINGS, _token(pixel)) == 42
    assert instrumented.endswith('style="display:block;border:0;width:1px;height:1px"></body></html>')


def test_html_without_a_body_gets_the_pixel_at_the_end() -> None:
    instrumented = instrument_email(SETTINGS, "<p>Hello</p>", 7)

    assert instrumented.startswith("<p>Hello</p><img ")
    assert opened_message(SETTINGS, _token(_parsed(instrumented).images[0])) == 7


@pytest.mark.parametrize(
    "token",
    [
        sign(SETTINGS.model_copy(update={"secret_key": SecretStr("another-installation")}), OPEN, {"m": 1}),
        sign(SETTINGS, CLICK, {"m": 1, "u": "https://shop.example"}),  # a click token is no open token
        sign(SETTINGS, OPEN, {"m": 1})[:-2],
        "not-a-token",
    ],
)
def test_a_forged_or_repurposed_open_token_is_refused(token: str) -> None:
    with pytest.raises(BadLink):
        opened_message(SETTINGS, token)


def test_a_click_token_that_would_redirect_off_the_web_is_refused() -> None:
    with pytest.raises(BadLink):
        clicked_link(SETTINGS, sign(SETTINGS, CLICK, {"m": 1, "u": "javascript:alert(1)"}))
