"""What the AI worker does for each kind of job on the AI queue (`HANDLERS`).

An image job makes the banner (the configured provider, else the offline one), stores it and logs the
call in one transaction, and returns the image's id for `GET /v1/ai/images/{id}`. An insights job
computes a campaign's performance facts, has them phrased (the configured provider, else the local one),
logs the call, and returns the facts and insights themselves.
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import Engine

from engine.ai.calls import record_call
from engine.ai.choice import text_provider
from engine.ai.images import OfflineBanner, image_provider, make_image, store_image
from engine.ai.images.provider import ImageRequest
from engine.ai.insights.campaign import campaign_insights
from engine.ai.local import LocalProvider
from engine.ai.queue import Handler, JobFailed
from engine.campaigns.errors import CampaignNotFound
from engine.campaigns.progress import get_campaign
from engine.settings import Settings


def image_job(db: Engine, settings: Settings, payload: dict[str, Any], user_id: int | None) -> dict[str, Any]:
    request = ImageRequest(
        message=str(payload["message"]),
        width=int(payload["width"]),
        height=int(payload["height"]),
        colors=tuple(payload.get("colors") or settings.brand_colors),
        brand=str(payload.get("brand") or settings.brand_name or ""),
        call_to_action=payload.get("call_to_action"),
    )
    started = time.perf_counter()
    provider = image_provider(settings)
    image, notes = make_image(request, provider, OfflineBanner())
    latency_ms = round((time.perf_counter() - started) * 1000)
    with db.begin() as conn:
        call_id = record_call(
            conn,
            kind="image",
            question=payload,
            answer={"width": image.width, "height": image.height, "bytes": len(image.png)},
            outcome="ok",
            provider=image.provider,
            model=image.model,
            latency_ms=latency_ms,
            user_id=user_id,
            notes=notes,
        )
        image_id = store_image(
            conn,
            image,
            prompt=request.headline,
            call_id=call_id,
            campaign_id=payload.get("campaign_id"),
            created_by=user_id,
        )
    return {
        "image_id": image_id,
        "call_id": call_id,
        "width": image.width,
        "height": image.height,
        "provider": image.provider,
        "model": image.model,
        "notes": notes,
    }


def insights_job(db: Engine, settings: Settings, payload: dict[str, Any], user_id: int | None) -> dict[str, Any]:
    started = time.perf_counter()
    campaign_id = int(payload["campaign_id"])
    try:
        campaign = get_campaign(db, campaign_id)
    except CampaignNotFound as missing:
        raise JobFailed(str(missing)) from None
    found = campaign_insights(db, campaign, text_provider(settings), LocalProvider())
    output = found.output()
    call_id = record_call(
        db,
        kind="insights",
        question={"campaign_id": campaign_id},
        answer=output,
        outcome="ok",
        provider=found.provider,
        model=found.model,
        latency_ms=round((time.perf_counter() - started) * 1000),
        user_id=user_id,
        notes=found.notes,
    )
    return {**output, "provider": found.provider, "model": found.model, "call_id": call_id}


HANDLERS: dict[str, Handler] = {"image": image_job, "insights": insights_job}
