"""Server-sent event streams over the live hub (:mod:`anju.web.live`), for live pages other than the
campaign's (which has its own in :mod:`anju.campaign.api.live`): the response class, the stream of one
topic and its OpenAPI description.

A stream opens with ``retry:`` and a ``ready`` event once subscribed (nothing committed after it is
missed), then sends one event per coalesced batch of the topic: ``change``, or ``resync`` when changes
may have been missed (a queue overflow or a transport reconnect: refetch everything), and a comment
line every :data:`HEARTBEAT_S` seconds, until ``max_seconds`` pass, ``once`` had its event, or the
server stops. It holds no database session (the route marks itself long-lived).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import AsyncIterator
from typing import Any

from fastapi.responses import StreamingResponse

from anju.i18n import N_
from anju.web import live
from anju.web.params import READ_ERRORS, error_responses

#: Milliseconds the browser waits before reconnecting (the ``retry:`` field).
RETRY_MS = 2000
#: Seconds between comment lines that keep proxies (and the client) from closing an idle stream.
HEARTBEAT_S = 15.0


class EventStream(StreamingResponse):
    """A ``text/event-stream`` response, never buffered by a proxy."""

    media_type = "text/event-stream"

    def __init__(self, content: AsyncIterator[str], status_code: int = 200) -> None:
        super().__init__(
            content, status_code=status_code, headers={"X-Accel-Buffering": "no", "Cache-Control": "no-store"}
        )


def stream_doc(example_topic: str, kinds: list[str]) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI ``responses`` of a stream route: the events as ``EventSource`` parses them, and
    JSON refusals like everywhere else."""
    change = {"topic": example_topic, "kinds": kinds, "count": 2, "origins": [4712], "resync": False}
    return {
        200: {
            "description": N_("服务器推送事件流（text/event-stream）"),
            "content": {
                "text/event-stream": {
                    "schema": {
                        "type": "object",
                        "properties": {
                            "event": {"type": "string", "enum": ["ready", "change", "resync"]},
                            "data": {"type": "string", "contentMediaType": "application/json"},
                            "retry": {"type": "integer", "minimum": 0},
                            "id": {"type": "string"},
                        },
                        "required": ["event", "data"],
                    },
                    "example": (
                        f"retry: {RETRY_MS}\nevent: ready\ndata: "
                        + json.dumps({"topic": example_topic, "worker": 4711, "transport": "redis"})
                        + "\n\n: keep-alive\n\nevent: change\ndata: "
                        + json.dumps(change)
                        + "\n\n"
                    ),
                }
            },
        },
        **{
            status: {
                "description": doc["description"],
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}},
            }
            for status, doc in error_responses(*READ_ERRORS).items()
        },
    }


def frame(event: str, data: dict[str, Any]) -> str:
    """One server-sent event."""
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


async def follow(hub: live.Hub | None, topic: str, *, max_seconds: float, once: bool) -> AsyncIterator[str]:
    """The stream of ``topic`` (see the module text)."""
    if hub is None:  # the app runs without its lifespan (some tests): a stream that says so and ends
        yield f"retry: {RETRY_MS}\n" + frame(
            "ready", {"topic": topic, "worker": os.getpid(), "transport": "none"}
        )
        return
    async with hub.subscribe(topic) as sub:
        ready = {"topic": topic, "worker": os.getpid(), "transport": hub.transport}
        yield f"retry: {RETRY_MS}\n" + frame("ready", ready)
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
            yield frame("resync" if batch.resync else "change", batch.to_dict())
            if once:
                return
