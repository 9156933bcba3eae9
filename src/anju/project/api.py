"""JSON routes of projects."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from sqlalchemy.orm import Session

from anju.household import service as household_service
from anju.identity.rules import Permission
from anju.identity.service import CurrentUser
from anju.project import service as project_service
from anju.project.schemas import BlockRead, ProjectDetail, ProjectRead
from anju.web.deps import get_db, requires
from anju.web.params import READ_ERRORS, IdPath, error_responses

router = APIRouter(prefix="/projects", tags=["projects"], responses=error_responses(*READ_ERRORS))


@router.get("", response_model=list[ProjectRead])
def list_projects(
    user: CurrentUser = Depends(requires(Permission.PROJECT_READ)), db: Session = Depends(get_db)
) -> list[ProjectRead]:
    """All projects."""
    out = []
    for p in project_service.list_projects(db):
        item = ProjectRead.model_validate(p)
        item.households_by_status = household_service.counts_by_status(db, scope=user.scope, project_id=p.id)
        out.append(item)
    return out


@router.get("/{project_id}", response_model=ProjectDetail)
def get_project(
    project_id: IdPath, user: CurrentUser = Depends(requires(Permission.PROJECT_READ)), db: Session = Depends(get_db)
) -> ProjectDetail:
    """One project with its blocks."""
    p = project_service.get_project(db, project_id)
    detail = ProjectDetail.model_validate(p)
    detail.households_by_status = household_service.counts_by_status(db, scope=user.scope, project_id=p.id)
    detail.blocks = [BlockRead.model_validate(b) for b in project_service.blocks(db, project_id)]
    return detail
