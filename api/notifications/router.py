"""`/v1/notifications/...`: the signed-in user's notifications, marking them read, and a live stream of new ones.

Any signed-in user may call these; each sees only the notifications meant for them (by role, or as the
creator of the campaign concerned; see `engine.notifications`). The stream polls the database once a
second, which is plenty for events found by a scan every ten seconds and needs nothing shared between API
processes. Each poll checks the caller's access token again, so a stream ends when the token expires, the
session ends or the account is disabled (the client reconnects with a fresh token and `Last-Event-ID`), and a
changed role changes what it sends at once.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse
from sqlalchemy import Engine

from api.auth.dependencies import still_signed_in
from api.deps import Db, Viewer, rate_limit
from api.errors import NotFound, error_responses
from api.notifications.schemas import NotificationOut, NotificationsPage, ReadAllOut
from api.sse import EVENT_STREAM_RESPONSE, event, event_stream, polled_events
from engine.auth.users import User
from engine.notifications.store import latest_id, list_for_user, mark_all_read, mark_read, newer_than, unread_count
from engine.pagination import cut_page, fetch_size

router = APIRouter(prefix="/v1/notifications", tags=["notifications"], responses=error_responses(401, 403, 429))

NotificationId = Annotated[int, Path(ge=1, le=2**63 - 1)]
RECONNECT_MS = 3_000  # the `retry:` hint: how long an EventSource waits before reconnecting


@router.get("", response_model=NotificationsPage, dependencies=[rate_limit("read")], summary="Your notifications")
def get_notifications(
    user: Viewer,
    db: Db,
    unread_only: Annotated[bool, Query(description="Only the ones you have not read.")] = False,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    before: Annotated[
        int | None, Query(ge=1, le=2**63 - 1, description="The `next_cursor` of the previous page.")
    ] = None,
) -> NotificationsPage:
    """Your notifications, newest first, with how many are unread in all."""
    found = list_for_user(db, user, unread_only=unread_only, limit=fetch_size(limit), before_id=before)
    page = cut_page(found, limit, key=lambda notification: notification.id)
    return NotificationsPage(
        items=[NotificationOut.of(item) for item in page.items],
        unread_count=unread_count(db, user),
        next_cursor=page.next_cursor,
    )


@router.post(
    "/read-all",
    response_model=ReadAllOut,
    dependencies=[rate_limit("write")],
    summary="Mark all your notifications read",
)
def post_read_all(user: Viewer, db: Db) -> ReadAllOut:
    """Mark every notification you can see read (for you only)."""
    return ReadAllOut(marked=mark_all_read(db, user), unread_count=unread_count(db, user))


@router.post(
    "/{notification_id}/read",
    response_model=NotificationOut,
    responses=error_responses(404),
    dependencies=[rate_limit("write")],
    summary="Mark a notification read",
)
def post_read(notification_id: NotificationId, user: Viewer, db: Db) -> NotificationOut:
    """Mark one of your notifications read (for you only); marking it again changes nothing. 404 when there is no
    such notification or it is not meant for you."""
    notification = mark_read(db, user, notification_id)
    if notification is None:
        raise NotFound(f"there is no notification {notification_id} for you")
    return NotificationOut.of(notification)


@router.get(
    "/stream",
    response_class=StreamingResponse,
    responses=EVENT_STREAM_RESPONSE,
    dependencies=[rate_limit("read")],
    summary="New notifications as server-sent events",
)
def get_stream(user: Viewer, db: Db, request: Request) -> StreamingResponse:
    """A `notification` event (id: the notification's id; data: the notification as in the list) for each new
    notification meant for you, as it appears, and a keep-alive comment every 15 seconds of quiet. A client
    that reconnects with the standard `Last-Event-ID` header gets what it missed since that id first. The stream
    ends when your access token expires or your session ends."""
    resume_from = request.headers.get("last-event-id", "")
    after_id = (
        int(resume_from) if resume_from.isascii() and resume_from.isdigit() and int(resume_from) < 2**63 else None
    )
    return event_stream(_notification_events(db, user, request, after_id))


async def _notification_events(db: Engine, user: User, request: Request, after_id: int | None) -> AsyncIterator[bytes]:
    seen = after_id if after_id is not None else await run_in_threadpool(latest_id, db, user)

    async def new_ones() -> tuple[list[bytes], bool]:
        nonlocal seen
        now_user = await still_signed_in(request)
        if now_user is None:
            return [], True
        found = await run_in_threadpool(newer_than, db, now_user, seen)
        if found:
            seen = found[-1].id
        return [event("notification", NotificationOut.of(n).model_dump_json().encode(), n.id) for n in found], False

    yield f"retry: {RECONNECT_MS}\n\n".encode()
    async for chunk in polled_events(request, new_ones):
        yield chunk
