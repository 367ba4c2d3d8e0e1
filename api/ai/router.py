"""The AI routes: plain language to a segment rule, message suggestions, campaign images, and the call log.

Every answer has been validated before it leaves (`engine.ai`); a request the AI cannot answer with a
valid result is a 422 that says why, never a 500 and never an invalid rule. A language model that fails
or times out gives way to the local provider, with a note. Every call is logged and can be rated with
`POST /v1/ai/calls/{id}/feedback`. Images and campaign insights are made on the AI queue: their routes
answer 202 with a job to poll at `GET /v1/ai/jobs/{id}`. A campaign's send-time suggestion is quick and
answered at once.
"""

from __future__ import annotations

import time
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query, Response
from sqlalchemy import Engine

from api.ai.audience import Evaluator, catalog_of, saved_segment_rule
from api.ai.schemas import (
    AudienceOut,
    CallsOut,
    FeedbackIn,
    ImageRequestIn,
    JobOut,
    MessagesOut,
    MessagesRequest,
    RuleRequest,
    RuleSuggestionOut,
    SendTimeOut,
    VariantOut,
)
from api.deps import Analyst, AppSettings, Db, Marketer, RedisClient, Viewer, rate_limit
from api.errors import Conflict, NotFound, UnprocessableEntity
from engine.ai import calls, queue
from engine.ai.choice import local_provider, text_provider
from engine.ai.errors import Refusal
from engine.ai.images import get_image
from engine.ai.insights.send_time import campaign_send_time
from engine.ai.local import LocalProvider
from engine.ai.messages.audience import AudienceProfile, profile_audience
from engine.ai.messages.brief import MessageBrief
from engine.ai.messages.compose import currency_for
from engine.ai.messages.suggest import suggest_messages
from engine.ai.rules import suggest_rule
from engine.auth.roles import Role
from engine.auth.users import User
from engine.campaigns.progress import get_campaign
from engine.features.catalog import Catalog
from engine.postgres_safe import PostgresText
from engine.segments import Rule, UnsupportedRule, parse_rule
from engine.segments.polars_backend import PolarsEvaluator

router = APIRouter(prefix="/v1/ai", tags=["ai"])
PathId = Annotated[int, Path(ge=1, le=2**63 - 1)]
NO_SNAPSHOT = "No feature snapshot has been published yet, so the audience size is unknown."


class NoBrand(UnprocessableEntity):
    """Messages are signed with the sender's brand, and none is set."""

    error = "no_brand"


class AIRefused(UnprocessableEntity):
    """The AI could not give a valid answer; `error` names why (not_understood, invalid_rule, ...)."""

    def __init__(self, refusal: Refusal, call_id: int) -> None:
        super().__init__({**refusal.detail(), "call_id": call_id})
        self.error = refusal.code


@router.post("/segment-rule", dependencies=[rate_limit("ai")])
def segment_rule(
    body: RuleRequest, user: Analyst, db: Db, settings: AppSettings, evaluator: Evaluator
) -> RuleSuggestionOut:
    """Turn a description of customers into a rule of the segment language, read back in English, with the
    number of customers it selects now, so it can be checked before it is saved. The rule is built from what
    was understood: `assumptions` say which vague words were read as the team's terms ("VIP": total spend of
    ₹50,000 or more), `skipped` which words were left out and why, and `questions` ask the user to confirm
    both. Only a request with no condition in it at all is refused (422)."""
    started = time.perf_counter()
    catalog = catalog_of(evaluator)
    today = datetime.now(UTC).date()
    outcome = suggest_rule(body.text, catalog, text_provider(settings), local_provider(settings), today)
    notes = list(outcome.notes)
    count = _count(evaluator, outcome.rule, notes) if outcome.rule is not None else None
    output = outcome.output()
    call_id = calls.record_call(
        db,
        kind="segment_rule",
        question={"text": body.text},
        answer=None if output is None else {**output, "count": count},
        outcome="ok" if outcome.refusal is None else "refused",
        provider=outcome.provider,
        model=outcome.model,
        latency_ms=_elapsed_ms(started),
        user_id=user.id,
        notes=notes if outcome.refusal is None else [*notes, str(outcome.refusal)],
    )
    if outcome.refusal is not None:
        raise AIRefused(outcome.refusal, call_id)
    assert output is not None
    return RuleSuggestionOut(
        rule=output["rule"],
        english=output["english"],
        count=count,
        assumptions=output["assumptions"],
        skipped=output["skipped"],
        questions=output["questions"],
        provider=outcome.provider,
        model=outcome.model,
        repaired=outcome.repaired,
        notes=notes,
        call_id=call_id,
    )


@router.post("/messages", dependencies=[rate_limit("ai")])
def messages(body: MessagesRequest, user: Marketer, db: Db, settings: AppSettings, evaluator: Evaluator) -> MessagesOut:
    """Two or three message variants in different tones for a campaign objective and audience, each a valid
    template using only features that exist (an SMS fits one message for its longest recipient), stating the
    objective's offer unchanged (`offer`: "up to 40% off", "sarees", the code, the deadline) and signed with
    the sender's brand (`brand`, else XENO_BRAND_NAME; neither: 422 `no_brand`). A variant that dropped or
    changed part of the offer was corrected or left out, and the notes say so."""
    started = time.perf_counter()
    catalog = catalog_of(evaluator)
    notes: list[str] = []
    audience = _audience(body, evaluator, catalog, notes)
    tones = tuple(dict.fromkeys(body.tones))
    if len(tones) < 2:
        raise UnprocessableEntity("pick at least two different tones")
    brand = body.brand or settings.brand_name
    if brand is None:
        raise NoBrand("messages are signed with your brand: set XENO_BRAND_NAME, or give `brand` in the request")
    brief = MessageBrief(body.objective, body.channel, catalog, brand, audience, tones)
    try:
        suggestions = suggest_messages(brief, text_provider(settings), LocalProvider())
    except Refusal as refusal:
        call_id = calls.record_call(
            db, kind="messages", question=body.model_dump(), answer=None, outcome="refused", provider="local",
            model=None, latency_ms=_elapsed_ms(started), user_id=user.id, notes=[*notes, str(refusal)],
        )  # fmt: skip
        raise AIRefused(refusal, call_id) from None
    notes += suggestions.notes
    call_id = calls.record_call(
        db,
        kind="messages",
        question=body.model_dump(),
        answer=suggestions.output(),
        outcome="ok",
        provider=suggestions.provider,
        model=suggestions.model,
        latency_ms=_elapsed_ms(started),
        user_id=user.id,
        notes=notes,
    )
    email_currency, _ = currency_for(audience)
    return MessagesOut(
        variants=[VariantOut(**asdict(variant)) for variant in suggestions.variants],
        intent=suggestions.intent,
        offer=list(suggestions.offer),
        audience=AudienceOut(size=audience.size, summary=audience.summary(email_currency)) if audience else None,
        provider=suggestions.provider,
        model=suggestions.model,
        notes=notes,
        call_id=call_id,
    )


@router.post("/images", status_code=202, dependencies=[rate_limit("ai")])
def images(body: ImageRequestIn, user: Marketer, db: Db, redis_client: RedisClient, settings: AppSettings) -> JobOut:
    """Start making a banner for a campaign (off the request path): poll the job, then fetch
    `GET /v1/ai/images/{result.image_id}`. Drawn offline from the message and brand colours unless an image
    model is configured; if that model fails, the offline banner is drawn and the job's notes say so."""
    if body.campaign_id is not None:
        get_campaign(db, body.campaign_id)
    job = queue.enqueue(redis_client, settings, "image", body.model_dump(), user.id)
    return _job_out(job)


@router.post("/campaigns/{campaign_id}/insights", status_code=202, dependencies=[rate_limit("ai")])
def campaign_insights(
    campaign_id: PathId, user: Analyst, db: Db, redis_client: RedisClient, settings: AppSettings
) -> JobOut:
    """Start working out how a launched campaign did (off the request path): poll the job for
    `{campaign_id, facts, insights: [{text, fact_ids}], notes, repaired, provider, model, call_id}` (`repaired`:
    the model's first sentences failed the checks and these are its corrections). Every number in an insight
    is one of the computed facts, said of the group it was computed for, whoever phrased it."""
    campaign = get_campaign(db, campaign_id)
    if campaign.counts.total == 0:
        raise Conflict(f"campaign {campaign_id} has not been launched yet, so it has no messages to learn from")
    job = queue.enqueue(redis_client, settings, "insights", {"campaign_id": campaign_id}, user.id)
    return _job_out(job)


@router.get("/campaigns/{campaign_id}/send-time", dependencies=[rate_limit("ai")])
def send_time(campaign_id: PathId, user: Analyst, db: Db, settings: AppSettings, evaluator: Evaluator) -> SendTimeOut:
    """The hour of the day (in each customer's time zone) at which the campaign's audience has had the most
    messages delivered, outside the quiet hours, with the evidence per hour; no hour when the history is
    too thin to tell. A campaign whose saved segment has been deleted has no audience: 409."""
    started = time.perf_counter()
    campaign = get_campaign(db, campaign_id)
    answer = campaign_send_time(db, settings, campaign, evaluator)
    output = answer.output()
    call_id = calls.record_call(
        db,
        kind="send_time",
        question={"campaign_id": campaign_id},
        answer=output,
        outcome="ok",
        provider="local",
        model=None,
        latency_ms=_elapsed_ms(started),
        user_id=user.id,
        notes=answer.notes,
    )
    return SendTimeOut(campaign_id=campaign_id, **output, call_id=call_id)


@router.get("/jobs/{job_id}", dependencies=[rate_limit("read")])
def job(
    job_id: Annotated[str, Path(pattern=r"^[0-9a-f]{32}$")],
    user: Analyst,
    redis_client: RedisClient,
    settings: AppSettings,
) -> JobOut:
    """An AI job's state, and its result once done. Only its owner (or an admin) sees it."""
    found = queue.get_job(redis_client, settings, job_id)
    if found is None or not _may_see(user, found.user_id):
        raise NotFound(f"no AI job {job_id}")
    return _job_out(found)


@router.get(
    "/images/{image_id}",
    dependencies=[rate_limit("read")],
    response_class=Response,
    responses={200: {"content": {"image/png": {}}, "description": "The image as PNG."}},
)
def image(image_id: PathId, _: Viewer, db: Db) -> Response:
    """A generated image, as PNG."""
    stored = get_image(db, image_id)
    if stored is None:
        raise NotFound(f"no image with id {image_id}")
    return Response(stored.png, media_type="image/png", headers={"Cache-Control": "private, max-age=86400"})


@router.get("/calls", dependencies=[rate_limit("read")])
def list_calls(
    user: Analyst,
    db: Db,
    kind: Annotated[PostgresText | None, Query(max_length=40)] = None,
    user_id: Annotated[int | None, Query(ge=1, le=2**63 - 1, description="Admins only: this user's calls.")] = None,
    before_id: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> CallsOut:
    """The AI calls, newest first: your own, or (admins) everyone's or one user's."""
    whose = user_id if user.role is Role.admin else user.id
    found = calls.list_calls(db, user_id=whose, kind=kind, before_id=before_id, limit=limit)
    return CallsOut(calls=found)


@router.get("/calls/{call_id}", dependencies=[rate_limit("read")])
def get_call(call_id: PathId, user: Analyst, db: Db) -> calls.AICall:
    return _own_call(db, call_id, user)


@router.post("/calls/{call_id}/feedback", dependencies=[rate_limit("write")])
def feedback(call_id: PathId, body: FeedbackIn, user: Analyst, db: Db) -> calls.AICall:
    """Say whether the AI's answer was used (accepted) or not, with an optional comment. Your own calls only."""
    call = _own_call(db, call_id, user, admin_too=False)
    updated = calls.set_feedback(db, call.id, accepted=body.accepted, feedback=body.comment)
    assert updated is not None
    return updated


def _own_call(db: Engine, call_id: int, user: User, admin_too: bool = True) -> calls.AICall:
    call = calls.get_call(db, call_id)
    if call is None or not _may_see(user, call.user_id, admin_too):
        raise NotFound(f"no AI call {call_id}")
    return call


def _may_see(user: User, owner: int | None, admin_too: bool = True) -> bool:
    return owner == user.id or (admin_too and user.role is Role.admin)


def _count(evaluator: PolarsEvaluator | None, rule: Rule, notes: list[str]) -> int | None:
    if evaluator is None:
        notes.append(NO_SNAPSHOT)
        return None
    try:
        return evaluator.count(rule)
    except UnsupportedRule as error:
        notes.append(f"The audience could not be counted on this snapshot: {error}")
        return None


def _audience(
    body: MessagesRequest, evaluator: PolarsEvaluator | None, catalog: Catalog, notes: list[str]
) -> AudienceProfile | None:
    if body.audience_rule is not None and body.segment_id is not None:
        raise UnprocessableEntity("give either audience_rule or segment_id, not both")
    if body.segment_id is not None:
        rule: Rule | None = saved_segment_rule(body.segment_id, catalog)
    elif body.audience_rule is not None:
        rule = parse_rule(body.audience_rule, catalog)
    else:
        rule = None
    if rule is None:
        return None
    if evaluator is None:
        notes.append(NO_SNAPSHOT + " The messages are not tailored to it.")
        return None
    try:
        return profile_audience(evaluator.members(rule), body.channel)
    except UnsupportedRule as error:
        notes.append(f"The audience could not be evaluated on this snapshot: {error}")
        return None


def _job_out(job: queue.Job) -> JobOut:
    return JobOut(
        id=job.id,
        kind=job.kind,
        status=job.status,
        result=job.result,
        error=job.error,
        created_at=job.created_at,
        finished_at=job.finished_at,
    )


def _elapsed_ms(started: float) -> int:
    return round((time.perf_counter() - started) * 1000)
