"""SMS replies: STOP withdraws a number's consent, START gives it back, as carriers require of every sender.

Replies come to the API as a Twilio-style inbound webhook (a form post signed with the account's auth token, see
`twilio_signature`). A STOP keyword suppresses the number on SMS (reason `stop`) and withdraws the SMS consent of
every customer with that number, each change kept in their history from "sms reply"; only a START keyword from
that number lifts it again. Other replies change nothing.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from typing import Any, Literal

from sqlalchemy import Connection, text

from engine.consent import preferences, suppression

CHANNEL = "sms"
SOURCE = "sms reply"
# The opt-out and opt-in keywords US carriers (CTIA) and Twilio recognise; a reply is one of them, alone.
STOP_WORDS = frozenset({"stop", "stopall", "unsubscribe", "cancel", "end", "quit", "optout", "revoke"})
START_WORDS = frozenset({"start", "unstop", "yes", "subscribe"})

Keyword = Literal["stop", "start"]


def keyword(body: str) -> Keyword | None:
    """Whether a reply opts out or back in: a keyword alone, in any case, with punctuation around it ignored."""
    word = body.strip().strip(".!").lower().replace(" ", "")
    if word in STOP_WORDS:
        return "stop"
    if word in START_WORDS:
        return "start"
    return None


def twilio_signature(auth_token: str, url: str, params: Mapping[str, str]) -> str:
    """What Twilio sends as `X-Twilio-Signature` for a form post of `params` to `url`: the base64 HMAC-SHA1, under
    the auth token, of the URL followed by each parameter's name and value, sorted by name."""
    signed = url + "".join(name + params[name] for name in sorted(params))
    return base64.b64encode(hmac.new(auth_token.encode(), signed.encode(), hashlib.sha1).digest()).decode()


def signature_matches(auth_token: str, url: str, params: Mapping[str, str], offered: str) -> bool:
    return hmac.compare_digest(twilio_signature(auth_token, url, params), offered)


def apply_reply(conn: Connection, from_number: str, body: str, detail: dict[str, Any]) -> Keyword | None:
    """Act on one inbound SMS from `from_number`: STOP or START (see the module), else nothing; which it was."""
    found = keyword(body)
    if found is None:
        return None
    subscribed = found == "start"
    number = suppression.normalize(from_number)
    customer_ids = conn.execute(
        text("SELECT id FROM customers WHERE phone = ANY(:numbers) ORDER BY id"),
        {"numbers": list({from_number, number})},
    ).scalars()
    for customer_id in customer_ids:
        preferences.set_channel_consent(
            conn, customer_id, CHANNEL, subscribed, SOURCE, address=number, reason="stop", detail=detail
        )
    if subscribed:
        suppression.lift(conn, CHANNEL, number, ("stop",))
    else:
        suppression.suppress(conn, CHANNEL, number, "stop", SOURCE, detail=body[:200])
    return found
