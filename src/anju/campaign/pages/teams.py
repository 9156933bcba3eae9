"""HTML pages of the campaign: teams (专班 / 攻坚小组, 大组 → 小组) and 包户到人.

One page (``/projects/{id}/teams``) holds the team tree with counts, the team forms, and the
three ways to assign households (a whole block, a selection from a filtered list, an xlsx list
that is checked and previewed before it is confirmed). Every form posts and comes back to the
page (303) with a short confirmation, or re-renders it with the Chinese error.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import RedirectResponse
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from anju.campaign import service as campaign_service
from anju.core.dates import today_shanghai
from anju.core.pagination import PageRequest
from anju.errors import DomainError, ValidationFailed
from anju.i18n import N_, msg
from anju.identity.rules import Permission
from anju.identity.service import CurrentUser
from anju.project import service as project_service
from anju.web.deps import client_ip, get_db, requires
from anju.web.params import IdPath, PageQuery, parse_id
from anju.web.templating import render

router = APIRouter(include_in_schema=False)
MANAGE = requires(Permission.CAMPAIGN_MANAGE)
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MAX_CONFIRM_BYTES = 4 * 1024 * 1024  # the checked rows carried by the confirmation form

OK_MESSAGES = {
    "team_created": N_("专班已创建"),
    "team_saved": N_("专班已保存"),
    "team_dissolved": N_("专班已解散"),
    "members_saved": N_("成员已保存"),
    "members_moved": N_("成员已保存，{n} 户包户随人员调整改派"),
    "assigned": N_("已分配 {n} 户"),
    "imported": N_("名单已导入，{n} 户的包户有变化"),
}


def _page_context(
    db: Session,
    request: Request,
    project_id: int,
    *,
    block_id: str = "",
    team: str = "",
    q: str = "",
    page: int = 1,
) -> dict[str, Any]:
    """Everything the teams page shows."""
    project = project_service.project_header(db, project_id)
    overview = campaign_service.teams_overview(db, project_id=project_id)
    block = parse_id(block_id)
    team_filter = parse_id(team)
    candidates = campaign_service.assignment_candidates(
        db,
        scope=request.state.user.scope,
        project_id=project_id,
        block_id=block,
        team_id=team_filter,
        unassigned=team == "none",
        q=q,
        page=PageRequest.of(page, 50),
    )
    flat = [n for root in overview.tree for n in root.walk()]
    ok = request.query_params.get("ok", "")
    n = request.query_params.get("n", "")
    message_ok = msg(OK_MESSAGES[ok], n=int(n) if n.isdigit() else 0) if ok in OK_MESSAGES else ""
    params = {"block_id": block or "", "team": team if team == "none" else (team_filter or ""), "q": q}
    return {
        "project": project,
        "active": "teams",
        "overview": overview,
        "teams_flat": flat,
        "groups": [t for t in flat if t.kind == "group"],
        "kinds": campaign_service.TEAM_KINDS,
        "blocks": project_service.blocks(db, project_id),
        "block_paths": project_service.block_paths(db, project_id),
        "candidates": candidates,
        "filter": {"block_id": block, "team": team if team == "none" else team_filter, "q": q},
        "base_query": urlencode({k: v for k, v in params.items() if v}),
        "message_ok": message_ok,
        "message": "",
        "errors": {},
        "values": {},
    }


def _back(project_id: int, ok: str, n: int | None = None) -> RedirectResponse:
    query = f"?ok={ok}" + (f"&n={n}" if n is not None else "")
    return RedirectResponse(f"/projects/{project_id}/teams{query}", status_code=303)


def _failed(
    db: Session, request: Request, project_id: int, exc: DomainError, values: dict[str, Any] | None = None
) -> Response:
    """The page again with the error (and the form's values), with the error's status."""
    db.rollback()  # nothing of the refused write stays (the middleware would not commit a 4xx anyway)
    ctx = _page_context(db, request, project_id)
    details = exc.details if isinstance(exc.details, list) else []
    ctx.update(
        message=exc.message_zh,
        errors={str(d.get("field", "")): str(d.get("message", "")) for d in details if isinstance(d, dict)},
        values=values or {},
    )
    return render(request, "campaign/teams.html", ctx, status_code=exc.http_status)


def _int_or_none(value: str, label: str, field: str) -> int | None:
    if not value.strip():
        return None
    parsed = parse_id(value)
    if parsed is None:
        raise ValidationFailed(
            msg("{label}无效", label=label),
            f"invalid {field}",
            details=[{"field": field, "message": msg("{label}无效", label=label)}],
        )
    return parsed


def _sort(value: str) -> int:
    value = value.strip() or "0"
    if not value.isascii() or not value.isdigit() or len(value) > 7:
        raise ValidationFailed(
            N_("排序应为 0 至 1000000 的整数"),
            "invalid sort",
            details=[{"field": "sort", "message": N_("排序应为 0 至 1000000 的整数")}],
        )
    return int(value)


def _team_fields(name: str, kind: str, parent_id: str, leader_id: str, sort: str) -> dict[str, Any]:
    """The team form's fields, parsed (a bad id or sort is a field error)."""
    return {
        "name": name,
        "kind": kind,
        "parent_id": _int_or_none(parent_id, N_("上级大组"), "parent_id"),
        "leader_id": _int_or_none(leader_id, N_("组长"), "leader_id"),
        "sort": _sort(sort),
    }


@router.get("/projects/{project_id}/teams")
def teams_page(
    project_id: IdPath,
    request: Request,
    block_id: str = "",
    team: str = "",
    q: str = "",
    page: PageQuery = 1,
    user: CurrentUser = Depends(MANAGE),
    db: Session = Depends(get_db),
) -> Response:
    """专班与包户: the team tree with counts, team forms, and bulk assignment."""
    return render(
        request,
        "campaign/teams.html",
        _page_context(db, request, project_id, block_id=block_id, team=team, q=q, page=page),
    )


@router.post("/projects/{project_id}/teams")
def team_create(
    project_id: IdPath,
    request: Request,
    name: str = Form(""),
    kind: str = Form("squad"),
    parent_id: str = Form(""),
    leader_id: str = Form(""),
    sort: str = Form("0"),
    user: CurrentUser = Depends(MANAGE),
    db: Session = Depends(get_db),
) -> Response:
    """Create a team."""
    values = {"name": name, "kind": kind, "parent_id": parent_id, "leader_id": leader_id, "sort": sort}
    try:
        campaign_service.create_team(
            db,
            actor=user.actor(client_ip(request)),
            project_id=project_id,
            **_team_fields(name, kind, parent_id, leader_id, sort),
        )
    except DomainError as exc:
        return _failed(db, request, project_id, exc, values)
    return _back(project_id, "team_created")


@router.post("/teams/{team_id}/edit")
def team_edit(
    team_id: IdPath,
    request: Request,
    name: str = Form(""),
    kind: str = Form("squad"),
    parent_id: str = Form(""),
    leader_id: str = Form(""),
    sort: str = Form("0"),
    version: str = Form(""),
    user: CurrentUser = Depends(MANAGE),
    db: Session = Depends(get_db),
) -> Response:
    """Change a team (a stale form is refused: someone changed the team meanwhile)."""
    project_id = campaign_service.team_project(db, team_id=team_id)
    try:
        campaign_service.update_team(
            db,
            actor=user.actor(client_ip(request)),
            team_id=team_id,
            values=_team_fields(name, kind, parent_id, leader_id, sort),
            expected_version=parse_id(version),
        )
    except DomainError as exc:
        return _failed(db, request, project_id, exc)
    return _back(project_id, "team_saved")


@router.post("/teams/{team_id}/dissolve")
def team_dissolve(
    team_id: IdPath,
    request: Request,
    version: str = Form(""),
    user: CurrentUser = Depends(MANAGE),
    db: Session = Depends(get_db),
) -> Response:
    """解散专班 (the page asked for confirmation): only a team never used; else the page says why."""
    project_id = campaign_service.team_project(db, team_id=team_id)
    try:
        campaign_service.dissolve_team(
            db, actor=user.actor(client_ip(request)), team_id=team_id, expected_version=parse_id(version)
        )
    except DomainError as exc:
        return _failed(db, request, project_id, exc)
    return _back(project_id, "team_dissolved")


@router.post("/teams/{team_id}/members")
async def team_members(
    team_id: IdPath,
    request: Request,
    user: CurrentUser = Depends(MANAGE),
    db: Session = Depends(get_db),
) -> Response:
    """Set a team's members (checkboxes ``user_ids``); the households of people who move change
    team with them (the page said how many before the form was sent)."""
    form = await request.form()
    ids = [parse_id(str(v)) for v in form.getlist("user_ids")]
    project_id = campaign_service.team_project(db, team_id=team_id)
    try:
        if None in ids:
            raise ValidationFailed(N_("成员编号无效"), "invalid user id")
        result = campaign_service.set_team_members(
            db,
            actor=user.actor(client_ip(request)),
            team_id=team_id,
            user_ids=[i for i in ids if i is not None],
            expected_version=parse_id(str(form.get("version") or "")),
        )
    except DomainError as exc:
        return _failed(db, request, project_id, exc)
    if result["households"]:
        return _back(project_id, "members_moved", len(result["households"]))
    return _back(project_id, "members_saved")


@router.post("/projects/{project_id}/assignments")
async def assign(
    project_id: IdPath,
    request: Request,
    user: CurrentUser = Depends(MANAGE),
    db: Session = Depends(get_db),
) -> Response:
    """Assign households in bulk: ``mode`` block (``block_id``) or selection (``household_ids``)."""
    form = await request.form()
    mode = str(form.get("mode") or "selection")
    values = {k: str(form.get(k) or "") for k in ("mode", "block_id", "team_id", "user_id", "reason")}
    try:
        household_ids: list[int] | None = None
        block_id: int | None = None
        if mode == "block":
            block_id = _int_or_none(values["block_id"], N_("区块"), "block_id")
            if block_id is None:
                raise ValidationFailed(
                    N_("请选择区块"),
                    "block required",
                    details=[{"field": "block_id", "message": N_("请选择区块")}],
                )
        else:
            ids = [parse_id(str(v)) for v in form.getlist("household_ids")]
            if None in ids:
                raise ValidationFailed(N_("户编号无效"), "invalid household id")
            household_ids = [i for i in ids if i is not None]
            if not household_ids:
                raise ValidationFailed(
                    N_("请至少勾选一户"),
                    "no households",
                    details=[{"field": "household_ids", "message": N_("请至少勾选一户")}],
                )
        team_id = _int_or_none(values["team_id"], N_("专班"), "team_id")
        user_id = _int_or_none(values["user_id"], N_("责任人"), "user_id")
        if team_id is None and user_id is None:
            raise ValidationFailed(
                N_("请选择专班或责任人"),
                "team or user required",
                details=[{"field": "team_id", "message": N_("请选择专班或责任人")}],
            )
        result = campaign_service.bulk_assign(
            db,
            actor=user.actor(client_ip(request)),
            scope=user.scope,
            project_id=project_id,
            team_id=team_id,
            user_id=user_id,
            on=today_shanghai(),
            household_ids=household_ids,
            block_id=block_id,
            reason=values["reason"],
        )
    except DomainError as exc:
        return _failed(db, request, project_id, exc, values)
    return _back(project_id, "assigned", result.changed)


@router.get("/projects/{project_id}/assignments/template.xlsx")
def assignment_template(
    project_id: IdPath, user: CurrentUser = Depends(MANAGE), db: Session = Depends(get_db)
) -> Response:
    """The empty assignment list (包户名单) to fill in."""
    project = project_service.project_header(db, project_id)
    # not page text (a file name, a check or the terminal)
    name = f"包户名单_{project.code}.xlsx"
    return Response(
        campaign_service.assignment_template(),
        media_type=XLSX,
        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}"},
    )


def _rows_json(rows: list[campaign_service.AssignmentSheetRow]) -> str:
    return json.dumps([[r.row, r.code, r.team, r.user] for r in rows], ensure_ascii=False)


def _rows_from_json(data: str) -> list[campaign_service.AssignmentSheetRow]:
    problem = ValidationFailed(N_("确认的名单数据无效，请重新上传"), "invalid confirmation rows")
    if len(data) > MAX_CONFIRM_BYTES:
        raise problem
    try:
        raw = json.loads(data)
    except ValueError:
        raise problem from None
    if not isinstance(raw, list) or not raw or len(raw) > campaign_service.MAX_SHEET_ROWS:
        raise problem
    out = []
    for item in raw:
        if (
            not isinstance(item, list)
            or len(item) != 4
            or not isinstance(item[0], int)
            or not all(isinstance(v, str) for v in item[1:])
        ):
            raise problem
        out.append(campaign_service.AssignmentSheetRow(item[0], item[1], item[2], item[3]))
    return out


@router.post("/projects/{project_id}/assignments/import")
async def import_preview(
    project_id: IdPath,
    request: Request,
    file: UploadFile = File(...),
    reason: str = Form(""),
    user: CurrentUser = Depends(MANAGE),
    db: Session = Depends(get_db),
) -> Response:
    """Check an uploaded assignment list and show every problem, or the preview to confirm."""
    project = project_service.project_header(db, project_id)
    content = await file.read()
    filename = file.filename or "assignments.xlsx"

    def check() -> tuple[list[campaign_service.AssignmentSheetRow], campaign_service.AssignmentImportCheck]:
        rows = campaign_service.read_assignment_sheet(content, filename)
        return rows, campaign_service.check_assignment_rows(
            db, scope=user.scope, project_id=project_id, rows=rows
        )

    try:
        rows, result = await run_in_threadpool(check)
    except ValidationFailed as exc:
        return render(
            request,
            "campaign/teams_import.html",
            {
                "project": project,
                "active": "teams",
                "message": exc.message_zh,
                "check": None,
                "filename": filename,
            },
            status_code=422,
        )
    return render(
        request,
        "campaign/teams_import.html",
        {
            "project": project,
            "active": "teams",
            "message": "",
            "check": result,
            "filename": filename,
            "rows_json": _rows_json(rows) if result.ok else "",
            "reason": reason,
        },
    )


@router.post("/projects/{project_id}/assignments/import/confirm")
def import_confirm(
    project_id: IdPath,
    request: Request,
    rows: str = Form(""),
    reason: str = Form(""),
    user: CurrentUser = Depends(MANAGE),
    db: Session = Depends(get_db),
) -> Response:
    """Import a previewed list: checked again, all or nothing."""
    project = project_service.project_header(db, project_id)
    try:
        _check, changed = campaign_service.import_assignments(
            db,
            actor=user.actor(client_ip(request)),
            scope=user.scope,
            project_id=project_id,
            rows=_rows_from_json(rows),
            on=today_shanghai(),
            reason=reason,
        )
    except ValidationFailed as exc:
        db.rollback()
        problems = [
            {
                "row": d.get("row", ""),
                "column": d.get("column", ""),
                "message": d.get("problem", d.get("message", "")),
            }
            for d in (exc.details or [])
            if isinstance(d, dict)
        ]
        return render(
            request,
            "campaign/teams_import.html",
            {
                "project": project,
                "active": "teams",
                "message": exc.message_zh,
                "check": None,
                "filename": "",
                "problems": problems,
            },
            status_code=422,
        )
    return _back(project_id, "imported", changed)
