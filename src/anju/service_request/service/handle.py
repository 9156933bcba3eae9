"""部门接单 and 党员晒单: a department member takes a request, sends it back to the desk (not our
department: counted), asks to postpone, and publishes the result with photos."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from anju.core.actor import Actor
from anju.core.dates import utcnow
from anju.errors import Conflict
from anju.service_request import rules
from anju.service_request.models import ServiceRequest
from anju.service_request.service._common import acting, check_version, due, fail, load, transition
from anju.service_request.service.submit import Photo, inspect_photos, store_photos


def take(
    db: Session, *, actor: Actor, request_id: int, version: int | None, now: datetime | None = None
) -> ServiceRequest:
    """接单: the department starts handling; the deadline becomes the closing deadline. Two members
    taking at once: the row lock lets one through, the other gets 409."""
    now = now or utcnow()
    req = load(db, request_id, lock=True)
    who = acting(db, actor, req)
    check_version(req, version)
    rules.check_action(req.status, "take", who.kind)
    req.taken_at = now
    req.due_at = req.close_due_at or due(db, req, "handle", now)
    req.escalation_level = 0
    transition(db, req=req, action="take", who=who, actor=actor, now=now)
    return req


def send_back(
    db: Session,
    *,
    actor: Actor,
    request_id: int,
    version: int | None,
    reason: str,
    now: datetime | None = None,
) -> ServiceRequest:
    """退回: not this department's matter; back to 定单 with the reason (counted in ``sendback_count``)."""
    now = now or utcnow()
    req = load(db, request_id, lock=True)
    who = acting(db, actor, req)
    check_version(req, version)
    rules.check_action(req.status, "send_back", who.kind)
    if not reason.strip():
        raise fail("reason", "退回须填写理由")
    req.sendback_count += 1
    req.department_id = None
    req.taken_at = None
    req.postpone_pending = False
    req.due_at = due(db, req, "accept", now)
    req.close_due_at = None
    req.escalation_level = 0
    transition(db, req=req, action="send_back", who=who, actor=actor, now=now, reason=reason)
    return req


def request_postpone(
    db: Session,
    *,
    actor: Actor,
    request_id: int,
    version: int | None,
    new_due_at: datetime,
    reason: str,
    now: datetime | None = None,
) -> ServiceRequest:
    """申请延期: the department asks for a later deadline with a reason; the community decides
    (:func:`anju.service_request.service.desk.decide_postpone`). Counted in ``postpone_count``."""
    now = now or utcnow()
    req = load(db, request_id, lock=True)
    who = acting(db, actor, req)
    check_version(req, version)
    if who.kind != "department":
        raise Conflict("只有承办部门可以申请延期", "only the department asks", code="not_allowed")
    if req.status not in ("dispatched", "in_progress"):
        raise Conflict(
            f"诉求当前为“{rules.STATUSES.get(req.status, req.status)}”，不能申请延期",
            "postpone only while handling",
            code="illegal_transition",
        )
    if req.postpone_pending:
        raise Conflict("已有待审批的延期申请", "a postponement is pending", code="postpone_pending")
    if not reason.strip():
        raise fail("reason", "申请延期须填写理由")
    if new_due_at.tzinfo is None:
        raise fail("new_due_at", "新的期限须带时区")
    current = req.due_at or now
    if new_due_at <= max(current, now):
        raise fail("new_due_at", "新的期限须晚于当前期限")
    req.postpone_pending = True
    req.postpone_count += 1
    transition(
        db,
        req=req,
        action="postpone",
        who=who,
        actor=actor,
        now=now,
        reason=reason,
        data={"new_due_at": new_due_at.isoformat(), "old_due_at": current.isoformat()},
        to_status=req.status,
        public=False,
    )
    return req


def publish(
    db: Session,
    *,
    actor: Actor,
    request_id: int,
    version: int | None,
    result: str,
    photos: list[Photo] | None = None,
    now: datetime | None = None,
) -> ServiceRequest:
    """晒单: the result (what was done) with photos on the public board; the verification window
    (``due_at``) starts now, after which the office closes it (:func:`auto_close`)."""
    now = now or utcnow()
    req = load(db, request_id, lock=True)
    who = acting(db, actor, req)
    check_version(req, version)
    rules.check_action(req.status, "publish", who.kind)
    result = result.strip()
    if not result:
        raise fail("result", "请填写办理结果")
    if len(result) > 2000:
        raise fail("result", "办理结果最多 2000 字")
    checked = inspect_photos(photos or [])
    req.result = result
    req.published_at = now
    req.postpone_pending = False
    req.due_at = due(db, req, "verify", now)
    req.escalation_level = 0
    store_photos(db, request_id=req.id, stage="publish", photos=checked, now=now)
    transition(db, req=req, action="publish", who=who, actor=actor, now=now, data={"photos": len(checked)})
    return req
