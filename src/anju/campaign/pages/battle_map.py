"""HTML page of the battle map (战果图): parcels coloured by stage, with filters by team and block."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from sqlalchemy.orm import Session
from starlette.responses import Response

from anju.campaign import service as campaign_service
from anju.config import get_settings
from anju.identity.rules import Permission
from anju.identity.service import CurrentUser
from anju.project import service as project_service
from anju.web.deps import get_db, requires
from anju.web.params import IdPath, parse_id
from anju.web.templating import render

router = APIRouter(include_in_schema=False)

# The side list of households without a drawable parcel stops here (the count says how many more).
UNMAPPED_SHOWN = 200


@router.get("/projects/{project_id}/map")
def battle_map_page(
    project_id: IdPath,
    request: Request,
    team_id: str = "",
    block_id: str = "",
    user: CurrentUser = Depends(requires(Permission.CAMPAIGN_READ)),
    db: Session = Depends(get_db),
) -> Response:
    """The map of the project's parcels in the user's scope; the map itself is drawn by map.js from
    the JSON route with the same filters, the legend, totals and unmapped households are in the page."""
    project = project_service.get_project(db, project_id)
    team = parse_id(team_id)
    block = parse_id(block_id)
    data = campaign_service.battle_map(
        db, scope=user.scope, project_id=project_id, team_id=team, block_id=block
    )
    query = {k: v for k, v in (("team_id", team), ("block_id", block)) if v is not None}
    src = f"/api/v1/projects/{project_id}/map" + (f"?{urlencode(query)}" if query else "")
    return render(
        request,
        "campaign/map.html",
        {
            "project": project,
            "active": "map",
            "data": data,
            "filters": campaign_service.map_filters(db, project_id=project_id),
            "team_id": team,
            "block_id": block,
            "src": src,
            "tiles": get_settings().map_tile_url,
            "unmapped": data["unmapped"][:UNMAPPED_SHOWN],
        },
    )
