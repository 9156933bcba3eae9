"""Campaign service part: the household's campaign tab as the page shows it: stage timeline,
summary (attitude, difficulty, 包案领导), assignment and the 一户一策 plan (see the package docstring).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from anju.campaign import rules
from anju.campaign.models import HouseholdCampaign, HouseholdPlan, PlanStep
from anju.campaign.service.households import (
    LEADER_ROLES,
    OWNER_ROLES,
    StageTimeline,
    _changes,
    _names,
    _timeline,
    stage_label,
)
from anju.core.dates import today_shanghai
from anju.household import service as household_service
from anju.identity import service as identity_service
from anju.identity.service import DataScope
from anju.project import service as project_service

__all__ = [
    "CampaignFile",
    "PlanFile",
    "StepFile",
    "campaign_file",
    "leader_choices",
    "owner_choices",
]


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
