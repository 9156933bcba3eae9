"""Campaign service part: the household's campaign tab (see the package docstring).

The stage is the household's status: :func:`move_stage` moves it through the household service
(which checks the transition table and records the signing, vacating and demolition dates) and
keeps the timeline (:class:`StageChange`). The rest of the tab is this domain's own rows: the
campaign summary (attitude, difficulty, 包案领导), the 一户一策 plan and its steps.

Who may do what (the routes check the permission, the rules here the rest):
- moving a stage: VISIT_WRITE within the data scope, up to 协商中. 已签约 / 已腾空 / 已拆除 are set only
  by their records (signing, vacating acceptance, demolition: internal callers with ``manage=True``);
  the stage form and API pass ``manual=True`` and are refused those stages (409 ``recorded_stage``);
- difficulty and escalation: CAMPAIGN_MANAGE only. Declaring a 难点户 and naming the leader it is
  escalated to is a command decision; a team leader proposes it through the plan and the visits;
- plan and steps: VISIT_WRITE within the data scope (the team keeps its own strategy).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from anju.audit import service as audit_service
from anju.audit.service import field_diff
from anju.campaign import rules
from anju.campaign.models import HouseholdCampaign, HouseholdPlan, PlanStep, StageChange
from anju.core import text
from anju.core.actor import Actor
from anju.core.dates import today_shanghai, utcnow
from anju.db import events
from anju.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from anju.household import service as household_service
from anju.identity import service as identity_service
from anju.identity.service import DataScope
from anju.project import service as project_service

__all__ = [
    "LEADER_ROLES",
    "OWNER_ROLES",
    "CampaignFile",
    "MyHousehold",
    "MyHouseholds",
    "NextStage",
    "PlanFile",
    "StageBarItem",
    "StageTimeline",
    "StepFile",
    "add_step",
    "campaign_file",
    "leader_choices",
    "move_stage",
    "my_households",
    "owner_choices",
    "revert_stage",
    "save_plan",
    "stage_label",
    "stage_timeline",
    "step_household",
    "update_campaign",
    "update_step",
]

# 包案领导: a leader of the office (a user of these roles) or a name typed in (a leader without an account).
LEADER_ROLES = ("commander", "case_officer")
# Who can own a plan or a step.
OWNER_ROLES = ("commander", "case_officer", "team_leader", "team_member")
MAX_STEPS = 50
MY_LIMIT = 300


def stage_label(stage: str) -> str:
    """The Chinese name of a stage (未入户 ... 已拆除)."""
    return household_service.STAGES.get(stage, stage)


def _fail(field_name: str, label: str, message: str) -> ValidationFailed:
    return ValidationFailed(
        f"{label}{message}",
        f"invalid {field_name}",
        details=[{"field": field_name, "label": label, "message": message}],
    )


def _text(value: Any, field_name: str, label: str, max_len: int, *, multiline: bool = False) -> str:
    if not isinstance(value, str):
        raise _fail(field_name, label, "应为文本")
    problem = text.text_problem(value, max_len=max_len, multiline=multiline)
    if problem:
        raise _fail(field_name, label, problem)
    return value.strip()


def _names(session: Session) -> dict[int, str]:
    return identity_service.user_names(session)


# ---------------------------------------------------------------- stages


@dataclass(frozen=True, slots=True)
class StageBarItem:
    """One of the seven stages on the stage bar: reached or not, and the date it was reached."""

    stage: str
    label: str
    state: str  # done | current | todo
    reached_on: date | None


@dataclass(frozen=True, slots=True)
class NextStage:
    """A stage the household may move to next; ``dated``: the move needs its date; ``allowed``: this
    user may record it by hand; ``recorded_in``: where it is recorded instead (签约台, 腾空验收, 拆除登记)."""

    stage: str
    label: str
    dated: bool
    allowed: bool
    recorded_in: str = ""


@dataclass
class StageTimeline:
    """The household's stage, the stage bar, the recorded moves (oldest first) and the next moves."""

    household_id: int
    stage: str
    label: str
    bar: list[StageBarItem]
    changes: list[StageChange]
    next: list[NextStage]


def _changes(session: Session, household_id: int) -> list[StageChange]:
    return list(
        session.scalars(
            select(StageChange)
            .where(StageChange.household_id == household_id)
            .order_by(StageChange.at, StageChange.id)
        )
    )


def _file_dates(h: Any) -> dict[str, date | None]:
    return {stage: getattr(h, col) for stage, col in household_service.STAGE_DATE_FIELDS.items()}


def _timeline(h: Any, changes: list[StageChange], *, manage: bool) -> StageTimeline:
    reached: dict[str, date | None] = {}
    for c in changes:  # oldest first: the newest move to a stage wins
        reached[c.to_stage] = c.reached_on
    for stage, on in _file_dates(h).items():
        if on is not None:
            reached[stage] = on  # the household file's date is the legal one
    current = h.status
    order = rules.STAGES
    pos = order.index(current) if current in order else len(order)
    bar = []
    for i, stage in enumerate(order):
        state = "done" if i < pos else ("current" if i == pos else "todo")
        bar.append(
            StageBarItem(stage, stage_label(stage), state, reached.get(stage) if state != "todo" else None)
        )
    nxt = [
        NextStage(
            s,
            stage_label(s),
            s in rules.DATED_STAGES,
            s not in rules.RECORDED_STAGES and rules.stage_move_refusal(s, "", manage=manage) is None,
            rules.RECORDED_STAGES.get(s, ""),
        )
        for s in order
        if s in household_service.next_stages(current)
    ]
    return StageTimeline(h.id, current, stage_label(current), bar, changes, nxt)


def stage_timeline(
    session: Session, *, scope: DataScope, household_id: int, manage: bool = False
) -> StageTimeline:
    """The stage bar and timeline of one household within ``scope``.

    ``manage``: the viewer holds CAMPAIGN_MANAGE (marks which next moves they may record).
    """
    h = household_service.get_household(session, scope=scope, household_id=household_id)
    return _timeline(h, _changes(session, h.id), manage=manage)


def _previous_date(h: Any, changes: list[StageChange]) -> tuple[date | None, str]:
    """The date the current stage was reached (from the timeline, else the household file), and its name."""
    current = h.status
    on: date | None = None
    for c in changes:
        if c.to_stage == current:
            on = c.reached_on
    file_on = _file_dates(h).get(current)
    if file_on is not None:
        on = file_on
    return on, stage_label(current)


def move_stage(
    session: Session,
    *,
    actor: Actor,
    scope: DataScope,
    household_id: int,
    to_stage: str,
    on: date | None,
    note: str = "",
    manage: bool = False,
    manual: bool = False,
    today: date | None = None,
    recorded_at: datetime | None = None,
) -> StageChange:
    """Move a household to ``to_stage`` (reached ``on``, an office date), keeping the timeline.

    The transition must be in the household's transition table (409 ``illegal_transition`` naming
    both stages otherwise, nothing written). 已签约 / 已腾空 / 已拆除 need ``on`` and ``manage``
    (CAMPAIGN_MANAGE; 403 otherwise); other stages default to today. ``on`` may not lie after today
    nor before the date the current stage was reached (409 ``stage_date``). The household's status and date change
    through the household service (audited there); the :class:`StageChange` is audited too and a
    ``stage`` event is queued for live pages.

    ``manual``: a person moves the stage by hand (the stage form and API). 已签约 / 已腾空 / 已拆除
    are then refused (409 ``recorded_stage`` naming where they are recorded): only signing and the
    clearance records (and the demo's backfilled history) move a household there.

    Moving to the stage the household is already in changes nothing (a retried request): the
    answer is an unsaved :class:`StageChange` whose ``from_stage`` equals ``to_stage``.
    """
    if to_stage not in rules.STAGES:
        raise _fail(
            "to_stage", "目标阶段", "不存在（应为 " + " / ".join(stage_label(s) for s in rules.STAGES) + "）"
        )
    note = _text(note, "note", "备注", text.MAX_REASON, multiline=True)
    today = today or today_shanghai()
    h = household_service.get_household(session, scope=scope, household_id=household_id)
    if manual:
        recorded = rules.manual_move_refusal(to_stage, stage_label(to_stage))
        if recorded:
            raise Conflict(
                recorded,
                f"{to_stage} is recorded by its own record, not by a stage move",
                code="recorded_stage",
                details=[
                    {"field": "to_stage", "message": recorded, "recorded_in": rules.RECORDED_STAGES[to_stage]}
                ],
            )
    current = h.status
    if to_stage == current:
        return StageChange(
            project_id=h.project_id,
            household_id=h.id,
            from_stage=current,
            to_stage=current,
            reached_on=_previous_date(h, _changes(session, h.id))[0] or today,
            at=utcnow(),
            by_user_id=actor.user_id,
            by_name=actor.display_name,
            note="",
        )
    allowed = [s for s in rules.STAGES if s in household_service.next_stages(current)]
    if to_stage not in allowed:
        hint = (
            "，当前可变为：" + "、".join(f"“{stage_label(s)}”" for s in allowed)
            if allowed
            else "，该阶段之后不能再变更"
        )
        raise Conflict(
            f"该户阶段不能从“{stage_label(current)}”变为“{stage_label(to_stage)}”{hint}",
            f"illegal stage transition {current} -> {to_stage}",
            code="illegal_transition",
            details=[{"field": "to_stage", "from_stage": current, "to_stage": to_stage, "allowed": allowed}],
        )
    refusal = rules.stage_move_refusal(to_stage, stage_label(to_stage), manage=manage)
    if refusal:
        raise PermissionDenied(refusal, f"recording {to_stage} needs campaign.manage")
    if on is None:
        if to_stage in rules.DATED_STAGES:
            raise _fail("on", f"{stage_label(to_stage)}日期", "必填")
        on = today
    changes = _changes(session, h.id)
    previous_on, previous_label = _previous_date(h, changes)
    problem = rules.stage_date_problem(
        on, today=today, previous_on=previous_on, previous_label=previous_label
    )
    if problem:
        # The date conflicts with the timeline (or the calendar), not with the form of the request: 409.
        label = f"{stage_label(to_stage)}日期"
        raise Conflict(
            f"{label}{problem}",
            "the stage date conflicts with the timeline",
            code="stage_date",
            details=[{"field": "on", "label": label, "message": problem}],
        )
    household_service.set_stage(
        session,
        actor=actor,
        scope=scope,
        household_id=h.id,
        stage=to_stage,
        on=on if to_stage in rules.DATED_STAGES else None,
        reason=note,
    )
    change = StageChange(
        project_id=h.project_id,
        household_id=h.id,
        from_stage=current,
        to_stage=to_stage,
        reached_on=on,
        at=recorded_at or utcnow(),  # a backfilled history (the demo's) keeps the moment it happened
        by_user_id=actor.user_id,
        by_name=actor.display_name[:64],
        note=note,
    )
    session.add(change)
    session.flush()
    audit_service.record(
        session,
        actor=actor,
        action="create",
        entity="stage_change",
        entity_id=change.id,
        project_id=h.project_id,
        household_id=h.id,
        changes={
            "from_stage": [None, current],
            "to_stage": [None, to_stage],
            "reached_on": [None, on.isoformat()],
        },
        reason=note,
    )
    events.notify(
        session,
        topic=events.project_topic(h.project_id),
        kind="stage",
        data={"household_id": h.id, "from": current, "to": to_stage, "on": on.isoformat()},
    )
    return change


def revert_stage(
    session: Session,
    *,
    actor: Actor,
    scope: DataScope,
    household_id: int,
    from_stage: str,
    note: str,
    recorded_at: datetime | None = None,
) -> StageChange:
    """Take a household back from a recorded stage (已腾空 → 已签约, 已拆除 → 已腾空) because the
    record that set it was voided; ``note`` says why (kept on the timeline and in the audit).

    Only the voiding of that record calls this (never a stage form): the household service checks
    the household is in ``from_stage`` (409 otherwise) and clears the stage's date in the file. The
    timeline gets a move back whose ``reached_on`` is the date of the stage returned to (as the
    file has it), so the stage bar keeps showing when that stage was reached.
    """
    note = _text(note, "note", "备注", text.MAX_REASON, multiline=True)
    h = household_service.revert_stage(
        session, actor=actor, scope=scope, household_id=household_id, stage=from_stage, reason=note
    )
    back = h.status
    reached_on, _label = _previous_date(h, _changes(session, h.id))
    change = StageChange(
        project_id=h.project_id,
        household_id=h.id,
        from_stage=from_stage,
        to_stage=back,
        reached_on=reached_on or today_shanghai(),
        at=recorded_at or utcnow(),
        by_user_id=actor.user_id,
        by_name=actor.display_name[:64],
        note=note,
    )
    session.add(change)
    session.flush()
    audit_service.record(
        session,
        actor=actor,
        action="revert",
        entity="stage_change",
        entity_id=change.id,
        project_id=h.project_id,
        household_id=h.id,
        changes={"from_stage": [None, from_stage], "to_stage": [None, back]},
        reason=note,
    )
    events.notify(
        session,
        topic=events.project_topic(h.project_id),
        kind="stage",
        data={"household_id": h.id, "from": from_stage, "to": back, "on": change.reached_on.isoformat()},
    )
    return change


# ---------------------------------------------------------------- the campaign tab


@dataclass
class StepFile:
    """A plan step as the tab shows it."""

    id: int
    text: str
    owner_id: int | None
    owner_name: str
    due_on: date | None
    status: str
    status_label: str
    overdue: bool
    done_at: datetime | None
    version: int
    sort: int


@dataclass
class PlanFile:
    """The 一户一策 plan with its steps."""

    id: int
    summary: str
    owner_id: int | None
    owner_name: str
    status: str
    status_label: str
    version: int
    created_at: datetime
    updated_at: datetime
    steps: list[StepFile] = field(default_factory=list)

    @property
    def open_steps(self) -> int:
        """Steps not done or dropped."""
        return sum(1 for s in self.steps if s.status in ("todo", "doing"))


@dataclass
class CampaignFile:
    """Everything on one household's campaign tab (攻坚)."""

    household_id: int
    project_id: int
    code: str
    head_name: str
    address: str
    stage: str
    stage_label: str
    timeline: StageTimeline
    attitude: str
    attitude_label: str
    previous_attitude: str
    previous_attitude_label: str
    attitude_changed_at: datetime | None
    attitude_worsened: bool
    difficulty: int
    difficulty_label: str
    difficulty_reason: str
    escalated_to: int | None
    escalated_to_name: str
    escalation: str  # the leader's name as shown: the user's display name or the typed name
    next_step: str
    next_due_on: date | None
    next_overdue: bool
    visit_count: int
    last_visit_at: datetime | None
    days_since_visit: int | None
    no_visit_days: int
    team_id: int | None
    team_name: str
    user_id: int | None
    user_name: str
    version: int  # of the campaign row; 0 = nothing saved yet
    plan: PlanFile | None


def _campaign_row(session: Session, household_id: int, *, lock: bool = False) -> HouseholdCampaign | None:
    stmt = select(HouseholdCampaign).where(HouseholdCampaign.household_id == household_id)
    if lock:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    return session.scalar(stmt)


def _plan_row(session: Session, household_id: int, *, lock: bool = False) -> HouseholdPlan | None:
    stmt = select(HouseholdPlan).where(HouseholdPlan.household_id == household_id)
    if lock:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    return session.scalar(stmt)


def _step_file(s: PlanStep, names: dict[int, str], today: date) -> StepFile:
    return StepFile(
        id=s.id,
        text=s.text,
        owner_id=s.owner_id,
        owner_name=names.get(s.owner_id, "") if s.owner_id else "",
        due_on=s.due_on,
        status=s.status,
        status_label=rules.STEP_STATUSES.get(s.status, s.status),
        overdue=rules.step_overdue(s.due_on, s.status, today),
        done_at=s.done_at,
        version=s.version,
        sort=s.sort,
    )


def _plan_file(
    session: Session, plan: HouseholdPlan | None, names: dict[int, str], today: date
) -> PlanFile | None:
    if plan is None:
        return None
    steps = list(
        session.scalars(
            select(PlanStep).where(PlanStep.plan_id == plan.id).order_by(PlanStep.sort, PlanStep.id)
        )
    )
    return PlanFile(
        id=plan.id,
        summary=plan.summary,
        owner_id=plan.owner_id,
        owner_name=names.get(plan.owner_id, "") if plan.owner_id else "",
        status=plan.status,
        status_label=rules.PLAN_STATUSES.get(plan.status, plan.status),
        version=plan.version,
        created_at=plan.created_at,
        updated_at=plan.updated_at,
        steps=[_step_file(s, names, today) for s in steps],
    )


def campaign_file(
    session: Session, *, scope: DataScope, household_id: int, manage: bool = False, today: date | None = None
) -> CampaignFile:
    """The campaign tab of one household within ``scope`` (404 outside it).

    Stage with its bar and timeline, attitude (with the one before and when it changed),
    difficulty, 包案领导, next step, visit summary, the assignment and the 一户一策 plan.
    ``manage`` marks which next stages the viewer may record.
    """
    today = today or today_shanghai()
    h = household_service.get_household(session, scope=scope, household_id=household_id)
    c = _campaign_row(session, h.id)
    names = _names(session)
    team_id, user_id = identity_service.active_assignments(session, [h.id]).get(h.id, (None, None))
    teams = identity_service.team_names(session, h.project_id) if team_id else {}
    project = project_service.get_project(session, h.project_id)
    attitude = c.attitude if c else ""
    previous = c.previous_attitude if c else ""
    escalated_to = c.escalated_to if c else None
    escalated_name = c.escalated_to_name if c else ""
    next_due = c.next_due_on if c else None
    last_visit = c.last_visit_at if c else None
    difficulty = c.difficulty if c else 0
    return CampaignFile(
        household_id=h.id,
        project_id=h.project_id,
        code=h.code,
        head_name=h.head_name,
        address=h.address,
        stage=h.status,
        stage_label=stage_label(h.status),
        timeline=_timeline(h, _changes(session, h.id), manage=manage),
        attitude=attitude,
        attitude_label=rules.ATTITUDES.get(attitude, ""),
        previous_attitude=previous,
        previous_attitude_label=rules.ATTITUDES.get(previous, ""),
        attitude_changed_at=c.attitude_changed_at if c else None,
        attitude_worsened=rules.attitude_worsened(previous, attitude),
        difficulty=difficulty,
        difficulty_label=rules.DIFFICULTY_LEVELS.get(difficulty, str(difficulty)),
        difficulty_reason=c.difficulty_reason if c else "",
        escalated_to=escalated_to,
        escalated_to_name=escalated_name,
        escalation=(names.get(escalated_to, "") if escalated_to else "") or escalated_name,
        next_step=c.next_step if c else "",
        next_due_on=next_due,
        next_overdue=bool(c and c.next_step) and rules.step_overdue(next_due, "todo", today),
        visit_count=c.visit_count if c else 0,
        last_visit_at=last_visit,
        days_since_visit=rules.days_since(last_visit, today),
        no_visit_days=int(project.alert_no_visit_days or 0),
        team_id=team_id,
        team_name=teams.get(team_id, "") if team_id else "",
        user_id=user_id,
        user_name=names.get(user_id, "") if user_id else "",
        version=c.version if c else 0,
        plan=_plan_file(session, _plan_row(session, h.id), names, today),
    )


def _check_version(session: Session, obj: Any, expected: int | None, *, what: str, entity: str) -> None:
    current = int(obj.version) if obj is not None else 0
    if expected is None or expected == current:
        return
    raise household_service.stale_version(
        session, what=what, current=current, entity=entity, entity_id=obj.id if obj is not None else ""
    )


def _bump(session: Session, obj: Any) -> None:
    """Raise ``obj``'s version by one, guarded by the version this transaction read."""
    model = type(obj)
    old = int(obj.version)
    result: Any = session.execute(
        update(model)
        .where(model.id == obj.id, model.version == old)
        .values(version=old + 1)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise Conflict(
            "该记录已被他人修改，请刷新页面后重试", "changed by someone else meanwhile", code="stale_version"
        )
    set_committed_value(obj, "version", old + 1)


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
    audit_service.record(
        session,
        actor=actor,
        action="update",
        entity="household_campaign",
        entity_id=c.id,
        project_id=h.project_id,
        household_id=h.id,
        changes=diff,
        reason=reason,
    )
    events.notify(
        session,
        topic=events.project_topic(h.project_id),
        kind="campaign",
        data={"household_id": h.id, "fields": sorted(diff)},
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
    audit_service.record(
        session,
        actor=actor,
        action=action,
        entity="household_plan",
        entity_id=plan.id,
        project_id=h.project_id,
        household_id=h.id,
        changes=diff,
    )
    events.notify(session, topic=events.project_topic(h.project_id), kind="plan", data={"household_id": h.id})
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
    audit_service.record(
        session,
        actor=actor,
        action="create",
        entity="plan_step",
        entity_id=step.id,
        project_id=h.project_id,
        household_id=h.id,
        changes=field_diff(
            {}, {"text": step.text, "owner_id": step.owner_id, "due_on": step.due_on, "status": status}
        ),
    )
    events.notify(session, topic=events.project_topic(h.project_id), kind="plan", data={"household_id": h.id})
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
    audit_service.record(
        session,
        actor=actor,
        action="update",
        entity="plan_step",
        entity_id=step.id,
        project_id=h.project_id,
        household_id=h.id,
        changes=diff,
    )
    events.notify(session, topic=events.project_topic(h.project_id), kind="plan", data={"household_id": h.id})
    return step


def leader_choices(session: Session) -> list[tuple[int, str]]:
    """Active users who can be a 包案领导 (commanders and case officers): ``(id, display name)``."""
    return [
        (u.id, u.display_name)
        for u in identity_service.list_users(session)
        if u.is_active and u.role in LEADER_ROLES
    ]


def owner_choices(session: Session) -> list[tuple[int, str]]:
    """Active users who can own a plan or a step: ``(id, display name)``."""
    return [
        (u.id, u.display_name)
        for u in identity_service.list_users(session)
        if u.is_active and u.role in OWNER_ROLES
    ]


# ---------------------------------------------------------------- my households (the team's start page)


@dataclass(frozen=True, slots=True)
class MyHousehold:
    """One line of 我的包户."""

    id: int
    code: str
    head_name: str
    stage: str
    stage_label: str
    attitude: str
    attitude_label: str
    difficulty: int
    last_visit_at: datetime | None
    days_since_visit: int | None
    visit_count: int
    next_step: str
    next_due_on: date | None
    next_overdue: bool
    team_name: str
    user_name: str


@dataclass
class MyHouseholds:
    """The households a user works on (assigned to them, or to their team for a leader), capped."""

    items: list[MyHousehold]
    total: int
    limit: int


def my_households(
    session: Session, *, scope: DataScope, project_id: int, today: date | None = None
) -> MyHouseholds:
    """我的包户: the project's households within ``scope`` with stage, attitude, last visit and next step.

    Households still to win come first (never visited, then the longest unvisited); at most
    :data:`MY_LIMIT` lines (a whole-project scope sees the first ones and the total).
    """
    today = today or today_shanghai()
    hh = household_service.live_households(scope=scope, project_id=project_id)
    c = HouseholdCampaign
    open_first = hh.c.status.in_(rules.OPEN_STAGES)
    base = select(func.count()).select_from(hh)
    total = int(session.scalar(base) or 0)
    rows = session.execute(
        select(
            hh.c.id,
            hh.c.code,
            hh.c.head_name,
            hh.c.status,
            c.attitude,
            c.difficulty,
            c.last_visit_at,
            c.visit_count,
            c.next_step,
            c.next_due_on,
        )
        .select_from(hh)
        .outerjoin(c, c.household_id == hh.c.id)
        .order_by(open_first.desc(), c.last_visit_at.is_(None).desc(), c.last_visit_at, hh.c.code)
        .limit(MY_LIMIT)
    ).all()
    ids = [int(r[0]) for r in rows]
    assignments = identity_service.active_assignments(session, ids)
    teams = identity_service.team_names(session, project_id)
    names = _names(session)
    items = []
    for hid, code, head, status, attitude, difficulty, last, count, step, due in rows:
        team_id, user_id = assignments.get(int(hid), (None, None))
        items.append(
            MyHousehold(
                id=int(hid),
                code=code,
                head_name=head,
                stage=status,
                stage_label=stage_label(status),
                attitude=attitude or "",
                attitude_label=rules.ATTITUDES.get(attitude or "", ""),
                difficulty=int(difficulty or 0),
                last_visit_at=last,
                days_since_visit=rules.days_since(last, today),
                visit_count=int(count or 0),
                next_step=step or "",
                next_due_on=due,
                next_overdue=bool(step) and rules.step_overdue(due, "todo", today),
                team_name=teams.get(team_id, "") if team_id else "",
                user_name=names.get(user_id, "") if user_id else "",
            )
        )
    return MyHouseholds(items=items, total=total, limit=MY_LIMIT)
