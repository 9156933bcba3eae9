"""JSON route of the battle map (战果图): the parcels of a project as GeoJSON, coloured by stage."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from sqlalchemy.orm import Session

from anju.campaign import schemas as s
from anju.campaign import service as campaign_service
from anju.identity.rules import Permission
from anju.identity.service import CurrentUser
from anju.web.deps import get_db, requires
from anju.web.params import READ_ERRORS, IdPath, OptionalIdQuery, error_responses

router = APIRouter(tags=["campaign"], responses=error_responses(*READ_ERRORS))


@router.get("/projects/{project_id}/map", response_model=s.BattleMapRead)
def battle_map(
    project_id: IdPath,
    team_id: OptionalIdQuery = None,
    block_id: OptionalIdQuery = None,
    user: CurrentUser = Depends(requires(Permission.CAMPAIGN_READ)),
    db: Session = Depends(get_db),
) -> Any:
    """The battle map: a GeoJSON FeatureCollection with a feature per parcel holding households in
    the caller's scope (filtered by team and block, sub-teams and sub-blocks included), coloured by
    the least advanced household's stage; block boundaries, households without a drawable parcel,
    the legend and the totals ride along as extra members. Coordinates are longitude/latitude."""
    return campaign_service.battle_map(
        db, scope=user.scope, project_id=project_id, team_id=team_id, block_id=block_id
    )
