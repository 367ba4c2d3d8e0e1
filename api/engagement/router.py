"""The open pixel and click redirects e-mails carry (public: their signed tokens are the credential), and the
engagement of campaigns (opens, clicks, conversions, revenue) for campaign history.

A valid open or click is put on the ingest stream as an event, like any integrator's, and answered at once:
the pixel with a 1×1 GIF that is never cached, the click with a redirect to where the e-mail pointed. A
token we did not sign is a 404 and records nothing. Neither is rate limited: mail providers fetch images
for many people from a few addresses, and a dropped open would undercount.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated

from anyio import to_thread
from fastapi import APIRouter, Path, Query, Response
from fastapi.responses import RedirectResponse
from pydantic import BaseModel, Field

from api.deps import Db, Viewer, rate_limit
from api.errors import error_responses
from api.ingest.publish import publish_batch
from engine.engagement.analytics import campaign_engagement
from engine.engagement.links import clicked_link, opened_message
from engine.engagement.tracking import engagement_event
from engine.ingest.records import empty_batch
from engine.settings import get_settings

router = APIRouter(tags=["engagement"])

PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")  # a transparent 1×1 GIF
NOT_CACHED = {"Cache-Control": "no-store, no-cache, must-revalidate, private", "Pragma": "no-cache"}
CampaignId = Annotated[int, Field(ge=1, le=2**63 - 1)]
Token = Annotated[str, Path(max_length=2_000, description="The signed token the e-mail's link carries")]
_NOT_OURS = error_responses(described={404: "The token was not made by us (forged, altered or cut short)."})


async def _record(db: Db, message_id: int, url: str | None = None) -> None:
    """Put the open (or click of `url`) of message `message_id` on the ingest stream, if its customer is still known."""
    event = await to_thread.run_sync(engagement_event, db, message_id, datetime.now(UTC), url)
    if event is not None:
        batch = empty_batch()
        batch["events"].append(event)
        await publish_batch(batch)


@router.get(
    "/v1/track/open/{token}",
    response_class=Response,
    responses={200: {"content": {"image/gif": {}}, "description": "A transparent 1×1 GIF"}, **_NOT_OURS},
    summary="Open pixel",
)
async def open_pixel(token: Token, db: Db) -> Response:
    """Public. Records that the e-mail was opened (once per message, however often the image loads)."""
    message_id = opened_message(get_settings(), token)
    await _record(db, message_id)
    return Response(PIXEL, media_type="image/gif", headers=NOT_CACHED)


@router.get(
    "/v1/track/click/{token}",
    response_class=RedirectResponse,
    status_code=302,
    responses={302: {"description": "To the link's target"}, **_NOT_OURS},
    summary="Click redirect",
)
async def click(token: Token, db: Db) -> RedirectResponse:
    """Public. Records the click (every click is an event) and sends the browser where the e-mail's link pointed."""
    link = clicked_link(get_settings(), token)
    await _record(db, link.message_id, link.url)
    return RedirectResponse(link.url, status_code=302, headers=NOT_CACHED)


class EngagementOut(BaseModel):
    """A campaign's engagement: customers who opened and who clicked, every click, and the orders attributed to it
    (last touch within the attribution window) with their revenue."""

    campaign_id: int
    opened: int
    clicked: int
    clicks: int
    conversions: int
    revenue: Decimal


@router.get(
    "/v1/engagement/campaigns",
    response_model=list[EngagementOut],
    responses=error_responses(401, 403, 429),
    dependencies=[rate_limit("read")],
    summary="Campaigns' opens, clicks and conversions",
)
def get_engagement(
    _: Viewer,
    db: Db,
    campaign_id: Annotated[list[CampaignId], Query(min_length=1, max_length=200, description="Campaign ids, repeated")],
) -> list[EngagementOut]:
    """The engagement of each campaign asked for, in the order asked (a campaign nobody engaged with: zeros)."""
    found = campaign_engagement(db, get_settings(), campaign_id)
    return [EngagementOut(**vars(found[i])) for i in dict.fromkeys(campaign_id)]
