"""Project pages: the project list and a project's overview."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from sqlalchemy.orm import Session
from starlette.responses import Response

from anju.household import rules as household_rules
from anju.household import service as household_service
from anju.identity.rules import Permission
from anju.identity.service import CurrentUser
from anju.project import service as project_service
from anju.web.deps import get_db, requires
from anju.web.params import IdPath
from anju.web.templating import render

router = APIRouter(include_in_schema=False)


@router.get("/projects")
def project_list(
    request: Request, user: CurrentUser = Depends(requires(Permission.PROJECT_READ)), db: Session = Depends(get_db)
) -> Response:
    """All projects with their household counts (within the user's scope)."""
    projects = project_service.list_projects(db)
    counts = {
        p.id: household_service.counts_by_status(db, scope=user.scope, project_id=p.id) for p in projects
    }
    return render(request, "project/list.html", {"projects": projects, "counts": counts, "active": "projects"})


@router.get("/projects/{project_id}")
def project_overview(
    project_id: IdPath,
    request: Request,
    user: CurrentUser = Depends(requires(Permission.PROJECT_READ)),
    db: Session = Depends(get_db),
) -> Response:
    """Overview: households by status, and by block (rolled up the block tree)."""
    project = project_service.get_project(db, project_id)
    blocks = project_service.blocks(db, project_id)
    by_status = household_service.counts_by_status(db, scope=user.scope, project_id=project_id)
    by_block = household_service.counts_by_block(db, scope=user.scope, project_id=project_id)
    parent = {b.id: b.parent_id for b in blocks}
    rolled: dict[int, dict[str, int]] = {b.id: {} for b in blocks}
    for bid, counts in by_block.items():
        node = bid
        while node is not None:
            bucket = rolled.setdefault(node, {})
            for status, n in counts.items():
                bucket[status] = bucket.get(status, 0) + n
            node = parent.get(node)
    depth: dict[int, int] = {}
    for b in blocks:
        depth[b.id] = 0 if b.parent_id is None else depth.get(b.parent_id, 0) + 1
    top = [b for b in blocks if b.parent_id is None]
    # Second-level blocks (villages) are the useful grain when there are few top-level areas.
    grain = [b for b in blocks if b.parent_id in {t.id for t in top}] if len(top) < 3 else top
    grain = grain or top
    chart = {
        "categories": [b.name for b in grain],
        "series": [
            {"name": label, "data": [rolled.get(b.id, {}).get(code, 0) for b in grain]}
            for code, label in household_rules.STATUSES.items()
            if any(rolled.get(b.id, {}).get(code, 0) for b in grain)
        ],
    }
    return render(
        request,
        "project/overview.html",
        {
            "project": project,
            "blocks": blocks,
            "depth": depth,
            "rolled": rolled,
            "by_status": by_status,
            "total": sum(by_status.values()),
            "chart": chart,
            "active": "overview",
        },
    )
