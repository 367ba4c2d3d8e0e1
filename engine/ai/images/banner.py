"""The offline image provider: a clean banner drawn with Pillow from the message and the brand's colours.

A diagonal gradient between the brand colours, soft circles for depth, the brand name, the message as
a headline set as large as fits (wrapped, at most four lines), and a call-to-action pill. Text is white
or near-black, whichever reads better on the colours. The font is Pillow's bundled one, so nothing is
downloaded and every machine draws the same banner.
"""

from __future__ import annotations

import io
from typing import ClassVar

from PIL import Image, ImageChops, ImageDraw, ImageFont

from engine.ai.images.provider import GeneratedImage, ImageRequest

Color = tuple[int, int, int]
_MAX_LINES = 4
_ELLIPSIS = "…"


class OfflineBanner:
    name: ClassVar[str] = "offline"
    model: str | None = None

    def generate(self, request: ImageRequest) -> GeneratedImage:
        return GeneratedImage(render_banner(request), request.width, request.height, self.name)


def render_banner(request: ImageRequest) -> bytes:
    """The banner as PNG bytes, exactly `request.width` × `request.height` pixels."""
    width, height = request.width, request.height
    colors = [_rgb(color) for color in request.colors] or [(79, 70, 229)]
    start, end = colors[0], colors[-1] if len(colors) > 1 else _shade(colors[0], 0.6)
    image = _gradient(width, height, start, end)
    _circles(image, end)
    ink = _ink(start, end)
    draw = ImageDraw.Draw(image)
    margin = round(min(width, height) * 0.08)
    top = margin
    if request.brand:
        brand_font = ImageFont.load_default(size=max(12, round(height * 0.05)))
        draw.text((margin, top), request.brand.upper(), font=brand_font, fill=ink)
        top += round(height * 0.05 * 1.8)
    button_height = round(height * 0.12) if request.call_to_action else 0
    box = (width - 2 * margin, height - top - margin - button_height * 1.5)
    font, lines = _fit_headline(request.headline or request.brand or " ", box)
    line_height = _line_height(font)
    text_top = top + (box[1] - line_height * len(lines)) / 2
    for index, line in enumerate(lines):
        draw.text((margin, text_top + index * line_height), line, font=font, fill=ink)
    if request.call_to_action:
        _button(draw, request.call_to_action, (margin, height - margin - button_height), button_height, ink, start)
    output = io.BytesIO()
    image.save(output, format="PNG", optimize=True)
    return output.getvalue()


def _rgb(color: str) -> Color:
    value = color.lstrip("#")
    return int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16)


def _shade(color: Color, factor: float) -> Color:
    red, green, blue = color
    return round(red * factor), round(green * factor), round(blue * factor)


def _gradient(width: int, height: int, start: Color, end: Color) -> Image.Image:
    """A diagonal blend from `start` (top left) to `end` (bottom right), built small and scaled smoothly."""
    down = Image.linear_gradient("L")  # 256 × 256, dark at the top
    ramp = ImageChops.add(down, down.rotate(90), scale=2.0)  # dark at the top left
    ramp = ramp.resize((width, height), Image.Resampling.BICUBIC)
    return Image.composite(Image.new("RGB", (width, height), end), Image.new("RGB", (width, height), start), ramp)


def _circles(image: Image.Image, color: Color) -> None:
    width, height = image.size
    layer = Image.new("RGBA", image.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    for x, y, radius, alpha in ((0.92, 0.1, 0.45, 50), (0.78, 0.95, 0.3, 40), (1.02, 0.6, 0.22, 60)):
        cx, cy, r = x * width, y * height, radius * height
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=(*_shade(color, 1.2), alpha))
    image.paste(Image.alpha_composite(image.convert("RGBA"), layer).convert("RGB"))


def _luminance(color: Color) -> float:
    def channel(value: int) -> float:
        share = value / 255
        return share / 12.92 if share <= 0.03928 else ((share + 0.055) / 1.055) ** 2.4

    red, green, blue = color
    return 0.2126 * channel(red) + 0.7152 * channel(green) + 0.0722 * channel(blue)


def _ink(start: Color, end: Color) -> Color:
    """White or near-black: whichever contrasts more with the darker of the two colours."""
    background = min(_luminance(start), _luminance(end))
    white_contrast = 1.05 / (background + 0.05)
    dark_contrast = (background + 0.05) / 0.06
    return (255, 255, 255) if white_contrast >= dark_contrast else (17, 24, 39)


def _line_height(font: ImageFont.FreeTypeFont | ImageFont.ImageFont) -> float:
    return float(font.size if isinstance(font, ImageFont.FreeTypeFont) else 11) * 1.25


def _fit_headline(
    text: str, box: tuple[float, float]
) -> tuple[ImageFont.FreeTypeFont | ImageFont.ImageFont, list[str]]:
    """The largest font (from a tenth of the box height down) at which the text wraps into the box."""
    size = max(12, round(box[1] / 2.2))
    while True:
        font = ImageFont.load_default(size=size)
        lines = _wrap(text, font, box[0])
        if (len(lines) <= _MAX_LINES and _line_height(font) * len(lines) <= box[1]) or size <= 12:
            return font, _clip(lines, font, box[0])
        size = round(size * 0.9)


def _wrap(text: str, font: ImageFont.FreeTypeFont | ImageFont.ImageFont, width: float) -> list[str]:
    lines: list[str] = []
    for word in text.split():
        if lines and font.getlength(f"{lines[-1]} {word}") <= width:
            lines[-1] = f"{lines[-1]} {word}"
        else:
            lines.append(word)
    return lines or [""]


def _clip(lines: list[str], font: ImageFont.FreeTypeFont | ImageFont.ImageFont, width: float) -> list[str]:
    """At most four lines, the last ending in an ellipsis if text was cut."""
    if len(lines) <= _MAX_LINES:
        return lines
    last = lines[_MAX_LINES - 1]
    while last and font.getlength(last + _ELLIPSIS) > width:
        last = last[:-1]
    return [*lines[: _MAX_LINES - 1], last.rstrip() + _ELLIPSIS]


def _button(
    draw: ImageDraw.ImageDraw, label: str, corner: tuple[float, float], height: int, fill: Color, ink: Color
) -> None:
    font = ImageFont.load_default(size=max(10, round(height * 0.45)))
    padding = height * 0.6
    left, top = corner
    right = left + font.getlength(label) + 2 * padding
    draw.rounded_rectangle((left, top, right, top + height), radius=height / 2, fill=fill)
    draw.text(((left + right) / 2, top + height / 2), label, font=font, fill=ink, anchor="mm")
