"""组织定单: the community (or subdistrict office) accepts a request (priority, department, deadlines),
rejects it with the reason the resident sees, or merges a duplicate into an earlier request; and
decides a department's request to postpone (延期)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from anju.core.actor import Actor
from anju.core.dates import utcnow
from anju.errors import Conflict
from anju.service_request import rules
from anju.service_request.models import Department, ServiceRequest
from anju.service_request.service._common import (
    acting,
    category,
    check_version,
    due,
    fail,
    load,
    pending_postpone,
    transition,
)


def accept(
    db: Session,
    *,
    actor: Actor,
    request_id: int,
    version: int | None,
    priority: str = "routine",
    department_id: int | None = None,
    category_id: int | None = None,
    note: str = "",
    now: datetime | None = None,
) -> ServiceRequest:
    """定单: set priority and department (default: the category's), and the deadlines of taking
    (``due_at``) and of closing (``close_due_at``), both counted from now on the category's calendar."""
    now = now or utcnow()
    req = load(db, request_id, lock=True)
    check_version(req, version)
    who = acting(db, actor, req)
    rules.check_action(req.status, "accept", who.kind)
    if priority not in rules.PRIORITIES:
        raise fail("priority", "优先级须为“紧急”或“一般”")
    if category_id is not None and category_id != req.category_id:
        req.category_id = category(db, category_id).id
    if department_id is None:
        department_id = category(db, req.category_id).department_id
    if department_id is None:
        raise fail("department_id", "请选择承办部门（该分类没有默认部门）")
    dep = db.get(Department, department_id)
    if dep is None or not dep.active:
        raise fail("department_id", f"承办部门（编号 {department_id}）不存在或已停用")
    req.priority = priority
    req.department_id = dep.id
    req.accepted_at = now
    req.due_at = due(db, req, "take", now)
    req.close_due_at = due(db, req, "handle", now)
    req.escalation_level = 0
    req.status_note = ""
    transition(
        db,
        req=req,
        action="accept",
        who=who,
        actor=actor,
        now=now,
        reason=note,
        data={
            "priority": priority,
            "department_id": dep.id,
            "due_at": req.due_at.isoformat(),
            "close_due_at": req.close_due_at.isoformat(),
        },
    )
    return req


def reject(
    db: Session,
    *,
    actor: Actor,
    request_id: int,
    version: int | None,
    reason: str,
    now: datetime | None = None,
) -> ServiceRequest:
    """不予受理, with the reason the resident sees (final)."""
    now = now or utcnow()
    req = load(db, request_id, lock=True)
    check_version(req, version)
    who = acting(db, actor, req)
    rules.check_action(req.status, "reject", who.kind)
    req.status_note = reason.strip()[:500]
    req.closed_at = now
    req.due_at = None
    transition(db, req=req, action="reject", who=who, actor=actor, now=now, reason=reason)
    return req


def merge(
    db: Session,
    *,
    actor: Actor,
    request_id: int,
    version: int | None,
    into_id: int,
    reason: str,
    now: datetime | None = None,
) -> ServiceRequest:
    """合并重复: a duplicate joins an earlier, still open request; the resident follows that one."""
    now = now or utcnow()
    req = load(db, request_id, lock=True)
    check_version(req, version)
    who = acting(db, actor, req)
    rules.check_action(req.status, "merge", who.kind)
    if into_id == req.id:
        raise fail("into_id", "不能合并到自身")
    target = load(db, into_id)
    if target.status in rules.FINAL:
        raise fail("into_id", f"诉求 {target.code} 已{rules.STATUSES[target.status]}，不能合并到它")
    req.merged_into_id = target.id
    req.status_note = f"已合并到诉求 {target.code}"
    req.closed_at = now
    req.due_at = None
    transition(
        db,
        req=req,
        action="merge",
        who=who,
        actor=actor,
        now=now,
        reason=reason,
        data={"into_id": target.id, "into_code": target.code},
    )
    return req


def decide_postpone(
    db: Session,
    *,
    actor: Actor,
    request_id: int,
    version: int | None,
    approve: bool,
    reason: str = "",
    now: datetime | None = None,
) -> ServiceRequest:
    """Approve or deny a pending postponement (延期审批). Approval moves the handling deadline to the
    date the department asked for; both are counted in the history (``postpone_approve`` /
    ``postpone_deny``)."""
    now = now or utcnow()
    req = load(db, request_id, lock=True)
    check_version(req, version)
    who = acting(db, actor, req)
    if who.kind != "community":
        raise Conflict("无权审批延期", "only the community decides postponements", code="not_allowed")
    if not req.postpone_pending:
        raise Conflict("该诉求没有待审批的延期申请", "no pending postponement", code="no_postponement")
    if not approve and not reason.strip():
        raise fail("reason", "不同意延期须填写理由")
    asked = pending_postpone(db, req)
    req.postpone_pending = False
    data: dict[str, object] = {"approve": approve, "new_due_at": asked.isoformat()}
    if approve:
        data["old_due_at"] = req.due_at.isoformat() if req.due_at else None
        req.due_at = asked
        req.close_due_at = asked
        req.escalation_level = 0
    transition(
        db,
        req=req,
        action="postpone_approve" if approve else "postpone_deny",
        who=who,
        actor=actor,
        now=now,
        reason=reason,
        data=data,
        to_status=req.status,
    )
    return req
