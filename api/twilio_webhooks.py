"""Twilio's webhooks (inbound SMS replies, message status callbacks): form posts signed with the account's auth
token. The one place that reads such a post and checks its `X-Twilio-Signature`, so both routes accept and refuse
alike: no auth token configured, or a signature that does not match the URL Twilio posted to, is 401.
"""

from __future__ import annotations

from urllib.parse import parse_qs

from fastapi import Request

from api.errors import Unauthorized
from engine.consent import replies
from engine.settings import get_settings, revealed

TWILIO_SIGNATURE = "X-Twilio-Signature"


async def form_fields(request: Request) -> dict[str, list[str]]:
    """A form-encoded body, every value of each field (blank ones kept)."""
    return parse_qs((await request.body()).decode(errors="replace"), keep_blank_values=True)


async def verified_twilio_form(request: Request) -> dict[str, str]:
    """The fields of a Twilio post (the last value of each) once its signature matches; 401 otherwise."""
    settings = get_settings()
    token = revealed(settings.twilio_auth_token)
    if not token:
        raise Unauthorized({"reason": "not_configured", "message": "no auth token: set XENO_TWILIO_AUTH_TOKEN"})
    params = {name: values[-1] for name, values in (await form_fields(request)).items()}
    url = settings.public_base_url + request.url.path + (f"?{request.url.query}" if request.url.query else "")
    if not replies.signature_matches(token, url, params, request.headers.get(TWILIO_SIGNATURE, "")):
        raise Unauthorized({"reason": "bad_signature", "message": f"{TWILIO_SIGNATURE} does not match {url}"})
    return params
