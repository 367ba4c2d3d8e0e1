"""`/v1/segments/...`: saved segments, previews of unsaved rules, members, exports, explanations, history.

Reading segments and their sizes needs a viewer; anything that shows customers (previews, members,
exports, explanations, who entered or left) or changes a segment needs an analyst. Rules are evaluated on
the API's in-memory snapshot (`api.snapshot`) and checked against its catalog first.
"""

from __future__ import annotations

from functools import cache
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request, Response, status
from fastapi.responses import StreamingResponse

from api.deps import Analyst, Db, Viewer, rate_limit
from api.errors import NotFound, error_responses
from api.reach import snapshot_reach_out
from api.segments.schemas import (
    ChangeSide,
    ChangesOut,
    ExplanationOut,
    MembersPage,
    PreviewIn,
    PreviewOut,
    SegmentChange,
    SegmentIn,
    SegmentOut,
    SizeHistoryOut,
    SizeOut,
)
from api.snapshot import CurrentSnapshot, LiveSnapshot, SnapshotOut, current_catalog, loaded_snapshot
from engine.features.catalog import Catalog
from engine.segments import CustomerNotFound, Rule, RuleError, describe, parse_rule, rule_json_schema
from engine.segments.audience import csv_chunks, member_page, members_frame, parquet_chunks, preview
from engine.segments.event_names import unknown_event_warnings
from engine.segments.history import (
    evaluate_members,
    latest_sizes,
    membership_changes,
    record_size,
    size_history,
)
from engine.segments.store import (
    SavedSegment,
    create_segment,
    delete_segment,
    get_segment,
    list_segments,
    update_segment,
)

router = APIRouter(prefix="/v1/segments", tags=["segments"], responses=error_responses(401, 403, 429))

SegmentId = Annotated[int, Path(ge=1, le=2**63 - 1)]
CustomerId = Annotated[int, Path(ge=1, le=2**63 - 1)]
_NEEDS_SNAPSHOT = error_responses(described={409: "No feature snapshot has been published yet (the detail says how)."})
MEDIA_TYPES = {"csv": "text/csv", "parquet": "application/vnd.apache.parquet"}


def _saved(db: Db, segment_id: int) -> SavedSegment:
    segment = get_segment(db, segment_id)
    if segment is None:
        raise NotFound(f"there is no segment {segment_id}")
    return segment


def _out(db: Db, segment: SavedSegment, catalog: Catalog) -> SegmentOut:
    latest = latest_sizes(db, segment.id).get(segment.id)
    return SegmentOut.of(segment, _sentence(segment, catalog), latest)


def _sentence(segment: SavedSegment, catalog: Catalog) -> str:
    """The saved rule in English; a rule saved before a bound it breaks (a rule nested deeper, a day count larger)
    says so, instead of taking the whole list of segments down with it."""
    try:
        return describe(parse_rule(segment.rule), catalog)
    except RuleError as error:
        return f"This rule can no longer be used ({error}); edit it to save it again."


def _record_current_size(db: Db, segment: SavedSegment, rule: Rule, snapshot: LiveSnapshot | None) -> None:
    """Give a new or changed segment its size on the current snapshot at once (the pipeline does the rest)."""
    if snapshot is not None:
        members = evaluate_members(snapshot.evaluator, rule)
        record_size(db, segment, members, version=snapshot.version, taken_at=snapshot.taken_at)


@router.get("/schema", dependencies=[rate_limit("read")], summary="The rule language as JSON Schema")
def get_rule_schema(_: Viewer) -> dict[str, Any]:
    """The JSON Schema of a segment rule: `and` / `or` / `not` groups, conditions on features (see
    `GET /v1/features` for the fields and the operators each allows), and event conditions."""
    return _rule_schema()


@cache
def _rule_schema() -> dict[str, Any]:
    return rule_json_schema()  # 20 ms to build: once per process


@router.post(
    "/preview",
    response_model=PreviewOut,
    responses=_NEEDS_SNAPSHOT,
    dependencies=[rate_limit("read")],
    summary="Preview an unsaved rule",
)
def post_preview(body: PreviewIn, _: Analyst, db: Db, snapshot: CurrentSnapshot) -> PreviewOut:
    """How many customers the rule matches, how many each of its conditions and groups matches (keyed by the
    node's path), how many remain clause after clause (`funnel`), the first members, and the rule as a sentence;
    given a `channel`, how many of them a campaign on it would message (`reach`). Invalid rules are 422 with each
    problem's path, field and message."""
    rule = parse_rule(body.rule, snapshot.catalog)
    result = preview(snapshot.evaluator, rule, body.sample_size)
    reach = None if body.channel is None else snapshot_reach_out(db, snapshot.features, result.members, body.channel)
    return PreviewOut(
        size=result.size,
        clause_counts=result.clause_counts,
        funnel=result.funnel,
        sample=result.sample,
        sentence=result.sentence,
        snapshot=SnapshotOut.of(snapshot),
        reach=reach,
        warnings=unknown_event_warnings(rule, snapshot.evaluator.event_names),
    )


@router.get("", response_model=list[SegmentOut], dependencies=[rate_limit("read")], summary="List segments")
def get_segments(_: Viewer, db: Db, request: Request) -> list[SegmentOut]:
    """Every saved segment, by name, with its latest recorded size."""
    catalog = current_catalog(request.app)
    sizes = latest_sizes(db)
    return [SegmentOut.of(segment, _sentence(segment, catalog), sizes.get(segment.id)) for segment in list_segments(db)]


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=SegmentOut,
    responses=error_responses(409),
    dependencies=[rate_limit("write")],
    summary="Save a segment",
)
def post_segment(body: SegmentIn, user: Analyst, db: Db, request: Request) -> SegmentOut:
    """Checks the rule against the current snapshot's catalog (422 naming each problem), saves it with you as
    its owner, and records its size on the current snapshot. Names are unique (409)."""
    snapshot = loaded_snapshot(request.app)
    catalog = current_catalog(request.app)
    rule = parse_rule(body.rule, catalog)
    segment = create_segment(db, name=body.name, description=body.description, rule=rule, owner_id=user.id)
    _record_current_size(db, segment, rule, snapshot)
    return _out(db, segment, catalog)


@router.get(
    "/{segment_id}",
    response_model=SegmentOut,
    responses=error_responses(404),
    dependencies=[rate_limit("read")],
    summary="Read a segment",
)
def get_one_segment(segment_id: SegmentId, _: Viewer, db: Db, request: Request) -> SegmentOut:
    return _out(db, _saved(db, segment_id), current_catalog(request.app))


@router.patch(
    "/{segment_id}",
    response_model=SegmentOut,
    responses=error_responses(404) | _NEEDS_SNAPSHOT,
    dependencies=[rate_limit("write")],
    summary="Change a segment",
)
def patch_segment(segment_id: SegmentId, body: SegmentChange, _: Analyst, db: Db, request: Request) -> SegmentOut:
    """Changes the name, description or rule given (a new rule is checked like on saving, and its size on the
    current snapshot recorded again)."""
    snapshot = loaded_snapshot(request.app)
    catalog = current_catalog(request.app)
    rule = parse_rule(body.rule, catalog) if body.rule is not None else None
    segment = update_segment(db, segment_id, name=body.name, description=body.description, rule=rule)
    if segment is None:
        raise NotFound(f"there is no segment {segment_id}")
    if rule is not None:
        _record_current_size(db, segment, rule, snapshot)
    return _out(db, segment, catalog)


@router.delete(
    "/{segment_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(404),
    dependencies=[rate_limit("write")],
    summary="Delete a segment",
)
def remove_segment(segment_id: SegmentId, _: Analyst, db: Db) -> Response:
    """Deletes the segment and its size history."""
    if not delete_segment(db, segment_id):
        raise NotFound(f"there is no segment {segment_id}")
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/{segment_id}/members",
    response_model=MembersPage,
    responses=error_responses(404) | _NEEDS_SNAPSHOT,
    dependencies=[rate_limit("read")],
    summary="Members of a segment, a page at a time",
)
def get_members(
    segment_id: SegmentId,
    _: Analyst,
    db: Db,
    snapshot: CurrentSnapshot,
    cursor: Annotated[int | None, Query(ge=0, le=2**63 - 1, description="`next_cursor` of the previous page")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> MembersPage:
    """The segment's members on the current snapshot, in customer-id order."""
    rule = parse_rule(_saved(db, segment_id).rule, snapshot.catalog)
    page = member_page(snapshot.evaluator, rule, after=cursor, limit=limit)
    return MembersPage(members=page.members, next_cursor=page.next_cursor, snapshot=SnapshotOut.of(snapshot))


@router.get(
    "/{segment_id}/export",
    response_class=StreamingResponse,
    responses={
        200: {"content": {media_type: {} for media_type in MEDIA_TYPES.values()}, "description": "The members."},
        **error_responses(404),
        **_NEEDS_SNAPSHOT,
    },
    dependencies=[rate_limit("read")],
    summary="Export a segment's members as CSV or Parquet",
)
def export_members(
    segment_id: SegmentId,
    _: Analyst,
    db: Db,
    snapshot: CurrentSnapshot,
    format: Annotated[Literal["csv", "parquet"], Query()] = "csv",
) -> StreamingResponse:
    """Every member's features on the current snapshot, in customer-id order, streamed."""
    rule = parse_rule(_saved(db, segment_id).rule, snapshot.catalog)
    members = members_frame(snapshot.evaluator, rule)
    filename = f"segment-{segment_id}-snapshot-{snapshot.version}.{format}"
    chunks = csv_chunks(members) if format == "csv" else parquet_chunks(members)
    return StreamingResponse(
        chunks, media_type=MEDIA_TYPES[format], headers={"Content-Disposition": f'attachment; filename="{filename}"'}
    )


@router.get(
    "/{segment_id}/explain/{customer_id}",
    response_model=ExplanationOut,
    responses=error_responses(404) | _NEEDS_SNAPSHOT,
    dependencies=[rate_limit("read")],
    summary="Why a customer is in a segment, or not",
)
def explain_membership(
    segment_id: SegmentId, customer_id: CustomerId, _: Analyst, db: Db, snapshot: CurrentSnapshot
) -> ExplanationOut:
    """The segment's rule tree evaluated for the customer: each node matched or not, with the customer's value
    of each field tested and their count of each event condition's events."""
    rule = parse_rule(_saved(db, segment_id).rule, snapshot.catalog)
    try:
        explanation = snapshot.evaluator.explain(rule, customer_id)
    except CustomerNotFound:
        raise NotFound(f"customer {customer_id} is not in snapshot {snapshot.version}") from None
    return ExplanationOut(
        segment_id=segment_id,
        customer_id=customer_id,
        in_segment=explanation.matched,
        explanation=explanation,
        snapshot=SnapshotOut.of(snapshot),
    )


@router.get(
    "/{segment_id}/sizes",
    response_model=SizeHistoryOut,
    responses=error_responses(404),
    dependencies=[rate_limit("read")],
    summary="A segment's size over time",
)
def get_sizes(segment_id: SegmentId, _: Viewer, db: Db) -> SizeHistoryOut:
    """The segment's size at each snapshot recorded, oldest first, with how many entered and left since the
    previous one."""
    _saved(db, segment_id)
    return SizeHistoryOut(segment_id=segment_id, sizes=[SizeOut.of(record) for record in size_history(db, segment_id)])


@router.get(
    "/{segment_id}/changes",
    response_model=ChangesOut,
    responses=error_responses(404),
    dependencies=[rate_limit("read")],
    summary="Who entered and who left a segment between two snapshots",
)
def get_changes(
    segment_id: SegmentId,
    _: Analyst,
    db: Db,
    since: Annotated[int | None, Query(ge=1, le=2**63 - 1, description="A recorded snapshot version")] = None,
    until: Annotated[int | None, Query(ge=1, le=2**63 - 1, description="A recorded snapshot version")] = None,
    limit: Annotated[int, Query(ge=0, le=10_000, description="How many ids of each side to list")] = 100,
) -> ChangesOut:
    """Between two recorded snapshots (by default the latest and the one before it): the customers who entered
    and who left, counted and listed (the first `limit` ids of each, ascending)."""
    _saved(db, segment_id)
    changes = membership_changes(db, segment_id, since, until)
    return ChangesOut(
        segment_id=segment_id,
        since=changes.since and SizeOut.of(changes.since),
        until=SizeOut.of(changes.until),
        entered=ChangeSide(count=changes.entered.size, customer_ids=changes.entered[:limit].tolist()),
        left=ChangeSide(count=changes.left.size, customer_ids=changes.left[:limit].tolist()),
    )
