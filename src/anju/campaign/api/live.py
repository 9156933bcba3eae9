"""JSON routes of the campaign: live (the event stream of the big screens, see :mod:`anju.web.live`)."""

from __future__ import annotations

import json
import os
import time
from collections.abc import AsyncIterator
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from anju.campaign import schemas as s
from anju.campaign import service as campaign_service
from anju.config import get_settings
from anju.core.dates import today_shanghai
from anju.db import events
from anju.identity.rules import Permission
from anju.identity.service import CurrentUser
from anju.project import service as project_service
from anju.web import live
from anju.web.deps import get_db, requires
from anju.web.middleware import LONG_LIVED
from anju.web.params import READ_ERRORS, IdPath, error_responses

router = APIRouter(tags=["campaign"])

#: Milliseconds the browser waits before reconnecting (the ``retry:`` field).
RETRY_MS = 2000
#: Seconds between comment lines that keep proxies (and the client) from closing an idle stream.
HEARTBEAT_S = 15.0


class EventStreamResponse(StreamingResponse):
    """A ``text/event-stream`` response, never buffered by a proxy."""

    media_type = "text/event-stream"

    def __init__(self, content: AsyncIterator[str], status_code: int = 200) -> None:
        super().__init__(
            content, status_code=status_code, headers={"X-Accel-Buffering": "no", "Cache-Control": "no-store"}
        )


_STREAM_DOC: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "服务器推送事件流（text/event-stream）",
        "content": {
            "text/event-stream": {
                # One server-sent event (comment lines are not events): its fields as parsed by EventSource.
                "schema": {
                    "type": "object",
                    "properties": {
                        "event": {"type": "string", "enum": ["ready", "change"]},
                        "data": {"type": "string", "contentMediaType": "application/json"},
                        "retry": {"type": "integer", "minimum": 0},
                        "id": {"type": "string"},
                    },
                    "required": ["event", "data"],
                },
                "example": (
                    "retry: 2000\nevent: ready\ndata: "
                    '{"topic": "project:12", "worker": 4711, "transport": "postgres"}\n\n'
                    ": keep-alive\n\n"
                    "event: change\ndata: "
                    '{"topic": "project:12", "kinds": ["stage", "visit"], "count": 3, '
                    '"origins": [4712], "resync": false}\n\n'
                ),
            }
        },
    },
    # Refusals are JSON like everywhere else (not of the route's own media type).
    **{
        status: {
            "description": doc["description"],
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}},
        }
        for status, doc in error_responses(*READ_ERRORS).items()
    },
}


def _frame(event: str, data: dict[str, Any]) -> str:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


async def _stream(hub: live.Hub | None, topic: str, *, max_seconds: float, once: bool) -> AsyncIterator[str]:
    """``ready`` first (once subscribed: nothing committed after it is missed), then a ``change``
    per coalesced batch and a comment line every :data:`HEARTBEAT_S` seconds, until
    ``max_seconds`` pass, ``once`` had its change, or the server stops."""
    if hub is None:  # the app runs without its lifespan (some tests): a stream that says so and ends
        yield f"retry: {RETRY_MS}\n" + _frame(
            "ready", {"topic": topic, "worker": os.getpid(), "transport": "none"}
        )
        return
    async with hub.subscribe(topic) as sub:
        ready = {"topic": topic, "worker": os.getpid(), "transport": hub.transport}
        yield f"retry: {RETRY_MS}\n" + _frame("ready", ready)
        deadline = time.monotonic() + max_seconds
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            batch = await sub.next(min(HEARTBEAT_S, left))
            if batch is live.CLOSED:
                return
            if batch is None:
                yield ": keep-alive\n\n"
                continue
            assert isinstance(batch, live.Batch)
            yield _frame("change", batch.to_dict())
            if once:
                return


@router.get(
    "/projects/{project_id}/events",
    response_class=EventStreamResponse,
    response_model=None,
    responses=_STREAM_DOC,
)
async def project_events(
    project_id: IdPath,
    request: Request,
    once: Annotated[bool, Query(description="收到第一条变更后结束（测试与轮询客户端用）")] = False,
    max_seconds: Annotated[
        int,
        Query(
            ge=0, le=86_400, description="事件流最长保持的秒数（不超过服务器设置；0：发送 ready 后立即结束）"
        ),
    ] = 1800,
    user: CurrentUser = Depends(requires(Permission.CAMPAIGN_READ)),
    db: Session = Depends(get_db),
) -> EventStreamResponse:
    """Server-sent events of a project: a ``change`` event, coalesced, soon after every committed
    write that moves its numbers (from any server worker), for the big screen to refetch its data.

    The stream opens with ``retry:`` and a ``ready`` event (sent once subscribed), carries a
    comment line every 15 seconds, and ends after ``max_seconds`` (at most the server's
    ``ANJU_LIVE_STREAM_SECONDS``) or when the server stops; ``EventSource`` then
    reconnects by itself and the page refetches. A ``change`` names only the kinds of change and
    their count, never household data; ``resync: true`` means changes may have been missed.
    """
    await run_in_threadpool(project_service.project_header, db, project_id)  # 404 for an unknown project
    setattr(request.state, LONG_LIVED, True)  # the session and admission slot go when the stream starts
    seconds = min(max_seconds, get_settings().live_stream_seconds)
    hub = live.hub_of(request.app.state)
    return EventStreamResponse(_stream(hub, events.project_topic(project_id), max_seconds=seconds, once=once))


@router.get(
    "/projects/{project_id}/bigscreen",
    response_model=s.BigScreenRead,
    responses=error_responses(*READ_ERRORS),
)
def big_screen(
    project_id: IdPath,
    on: Annotated[date | None, Query(description="统计日期（YYYY-MM-DD，默认今天）")] = None,
    user: CurrentUser = Depends(requires(Permission.CAMPAIGN_READ)),
    db: Session = Depends(get_db),
) -> Any:
    """The big screen's numbers (作战大屏): totals and rates, today's signatures, the reverse
    schedule, top-level blocks, the team ranking, the latest signatures (names masked) and the
    forecast date, counting the households in the caller's scope. The screen refetches it on every
    ``change`` of ``GET /api/v1/projects/{project_id}/events``."""
    project_service.project_header(db, project_id)
    return campaign_service.big_screen(db, project_id=project_id, on=on or today_shanghai(), scope=user.scope)
