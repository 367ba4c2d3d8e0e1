"""An HTML-only e-mail's text part reads like the HTML does: blocks on their own lines, links with their address."""

from __future__ import annotations

from engine.channels.html_text import html_as_text


def test_links_keep_their_address_after_their_words_and_a_bare_address_is_not_doubled() -> None:
    html = (
        '<p>See <a href="https://shop.example/sale?x=1&amp;y=2">our <b>sale</b></a> or '
        '<a href="https://shop.example">https://shop.example</a>, or <a href="#top">go up</a>.</p>'
    )
    assert html_as_text(html) == ("See our sale (https://shop.example/sale?x=1&y=2) or https://shop.example, or go up.")


def test_blocks_break_lines_and_what_a_reader_never_sees_is_left_out() -> None:
    html = (
        "<html><head><title>Offer</title><style>p { color: red }</style></head><body>"
        "<h1>Diwali   &amp;\n more</h1><p>Hi Ada,<br>two  lines</p>"
        "<ul><li>10% off</li><li>Free delivery</li></ul>"
        '<table><tr><td>Total</td><td>₹42,690.00</td></tr></table><img src="x.png" alt="Shop logo">'
        "<script>track()</script></body></html>"
    )
    assert html_as_text(html) == (
        "Diwali & more\n\nHi Ada,\ntwo lines\n\n- 10% off\n- Free delivery\n\nTotal ₹42,690.00\n\nShop logo"
    )


def test_nothing_but_markup_reads_as_nothing() -> None:
    assert html_as_text("<div><span> </span></div>") == ""
