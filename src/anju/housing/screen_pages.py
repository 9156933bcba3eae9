"""HTML page of the selection big screen (选房大屏): 1920x1080, dark, no scrolling, live by
server-sent events.

The page is a frame; ``selection_screen.js`` fetches ``GET /api/v1/selection-events/{id}/screen``,
draws it, and refetches on every event of ``GET /api/v1/selection-events/{id}/events`` (and after
reconnecting)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from sqlalchemy.orm import Session
from starlette.responses import Response

from anju.housing import service as housing_service
from anju.identity.rules import Permission
from anju.identity.service import CurrentUser
from anju.web.deps import get_db, requires
from anju.web.params import IdPath
from anju.web.templating import render

router = APIRouter(include_in_schema=False)


@router.get("/selection-events/{event_id}/screen")
def selection_screen_page(
    event_id: IdPath,
    request: Request,
    user: CurrentUser = Depends(requires(Permission.SELECTION_WATCH)),
    db: Session = Depends(get_db),
) -> Response:
    """The big screen of a selection event, for the wall of the selection hall."""
    event = housing_service.get_event(db, event_id=event_id)
    return render(request, "housing/screen.html", {"e": event, "active": "housing"})
