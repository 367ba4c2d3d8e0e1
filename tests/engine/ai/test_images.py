"""Campaign images: the offline banner, the Replicate-compatible client against a loopback server, and the
fallback from one to the other."""

from __future__ import annotations

import io

import httpx
import pytest
from PIL import Image

from engine.ai.errors import ProviderUnavailable
from engine.ai.images import OfflineBanner, ReplicateImages, make_image
from engine.ai.images.banner import render_banner
from engine.ai.images.provider import ImageRequest
from tests.engine.ai.loopback import ReplicateStub, serving

REQUEST = ImageRequest(
    'Happy Diwali, {{ first_name | default("friend") }}! 30% off everything.',
    1200,
    628,
    ("#4F46E5", "#0EA5E9"),
    "Kurta",
)


def opened(png: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG"
    return image


@pytest.mark.parametrize(("width", "height"), [(1200, 628), (600, 600), (256, 2048)])
def test_the_offline_banner_is_a_png_of_exactly_the_size_asked(width: int, height: int) -> None:
    image = opened(render_banner(ImageRequest("Our monsoon sale is here", width, height, ("#F59E0B",), "Chai")))

    assert image.size == (width, height)


def test_the_banner_is_in_the_brand_colours_with_legible_text() -> None:
    image = opened(render_banner(REQUEST)).convert("RGB")

    assert image.getpixel((2, 2)) == pytest.approx((79, 70, 229), abs=12)  # the first colour, top left
    assert image.getpixel((1197, 625)) == pytest.approx((14, 165, 233), abs=40)  # towards the second
    assert (255, 255, 255) in {color for _, color in image.getcolors(maxcolors=1 << 20) or []}  # white text


def test_the_headline_keeps_template_fallbacks_and_drops_template_code() -> None:
    request = ImageRequest('Hi {{ first_name | default("friend") }}{% if x %}!{% endif %} {{ city }} sale')

    assert request.headline == "Hi friend! sale"


def replicate(url: str, *, timeout_s: float = 10) -> ReplicateImages:
    return ReplicateImages(
        url, "r8_secret", "acme/banner-model:v1", timeout_s=timeout_s, poll_s=0.01, http=httpx.Client()
    )


def test_the_replicate_client_creates_polls_and_fetches_the_image_as_png() -> None:
    stub = ReplicateStub(polls_until_done=3)
    with serving(stub.app()) as url:
        image = replicate(url).generate(REQUEST)

    assert (image.provider, image.model, image.width, image.height) == ("replicate", "acme/banner-model:v1", 640, 360)
    assert opened(image.png).size == (640, 360)
    methods_and_paths = [(method, path) for method, path, _, _ in stub.requests]
    assert methods_and_paths == [
        ("POST", "/v1/predictions"),
        *[("GET", "/v1/predictions/p1")] * 3,
        ("GET", "/files/p1.webp"),
    ]
    _, _, headers, body = stub.requests[0]
    assert headers["authorization"] == "Bearer r8_secret"
    assert body["version"] == "acme/banner-model:v1"
    assert "Happy Diwali, friend! 30% off everything." in body["input"]["prompt"]
    assert (body["input"]["width"], body["input"]["height"]) == (1200, 628)


def test_the_token_is_never_sent_to_the_host_serving_the_output_file() -> None:
    stub = ReplicateStub()
    with serving(stub.app()) as url:
        replicate(url).generate(REQUEST)

    _, _, headers, _ = stub.requests[-1]
    assert "authorization" not in headers


def test_a_failed_prediction_is_provider_unavailable_and_the_offline_banner_is_drawn_instead() -> None:
    stub = ReplicateStub(final_status="failed")
    with serving(stub.app()) as url:
        with pytest.raises(ProviderUnavailable, match="the prediction failed: NSFW filter"):
            replicate(url).generate(REQUEST)
        image, notes = make_image(REQUEST, replicate(url), OfflineBanner())

    assert image.provider == "offline"
    assert opened(image.png).size == (1200, 628)
    assert "An offline banner was drawn instead" in notes[0]


def test_a_prediction_not_done_in_time_gives_up() -> None:
    stub = ReplicateStub(polls_until_done=10_000)
    with serving(stub.app()) as url, pytest.raises(ProviderUnavailable, match=r"not done within 0\.2 s"):
        replicate(url, timeout_s=0.2).generate(REQUEST)
