"""Server-sent events, the one way the API streams live updates (a campaign's progress, a user's notifications).

A stream polls its source every `interval_s` (the database: nothing needs to be shared between API
processes), sends what the poll found, a keep-alive comment after `keep_alive_s` of quiet so proxies keep
the connection open, and stops when its source says it is finished or the client has gone. A poll that reads the
database does it in AnyIO's thread pool (`run_in_threadpool`), whose size is the Postgres pool's (`api.main`).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from fastapi import Request
from fastapi.responses import StreamingResponse

KEEP_ALIVE = b": keep-alive\n\n"
Poll = Callable[[], Awaitable[tuple[list[bytes], bool]]]
"""One look at the source: the events to send now, and whether the stream is finished."""

EVENT_STREAM_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/event-stream": {}}, "description": "Server-sent events."}
}


def event(name: str, data: bytes, event_id: int | None = None) -> bytes:
    """One event, as the wire format spells it (`data` must be a single line, as JSON is)."""
    head = b"" if event_id is None else b"id: %d\n" % event_id
    return head + b"event: " + name.encode() + b"\ndata: " + data + b"\n\n"


def event_stream(events: AsyncIterator[bytes]) -> StreamingResponse:
    return StreamingResponse(
        events, media_type="text/event-stream", headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    )


async def polled_events(
    request: Request, poll: Poll, *, interval_s: float = 1.0, keep_alive_s: float = 15.0
) -> AsyncIterator[bytes]:
    """The events `poll` finds, one poll every `interval_s`, until it says it is finished or the client leaves."""
    quiet_s = 0.0
    while not await request.is_disconnected():
        events, finished = await poll()
        for found in events:
            yield found
        if events:
            quiet_s = 0.0
        elif quiet_s >= keep_alive_s:
            yield KEEP_ALIVE
            quiet_s = 0.0
        if finished:
            return
        await asyncio.sleep(interval_s)
        quiet_s += interval_s
