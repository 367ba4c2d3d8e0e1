"""`GET /v1/channels`: what clients (the dashboard, integrators) need to offer and check the channels."""

from __future__ import annotations

from fastapi import APIRouter

from api.channels.schemas import ChannelOut
from api.deps import AppSettings, Viewer, rate_limit
from api.errors import error_responses
from engine.channels import CHANNELS
from engine.channels.transports import transport_name

router = APIRouter(prefix="/v1/channels", tags=["channels"], responses=error_responses(401, 403, 429))


@router.get("", response_model=list[ChannelOut], dependencies=[rate_limit("read")], summary="Channels")
def get_channels(_: Viewer, settings: AppSettings) -> list[ChannelOut]:
    """Every channel a campaign can use, with the transport this installation sends it by."""
    return [
        ChannelOut.model_validate({**channel.describe(), "transport": transport_name(settings, channel.name)})
        for channel in CHANNELS.values()
    ]
