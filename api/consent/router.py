"""Consent routes: what customers open from a message (unsubscribe, preferences), SMS replies, and the operators'
view of the suppression list, topics and a customer's consent.

Public on purpose, the token or signature being the credential:
- `GET /v1/unsubscribe/{token}` shows a page asking to confirm (mail scanners open links; a GET changes nothing);
  `POST` unsubscribes: the RFC 8058 one-click post (`List-Unsubscribe=One-Click`) and the page's button alike.
- `GET`/`POST /v1/preferences/{token}`: the preference page (channels and topics).
- `POST /v1/inbound/sms`: Twilio-style inbound messages, `X-Twilio-Signature` checked with XENO_TWILIO_AUTH_TOKEN.
A link that does not verify gets a page saying so (400), never an unexplained error; nothing is changed by it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Path, Query, Request, Response, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse

from api.consent import pages
from api.consent.schemas import ConsentOut, ConsentUpdate, SuppressionIn, SuppressionOut, TopicIn, TopicOut
from api.deps import Db, Marketer, Viewer, rate_limit
from api.errors import NotFound, UnprocessableEntity
from api.twilio_webhooks import form_fields, verified_twilio_form
from engine.auth import audit
from engine.channels import CHANNELS, get_channel
from engine.consent import links, preferences, replies, suppression
from engine.consent.links import ConsentLink, LinkError
from engine.settings import get_settings

router = APIRouter(prefix="/v1", tags=["consent"])
T = TypeVar("T")
Token = Annotated[str, Path(max_length=2000)]
ONE_CLICK_BODY = b"One-Click"
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


def _labels() -> dict[str, str]:
    return {name: channel.label for name, channel in CHANNELS.items()}


def _client(request: Request) -> dict[str, Any]:
    return {"ip": request.client.host if request.client else None, "user_agent": request.headers.get("user-agent")}


async def _with_link(purpose: str, token: str, act: Callable[[ConsentLink], T]) -> T | HTMLResponse:
    """`act` on the link the token stands for, in a thread; the page explaining why not when it cannot be used."""
    try:
        link = ConsentLink.from_token(get_settings(), purpose, token)
    except LinkError as problem:
        return HTMLResponse(pages.link_problem(str(problem)), status_code=status.HTTP_400_BAD_REQUEST)
    try:
        return await run_in_threadpool(act, link)
    except preferences.UnknownCustomer:
        return HTMLResponse(pages.nobody(), status_code=status.HTTP_404_NOT_FOUND)


def _preferences_url(link: ConsentLink) -> str:
    return links.preferences_url(get_settings(), link.customer_id, link.channel, link.message_id)


@router.get("/unsubscribe/{token}", response_class=HTMLResponse, dependencies=[rate_limit("read")],
            summary="Unsubscribe page (asks to confirm)")  # fmt: skip
async def unsubscribe_page(token: Token, db: Db) -> Response:
    """What the link leads to in a browser: a page asking to confirm; opening it changes nothing."""

    def show(link: ConsentLink) -> HTMLResponse:
        with db.connect() as conn:
            target = preferences.link_target(conn, link)
        return HTMLResponse(pages.unsubscribe_form(target, _label(target.channel), _preferences_url(link)))

    return await _with_link(links.UNSUBSCRIBE, token, show)


# Mail providers post one-click unsubscribes from a few addresses in bursts: limited like ingestion, so none is lost.
@router.post("/unsubscribe/{token}", response_class=HTMLResponse, dependencies=[rate_limit("ingest")],
             summary="Unsubscribe (RFC 8058 one-click)")  # fmt: skip
async def unsubscribe_now(token: Token, db: Db, request: Request) -> Response:
    """The one-click unsubscribe a mail client posts (`List-Unsubscribe=One-Click`), or the page's button: leaves
    the topic of the message's campaign, or withdraws consent to its channel when it had none."""
    one_click = ONE_CLICK_BODY in await request.body()  # form-urlencoded or multipart/form-data (RFC 8058)
    detail = {"via": "one-click" if one_click else "unsubscribe page", **_client(request)}

    def act(link: ConsentLink) -> HTMLResponse:
        with db.begin() as conn:
            target = preferences.unsubscribe(conn, link, "unsubscribe link", detail)
        return HTMLResponse(pages.unsubscribed(target, _label(target.channel), _preferences_url(link)))

    return await _with_link(links.UNSUBSCRIBE, token, act)


@router.get("/preferences/{token}", response_class=HTMLResponse, dependencies=[rate_limit("read")],
            summary="Preference page")  # fmt: skip
async def preference_page(token: Token, db: Db) -> Response:
    """The customer's channels and topics, to change without signing in."""

    def show(link: ConsentLink) -> HTMLResponse:
        with db.connect() as conn:
            current = preferences.preferences(conn, link.customer_id)
        return HTMLResponse(pages.preference_form(current, _labels(), False))

    return await _with_link(links.PREFERENCES, token, show)


@router.post("/preferences/{token}", response_class=HTMLResponse, dependencies=[rate_limit("write")],
             summary="Save preferences")  # fmt: skip
async def save_preferences(token: Token, db: Db, request: Request) -> Response:
    """The preference page's form: checked channels and topics are kept or joined, unchecked ones left (only what
    the person changed is recorded). A channel blocked by a bounce, a complaint or a STOP is not the page's to
    change."""
    form = await form_fields(request)
    detail = _client(request)

    def save(link: ConsentLink) -> HTMLResponse:
        with db.begin() as conn:
            current = preferences.preferences(conn, link.customer_id)
            _apply(conn, current, set(form.get("channel", [])), set(form.get("topic", [])), "preference page", detail)
            saved = preferences.preferences(conn, link.customer_id)
        return HTMLResponse(pages.preference_form(saved, _labels(), True))

    return await _with_link(links.PREFERENCES, token, save)


def _apply(
    conn: Any, current: preferences.Preferences, channels: set[str], topics: set[str], source: str, detail: Any
) -> None:
    for name, on in current.channels.items():
        if name not in current.blocked and (name in channels) != on:
            preferences.set_channel_consent(conn, current.customer_id, name, name in channels, source, detail=detail)
    for key, on in current.topics.items():
        if (key in topics) != on:
            preferences.set_topic(conn, current.customer_id, key, key in topics, source, detail)


def _label(channel: str | None) -> str:
    return get_channel(channel).label if channel in CHANNELS else "these"


@router.post("/inbound/sms", dependencies=[rate_limit("ingest")], summary="Inbound SMS (Twilio-style webhook)")
async def inbound_sms(request: Request, db: Db) -> Response:
    """A reply to our SMS, as Twilio posts it (form fields `From`, `Body`, `MessageSid`), signed with the account's
    auth token. STOP (and the other opt-out keywords) suppresses the number and withdraws SMS consent; START
    lifts it. Answered with empty TwiML."""
    params = await verified_twilio_form(request)
    if not params.get("From"):
        raise UnprocessableEntity("an inbound message needs From")
    detail = {"message_sid": params.get("MessageSid"), "to": params.get("To"), "body": params.get("Body", "")[:200]}

    def apply() -> None:
        with db.begin() as conn:
            replies.apply_reply(conn, params["From"], params.get("Body", ""), detail)

    await run_in_threadpool(apply)
    return Response(EMPTY_TWIML, media_type="text/xml")


@router.get("/suppressions", response_model=list[SuppressionOut], dependencies=[rate_limit("read")],
            summary="The suppression list")  # fmt: skip
def get_suppressions(
    _: Viewer,
    db: Db,
    channel: Annotated[str | None, Query(max_length=40)] = None,
    address: Annotated[str | None, Query(max_length=320, description="Look one address up")] = None,
    before_id: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[SuppressionOut]:
    """Newest first; with `channel` and `address`, that address's entry only (found by hash: also once erased)."""
    with db.connect() as conn:
        if address is not None:
            if channel is None:
                raise UnprocessableEntity("looking an address up needs its channel")
            found = suppression.find(conn, channel, address)
            return [] if found is None else [SuppressionOut.of(found)]
        return [SuppressionOut.of(s) for s in suppression.list_suppressions(conn, channel=channel, before_id=before_id,
                                                                            limit=limit)]  # fmt: skip


@router.post("/suppressions", response_model=SuppressionOut, status_code=status.HTTP_201_CREATED,
             dependencies=[rate_limit("write")], summary="Suppress an address")  # fmt: skip
def post_suppression(body: SuppressionIn, user: Marketer, db: Db) -> SuppressionOut:
    """Nothing is sent to it on the channel from now on (also by campaigns already launched). An address already
    suppressed keeps its first reason."""
    get_channel(body.channel)  # UnknownChannel: 422 naming the ones there are
    with db.begin() as conn:
        detail = body.detail or user.email
        suppression.suppress(conn, body.channel, body.address, body.reason, "operator", detail=detail)
        found = suppression.find(conn, body.channel, body.address)
        if found is None:  # lifted by someone else in between
            raise NotFound("the suppression was lifted as it was added")
        audit.record(conn, user.email, "suppression.added", f"suppression:{found.id}",
                     {"channel": body.channel, "reason": body.reason})  # fmt: skip
    return SuppressionOut.of(found)


@router.delete("/suppressions/{suppression_id}", status_code=status.HTTP_204_NO_CONTENT,
               dependencies=[rate_limit("write")], summary="Lift a suppression")  # fmt: skip
def delete_suppression(suppression_id: Annotated[int, Path(ge=1, le=2**63 - 1)], user: Marketer, db: Db) -> None:
    """Messages may go to the address again (a bounce fixed, a complaint withdrawn); audited."""
    with db.begin() as conn:
        if not suppression.lift_by_id(conn, suppression_id):
            raise NotFound(f"there is no suppression {suppression_id}")
        audit.record(conn, user.email, "suppression.lifted", f"suppression:{suppression_id}")


@router.get("/topics", response_model=list[TopicOut], dependencies=[rate_limit("read")],
            summary="Subscription topics")  # fmt: skip
def get_topics(_: Viewer, db: Db) -> list[TopicOut]:
    with db.connect() as conn:
        return [TopicOut(key=t.key, name=t.name, description=t.description) for t in preferences.list_topics(conn)]


@router.put("/topics/{key}", response_model=TopicOut, dependencies=[rate_limit("write")],
            summary="Create or rename a topic")  # fmt: skip
def put_topic(
    key: Annotated[str, Path(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")], body: TopicIn, user: Marketer, db: Db
) -> TopicOut:
    """Campaigns name a topic; customers leave topics one by one on their preference page."""
    with db.begin() as conn:
        preferences.save_topic(conn, preferences.Topic(key, body.name, body.description))
        audit.record(conn, user.email, "topic.saved", f"topic:{key}", {"name": body.name})
    return TopicOut(key=key, name=body.name, description=body.description)


@router.get("/customers/{customer_id}/consent", response_model=ConsentOut, dependencies=[rate_limit("read")],
            summary="A customer's consent and its history")  # fmt: skip
def get_consent(customer_id: Annotated[int, Path(ge=1, le=2**63 - 1)], _: Viewer, db: Db) -> ConsentOut:
    with db.connect() as conn:
        return _consent(conn, customer_id)


@router.patch("/customers/{customer_id}/consent", response_model=ConsentOut, dependencies=[rate_limit("write")],
              summary="Change a customer's consent")  # fmt: skip
def patch_consent(
    customer_id: Annotated[int, Path(ge=1, le=2**63 - 1)], body: ConsentUpdate, user: Marketer, db: Db
) -> ConsentOut:
    """Record what the customer told you (by phone, at the counter): channels and topics given are set, the rest
    kept; kept in their history with who changed it."""
    for name in body.channels:
        get_channel(name)
    with db.begin() as conn:
        current = preferences.preferences(conn, customer_id)
        detail = {"by": user.email, "note": body.note}
        for name, on in body.channels.items():
            if name not in current.channels:
                raise UnprocessableEntity(f"the {name} channel asks no consent")
            preferences.set_channel_consent(conn, customer_id, name, on, "operator", detail=detail)
        for key, on in body.topics.items():
            preferences.set_topic(conn, customer_id, key, on, "operator", detail)
        return _consent(conn, customer_id)


def _consent(conn: Any, customer_id: int) -> ConsentOut:
    return ConsentOut.of(preferences.preferences(conn, customer_id), preferences.history(conn, customer_id))
