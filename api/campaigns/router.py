"""`/v1/campaigns/...`: campaigns from draft to completed, their previews, their communication log and
their live progress.

Reading needs a viewer; writing, moving a campaign through its lifecycle and previews (which show
customers' messages) need a marketer. Routes are thin: the lifecycle lives in `engine.campaigns`. Saving
checks the audience against the current snapshot's catalog and the templates for unknown variables and
syntax errors (422 with positions); moving a campaign from a status that does not allow it is a 409.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from dataclasses import asdict
from typing import Annotated, Any

import orjson
import polars as pl
from fastapi import APIRouter, FastAPI, Path, Query, Request, Response, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse

from api.auth.dependencies import still_signed_in
from api.campaigns.schemas import (
    CampaignChange,
    CampaignIn,
    CampaignOut,
    MessagesPage,
    NextLaunchOut,
    PreviewIn,
    PreviewMessageOut,
    PreviewOut,
    ScheduleIn,
    SeedResultOut,
    SeedsIn,
    SeedsOut,
    TimelineOut,
    TimelinePointOut,
)
from api.deps import Db, Marketer, Viewer, rate_limit
from api.errors import Conflict, UnprocessableEntity, error_responses
from api.reach import snapshot_reach_out
from api.snapshot import CurrentSnapshot, LiveSnapshot, current_catalog
from api.sse import EVENT_STREAM_RESPONSE, event, event_stream, polled_events
from engine.auth import audit
from engine.campaigns import lifecycle
from engine.campaigns.audience import CampaignAudience, PublishedAudience, RetryableFailures, campaign_recipients
from engine.campaigns.communication_log import MessageFilter, list_messages, status_timeline
from engine.campaigns.errors import CampaignNotFound
from engine.campaigns.progress import FINAL_STATUSES, Campaign, get_campaign, list_campaigns
from engine.campaigns.reach import member_rows
from engine.campaigns.seeds import render_seed, send_seeds
from engine.campaigns.send_hour import next_occurrence
from engine.campaigns.templates import check_campaign_templates, preview_messages
from engine.channels import Channel, get_channel
from engine.pagination import cut_page, fetch_size
from engine.postgres_safe import PostgresText
from engine.schema.campaigns import CAMPAIGN_STATUSES, MESSAGE_STATUSES
from engine.segments import parse_rule
from engine.segments.store import get_segment
from engine.settings import get_settings

router = APIRouter(prefix="/v1/campaigns", tags=["campaigns"], responses=error_responses(401, 403, 429))

CampaignId = Annotated[int, Path(ge=1, le=2**63 - 1)]
PROGRESS_EVERY_S = 1.0


def _segment_rule(db: Db, segment_id: int) -> Any:
    segment = get_segment(db, segment_id)
    if segment is None:
        raise UnprocessableEntity(f"there is no segment {segment_id}")
    return segment.rule


def _draft(body: CampaignIn, db: Db) -> lifecycle.CampaignDraft:
    if body.segment_id is not None:
        _segment_rule(db, body.segment_id)
    return lifecycle.CampaignDraft(**body.model_dump())


@router.get("", response_model=list[CampaignOut], dependencies=[rate_limit("read")], summary="Campaign history")
def get_campaigns(
    _: Viewer,
    db: Db,
    status: Annotated[PostgresText | None, Query(description=f"One of {', '.join(CAMPAIGN_STATUSES)}")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> list[CampaignOut]:
    """Campaigns newest first, each with its audience size and messages by status."""
    if status is not None and status not in CAMPAIGN_STATUSES:
        raise UnprocessableEntity(f"unknown status {status!r}; use one of {', '.join(CAMPAIGN_STATUSES)}")
    return [CampaignOut.of(campaign) for campaign in list_campaigns(db, limit=limit, offset=offset, status=status)]


@router.get(
    "/next-launch-time",
    response_model=NextLaunchOut,
    dependencies=[rate_limit("read")],
    summary="When a campaign scheduled at a suggested send hour would launch",
)
def get_next_launch_time(
    _: Marketer,
    hour: Annotated[int, Query(ge=0, le=23, description="The hour of the day, as the AI's send time suggests it")],
    zone: Annotated[PostgresText, Query(max_length=64, description="An IANA time zone, e.g. Europe/Paris")] = "UTC",
) -> NextLaunchOut:
    """The next `hour`:00 in `zone` far enough ahead to launch at (at least 15 minutes away; a day whose clocks
    skip that hour is passed over), as the `at` to schedule the campaign with."""
    return NextLaunchOut(at=next_occurrence(hour, zone))


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=CampaignOut,
    dependencies=[rate_limit("write")],
    summary="Save a campaign as a draft",
)
def post_campaign(body: CampaignIn, user: Marketer, db: Db, request: Request) -> CampaignOut:
    """Checks the audience rule against the catalog and the template (and subject) for unknown variables and
    syntax errors, with the line and column of each problem (422), and saves a draft."""
    campaign_id = lifecycle.create_campaign(
        db, _draft(body, db), current_catalog(request.app), created_by=user.id, actor=user.email
    )
    return CampaignOut.of(get_campaign(db, campaign_id))


@router.post(
    "/preview",
    response_model=PreviewOut,
    responses=error_responses(409),
    dependencies=[rate_limit("read")],
    summary="Preview an unsaved message for sample members",
)
def post_preview(body: PreviewIn, _: Marketer, db: Db, snapshot: CurrentSnapshot) -> PreviewOut:
    """The audience's size on the current snapshot and the message (and subject) its first members would get;
    a member whose message cannot be rendered shows why. Given a `channel`, `reach` says who of the audience a
    launch now would message, and why the others not."""
    if (body.segment_id is None) == (body.audience_rule is None):
        raise UnprocessableEntity("give the audience as either segment_id or audience_rule")
    rule = _segment_rule(db, body.segment_id) if body.segment_id is not None else body.audience_rule
    rows = snapshot.features.select(snapshot.evaluator.compile(parse_rule(rule, snapshot.catalog))).to_series()
    members = snapshot.features.filter(rows)
    channel = None if body.channel is None else get_channel(body.channel)
    answer = _preview(snapshot, members, body.template, body.subject, body.html_template, channel, body.sample_size)
    if body.channel is not None:
        answer.reach = snapshot_reach_out(db, snapshot.features, rows, body.channel, body.topic)
    return answer


@router.get(
    "/{campaign_id}",
    response_model=CampaignOut,
    responses=error_responses(404),
    dependencies=[rate_limit("read")],
    summary="Read a campaign",
)
def get_one_campaign(campaign_id: CampaignId, _: Viewer, db: Db) -> CampaignOut:
    return CampaignOut.of(get_campaign(db, campaign_id))


@router.patch(
    "/{campaign_id}",
    response_model=CampaignOut,
    responses=error_responses(404, 409),
    dependencies=[rate_limit("write")],
    summary="Change a draft",
)
def patch_campaign(
    campaign_id: CampaignId, body: CampaignChange, user: Marketer, db: Db, request: Request
) -> CampaignOut:
    """Changes what is given and checks the result like saving does. Only drafts change (409 otherwise:
    unschedule a scheduled campaign first)."""
    current = get_campaign(db, campaign_id)
    if current.status != "draft":
        raise Conflict(f"campaign {campaign_id} is {current.status}: only drafts are edited (unschedule it first)")
    given = body.model_dump(exclude_unset=True)
    values = {name: getattr(current, name) for name in CampaignIn.model_fields} | given
    if {"segment_id", "audience_rule"} & given.keys():
        values["segment_id"], values["audience_rule"] = given.get("segment_id"), given.get("audience_rule")
    values["subject"] = values["subject"] or None
    values["html_template"] = values["html_template"] or None
    draft = _draft(CampaignIn.model_validate(values), db)
    lifecycle.update_campaign(db, campaign_id, draft, current_catalog(request.app), actor=user.email)
    return CampaignOut.of(get_campaign(db, campaign_id))


@router.delete(
    "/{campaign_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(404, 409),
    dependencies=[rate_limit("write")],
    summary="Delete a draft",
)
def remove_campaign(campaign_id: CampaignId, user: Marketer, db: Db) -> Response:
    """Only drafts are deleted: anything that was launched stays, for its history (409)."""
    lifecycle.delete_campaign(db, campaign_id, actor=user.email)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/{campaign_id}/preview",
    response_model=PreviewOut,
    responses=error_responses(404, 409),
    dependencies=[rate_limit("read")],
    summary="Preview a campaign's message for sample members",
)
def get_preview(
    campaign_id: CampaignId,
    _: Marketer,
    db: Db,
    snapshot: CurrentSnapshot,
    sample_size: Annotated[int, Query(ge=1, le=50)] = 5,
) -> PreviewOut:
    """Who the campaign would go to if it launched now (`reach`: how many it would message, and why the others
    not), and the first members' messages: a "retry the failed" follow-up's are its parent's failed recipients.
    (What a launched campaign sent is its log, `/messages`.)"""
    campaign = get_campaign(db, campaign_id)
    audience = CampaignAudience(campaign.parent_campaign_id, campaign.audience_rule, campaign.segment_id)
    with db.connect() as conn:
        recipients = campaign_recipients(conn, audience, snapshot.evaluator, PublishedAudience(db).segment_rule)
    templates = (campaign.template, campaign.subject, campaign.html_template, get_channel(campaign.channel))
    answer = _preview(snapshot, recipients.members, *templates, sample_size)
    rows = member_rows(snapshot.features, recipients.members)
    answer.reach = snapshot_reach_out(db, snapshot.features, rows, campaign.channel, campaign.topic)
    return answer


@router.post(
    "/{campaign_id}/test",
    response_model=SeedsOut,
    responses=error_responses(404),
    dependencies=[rate_limit("write")],
    summary="Send a test to seed addresses",
)
def post_test(campaign_id: CampaignId, body: SeedsIn, user: Marketer, db: Db, snapshot: CurrentSnapshot) -> SeedsOut:
    """Renders the campaign's message for one customer (`customer_id`, else the first of its audience) and sends
    it through the channel's transport to each seed address, as the launch will send it (an e-mail's subject
    starts with `[TEST] `). Not logged and not counted; suppressed seeds are not sent to. Audited."""
    campaign = get_campaign(db, campaign_id)
    channel = get_channel(campaign.channel)
    templates = check_campaign_templates(campaign.template, campaign.subject, campaign.html_template, snapshot.catalog)
    sample = _sample(db, snapshot, campaign, body.customer_id)
    message = render_seed(channel, templates, sample)
    addresses = list(dict.fromkeys(body.addresses))
    key = f"{campaign_id}-test-{time.time_ns()}"
    results = asyncio.run(send_seeds(db, get_settings(), channel, message, addresses, key))
    audit.record(db, user.email, "campaign.test_sent", f"campaign:{campaign_id}",
                 {"seeds": len(addresses), "sent": sum(result.sent for result in results)})  # fmt: skip
    return SeedsOut(
        customer_id=sample["customer_id"], message=message.body, subject=message.subject,
        results=[SeedResultOut(**asdict(result)) for result in results],
    )  # fmt: skip


def _sample(db: Db, snapshot: LiveSnapshot, campaign: Campaign, customer_id: int | None) -> dict[str, Any]:
    """The features row a test is rendered with: the named customer's, else the first audience member's."""
    if customer_id is not None:
        rows = snapshot.evaluator.features.filter(pl.col("customer_id") == customer_id)
        if rows.is_empty():
            raise UnprocessableEntity(f"customer {customer_id} is not in the feature snapshot")
        return rows.row(0, named=True)
    audience = CampaignAudience(campaign.parent_campaign_id, campaign.audience_rule, campaign.segment_id)
    with db.connect() as conn:
        members = campaign_recipients(conn, audience, snapshot.evaluator, PublishedAudience(db).segment_rule).members
    if members.is_empty():
        raise UnprocessableEntity("the campaign's audience is empty: name a customer_id to render the test for")
    return members.row(0, named=True)


def _preview(
    snapshot: LiveSnapshot,
    members: pl.DataFrame,
    template: str,
    subject: str | None,
    html_template: str | None,
    channel: Channel | None,
    sample_size: int,
) -> PreviewOut:
    message, subject_template, html = check_campaign_templates(template, subject, html_template, snapshot.catalog)
    previews = preview_messages(message, members, sample_size, channel)
    subjects, htmls = (
        preview_messages(extra, members, sample_size) if extra else [None] * len(previews)
        for extra in (subject_template, html)
    )
    return PreviewOut(
        audience_size=members.height,
        messages=[
            PreviewMessageOut(
                customer_id=p.customer_id,
                message=p.message,
                subject=s and s.message,
                html=h and h.message,
                error=p.error or (s and s.error) or (h and h.error),
                characters=p.size and p.size.characters,
                parts=p.size and p.size.parts,
            )
            for p, s, h in zip(previews, subjects, htmls, strict=True)
        ],
        snapshot_version=snapshot.version,
    )


def _transition(path: str, summary: str, doc: str, move: Callable[..., object]) -> None:
    """A lifecycle route `POST /{id}/<path>` answering the campaign as it now stands."""

    def route(campaign_id: CampaignId, user: Marketer, db: Db) -> CampaignOut:
        move(db, campaign_id, actor=user.email)
        return CampaignOut.of(get_campaign(db, campaign_id))

    route.__doc__ = doc
    router.post(
        f"/{{campaign_id}}/{path}",
        response_model=CampaignOut,
        responses=error_responses(404, 409),
        dependencies=[rate_limit("write")],
        summary=summary,
        name=f"{path}_campaign",
    )(route)


@router.post(
    "/{campaign_id}/schedule",
    response_model=CampaignOut,
    responses=error_responses(404, 409),
    dependencies=[rate_limit("write")],
    summary="Schedule or launch a campaign",
)
def schedule(campaign_id: CampaignId, body: ScheduleIn, user: Marketer, db: Db) -> CampaignOut:
    """Schedules a draft (or moves a scheduled campaign) to launch at `at`, or now when `at` is left out. The
    launch freezes the rule and the audience: later changes to the segment or to customers do not change who
    it goes to."""
    lifecycle.schedule_campaign(db, campaign_id, body.at, actor=user.email)
    return CampaignOut.of(get_campaign(db, campaign_id))


_transition(
    "unschedule",
    "Take a scheduled campaign back to draft",
    "Only a campaign that has not launched yet (409 otherwise).",
    lifecycle.unschedule_campaign,
)
_transition(
    "relaunch",
    "Try a failed launch again",
    "A campaign whose launch failed (its rule, template or segment could not be used, or the launch kept failing) "
    "is scheduled to launch now with fresh attempts; one that failed after launching is a 409.",
    lifecycle.relaunch_campaign,
)
_transition(
    "pause",
    "Pause a sending campaign",
    "Senders stop posting its messages; those not yet posted wait until it is resumed.",
    lifecycle.pause_campaign,
)
_transition(
    "resume",
    "Resume a paused campaign",
    "Its waiting messages are queued again (quiet hours still apply).",
    lifecycle.resume_campaign,
)
_transition(
    "cancel",
    "Cancel a campaign",
    "Every message not yet posted is skipped with the reason `campaign cancelled`; posted ones keep their fate.",
    lifecycle.cancel_campaign,
)


@router.get(
    "/{campaign_id}/retry-failed",
    response_model=RetryableFailures,
    responses=error_responses(404),
    dependencies=[rate_limit("read")],
    summary="What retrying the failed would re-send, and what it would leave out",
)
def get_retry_of_the_failed(campaign_id: CampaignId, _: Viewer, db: Db) -> RetryableFailures:
    """`retrying`: how many failed messages a retry would send again now; `left_out`: the others, by reason.

    Only failures that may succeed when sent again are retried: the vendor not taking the message (timeouts,
    connection errors, 408, 425, 429, 5xx), `unreachable`, `mailbox full`, `carrier rejected`, or a receipt
    that said `permanent: false`. Left out: `unsubscribed`, `invalid number`, `invalid address`, `blocked as
    spam`, the vendor refusing the message as malformed, a receipt that said `permanent: true`, and any reason
    not known to be retryable. A follow-up's preview and launch go to the same recipients."""
    get_campaign(db, campaign_id)
    return lifecycle.failures_to_retry(db, campaign_id)


@router.post(
    "/{campaign_id}/retry-failed",
    status_code=status.HTTP_201_CREATED,
    response_model=lifecycle.FollowUp,
    responses=error_responses(404, 409),
    dependencies=[rate_limit("write")],
    summary="Retry the failed messages of a finished campaign that can succeed",
)
def retry_the_failed(campaign_id: CampaignId, user: Marketer, db: Db) -> lifecycle.FollowUp:
    """Creates a follow-up campaign (`follow_up`, its id), linked to this one and launching now, that re-sends
    the same message to the recipients whose message failed transiently (`retrying`: how many), and answers
    how many it left out, by reason (`left_out`); which are retried: `GET` this path. 409 while the campaign is
    not finished or a follow-up already retries it; 422 when nothing failed, or (`nothing_to_retry`) when every
    failure was permanent."""
    return lifecycle.retry_failed(db, campaign_id, created_by=user.id, actor=user.email)


@router.get(
    "/{campaign_id}/messages",
    response_model=MessagesPage,
    responses=error_responses(404),
    dependencies=[rate_limit("read")],
    summary="A campaign's communication log, filtered, a page at a time",
)
def get_messages(
    campaign_id: CampaignId,
    _: Marketer,
    db: Db,
    status: Annotated[str | None, Query(description=f"One of {', '.join(MESSAGE_STATUSES)}")] = None,
    customer_id: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None,
    reason: Annotated[
        PostgresText | None, Query(min_length=1, max_length=200, description="Part of the reason")
    ] = None,
    cursor: Annotated[int, Query(ge=0, le=2**63 - 1, description="`next_cursor` of the previous page")] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> MessagesPage:
    """Each recipient's message, its status, why it failed or was skipped, and when each step happened."""
    if status is not None and status not in MESSAGE_STATUSES:
        raise UnprocessableEntity(f"unknown status {status!r}; use one of {', '.join(MESSAGE_STATUSES)}")
    get_campaign(db, campaign_id)
    where = MessageFilter(status=status, customer_id=customer_id, reason=reason)
    page = cut_page(list_messages(db, campaign_id, where, after_id=cursor, limit=fetch_size(limit)), limit,
                    key=lambda message: message.id)  # fmt: skip
    return MessagesPage(messages=page.items, next_cursor=page.next_cursor)


@router.get(
    "/{campaign_id}/timeline",
    response_model=TimelineOut,
    responses=error_responses(404),
    dependencies=[rate_limit("read")],
    summary="A campaign's messages sent, delivered and failed over time",
)
def get_timeline(
    campaign_id: CampaignId,
    _: Viewer,
    db: Db,
    bucket_s: Annotated[int, Query(ge=1, le=86_400, description="Seconds per bucket")] = 60,
) -> TimelineOut:
    get_campaign(db, campaign_id)
    points = status_timeline(db, campaign_id, bucket_s)
    return TimelineOut(bucket_s=bucket_s, points=[TimelinePointOut.of(point) for point in points])


@router.get(
    "/{campaign_id}/events",
    response_class=StreamingResponse,
    responses=EVENT_STREAM_RESPONSE | error_responses(404),
    dependencies=[rate_limit("read")],
    summary="Live progress as server-sent events",
)
def get_events(campaign_id: CampaignId, _: Viewer, db: Db, request: Request) -> StreamingResponse:
    """A `progress` event (data: the campaign's status and message counts) now and whenever they change, a
    keep-alive comment every 15 seconds of quiet, and the stream ends once the campaign is completed,
    cancelled or failed with every message final (a campaign completed past the receipt timeout still hears
    late receipts), or when your access token expires or your session ends."""
    get_campaign(db, campaign_id)
    reads = _recent_reads(request.app)
    last: bytes | None = None

    async def progress() -> tuple[list[bytes], bool]:
        nonlocal last
        if await still_signed_in(request) is None:
            return [], True
        try:
            campaign = await run_in_threadpool(reads.campaign, db, campaign_id)
        except CampaignNotFound:  # a draft deleted while watched
            return [], True
        counts = {**asdict(campaign.counts), "total": campaign.counts.total}
        now = event("progress", orjson.dumps({"status": campaign.status, "counts": counts}))
        changed, last = ([now] if now != last else []), now
        return changed, campaign.status in FINAL_STATUSES and campaign.counts.unfinished == 0

    return event_stream(polled_events(request, progress, interval_s=PROGRESS_EVERY_S))


class _RecentReads:
    """The campaigns the app's progress streams watch, each read about once per second however many streams
    watch it (counting a million-message log takes a few hundred milliseconds)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._reads: dict[int, tuple[float, Campaign]] = {}

    def campaign(self, db: Db, campaign_id: int) -> Campaign:
        now = time.monotonic()
        with self._lock:
            read_at, cached = self._reads.get(campaign_id, (0.0, None))
        if cached is not None and now - read_at < PROGRESS_EVERY_S:
            return cached
        campaign = get_campaign(db, campaign_id)
        with self._lock:
            for stale in [key for key, (at, _) in self._reads.items() if now - at >= PROGRESS_EVERY_S]:
                del self._reads[stale]
            self._reads[campaign_id] = (now, campaign)
        return campaign


def _recent_reads(app: FastAPI) -> _RecentReads:
    if not hasattr(app.state, "campaign_reads"):
        app.state.campaign_reads = _RecentReads()
    reads: _RecentReads = app.state.campaign_reads
    return reads
