"""The image provider interface: a banner request in, a PNG out.

Two providers implement it: a Replicate-compatible predictions API (`replicate`) and the offline banner
drawn with Pillow (`banner`), which needs nothing and is the fallback when the API fails or times out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import ClassVar, Protocol

_TEMPLATE_FALLBACK = re.compile(r"\{\{[^}]*?\|\s*default\(\s*[\"']([^\"']*)[\"'][^}]*\}\}")
_TEMPLATE_CODE = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.DOTALL)


@dataclass(frozen=True)
class ImageRequest:
    """A campaign banner: the message it carries, its size, the brand's name and colours."""

    message: str
    width: int = 1200
    height: int = 628
    colors: tuple[str, ...] = ("#4F46E5", "#0EA5E9")
    brand: str = ""
    call_to_action: str | None = "Shop now"
    style: str = field(default="clean, modern, flat illustration")

    @property
    def headline(self) -> str:
        """The message as plain words: template fallbacks kept ("friend"), other template code dropped."""
        text = _TEMPLATE_FALLBACK.sub(lambda found: found.group(1), self.message)
        return " ".join(_TEMPLATE_CODE.sub("", text).split())


@dataclass(frozen=True)
class GeneratedImage:
    png: bytes
    width: int
    height: int
    provider: str
    model: str | None = None


class ImageProvider(Protocol):
    name: ClassVar[str]

    @property
    def model(self) -> str | None:
        """The model that draws, as the call log records it (None for the offline banner)."""
        ...

    def generate(self, request: ImageRequest) -> GeneratedImage:
        """The banner as a PNG; raises `ProviderUnavailable` when it cannot be made."""
        ...
