"""HTML pages of the campaign: the household's campaign tab (攻坚) and the team's start page (我的包户).

Forms post back and redirect to the tab (303); a refused change re-renders the tab with the
message and the status of the refusal, so nothing typed is silently lost and nothing is half-written.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse
from sqlalchemy.orm import Session
from starlette.responses import Response

from anju.campaign import rules
from anju.campaign import service as campaign_service
from anju.core.dates import today_shanghai
from anju.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from anju.i18n import N_, msg
from anju.identity.rules import Permission
from anju.identity.service import CurrentUser
from anju.project import service as project_service
from anju.web.deps import client_ip, get_db, requires
from anju.web.params import IdPath, parse_id
from anju.web.templating import render

router = APIRouter(include_in_schema=False)
READ = requires(Permission.CAMPAIGN_READ)
MANAGE = requires(Permission.CAMPAIGN_MANAGE)
WRITE = requires(Permission.VISIT_WRITE)
# Refusals shown on the tab itself (a user named by id that does not exist is a NotFound too; the
# re-rendered tab raises it again when the household itself is out of reach).
REFUSALS = (ValidationFailed, Conflict, PermissionDenied, NotFound)
# The buttons beside a plan step: the statuses it can move to from its own.
STEP_ACTIONS = {
    "todo": [("doing", N_("开始")), ("done", N_("完成")), ("dropped", N_("取消"))],
    "doing": [("done", N_("完成")), ("dropped", N_("取消"))],
    "done": [("todo", N_("重新开始"))],
    "dropped": [("todo", N_("重新开始"))],
}


def _is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def _date(value: str, label: str, field: str) -> date | None:
    value = value.strip()
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValidationFailed(
            msg("{label}应为日期（YYYY-MM-DD）", label=label),
            f"invalid {field}",
            details=[{"field": field, "message": N_("应为日期")}],
        ) from None


def _int(value: str, label: str, field: str) -> int | None:
    if not value.strip():
        return None
    n = parse_id(value)
    if n is None:
        raise ValidationFailed(
            msg("{label}不合法", label=label),
            f"invalid {field}",
            details=[{"field": field, "message": N_("不合法")}],
        )
    return n


def _version(value: str) -> int | None:
    """The version a form saw ("0": there was no record yet; blank: not checked)."""
    return _int(value, N_("版本号"), "version") if value.strip() != "0" else 0


def _tab(
    request: Request,
    db: Session,
    user: CurrentUser,
    household_id: int,
    *,
    message: str = "",
    status_code: int = 200,
    form: dict[str, Any] | None = None,
) -> Response:
    f = campaign_service.campaign_file(
        db, scope=user.scope, household_id=household_id, manage=user.can(Permission.CAMPAIGN_MANAGE)
    )
    can_write = user.can(Permission.VISIT_WRITE)
    can_manage = user.can(Permission.CAMPAIGN_MANAGE)
    ctx: dict[str, Any] = {
        "c": f,
        "project": project_service.get_project(db, f.project_id),
        "active": "households",
        "can_write": can_write,
        "can_manage": can_manage,
        "message": message,
        "form": form or {},
        "today": today_shanghai(),
        "ATTITUDES": rules.ATTITUDES,
        "DIFFICULTY_LEVELS": rules.DIFFICULTY_LEVELS,
        "STEP_STATUSES": rules.STEP_STATUSES,
        "PLAN_STATUSES": rules.PLAN_STATUSES,
        "STEP_ACTIONS": STEP_ACTIONS,
        "leaders": campaign_service.leader_choices(db) if can_manage else [],
        "owners": campaign_service.owner_choices(db) if can_write else [],
    }
    template = "campaign/tab_body.html" if _is_htmx(request) else "campaign/tab.html"
    return render(request, template, ctx, status_code=status_code)


def _done(household_id: int, anchor: str = "") -> Response:
    return RedirectResponse(
        f"/households/{household_id}/campaign" + (f"#{anchor}" if anchor else ""), status_code=303
    )


def _submit(
    request: Request,
    db: Session,
    user: CurrentUser,
    household_id: int,
    write: Callable[[], object],
    *,
    anchor: str,
    form: dict[str, Any] | None = None,
) -> Response:
    """Run a tab form's ``write`` (parsing the fields included) and go back to the tab at ``anchor``;
    a refusal rolls back and re-renders the tab with its message and status, and what was typed."""
    try:
        write()
    except REFUSALS as exc:
        db.rollback()
        return _tab(
            request, db, user, household_id, message=exc.message_zh, status_code=exc.http_status, form=form
        )
    return _done(household_id, anchor)


@router.get("/households/{household_id}/campaign")
def campaign_tab(
    household_id: IdPath, request: Request, user: CurrentUser = Depends(READ), db: Session = Depends(get_db)
) -> Response:
    """The campaign tab (攻坚) of a household: the whole page, or its body for an htmx request."""
    return _tab(request, db, user, household_id)


@router.post("/households/{household_id}/stage")
def stage_form(
    household_id: IdPath,
    request: Request,
    to_stage: str = Form(""),
    on: str = Form(""),
    note: str = Form(""),
    user: CurrentUser = Depends(WRITE),
    db: Session = Depends(get_db),
) -> Response:
    """Move the household to the next stage (the buttons of the stage bar) up to 协商中; 已签约 /
    已腾空 / 已拆除 come from the signing desk and the clearance forms (409 here)."""

    def write() -> object:
        return campaign_service.move_stage(
            db,
            actor=user.actor(client_ip(request)),
            scope=user.scope,
            household_id=household_id,
            to_stage=to_stage,
            on=_date(on, N_("日期"), "on"),
            note=note,
            manage=user.can(Permission.CAMPAIGN_MANAGE),
            manual=True,
        )

    return _submit(request, db, user, household_id, write, anchor="stages")


@router.post("/households/{household_id}/campaign")
def campaign_form(
    household_id: IdPath,
    request: Request,
    version: str = Form("0"),
    difficulty: str = Form("0"),
    difficulty_reason: str = Form(""),
    escalated_to: str = Form(""),
    escalated_to_name: str = Form(""),
    user: CurrentUser = Depends(MANAGE),
    db: Session = Depends(get_db),
) -> Response:
    """Difficulty (难点户) and 包案领导; a chosen leader wins over a typed name."""
    form = {
        "difficulty": difficulty,
        "difficulty_reason": difficulty_reason,
        "escalated_to_name": escalated_to_name,
    }

    def write() -> object:
        level = _int(difficulty, N_("难点等级"), "difficulty") if difficulty.strip() != "0" else 0
        leader = _int(escalated_to, N_("包案领导"), "escalated_to")
        data: dict[str, Any] = {"difficulty": level or 0, "difficulty_reason": difficulty_reason}
        if leader is not None:
            data["escalated_to"] = leader
        else:
            data["escalated_to"] = None
            data["escalated_to_name"] = escalated_to_name
        return campaign_service.update_campaign(
            db,
            actor=user.actor(client_ip(request)),
            scope=user.scope,
            household_id=household_id,
            data=data,
            expected_version=_version(version),
        )

    return _submit(request, db, user, household_id, write, anchor="difficulty", form=form)


@router.post("/households/{household_id}/plan")
def plan_form(
    household_id: IdPath,
    request: Request,
    version: str = Form("0"),
    summary: str = Form(""),
    owner_id: str = Form(""),
    status: str = Form("active"),
    user: CurrentUser = Depends(WRITE),
    db: Session = Depends(get_db),
) -> Response:
    """Create or change the 一户一策 plan."""
    form = {"summary": summary, "owner_id": owner_id, "status": status}

    def write() -> object:
        return campaign_service.save_plan(
            db,
            actor=user.actor(client_ip(request)),
            scope=user.scope,
            household_id=household_id,
            data={"summary": summary, "owner_id": _int(owner_id, N_("责任人"), "owner_id"), "status": status},
            expected_version=_version(version),
        )

    return _submit(request, db, user, household_id, write, anchor="plan", form=form)


@router.post("/households/{household_id}/plan/steps")
def step_add_form(
    household_id: IdPath,
    request: Request,
    text: str = Form(""),
    owner_id: str = Form(""),
    due_on: str = Form(""),
    user: CurrentUser = Depends(WRITE),
    db: Session = Depends(get_db),
) -> Response:
    """Add a step to the plan."""
    form = {"step_text": text, "step_owner_id": owner_id, "step_due_on": due_on}

    def write() -> object:
        return campaign_service.add_step(
            db,
            actor=user.actor(client_ip(request)),
            scope=user.scope,
            household_id=household_id,
            data={
                "text": text,
                "owner_id": _int(owner_id, N_("责任人"), "owner_id"),
                "due_on": _date(due_on, N_("完成期限"), "due_on"),
            },
        )

    return _submit(request, db, user, household_id, write, anchor="plan", form=form)


@router.post("/plan-steps/{step_id}")
def step_form(
    step_id: IdPath,
    request: Request,
    household_id: str = Form(""),
    version: str = Form(""),
    status: str = Form(""),
    user: CurrentUser = Depends(WRITE),
    db: Session = Depends(get_db),
) -> Response:
    """Change a step's status (the buttons beside each step)."""
    try:
        step = campaign_service.update_step(
            db,
            actor=user.actor(client_ip(request)),
            scope=user.scope,
            step_id=step_id,
            data={"status": status},
            expected_version=_int(version, N_("版本号"), "version"),
        )
    except REFUSALS as exc:
        db.rollback()
        hid = parse_id(household_id)
        if hid is None:
            raise
        return _tab(request, db, user, hid, message=exc.message_zh, status_code=exc.http_status)
    return _done(campaign_service.step_household(db, scope=user.scope, step_id=step.id), "plan")


@router.get("/projects/{project_id}/my")
def my_page(
    project_id: IdPath, request: Request, user: CurrentUser = Depends(WRITE), db: Session = Depends(get_db)
) -> Response:
    """The team's start page: today's alerts, then 我的包户 (my households, or my team's for a leader)."""
    project = project_service.get_project(db, project_id)
    today = today_shanghai()
    return render(
        request,
        "campaign/my.html",
        {
            "project": project,
            "active": "my",
            "alerts": campaign_service.alerts(db, scope=user.scope, project_id=project_id, today=today),
            "mine": campaign_service.my_households(db, scope=user.scope, project_id=project_id, today=today),
            "ALERT_KINDS": campaign_service.ALERT_KINDS,
            "today": today,
        },
    )
