"""HTML page of the big screen (作战大屏): 1920x1080, dark, no scrolling, live by server-sent events.

The page is a frame; ``bigscreen.js`` fetches ``GET /api/v1/projects/{id}/bigscreen``, draws it,
and refetches on every ``change`` of ``GET /api/v1/projects/{id}/events`` (and after reconnecting).
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from sqlalchemy.orm import Session
from starlette.responses import Response

from anju.identity.rules import Permission
from anju.identity.service import CurrentUser
from anju.project import service as project_service
from anju.web.deps import get_db, requires
from anju.web.params import IdPath
from anju.web.templating import render

router = APIRouter(include_in_schema=False)


@router.get("/projects/{project_id}/bigscreen")
def bigscreen_page(
    project_id: IdPath,
    request: Request,
    user: CurrentUser = Depends(requires(Permission.CAMPAIGN_READ)),
    db: Session = Depends(get_db),
) -> Response:
    """The commander's big screen of a project (households in the user's scope)."""
    project = project_service.project_header(db, project_id)
    return render(request, "campaign/bigscreen.html", {"project": project, "active": "bigscreen"})
