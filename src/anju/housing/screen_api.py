"""JSON routes of the selection big screen (选房大屏): its snapshot and the event stream it follows.

The screen draws ``GET /api/v1/selection-events/{id}/screen`` and refetches it on every ``change``
(or ``resync``) of ``GET /api/v1/selection-events/{id}/events``, which carries only that event's
changes (calls, selections, finishes, skips, undos and flats frozen or released in its estates),
from any server worker (see :mod:`anju.web.live`)."""

from __future__ import annotations

import threading
import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from anju.config import get_settings
from anju.db import events
from anju.housing import rules
from anju.housing import schemas as s
from anju.housing import service as housing_service
from anju.identity.rules import Permission
from anju.identity.service import CurrentUser
from anju.web import live, sse
from anju.web.deps import get_db, requires
from anju.web.middleware import LONG_LIVED
from anju.web.params import READ_ERRORS, IdPath, error_responses

router = APIRouter(tags=["housing"])
WATCH = requires(Permission.SELECTION_WATCH)

#: Seconds a rendered snapshot may be served for an unchanged fingerprint: bounds how long an edit of
#: a household's code or head name (not in the fingerprint) takes to reach the wall.
SNAPSHOT_TTL_S = 15.0
# event id -> (fingerprint, rendered at (monotonic), JSON body); one lock per process so that the
# screens refetching together after a change render the snapshot once.
_snapshots: dict[int, tuple[tuple[object, ...], float, bytes]] = {}
_render_lock = threading.Lock()


@router.get(
    "/selection-events/{event_id}/events",
    response_class=sse.EventStream,
    response_model=None,
    responses=sse.stream_doc("selection-event:7", ["selection"]),
)
async def selection_event_stream(
    event_id: IdPath,
    request: Request,
    once: Annotated[bool, Query(description="收到第一条变更后结束（测试与轮询客户端用）")] = False,
    max_seconds: Annotated[
        int,
        Query(
            ge=0, le=86_400, description="事件流最长保持的秒数（不超过服务器设置；0：发送 ready 后立即结束）"
        ),
    ] = 1800,
    user: CurrentUser = Depends(WATCH),
    db: Session = Depends(get_db),
) -> sse.EventStream:
    """Server-sent events of one selection event: a ``change`` event, coalesced, soon after every
    committed write that moves its big screen (from any server worker): a household called,
    a flat selected, a household finished or skipped (过号), a selection undone, a flat of its
    estates frozen, reserved or released.

    The stream opens with ``retry:`` and a ``ready`` event (sent once subscribed), carries a
    comment line every 15 seconds, and ends after ``max_seconds`` (at most the server's
    ``ANJU_LIVE_STREAM_SECONDS``) or when the server stops; ``EventSource`` then reconnects by
    itself and the screen refetches. ``resync`` instead of ``change`` means changes may have been
    missed: refetch everything. Events name only the kinds of change, never household data.
    """
    await run_in_threadpool(housing_service.get_event, db, event_id=event_id)  # 404 for an unknown event
    setattr(request.state, LONG_LIVED, True)  # the session and admission slot go when the stream starts
    seconds = min(max_seconds, get_settings().live_stream_seconds)
    hub = live.hub_of(request.app.state)
    return sse.EventStream(
        sse.follow(hub, events.selection_event_topic(event_id), max_seconds=seconds, once=once)
    )


def screen_read(screen: Any) -> s.SelectionScreenRead:
    """The service's snapshot as the API shows it."""

    def household(h: Any) -> s.ScreenHouseholdRead:
        return s.ScreenHouseholdRead(
            household_id=h.household_id,
            code=h.code,
            name_masked=h.name_masked,
            position=h.position,
            sign_no=h.sign_no,
            status=h.status,
            entitled_area=h.entitled_area,
            max_area=h.max_area,
            max_flats=h.max_flats,
        )

    return s.SelectionScreenRead(
        event_id=screen.event_id,
        project_id=screen.project_id,
        name=screen.name,
        status=screen.status,
        status_label=rules.EVENT_STATUSES.get(screen.status, screen.status),
        order_kind=screen.order_kind,
        order_kind_label=rules.ORDER_KINDS.get(screen.order_kind, screen.order_kind),
        seed=screen.seed,
        seed_source=screen.seed_source,
        seed_committed_hash=screen.seed_committed_hash,
        current_position=screen.current_position,
        current=household(screen.current) if screen.current else None,
        upcoming=[household(h) for h in screen.upcoming],
        entry_counts=screen.entry_counts,
        flat_counts=screen.flat_counts,
        estates=[s.ScreenEstateRead(id=i, code=c, name=n) for i, c, n in screen.estates],
        buildings=[
            s.ScreenBuildingRead(
                id=b.id,
                estate_id=b.estate_id,
                estate_name=b.estate_name,
                code=b.code,
                floors=b.floors,
                units=b.units,
                counts=b.counts,
                flats=[
                    s.ScreenFlatRead(
                        id=f.id,
                        code=f.code,
                        unit=f.unit,
                        floor=f.floor,
                        number=f.number,
                        flat_type=f.flat_type,
                        gross_area=f.gross_area,
                        status=f.status,
                    )
                    for f in b.flats
                ],
            )
            for b in screen.buildings
        ],
        flat_types=[
            s.ScreenFlatTypeRead(
                estate_id=t.estate_id,
                code=t.code,
                name=t.name,
                gross_area=t.gross_area,
                total=t.total,
                available=t.available,
            )
            for t in screen.flat_types
        ],
        recent=[
            s.ScreenSelectionRead(
                household_code=r.household_code,
                flat_code=r.flat_code,
                building=r.building,
                selected_at=r.selected_at,
            )
            for r in screen.recent
        ],
    )


@router.get(
    "/selection-events/{event_id}/screen",
    response_model=s.SelectionScreenRead,
    responses=error_responses(*READ_ERRORS),
)
def selection_screen(
    event_id: IdPath, user: CurrentUser = Depends(WATCH), db: Session = Depends(get_db)
) -> Response:
    """The selection big screen's snapshot (选房大屏): the event (order kind and seed), the
    household being served (head name masked) with its entitled area, the next 8, households per
    order status, every building's flats with their status, flats left per building and per flat
    type, and the last 10 selections. The screen refetches it on every event of
    ``GET /api/v1/selection-events/{event_id}/events``."""
    # The database's address too: two databases served by one process (tests) never share a snapshot.
    key = (str(db.get_bind().engine.url), *housing_service.selection_screen_version(db, event_id=event_id))

    def cached() -> bytes | None:
        hit = _snapshots.get(event_id)
        if hit is not None and hit[0] == key and time.monotonic() - hit[1] < SNAPSHOT_TTL_S:
            return hit[2]
        return None

    body = cached()
    if body is None:
        with _render_lock:
            body = cached()
            if body is None:
                body = (
                    screen_read(housing_service.selection_screen(db, event_id=event_id))
                    .model_dump_json()
                    .encode()
                )
                _snapshots[event_id] = (key, time.monotonic(), body)
    return Response(body, media_type="application/json", headers={"Cache-Control": "no-store"})
