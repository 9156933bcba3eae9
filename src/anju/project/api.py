"""JSON routes of projects: read them, and set up a campaign (project, blocks, GeoJSON parcels)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from sqlalchemy.orm import Session

from anju.core.text import MULTILINE_PATTERN, SINGLE_LINE_PATTERN
from anju.household import service as household_service
from anju.identity.rules import Permission
from anju.identity.service import CurrentUser
from anju.project import service as project_service
from anju.project.schemas import (
    BlockCreate,
    BlockDetail,
    BlockRead,
    BlockUpdate,
    Changed,
    Created,
    ParcelCollection,
    ParcelImportRead,
    ProjectCreate,
    ProjectDetail,
    ProjectRead,
    ProjectUpdate,
)
from anju.web.deps import client_ip, get_db, requires
from anju.web.params import READ_ERRORS, IdPath, error_responses

router = APIRouter(tags=["projects"], responses=error_responses(*READ_ERRORS))
READ = requires(Permission.PROJECT_READ)
MANAGE = requires(Permission.PROJECT_MANAGE)

PropertyName = Annotated[
    str,
    Form(max_length=64, pattern=SINGLE_LINE_PATTERN, description="属性名（空：按默认属性名查找）"),
]
ImportReason = Annotated[
    str, Form(max_length=500, pattern=MULTILINE_PATTERN, description="理由（写入审计记录）")
]


@router.get("/projects", response_model=list[ProjectRead])
def list_projects(user: CurrentUser = Depends(READ), db: Session = Depends(get_db)) -> list[ProjectRead]:
    """All projects."""
    out = []
    for p in project_service.list_projects(db):
        item = ProjectRead.model_validate(p)
        item.households_by_status = household_service.counts_by_status(db, scope=user.scope, project_id=p.id)
        item.households_reached = household_service.counts_reached(db, scope=user.scope, project_id=p.id)
        out.append(item)
    return out


@router.post("/projects", response_model=Created, status_code=201, responses=error_responses(409))
def create_project(
    body: ProjectCreate, request: Request, user: CurrentUser = Depends(MANAGE), db: Session = Depends(get_db)
) -> Created:
    """Create a project with its legal basis, signing period, deadline and targets (audited).

    A code already used is a 409 ``duplicate_project``; well-formed dates out of order (signing
    start ≤ end ≤ deadline, launch ≤ deadline) are a 409 ``date_order`` naming the field.
    """
    data = body.data()
    p = project_service.create_project(
        db,
        actor=user.actor(client_ip(request)),
        code=body.code,
        name=body.name,
        kind=body.kind,
        reason=body.reason,
        **{k: v for k, v in data.items() if k not in ("code", "name", "kind")},
    )
    return Created(id=p.id, version=p.version)


@router.get("/projects/{project_id}", response_model=ProjectDetail)
def get_project(
    project_id: IdPath, user: CurrentUser = Depends(READ), db: Session = Depends(get_db)
) -> ProjectDetail:
    """One project with its blocks."""
    p = project_service.get_project(db, project_id)
    detail = ProjectDetail.model_validate(p)
    detail.households_by_status = household_service.counts_by_status(db, scope=user.scope, project_id=p.id)
    detail.households_reached = household_service.counts_reached(db, scope=user.scope, project_id=p.id)
    detail.blocks = [BlockRead.model_validate(b) for b in project_service.blocks(db, project_id)]
    return detail


@router.patch("/projects/{project_id}", response_model=Changed, responses=error_responses(409))
def update_project(
    project_id: IdPath,
    body: ProjectUpdate,
    request: Request,
    user: CurrentUser = Depends(MANAGE),
    db: Session = Depends(get_db),
) -> Changed:
    """Change a project's fields and targets; returns the audited diff and the new version.

    ``version`` is the one read; when someone changed the project since, the answer is a 409
    ``stale_version`` naming who changed it and when, and nothing is written. Dates that would
    fall out of order with the stored ones are a 409 ``date_order``.
    """
    changes = project_service.update_project(
        db,
        actor=user.actor(client_ip(request)),
        project_id=project_id,
        data=body.data(),
        expected_version=body.version,
        reason=body.reason,
    )
    return Changed(changes=changes, version=project_service.get_project(db, project_id).version)


@router.post(
    "/projects/{project_id}/blocks", response_model=Created, status_code=201, responses=error_responses(409)
)
def add_block(
    project_id: IdPath,
    body: BlockCreate,
    request: Request,
    user: CurrentUser = Depends(MANAGE),
    db: Session = Depends(get_db),
) -> Created:
    """Add a block (片区 / 村 / 组) to the project, under another block of it when ``parent_id`` is given."""
    b = project_service.add_block(
        db,
        actor=user.actor(client_ip(request)),
        project_id=project_id,
        code=body.code,
        name=body.name,
        level=body.level,
        parent_id=body.parent_id,
        sort=body.sort,
        reason=body.reason,
    )
    return Created(id=b.id, version=b.version)


@router.post(
    "/projects/{project_id}/parcels/import",
    response_model=ParcelImportRead,
    responses=error_responses(409, 413),
)
def import_parcels(
    project_id: IdPath,
    request: Request,
    file: UploadFile = File(..., description="GeoJSON FeatureCollection（UTF-8，WGS84 经纬度）"),
    code_property: PropertyName = "",
    block_property: PropertyName = "",
    household_property: PropertyName = "",
    reason: ImportReason = "",
    user: CurrentUser = Depends(MANAGE),
    db: Session = Depends(get_db),
) -> ParcelImportRead:
    """Import the project's parcels (宗地) from a GeoJSON file, all or nothing (audited).

    Each feature is a parcel: code from ``code_property`` (default ``code``/``宗地号``), optional
    block code (``block_code``/``区块编号``), land area (``land_area``/``宗地面积``) and household
    codes (``household_code``/``户号``, comma separated) that are linked to the parcel. A feature
    with ``kind`` ``block``/``片区``/``村``/``组`` is the boundary of the block it names. Problems
    are a 422 listing ``{feature, property, message}``.

    A file with parcels replaces the project's parcels: parcels whose code exists are updated,
    parcels the file no longer has are deleted and their households unlinked; a feature naming
    households is its parcel's whole list (households it no longer names are unlinked or move to
    the feature that names them). The answer counts households linked, relinked and unlinked.
    """
    content = file.file.read()
    result = project_service.import_parcels(
        db,
        actor=user.actor(client_ip(request)),
        project_id=project_id,
        content=content,
        filename=file.filename or "parcels.geojson",
        code_property=code_property or None,
        block_property=block_property or None,
        household_property=household_property or None,
        reason=reason,
    )
    return ParcelImportRead(
        features=result.features,
        created=result.created,
        updated=result.updated,
        unchanged=result.unchanged,
        boundaries=result.boundaries,
        removed=result.removed,
        households_linked=result.households_linked,
        households_relinked=result.households_relinked,
        households_unlinked=result.households_unlinked,
        message=result.summary(),
    )


@router.get("/projects/{project_id}/parcels", response_model=ParcelCollection)
def list_parcels(
    project_id: IdPath, user: CurrentUser = Depends(READ), db: Session = Depends(get_db)
) -> ParcelCollection:
    """The project's parcels as a GeoJSON FeatureCollection (the battle map joins stages to them)."""
    return ParcelCollection.model_validate(project_service.parcels_geojson(db, project_id))


@router.patch("/blocks/{block_id}", response_model=Changed, responses=error_responses(409))
def update_block(
    block_id: IdPath,
    body: BlockUpdate,
    request: Request,
    user: CurrentUser = Depends(MANAGE),
    db: Session = Depends(get_db),
) -> Changed:
    """Rename, re-level, re-sort or move a block (not under itself or its descendants).

    A stale ``version`` is a 409 ``stale_version`` naming who changed the block and when.
    """
    changes = project_service.update_block(
        db,
        actor=user.actor(client_ip(request)),
        block_id=block_id,
        data=body.data(),
        expected_version=body.version,
        reason=body.reason,
    )
    return Changed(changes=changes, version=project_service.get_block(db, block_id).version)


@router.get("/blocks/{block_id}", response_model=BlockDetail)
def get_block(
    block_id: IdPath, user: CurrentUser = Depends(READ), db: Session = Depends(get_db)
) -> BlockDetail:
    """One block with its version."""
    return BlockDetail.model_validate(project_service.get_block(db, block_id))
