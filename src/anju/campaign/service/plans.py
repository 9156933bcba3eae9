"""Campaign service part: editing the household's campaign tab: difficulty and escalation
(CAMPAIGN_MANAGE), the 一户一策 plan and its steps (VISIT_WRITE within the data scope), each change
versioned, audited and announced to live pages (see ``households`` for who may do what).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from anju.audit import service as audit_service
from anju.audit.service import field_diff
from anju.campaign import rules
from anju.campaign.models import HouseholdCampaign, HouseholdPlan, PlanStep
from anju.campaign.service.households import LEADER_ROLES, OWNER_ROLES, _fail, _text
from anju.campaign.service.tab import _campaign_row, _plan_row
from anju.core import text
from anju.core.actor import Actor
from anju.core.dates import utcnow
from anju.db import events
from anju.db.versions import bump_version as _bump
from anju.errors import Conflict, NotFound
from anju.household import service as household_service
from anju.identity import service as identity_service
from anju.identity.service import DataScope

__all__ = [
    "add_step",
    "save_plan",
    "step_household",
    "update_campaign",
    "update_step",
]

MAX_STEPS = 50


def _check_version(session: Session, obj: Any, expected: int | None, *, what: str, entity: str) -> None:
    current = int(obj.version) if obj is not None else 0
    if expected is None or expected == current:
        return
    raise household_service.stale_version(
        session, what=what, current=current, entity=entity, entity_id=obj.id if obj is not None else ""
    )


def _insert(session: Session, obj: Any) -> None:
    """Insert a row whose unique household key a concurrent request may have taken (a 409, not a 500)."""
    session.add(obj)
    try:
        session.flush()
    except IntegrityError as exc:
        raise Conflict(
            "该户的攻坚信息刚被他人建立，请刷新页面后重试",
            "created by someone else meanwhile",
            code="stale_version",
        ) from exc


def _audited(
    session: Session,
    actor: Actor,
    h: Any,
    *,
    action: str,
    entity: str,
    entity_id: int,
    changes: dict[str, Any],
    reason: str = "",
    kind: str = "plan",
    data: dict[str, Any] | None = None,
) -> None:
    """Audit a change of ``h``'s campaign tab and queue the live event (``kind``) pages receive after
    the commit."""
    audit_service.record(
        session,
        actor=actor,
        action=action,
        entity=entity,
        entity_id=entity_id,
        project_id=h.project_id,
        household_id=h.id,
        changes=changes,
        reason=reason,
    )
    events.notify(
        session,
        topic=events.project_topic(h.project_id),
        kind=kind,
        data={"household_id": h.id, **(data or {})},
    )


def _check_user(
    session: Session, user_id: int | None, roles: tuple[str, ...], field_name: str, label: str
) -> None:
    """A user named by id must exist (404, like any record named by id) and be an active user of
    ``roles`` (409 ``invalid_reference``: the request is well formed, the named user cannot serve)."""
    if user_id is None:
        return
    try:
        u = identity_service.get_user(session, user_id)
    except NotFound:
        raise NotFound(
            f"{label}不存在（用户编号 {user_id}）",
            f"{field_name}: no such user",
            details=[{"field": field_name, "label": label, "message": "不存在"}],
        ) from None
    problem = "账号已停用" if not u.is_active else ("不是可选的人员" if u.role not in roles else "")
    if problem:
        raise Conflict(
            f"{label}{problem}",
            f"{field_name}: user cannot serve",
            code="invalid_reference",
            details=[{"field": field_name, "label": label, "message": problem}],
        )


_CAMPAIGN_FIELDS = ("difficulty", "difficulty_reason", "escalated_to", "escalated_to_name")


def update_campaign(
    session: Session,
    *,
    actor: Actor,
    scope: DataScope,
    household_id: int,
    data: Mapping[str, Any],
    expected_version: int | None,
    reason: str = "",
) -> HouseholdCampaign:
    """Set a household's difficulty (难点户 level 0-3 and why) and 包案领导 (a commander or case
    officer, or a typed name); only the keys present in ``data`` change. CAMPAIGN_MANAGE.

    ``expected_version`` is the campaign version the editor saw (0 when nothing was saved yet);
    a different current version is a 409 naming who changed it. Audited; a ``campaign`` event.
    """
    unknown = set(data) - set(_CAMPAIGN_FIELDS)
    if unknown:
        raise _fail(sorted(unknown)[0], "字段", "不认识")
    reason = _text(reason, "reason", "理由", text.MAX_REASON, multiline=True)
    values: dict[str, Any] = {}
    if "difficulty" in data:
        d = data["difficulty"]
        if isinstance(d, bool) or not isinstance(d, int) or d not in rules.DIFFICULTY_LEVELS:
            raise _fail("difficulty", "难点等级", "应为 0（一般户）至 3（特难）")
        values["difficulty"] = d
    if "difficulty_reason" in data:
        values["difficulty_reason"] = _text(
            data["difficulty_reason"], "difficulty_reason", "难点原因", 500, multiline=True
        )
    if "escalated_to" in data:
        uid = data["escalated_to"]
        if uid is not None and (
            isinstance(uid, bool) or not isinstance(uid, int) or not 1 <= uid <= text.MAX_ID
        ):
            raise _fail("escalated_to", "包案领导", "不合法")
        _check_user(session, uid, LEADER_ROLES, "escalated_to", "包案领导")
        values["escalated_to"] = uid
        if uid is not None:
            values["escalated_to_name"] = ""
    if "escalated_to_name" in data:
        name = _text(data["escalated_to_name"], "escalated_to_name", "包案领导姓名", 64)
        if name or "escalated_to" not in data:
            values["escalated_to_name"] = name
            if name:
                values["escalated_to"] = None
    h = household_service.get_household(session, scope=scope, household_id=household_id)
    c = _campaign_row(session, h.id, lock=True)
    _check_version(session, c, expected_version, what="该户攻坚信息", entity="household_campaign")
    created = c is None
    if c is None:
        c = HouseholdCampaign(household_id=h.id, project_id=h.project_id, version=1, updated_at=utcnow())
        _insert(session, c)
    before = {k: getattr(c, k) for k in values}
    diff = field_diff(before, values)
    if not diff:
        return c
    for k, v in values.items():
        setattr(c, k, v)
    c.updated_at = utcnow()
    if not created:
        _bump(session, c)
    _audited(
        session,
        actor,
        h,
        action="update",
        entity="household_campaign",
        entity_id=c.id,
        changes=diff,
        reason=reason,
        kind="campaign",
        data={"fields": sorted(diff)},
    )
    return c


def _plan_values(session: Session, data: Mapping[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    if "summary" in data:
        values["summary"] = _text(data["summary"], "summary", "策略说明", 2000, multiline=True)
    if "owner_id" in data:
        _check_user(session, data["owner_id"], OWNER_ROLES, "owner_id", "责任人")
        values["owner_id"] = data["owner_id"]
    if "status" in data:
        if data["status"] not in rules.PLAN_STATUSES:
            raise _fail("status", "方案状态", "应为 推进中 / 已完成")
        values["status"] = data["status"]
    return values


def save_plan(
    session: Session,
    *,
    actor: Actor,
    scope: DataScope,
    household_id: int,
    data: Mapping[str, Any],
    expected_version: int | None,
) -> HouseholdPlan:
    """Create or change a household's 一户一策 plan (``summary``, ``owner_id``, ``status``
    active/done; keys present in ``data`` change). VISIT_WRITE within scope.

    ``expected_version`` 0 means "there was no plan"; another current version is a 409. Audited.
    """
    values = _plan_values(session, data)
    h = household_service.get_household(session, scope=scope, household_id=household_id)
    plan = _plan_row(session, h.id, lock=True)
    _check_version(session, plan, expected_version, what="该户一户一策", entity="household_plan")
    now = utcnow()
    if plan is None:
        plan = HouseholdPlan(
            household_id=h.id,
            project_id=h.project_id,
            summary="",
            status="active",
            version=1,
            created_at=now,
            updated_at=now,
        )
        _insert(session, plan)
        diff = field_diff({}, {"summary": "", "status": "active", **values})
        action = "create"
    else:
        diff = field_diff({k: getattr(plan, k) for k in values}, values)
        action = "update"
        if not diff:
            return plan
        _bump(session, plan)
    for k, v in values.items():
        setattr(plan, k, v)
    plan.updated_at = now
    _audited(session, actor, h, action=action, entity="household_plan", entity_id=plan.id, changes=diff)
    return plan


def _step_values(session: Session, data: Mapping[str, Any], *, creating: bool) -> dict[str, Any]:
    values: dict[str, Any] = {}
    if "text" in data or creating:
        t = _text(data.get("text", ""), "text", "步骤内容", 500)
        if not t:
            raise _fail("text", "步骤内容", "必填")
        values["text"] = t
    if "owner_id" in data:
        _check_user(session, data["owner_id"], OWNER_ROLES, "owner_id", "责任人")
        values["owner_id"] = data["owner_id"]
    if "due_on" in data:
        due = data["due_on"]
        if due is not None and not isinstance(due, date):
            raise _fail("due_on", "完成期限", "应为日期（YYYY-MM-DD）")
        values["due_on"] = due
    if "status" in data:
        if data["status"] not in rules.STEP_STATUSES:
            raise _fail("status", "步骤状态", "应为 " + " / ".join(rules.STEP_STATUSES.values()) + " 之一")
        values["status"] = data["status"]
    return values


def add_step(
    session: Session,
    *,
    actor: Actor,
    scope: DataScope,
    household_id: int,
    data: Mapping[str, Any],
) -> PlanStep:
    """Add a step (``text``, ``owner_id``, ``due_on``, ``status``) to a household's plan, creating an
    empty active plan first when there is none. VISIT_WRITE within scope; audited."""
    values = _step_values(session, data, creating=True)
    h = household_service.get_household(session, scope=scope, household_id=household_id)
    plan = _plan_row(session, h.id, lock=True)
    if plan is None:
        plan = save_plan(session, actor=actor, scope=scope, household_id=h.id, data={}, expected_version=0)
    count, top = session.execute(
        select(func.count(PlanStep.id), func.max(PlanStep.sort)).where(PlanStep.plan_id == plan.id)
    ).one()
    if int(count) >= MAX_STEPS:
        raise _fail("text", "步骤", f"每个方案最多{MAX_STEPS}步")
    now = utcnow()
    status = values.get("status", "todo")
    step = PlanStep(
        plan_id=plan.id,
        text=values["text"],
        owner_id=values.get("owner_id"),
        due_on=values.get("due_on"),
        status=status,
        done_at=now if status == "done" else None,
        sort=int(top or 0) + 1,
        version=1,
    )
    session.add(step)
    session.flush()
    plan.updated_at = now
    _audited(
        session,
        actor,
        h,
        action="create",
        entity="plan_step",
        entity_id=step.id,
        changes=field_diff(
            {}, {"text": step.text, "owner_id": step.owner_id, "due_on": step.due_on, "status": status}
        ),
    )
    return step


def step_household(session: Session, *, scope: DataScope, step_id: int) -> int:
    """The household id of a plan step within ``scope`` (404 otherwise)."""
    hid = session.scalar(
        select(HouseholdPlan.household_id)
        .join(PlanStep, PlanStep.plan_id == HouseholdPlan.id)
        .where(PlanStep.id == step_id)
    )
    if hid is None:
        raise NotFound("该步骤不存在", "plan step not found")
    try:
        household_service.get_household(session, scope=scope, household_id=int(hid))
    except NotFound:
        raise NotFound("该步骤不存在或不在您的权限范围内", "plan step not found") from None
    return int(hid)


def update_step(
    session: Session,
    *,
    actor: Actor,
    scope: DataScope,
    step_id: int,
    data: Mapping[str, Any],
    expected_version: int | None,
) -> PlanStep:
    """Change a plan step (keys present in ``data``: ``text``, ``owner_id``, ``due_on``, ``status``
    todo/doing/done/dropped). A step of a household outside ``scope`` is not found; a stale
    ``expected_version`` is a 409. Audited."""
    h = household_service.get_household(
        session, scope=scope, household_id=step_household(session, scope=scope, step_id=step_id)
    )
    values = _step_values(session, data, creating=False)
    step = session.scalar(
        select(PlanStep)
        .where(PlanStep.id == step_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if step is None:
        raise NotFound("该步骤不存在", "plan step not found")
    _check_version(session, step, expected_version, what="该步骤", entity="plan_step")
    if "status" in values and not rules.may_set_step_status(step.status, values["status"]):
        raise Conflict(
            f"已取消的步骤只能重新开始（改为“未开始”），不能直接改为“{rules.STEP_STATUSES[values['status']]}”",
            "a dropped step can only be reopened",
            code="illegal_transition",
        )
    diff = field_diff({k: getattr(step, k) for k in values}, values)
    if not diff:
        return step
    for k, v in values.items():
        setattr(step, k, v)
    if "status" in diff:
        step.done_at = utcnow() if step.status == "done" else None
    _bump(session, step)
    _audited(session, actor, h, action="update", entity="plan_step", entity_id=step.id, changes=diff)
    return step
