"""JSON routes of the campaign: the household's campaign tab (攻坚), its stages, 一户一策 plan and the
team alerts; thin over :mod:`anju.campaign.service`."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy.orm import Session

from anju.campaign import schemas as s
from anju.campaign import service as campaign_service
from anju.core.dates import today_shanghai
from anju.identity.rules import Permission
from anju.identity.service import CurrentUser
from anju.web.deps import client_ip, get_db, requires
from anju.web.params import READ_ERRORS, WRITE_ERRORS, IdPath, error_responses

router = APIRouter(tags=["campaign"])
READ = requires(Permission.CAMPAIGN_READ)
MANAGE = requires(Permission.CAMPAIGN_MANAGE)
WRITE = requires(Permission.VISIT_WRITE)


def change_read(c: Any) -> s.StageChangeRead:
    """A :class:`StageChange` with the stages' Chinese names."""
    return s.StageChangeRead(
        id=c.id,
        from_stage=c.from_stage,
        from_label=campaign_service.stage_label(c.from_stage),
        to_stage=c.to_stage,
        to_label=campaign_service.stage_label(c.to_stage),
        reached_on=c.reached_on,
        at=c.at,
        by_name=c.by_name,
        note=c.note,
    )


def timeline_read(t: campaign_service.StageTimeline) -> s.StageTimelineRead:
    return s.StageTimelineRead(
        household_id=t.household_id,
        stage=t.stage,
        label=t.label,
        bar=[s.StageBarItemRead.model_validate(b) for b in t.bar],
        changes=[change_read(c) for c in t.changes],
        next=[s.NextStageRead.model_validate(n) for n in t.next],
    )


def campaign_read(f: campaign_service.CampaignFile) -> s.CampaignRead:
    plan = None
    if f.plan is not None:
        plan = s.PlanRead(
            id=f.plan.id,
            summary=f.plan.summary,
            owner_id=f.plan.owner_id,
            owner_name=f.plan.owner_name,
            status=f.plan.status,
            status_label=f.plan.status_label,
            version=f.plan.version,
            created_at=f.plan.created_at,
            updated_at=f.plan.updated_at,
            steps=[s.PlanStepRead.model_validate(step) for step in f.plan.steps],
        )
    fields = {k: getattr(f, k) for k in s.CampaignRead.model_fields if k not in ("stages", "plan")}
    return s.CampaignRead(**fields, stages=timeline_read(f.timeline), plan=plan)


@router.get(
    "/households/{household_id}/campaign",
    response_model=s.CampaignRead,
    responses=error_responses(*READ_ERRORS),
)
def get_campaign(
    household_id: IdPath, user: CurrentUser = Depends(READ), db: Session = Depends(get_db)
) -> s.CampaignRead:
    """The campaign tab of a household: stage and timeline, attitude, difficulty, 包案领导, next step,
    visit summary, assignment and the 一户一策 plan. Outside the caller's households: 404."""
    f = campaign_service.campaign_file(
        db, scope=user.scope, household_id=household_id, manage=user.can(Permission.CAMPAIGN_MANAGE)
    )
    return campaign_read(f)


@router.patch(
    "/households/{household_id}/campaign",
    response_model=s.SavedRead,
    responses=error_responses(*WRITE_ERRORS),
)
def update_campaign(
    household_id: IdPath,
    body: s.CampaignUpdate,
    request: Request,
    user: CurrentUser = Depends(MANAGE),
    db: Session = Depends(get_db),
) -> s.SavedRead:
    """Set the difficulty (难点户 level and why) and the 包案领导 (a commander or case officer, or a name).

    ``version`` is the one read (0 when nothing was saved yet); a different one is 409 ``stale_version``.
    """
    c = campaign_service.update_campaign(
        db,
        actor=user.actor(client_ip(request)),
        scope=user.scope,
        household_id=household_id,
        data=body.data(),
        expected_version=body.version,
        reason=body.reason,
    )
    return s.SavedRead(id=c.id, version=c.version)


@router.post(
    "/households/{household_id}/stage",
    response_model=s.StageMoveRead,
    responses=error_responses(*WRITE_ERRORS),
)
def move_stage(
    household_id: IdPath,
    body: s.StageMove,
    request: Request,
    user: CurrentUser = Depends(WRITE),
    db: Session = Depends(get_db),
) -> s.StageMoveRead:
    """Move a household to a stage (未入户 → 已调查 → 已评估 → 协商中 → 已签约 → 已腾空 → 已拆除).

    已签约 / 已腾空 / 已拆除 are never moved by hand: they are recorded by signing an agreement
    (``POST /api/v1/households/{id}/agreements``), the vacating acceptance and the demolition
    record; asking for them here is 409 ``recorded_stage`` naming where. A move outside the
    transition table is 409 ``illegal_transition`` naming both stages; a date after today or
    before the current stage's is 409 ``stage_date``. Moving to the current stage changes nothing
    (``changed`` false).
    """
    c = campaign_service.move_stage(
        db,
        actor=user.actor(client_ip(request)),
        scope=user.scope,
        household_id=household_id,
        to_stage=body.to_stage,
        on=body.on,
        note=body.note,
        manage=user.can(Permission.CAMPAIGN_MANAGE),
        manual=True,
    )
    return s.StageMoveRead(
        changed=c.from_stage != c.to_stage,
        stage=c.to_stage,
        label=campaign_service.stage_label(c.to_stage),
        change=change_read(c),
    )


@router.get(
    "/households/{household_id}/stages",
    response_model=s.StageTimelineRead,
    responses=error_responses(*READ_ERRORS),
)
def stage_timeline(
    household_id: IdPath, user: CurrentUser = Depends(READ), db: Session = Depends(get_db)
) -> s.StageTimelineRead:
    """The household's stage bar, its recorded moves (oldest first) and the moves possible next."""
    t = campaign_service.stage_timeline(
        db, scope=user.scope, household_id=household_id, manage=user.can(Permission.CAMPAIGN_MANAGE)
    )
    return timeline_read(t)


@router.put(
    "/households/{household_id}/plan", response_model=s.SavedRead, responses=error_responses(*WRITE_ERRORS)
)
def save_plan(
    household_id: IdPath,
    body: s.PlanSave,
    request: Request,
    user: CurrentUser = Depends(WRITE),
    db: Session = Depends(get_db),
) -> s.SavedRead:
    """Create or replace the household's 一户一策 plan (strategy, owner, status); ``version`` 0 when
    there was none, else the one read (409 ``stale_version`` otherwise)."""
    plan = campaign_service.save_plan(
        db,
        actor=user.actor(client_ip(request)),
        scope=user.scope,
        household_id=household_id,
        data={"summary": body.summary, "owner_id": body.owner_id, "status": body.status},
        expected_version=body.version,
    )
    return s.SavedRead(id=plan.id, version=plan.version)


@router.post(
    "/households/{household_id}/plan/steps",
    response_model=s.SavedRead,
    status_code=201,
    responses=error_responses(*WRITE_ERRORS),
)
def add_step(
    household_id: IdPath,
    body: s.PlanStepCreate,
    request: Request,
    user: CurrentUser = Depends(WRITE),
    db: Session = Depends(get_db),
) -> s.SavedRead:
    """Add a step to the household's plan (an empty plan is started when there is none)."""
    step = campaign_service.add_step(
        db,
        actor=user.actor(client_ip(request)),
        scope=user.scope,
        household_id=household_id,
        data=body.model_dump(),
    )
    return s.SavedRead(id=step.id, version=step.version)


@router.patch("/plan-steps/{step_id}", response_model=s.SavedRead, responses=error_responses(*WRITE_ERRORS))
def update_step(
    step_id: IdPath,
    body: s.PlanStepUpdate,
    request: Request,
    user: CurrentUser = Depends(WRITE),
    db: Session = Depends(get_db),
) -> s.SavedRead:
    """Change a plan step (text, owner, due date, status todo / doing / done / dropped); a step of a
    household outside the caller's scope: 404; a stale ``version``: 409."""
    step = campaign_service.update_step(
        db,
        actor=user.actor(client_ip(request)),
        scope=user.scope,
        step_id=step_id,
        data=body.data(),
        expected_version=body.version,
    )
    return s.SavedRead(id=step.id, version=step.version)


TodayQuery = Annotated[date | None, Query(description="按哪一天计算（YYYY-MM-DD，默认今天）")]


@router.get(
    "/projects/{project_id}/alerts", response_model=s.AlertsRead, responses=error_responses(*READ_ERRORS)
)
def project_alerts(
    project_id: IdPath,
    today: TodayQuery = None,
    user: CurrentUser = Depends(READ),
    db: Session = Depends(get_db),
) -> s.AlertsRead:
    """Team alerts of the project's households within the caller's scope: not visited for the project's
    number of days (or never), overdue next steps and plan steps, 难点户 without a plan, attitude worse
    within 7 days. Each list holds at most 200 households; ``totals`` are the full counts. For a past
    ``today`` the not-visited list is as it stood then (visits up to that day)."""
    now = today_shanghai()
    a = campaign_service.alerts(
        db,
        scope=user.scope,
        project_id=project_id,
        today=today or now,
        as_of=today is not None and today < now,
    )
    return s.AlertsRead.model_validate(a)
