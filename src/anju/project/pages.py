"""Project pages: the project list, a project's overview, and its set-up (new project, fields and
targets, block tree, GeoJSON parcels)."""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from sqlalchemy.orm import Session
from starlette.responses import RedirectResponse, Response

from anju.errors import Conflict, DomainError, ValidationFailed
from anju.household import rules as household_rules
from anju.household import service as household_service
from anju.i18n import N_, msg
from anju.identity.rules import Permission
from anju.identity.service import CurrentUser
from anju.project import rules as project_rules
from anju.project import service as project_service
from anju.web.deps import client_ip, get_db, requires
from anju.web.params import IdPath, parse_id
from anju.web.templating import render

router = APIRouter(include_in_schema=False)


@router.get("/projects")
def project_list(
    request: Request,
    user: CurrentUser = Depends(requires(Permission.PROJECT_READ)),
    db: Session = Depends(get_db),
) -> Response:
    """All projects with their household counts (within the user's scope)."""
    projects = project_service.list_projects(db)
    counts = {
        p.id: household_service.counts_by_status(db, scope=user.scope, project_id=p.id) for p in projects
    }
    return render(
        request, "project/list.html", {"projects": projects, "counts": counts, "active": "projects"}
    )


# /projects/new comes before /projects/{project_id}, which would take "new" for an id.
@router.get("/projects/new")
def project_new_form(
    request: Request, user: CurrentUser = Depends(requires(Permission.PROJECT_MANAGE))
) -> Response:
    """The form for a new project."""
    values = {"status": "survey", "target_sign_rate": "100", "alert_no_visit_days": "7"}
    return render(
        request, "project/new.html", {"values": values, "errors": {}, "message": "", "active": "projects"}
    )


@router.post("/projects/new")
async def project_create(
    request: Request,
    user: CurrentUser = Depends(requires(Permission.PROJECT_MANAGE)),
    db: Session = Depends(get_db),
) -> Response:
    """Create the project (audited) and go on to its set-up page."""
    form = await request.form()
    raw = _form_values(form, project_rules.PROJECT_EDITABLE)
    reason = str(form.get("reason", ""))
    fields = {k: v for k, v in raw.items() if k not in ("code", "name", "kind")}
    try:
        p = project_service.create_project(
            db,
            actor=user.actor(client_ip(request)),
            code=raw.get("code", ""),
            name=raw.get("name", ""),
            kind=raw.get("kind", ""),
            reason=reason,
            **fields,
        )
    except (ValidationFailed, Conflict) as exc:
        ctx = {"values": raw, "errors": _errors_of(exc), "message": exc.message_zh, "active": "projects"}
        return render(request, "project/new.html", ctx, status_code=exc.http_status)
    return RedirectResponse(f"/projects/{p.id}/setup?done=created", status_code=303)


@router.get("/projects/{project_id}")
def project_overview(
    project_id: IdPath,
    request: Request,
    user: CurrentUser = Depends(requires(Permission.PROJECT_READ)),
    db: Session = Depends(get_db),
) -> Response:
    """Overview: households by stage reached (cumulative), and by block (rolled up the block tree);
    the chart shows each household at its current stage."""
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
    # The cards and the table count cumulatively (已调查 includes every household that has moved on
    # since), as the project list, the progress page and the big screen do; only the stacked chart
    # shows where each household is now (each counted once).
    reached = {bid: household_rules.reached_counts(c) for bid, c in rolled.items()}
    return render(
        request,
        "project/overview.html",
        {
            "project": project,
            "blocks": blocks,
            "depth": depth,
            "rolled": rolled,
            "reached": reached,
            "by_status": by_status,
            "by_stage": household_rules.reached_counts(by_status),
            "stages": [c for c in household_rules.STAGE_ORDER if c != "pending"],
            "total": sum(by_status.values()),
            "chart": chart,
            "active": "overview",
        },
    )


# ---------------------------------------------------------------- set-up (项目设置)

_NOTICES = {
    "created": N_("项目已建立。请继续建立区块、导入宗地。"),
    "project": N_("项目信息已保存。"),
    "unchanged": N_("没有需要保存的修改。"),
    "block": N_("区块已新增。"),
    "block_edit": N_("区块已修改。"),
}


def _form_values(form: Any, names: tuple[str, ...]) -> dict[str, str]:
    return {n: str(form.get(n, "")) for n in names if n in form}


def _errors_of(exc: DomainError) -> dict[str, str]:
    out: dict[str, str] = {}
    for d in exc.details or []:
        if isinstance(d, dict):
            message = str(d.get("message", ""))
            # Under its field a message needs no field name ("项目名称：必填" shows as "必填").
            out.setdefault(str(d.get("field", "")), message.split("：", 1)[1] if "：" in message else message)
    return out


def _shown(values: dict[str, Any]) -> dict[str, str]:
    """Field values as the form shows them (dates as YYYY-MM-DD, None as blank)."""
    return {
        k: "" if v is None else (v.isoformat() if isinstance(v, date) else str(v)) for k, v in values.items()
    }


def _setup_page(
    request: Request,
    db: Session,
    project_id: int,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    message: str = "",
    block_message: str = "",
    block_values: dict[str, str] | None = None,
    parcel_result: project_service.ParcelImport | None = None,
    parcel_error: DomainError | None = None,
    version: int | None = None,
    status_code: int = 200,
) -> Response:
    project = project_service.get_project(db, project_id)
    blocks = project_service.blocks(db, project_id)
    paths = project_service.block_paths(db, project_id)
    depth: dict[int, int] = {}
    for b in blocks:
        depth[b.id] = 0 if b.parent_id is None else depth.get(b.parent_id, 0) + 1
    below = {b.id: set(project_service.descendant_block_ids(db, b.id, project_id)) for b in blocks}
    versions = project_service.block_versions(db, project_id)
    shapes = project_service.block_shapes(db, project_id)
    done = request.query_params.get("done", "")
    ctx = {
        "project": project,
        "values": values if values is not None else _shown(project_service.project_values(project)),
        "errors": errors or {},
        "message": message,
        "notice": _NOTICES.get(done, ""),
        "version": version if version is not None else project.version,
        "blocks": blocks,
        "paths": paths,
        "depth": depth,
        "below": below,
        "block_versions": versions,
        "block_shapes": shapes,
        "block_message": block_message,
        "block_values": block_values or {},
        "parcel_count": project_service.parcel_count(db, project_id),
        "parcel_result": parcel_result,
        "parcel_error": parcel_error,
        "active": "setup",
    }
    return render(request, "project/setup.html", ctx, status_code=status_code)


def _form_id(form: Any, name: str) -> int | None:
    return parse_id(str(form.get(name, "") or ""))


@router.get("/projects/{project_id}/setup")
def project_setup(
    project_id: IdPath,
    request: Request,
    user: CurrentUser = Depends(requires(Permission.PROJECT_MANAGE)),
    db: Session = Depends(get_db),
) -> Response:
    """项目设置: the project's fields and targets, its block tree, and the GeoJSON parcel import."""
    return _setup_page(request, db, project_id)


@router.post("/projects/{project_id}/setup")
async def project_setup_save(
    project_id: IdPath,
    request: Request,
    user: CurrentUser = Depends(requires(Permission.PROJECT_MANAGE)),
    db: Session = Depends(get_db),
) -> Response:
    """Save the project's fields and targets (version checked, audited)."""
    form = await request.form()
    raw = _form_values(form, project_rules.PROJECT_EDITABLE)
    version = _form_id(form, "version")
    try:
        changes = project_service.update_project(
            db,
            actor=user.actor(client_ip(request)),
            project_id=project_id,
            data=raw,
            expected_version=version,
            reason=str(form.get("reason", "")),
        )
    except (ValidationFailed, Conflict) as exc:
        return _setup_page(
            request,
            db,
            project_id,
            values=raw,
            errors=_errors_of(exc),
            message=exc.message_zh,
            version=version,
            status_code=exc.http_status,
        )
    return RedirectResponse(
        f"/projects/{project_id}/setup?done={'project' if changes else 'unchanged'}", status_code=303
    )


@router.post("/projects/{project_id}/blocks")
async def block_add(
    project_id: IdPath,
    request: Request,
    user: CurrentUser = Depends(requires(Permission.PROJECT_MANAGE)),
    db: Session = Depends(get_db),
) -> Response:
    """Add a block (片区 / 村 / 组) under the chosen parent (audited)."""
    form = await request.form()
    raw = _form_values(form, ("code", "name", "level", "sort", "parent_id"))
    try:
        project_service.add_block(
            db,
            actor=user.actor(client_ip(request)),
            project_id=project_id,
            code=raw.get("code", ""),
            name=raw.get("name", ""),
            level=raw.get("level", ""),
            parent_id=_form_id(form, "parent_id"),
            sort=raw.get("sort", "") or 0,
        )
    except DomainError as exc:
        return _setup_page(
            request,
            db,
            project_id,
            block_message=exc.message_zh,
            block_values=raw,
            status_code=exc.http_status,
        )
    return RedirectResponse(f"/projects/{project_id}/setup?done=block#blocks", status_code=303)


@router.post("/blocks/{block_id}/edit")
async def block_edit(
    block_id: IdPath,
    request: Request,
    user: CurrentUser = Depends(requires(Permission.PROJECT_MANAGE)),
    db: Session = Depends(get_db),
) -> Response:
    """Rename, re-level, re-sort or move a block (version checked, audited)."""
    form = await request.form()
    block = project_service.get_block(db, block_id)
    project_id = block.project_id
    data: dict[str, Any] = _form_values(form, ("code", "name", "level", "sort"))
    if "parent_id" in form:
        data["parent_id"] = _form_id(form, "parent_id")
    try:
        project_service.update_block(
            db,
            actor=user.actor(client_ip(request)),
            block_id=block_id,
            data=data,
            expected_version=_form_id(form, "version"),
        )
    except DomainError as exc:
        return _setup_page(
            request,
            db,
            project_id,
            block_message=msg("区块“{name}”：{message_zh}", name=block.name, message_zh=exc.message_zh),
            status_code=exc.http_status,
        )
    return RedirectResponse(f"/projects/{project_id}/setup?done=block_edit#blocks", status_code=303)


@router.post("/projects/{project_id}/parcels")
async def parcels_upload(
    project_id: IdPath,
    request: Request,
    file: UploadFile = File(...),
    code_property: str = Form(""),
    block_property: str = Form(""),
    household_property: str = Form(""),
    user: CurrentUser = Depends(requires(Permission.PROJECT_MANAGE)),
    db: Session = Depends(get_db),
) -> Response:
    """Import the parcels of a GeoJSON file, all or nothing, and show what it did or every problem."""
    content = await file.read()
    try:
        result = project_service.import_parcels(
            db,
            actor=user.actor(client_ip(request)),
            project_id=project_id,
            content=content,
            filename=file.filename or "parcels.geojson",
            code_property=code_property.strip() or None,
            block_property=block_property.strip() or None,
            household_property=household_property.strip() or None,
        )
    except ValidationFailed as exc:
        return _setup_page(request, db, project_id, parcel_error=exc, status_code=exc.http_status)
    return _setup_page(request, db, project_id, parcel_result=result)
