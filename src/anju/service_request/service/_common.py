"""What every action of the five orders shares: loading and locking a request, deciding who acts
(resident, grid worker, community, department member, system), the time limits of a step, and
writing the history row, the audit record and the live-page event of each transition."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from anju.audit import service as audit_service
from anju.core.actor import Actor
from anju.db.events import notify
from anju.db.versions import bump_version
from anju.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from anju.service_request import rules
from anju.service_request.models import (
    Department,
    DepartmentMember,
    RequestEvent,
    ServiceCategory,
    ServiceRequest,
    ServiceTimeLimit,
)
from anju.service_request.service import calendar as work_calendar

#: The actor of resident actions (public routes, by the follow code): no account.
RESIDENT = Actor(user_id=None, username="resident", display_name="居民", role="resident")
#: The actor of clock-driven actions (overdue, escalation, auto-close).
SYSTEM = Actor.system("service_requests")
#: Topic of the request boards' live updates.
TOPIC = "service-requests"
#: Roles that act as the organising side (组织定单) and as departments (部门接单).
COMMUNITY_ROLES = frozenset({"community"})
DEPARTMENT_ROLES = frozenset({"department"})


@dataclass(frozen=True, slots=True)
class Acting:
    """Who acts on a request: the actor kind of :func:`rules.check_action`, and the department a
    department member acts for."""

    kind: str
    department_id: int | None = None
    label: str = ""


def fail(field: str, message: str) -> ValidationFailed:
    """A validation error naming ``field``."""
    return ValidationFailed(message, f"{field}: invalid", details=[{"field": field, "message": message}])


def load(db: Session, request_id: int, *, lock: bool = False) -> ServiceRequest:
    """The request ``request_id`` (locked FOR UPDATE with fresh values when ``lock``); 404 if none."""
    q = select(ServiceRequest).where(ServiceRequest.id == request_id)
    if lock:
        q = q.with_for_update().execution_options(populate_existing=True)
    req = db.scalar(q)
    if req is None:
        raise NotFound(f"诉求（编号 {request_id}）不存在", "no such request")
    return req


def check_version(req: ServiceRequest, version: int | None) -> None:
    """409 ``stale_version`` when the caller saw another version of ``req``."""
    if version is not None and version != req.version:
        raise Conflict(
            "该诉求已被他人处理，请刷新后重试", "the request changed meanwhile", code="stale_version"
        )


def member_departments(db: Session, user_id: int) -> list[int]:
    """The departments ``user_id`` acts for."""
    return list(
        db.scalars(
            select(DepartmentMember.department_id)
            .where(DepartmentMember.user_id == user_id)
            .order_by(DepartmentMember.department_id)
        )
    )


def department_name(db: Session, department_id: int | None) -> str:
    """A department's name ('' when none)."""
    if department_id is None:
        return ""
    return db.scalar(select(Department.name).where(Department.id == department_id)) or ""


def acting(db: Session, actor: Actor, req: ServiceRequest) -> Acting:
    """The actor kind of ``actor`` on ``req``. A department member acts only on requests of a
    department they belong to (others are hidden: 404)."""
    if actor.user_id is None:
        if actor.role == "resident":
            return Acting("resident", label="居民")
        return Acting("system", label="系统")
    if actor.role in COMMUNITY_ROLES:
        return Acting("community", label=actor.display_name)
    if actor.role in DEPARTMENT_ROLES:
        if req.department_id is None or req.department_id not in member_departments(db, actor.user_id):
            raise NotFound("诉求不存在或不属于您的部门", "request of another department")
        return Acting("department", req.department_id, department_name(db, req.department_id))
    if actor.role == "grid_worker":
        return Acting("grid_worker", label=actor.display_name)
    raise PermissionDenied("您没有办理诉求的权限", "role may not act on requests")


def limit_of(db: Session, category_id: int, priority: str, step: str) -> tuple[int, str]:
    """(amount, calendar) of ``step`` for a category and priority: its row in service_time_limit,
    else :data:`rules.DEFAULT_LIMITS`."""
    row = db.scalar(
        select(ServiceTimeLimit).where(
            ServiceTimeLimit.category_id == category_id,
            ServiceTimeLimit.priority == priority,
            ServiceTimeLimit.step == step,
        )
    )
    if row is not None:
        return row.amount, row.calendar
    return rules.DEFAULT_LIMITS[(priority, step)]


def due(db: Session, req: ServiceRequest, step: str, start: datetime) -> datetime:
    """When ``step`` of ``req`` started at ``start`` is due."""
    amount, calendar = limit_of(db, req.category_id, req.priority, step)
    days = work_calendar.calendar(db)  # holidays and make-up working days the office entered
    return rules.deadline(start, amount, calendar, days.holidays, days.workdays)


def category(db: Session, category_id: int) -> ServiceCategory:
    """An active category; 422 naming the field otherwise."""
    cat = db.get(ServiceCategory, category_id)
    if cat is None or not cat.active:
        raise fail("category_id", f"诉求分类（编号 {category_id}）不存在或已停用")
    return cat


def transition(
    db: Session,
    *,
    req: ServiceRequest,
    action: str,
    who: Acting,
    actor: Actor,
    now: datetime,
    reason: str = "",
    data: dict[str, Any] | None = None,
    public: bool = True,
    to_status: str | None = None,
) -> RequestEvent:
    """Check ``action`` against the state machine, then append its history row. The caller has
    already changed the request's other fields; this sets status and updated_at, bumps the
    version (guarded), and writes the audit record of office actions and the live event.
    ``to_status`` is given for actions outside the machine (postponing, overdue) that keep the state."""
    before = req.status
    if to_status is None:
        a = rules.ACTIONS[action]
        target = rules.check_action(req.status, action, who.kind)
        if a.needs_reason and not reason.strip():
            raise fail("reason", f"{a.label}须填写理由")
        gb_step = a.gb_step
    else:
        target = to_status
        gb_step = rules.GB_STEP_OF_STATUS.get(to_status, "")
    req.status = target
    req.updated_at = now
    if action != "submit":
        bump_version(db, req)
    ev = RequestEvent(
        request_id=req.id,
        action=action,
        from_status=before,
        to_status=target,
        gb_step=gb_step,
        actor_user_id=actor.user_id,
        actor_label=who.label,
        department_id=who.department_id if who.department_id is not None else req.department_id,
        reason=reason.strip(),
        data=json.dumps(data or {}, ensure_ascii=False, sort_keys=True, default=str),
        public=public,
        at=now,
    )
    db.add(ev)
    db.flush()
    if actor.user_id is not None or who.kind == "system":
        audit_service.record(
            db,
            actor=actor,
            action=f"service_request.{action}",
            entity="service_request",
            entity_id=req.id,
            changes={"status": [before, target], **({"data": data} if data else {})},
            reason=reason.strip(),
        )
    notify(db, topic=TOPIC, kind=action, data={"id": req.id, "status": target})
    return ev


def pending_postpone(db: Session, req: ServiceRequest) -> datetime:
    """The deadline asked for by the pending postponement of ``req`` (its last ``postpone`` event)."""
    ev = db.scalar(
        select(RequestEvent)
        .where(RequestEvent.request_id == req.id, RequestEvent.action == "postpone")
        .order_by(RequestEvent.id.desc())
        .limit(1)
    )
    if ev is None:
        raise Conflict("该诉求没有待审批的延期申请", "no pending postponement", code="no_postponement")
    return datetime.fromisoformat(json.loads(ev.data)["new_due_at"])
