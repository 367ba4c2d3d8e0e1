"""Campaign images: the provider interface, the Replicate-compatible client, the offline banner, and storage.

`make_image` asks the configured provider and falls back to the offline banner (with a note) when it
fails; `store_image` / `get_image` keep the PNGs in the `ai_images` table, optionally tied to a campaign.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, Engine, insert, select

from engine.ai.errors import ProviderUnavailable
from engine.ai.images.banner import OfflineBanner
from engine.ai.images.provider import GeneratedImage, ImageProvider, ImageRequest
from engine.ai.images.replicate import ReplicateImages
from engine.schema import ai_images
from engine.settings import Settings


def image_provider(settings: Settings) -> ImageProvider:
    """The Replicate-compatible API when configured, else the offline banner."""
    return ReplicateImages.from_settings(settings) if settings.uses_replicate else OfflineBanner()


def make_image(
    request: ImageRequest, provider: ImageProvider, fallback: ImageProvider | None
) -> tuple[GeneratedImage, list[str]]:
    """The image and notes: from `provider`, or from `fallback` (saying why) when the provider fails."""
    try:
        return provider.generate(request), []
    except ProviderUnavailable as failure:
        if fallback is None:
            raise
        note = f"The image service ({provider.model}) failed: {failure.reason}. An offline banner was drawn instead."
        return fallback.generate(request), [note]


@dataclass(frozen=True)
class StoredImage:
    id: int
    png: bytes
    width: int
    height: int
    provider: str
    model: str | None
    campaign_id: int | None
    created_by: int | None
    created_at: datetime


def store_image(
    conn: Connection,
    image: GeneratedImage,
    *,
    prompt: str,
    call_id: int | None,
    campaign_id: int | None,
    created_by: int | None,
) -> int:
    """Keep the image; its id."""
    image_id = conn.scalar(
        insert(ai_images)
        .values(
            call_id=call_id,
            campaign_id=campaign_id,
            prompt=prompt,
            provider=image.provider,
            model=image.model,
            width=image.width,
            height=image.height,
            png=image.png,
            created_by=created_by,
        )
        .returning(ai_images.c.id)
    )
    assert image_id is not None
    return int(image_id)


def get_image(db: Engine, image_id: int) -> StoredImage | None:
    columns = [ai_images.c[name] for name in StoredImage.__dataclass_fields__]
    with db.connect() as conn:
        row = conn.execute(select(*columns).where(ai_images.c.id == image_id)).mappings().first()
    return StoredImage(**row) if row else None


__all__ = ["GeneratedImage", "ImageProvider", "ImageRequest", "OfflineBanner", "ReplicateImages", "make_image"]
