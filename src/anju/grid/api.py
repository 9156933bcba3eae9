"""JSON routes of grids: communities, grids and buildings, the grid map's GeoJSON, the point
lookup, imports, and mediation cases."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Depends, File, Query, Request, UploadFile
from sqlalchemy.orm import Session

from anju.grid import service as grid_service
from anju.grid.schemas import (
    BuildingRead,
    BuildingUpdate,
    BuildingWrite,
    CaseClose,
    CaseCreate,
    CaseRead,
    CaseSummary,
    Changed,
    CommunityCreate,
    CommunityRead,
    CommunityUpdate,
    Created,
    GridCreate,
    GridImportRead,
    GridRead,
    GridUpdate,
    SessionRead,
    SessionWrite,
)
from anju.identity.rules import Permission
from anju.identity.service import CurrentUser
from anju.web.deps import client_ip, get_db, requires
from anju.web.params import READ_ERRORS, IdPath, error_responses

router = APIRouter(tags=["grids"], responses=error_responses(*READ_ERRORS))
READ = requires(Permission.GRID_READ)
MANAGE = requires(Permission.GRID_MANAGE)
MEDIATE = requires(Permission.MEDIATION_WRITE)


def grid_read(card: grid_service.GridCard) -> GridRead:
    """The API view of a grid card."""
    g = card.grid
    centroid = (
        [g.centroid_lng, g.centroid_lat]
        if g.centroid_lng is not None and g.centroid_lat is not None
        else None
    )
    return GridRead(
        id=g.id,
        code=g.code,
        name=g.name,
        community_id=g.community_id,
        community=card.community.name,
        worker_user_id=g.worker_user_id,
        worker=card.worker_name,
        public_phone=g.public_phone,
        public_note=g.public_note,
        households=g.households,
        building_households=card.building_households,
        centroid=centroid,
        has_boundary=bool(g.boundary),
        version=g.version,
        buildings=[BuildingRead.model_validate(b) for b in card.buildings],
    )


@router.get("/communities", response_model=list[CommunityRead])
def list_communities(user: CurrentUser = Depends(READ), db: Session = Depends(get_db)) -> list[CommunityRead]:
    """All communities (社区)."""
    return [CommunityRead.model_validate(c) for c in grid_service.list_communities(db)]


@router.post("/communities", response_model=Created, status_code=201, responses=error_responses(409))
def create_community(
    body: CommunityCreate,
    request: Request,
    user: CurrentUser = Depends(MANAGE),
    db: Session = Depends(get_db),
) -> Created:
    """Create a community (a code already used is a 409 ``duplicate_code``; audited)."""
    c = grid_service.create_community(db, actor=user.actor(client_ip(request)), values=body.data())
    return Created(id=c.id, version=c.version)


@router.patch("/communities/{community_id}", response_model=Changed, responses=error_responses(409))
def update_community(
    community_id: IdPath,
    body: CommunityUpdate,
    request: Request,
    user: CurrentUser = Depends(MANAGE),
    db: Session = Depends(get_db),
) -> Changed:
    """Change a community (a stale ``version`` is a 409 ``stale_version``; audited)."""
    changes = grid_service.update_community(
        db,
        actor=user.actor(client_ip(request)),
        community_id=community_id,
        values=body.data(),
        expected_version=body.version,
    )
    return Changed(changes=changes, version=grid_service.get_community(db, community_id).version)


@router.get("/grids", response_model=list[GridRead])
def list_grids(
    community_id: int | None = Query(None, ge=1),
    user: CurrentUser = Depends(READ),
    db: Session = Depends(get_db),
) -> list[GridRead]:
    """Grids with their community, worker and buildings (``?community_id=`` one community's)."""
    return [grid_read(c) for c in grid_service.grid_cards(db, community_id=community_id)]


@router.get("/grids/geojson")
def grids_geojson(
    community_id: int | None = Query(None, ge=1),
    user: CurrentUser = Depends(READ),
    db: Session = Depends(get_db),
) -> dict[str, Any]:
    """The grids as a GeoJSON FeatureCollection for the grid map (properties: community, code, name,
    worker, phone, households, colour index, centroid, building leaders); it imports again."""
    return grid_service.grids_geojson(db, community_id=community_id, include_leaders=True)


@router.get("/grids/at", response_model=GridRead | None)
def grid_at(
    lng: Decimal = Query(ge=-180, le=180, description="经度（WGS-84）"),
    lat: Decimal = Query(ge=-90, le=90, description="纬度（WGS-84）"),
    user: CurrentUser = Depends(READ),
    db: Session = Depends(get_db),
) -> GridRead | None:
    """The grid a map point lies in (null when none)."""
    g = grid_service.grid_at(db, lng=lng, lat=lat)
    return grid_read(grid_service.grid_card(db, g.id)) if g else None


@router.post("/grids", response_model=Created, status_code=201, responses=error_responses(409))
def create_grid(
    body: GridCreate, request: Request, user: CurrentUser = Depends(MANAGE), db: Session = Depends(get_db)
) -> Created:
    """Create a grid (code unique; boundary checked; worker a 网格员; audited)."""
    data = body.data()
    community_id = data.pop("community_id")
    g = grid_service.create_grid(
        db, actor=user.actor(client_ip(request)), community_id=community_id, values=data
    )
    return Created(id=g.id, version=g.version)


@router.post("/grids/import", response_model=GridImportRead, responses=error_responses(409, 413))
def import_grids(
    request: Request,
    file: UploadFile = File(
        ..., description="GeoJSON FeatureCollection, or .xlsx/.csv of grids and buildings"
    ),
    user: CurrentUser = Depends(MANAGE),
    db: Session = Depends(get_db),
) -> GridImportRead:
    """Import grids and boundaries, all or nothing; problems are a 422 listing
    ``{feature, property, message}`` or ``{row, column, message}``."""
    result = grid_service.import_grids(
        db, actor=user.actor(client_ip(request)), content=file.file.read(), filename=file.filename or "grids"
    )
    return GridImportRead(
        kind=result.kind,
        grids_created=result.grids_created,
        grids_updated=result.grids_updated,
        communities_created=result.communities_created,
        buildings_created=result.buildings_created,
        buildings_updated=result.buildings_updated,
        message=result.summary(),
    )


@router.get("/grids/{grid_id}", response_model=GridRead)
def get_grid(grid_id: IdPath, user: CurrentUser = Depends(READ), db: Session = Depends(get_db)) -> GridRead:
    """One grid with its buildings and leaders."""
    return grid_read(grid_service.grid_card(db, grid_id))


@router.patch("/grids/{grid_id}", response_model=Changed, responses=error_responses(409))
def update_grid(
    grid_id: IdPath,
    body: GridUpdate,
    request: Request,
    user: CurrentUser = Depends(MANAGE),
    db: Session = Depends(get_db),
) -> Changed:
    """Change a grid: name, community, boundary, worker, public card (stale version: 409; audited)."""
    changes = grid_service.update_grid(
        db,
        actor=user.actor(client_ip(request)),
        grid_id=grid_id,
        values=body.data(),
        expected_version=body.version,
    )
    return Changed(changes=changes, version=grid_service.get_grid(db, grid_id).version)


@router.post(
    "/grids/{grid_id}/buildings", response_model=Created, status_code=201, responses=error_responses(409)
)
def add_building(
    grid_id: IdPath,
    body: BuildingWrite,
    request: Request,
    user: CurrentUser = Depends(MANAGE),
    db: Session = Depends(get_db),
) -> Created:
    """Add a building with its leader to a grid (audited)."""
    b = grid_service.add_building(
        db, actor=user.actor(client_ip(request)), grid_id=grid_id, values=body.data()
    )
    return Created(id=b.id, version=b.version)


@router.patch("/grid-buildings/{grid_building_id}", response_model=Changed, responses=error_responses(409))
def update_building(
    grid_building_id: IdPath,
    body: BuildingUpdate,
    request: Request,
    user: CurrentUser = Depends(MANAGE),
    db: Session = Depends(get_db),
) -> Changed:
    """Change a building or its leader (stale version: 409; audited)."""
    changes = grid_service.update_building(
        db,
        actor=user.actor(client_ip(request)),
        building_id=grid_building_id,
        values=body.data(),
        expected_version=body.version,
    )
    return Changed(changes=changes, version=grid_service.get_building(db, grid_building_id).version)


@router.delete("/grid-buildings/{grid_building_id}", status_code=204, responses=error_responses(409))
def remove_building(
    grid_building_id: IdPath,
    request: Request,
    version: int = Query(ge=1, le=2**31 - 1, description="the version as read"),
    user: CurrentUser = Depends(MANAGE),
    db: Session = Depends(get_db),
) -> None:
    """Remove a building (stale version: 409; audited)."""
    grid_service.remove_building(
        db, actor=user.actor(client_ip(request)), building_id=grid_building_id, expected_version=version
    )


# --------------------------------------------------------------------------- mediation


def case_read(db: Session, case_id: int) -> CaseRead:
    """The API view of a case (party phones masked)."""
    v = grid_service.case_view(db, case_id)
    c = v.case
    return CaseRead(
        id=c.id,
        code=c.code,
        grid_id=c.grid_id,
        grid=v.grid.name,
        title=c.title,
        kind=c.kind,
        summary=c.summary,
        status=c.status,
        outcome=c.outcome,
        outcome_note=c.outcome_note,
        opened_on=c.opened_on,
        closed_on=c.closed_on,
        service_request_id=c.service_request_id,
        household_ids=v.household_ids,
        parties=v.parties,
        sessions=[SessionRead.model_validate(s) for s in v.sessions],
        version=c.version,
    )


@router.get("/mediation-cases", response_model=list[CaseSummary])
def list_cases(
    grid_id: int | None = Query(None, ge=1),
    status: str | None = Query(None, pattern="^(open|closed)$"),
    user: CurrentUser = Depends(READ),
    db: Session = Depends(get_db),
) -> list[CaseSummary]:
    """Mediation cases, newest first (``?grid_id=``, ``?status=open|closed``)."""
    return [
        CaseSummary.model_validate(c) for c in grid_service.list_cases(db, grid_id=grid_id, status=status)
    ]


@router.post("/mediation-cases", response_model=Created, status_code=201)
def open_case(
    body: CaseCreate, request: Request, user: CurrentUser = Depends(MEDIATE), db: Session = Depends(get_db)
) -> Created:
    """Open a mediation case in a grid with its parties, households and request (audited)."""
    c = grid_service.open_case(db, actor=user.actor(client_ip(request)), values=body.data())
    return Created(id=c.id, version=c.version)


@router.get("/mediation-cases/{case_id}", response_model=CaseRead)
def get_case(case_id: IdPath, user: CurrentUser = Depends(READ), db: Session = Depends(get_db)) -> CaseRead:
    """One case with parties (phones masked), sessions and outcome."""
    return case_read(db, case_id)


@router.post(
    "/mediation-cases/{case_id}/sessions",
    response_model=Created,
    status_code=201,
    responses=error_responses(409),
)
def add_session(
    case_id: IdPath,
    body: SessionWrite,
    request: Request,
    user: CurrentUser = Depends(MEDIATE),
    db: Session = Depends(get_db),
) -> Created:
    """Record a mediation session of an open case (closed case or stale version: 409; audited)."""
    s = grid_service.add_session(
        db,
        actor=user.actor(client_ip(request)),
        case_id=case_id,
        values=body.data(),
        expected_version=body.version,
    )
    return Created(id=s.id, version=grid_service.get_case(db, case_id).version)


@router.post("/mediation-cases/{case_id}/close", response_model=Changed, responses=error_responses(409))
def close_case(
    case_id: IdPath,
    body: CaseClose,
    request: Request,
    user: CurrentUser = Depends(MEDIATE),
    db: Session = Depends(get_db),
) -> Changed:
    """Close a case with its outcome (调解成功 / 部分成功 / 未成功 / 转交; audited)."""
    c = grid_service.close_case(
        db,
        actor=user.actor(client_ip(request)),
        case_id=case_id,
        values=body.data(),
        expected_version=body.version,
    )
    return Changed(changes={"status": ["open", "closed"], "outcome": ["", c.outcome]}, version=c.version)
