"""The campaign tab against a real database: stage moves and their timeline, refusals that write
nothing, the recorded dates, difficulty and escalation, 一户一策 plans and steps, stale versions,
and the team alerts."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from anju.audit.models import AuditRecord
from anju.campaign import service as campaign_service
from anju.campaign.models import HouseholdCampaign, HouseholdPlan, PlanStep, StageChange
from anju.core.actor import Actor
from anju.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from anju.household.models import Household
from anju.identity.rules import ScopeKind
from anju.identity.service import DataScope
from tests.factories import ACTOR, World, build_world

ALL = DataScope.everything()
TODAY = date(2026, 12, 4)


@pytest.fixture
def w(db: Session) -> World:
    return build_world(db, households=6)


def member_scope(w: World) -> DataScope:
    return DataScope(kind=ScopeKind.ASSIGNED, user_id=w.users["team_member"], team_id=w.team_id)


def leader_scope(w: World) -> DataScope:
    return DataScope(kind=ScopeKind.TEAM, user_id=w.users["team_leader"], team_id=w.team_id)


def actor_of(w: World, role: str) -> Actor:
    return Actor(user_id=w.users[role], username=role, display_name=f"测试{role}", role=role)


def as_team(w: World, role: str) -> dict[str, Any]:
    """A move by a team role (``team_member`` or ``team_leader``) within its own scope: no CAMPAIGN_MANAGE."""
    scope = member_scope(w) if role == "team_member" else leader_scope(w)
    return {"actor": actor_of(w, role), "scope": scope, "manage": False}


def state(db: Session, hid: int) -> dict[str, Any]:
    """Everything a stage move may write, to compare before and after a refusal."""
    db.expire_all()
    h = db.get(Household, hid)
    assert h is not None
    return {
        "household": (h.status, h.sign_on, h.vacate_on, h.demolish_on, h.version),
        "changes": db.scalar(
            select(func.count()).select_from(StageChange).where(StageChange.household_id == hid)
        ),
        "audit": db.scalar(select(func.count()).select_from(AuditRecord)),
        "events": len(db.info.get("anju_events", [])),
    }


def move(db: Session, hid: int, to: str, on: date | None = None, **kw: Any) -> StageChange:
    kw.setdefault("actor", ACTOR)
    kw.setdefault("scope", ALL)
    kw.setdefault("manage", True)
    return campaign_service.move_stage(db, household_id=hid, to_stage=to, on=on, today=TODAY, **kw)


# ---------------------------------------------------------------- stages


def test_a_move_changes_the_stage_keeps_the_timeline_audits_and_queues_an_event(
    db: Session, w: World
) -> None:
    hid = w.household_ids[0]
    before_audit = db.scalar(select(func.count()).select_from(AuditRecord))
    c = move(db, hid, "negotiating", date(2026, 12, 1), note="开始协商", **as_team(w, "team_member"))
    assert (c.from_stage, c.to_stage, c.reached_on, c.by_name, c.note) == (
        "surveyed",
        "negotiating",
        date(2026, 12, 1),
        "测试team_member",
        "开始协商",
    )
    h = db.get(Household, hid)
    assert h is not None and h.status == "negotiating" and h.sign_on is None
    rows = db.scalars(select(AuditRecord).where(AuditRecord.seq > 0).order_by(AuditRecord.seq)).all()[
        before_audit:
    ]
    assert [(r.entity, r.action) for r in rows] == [("household", "status"), ("stage_change", "create")]
    assert rows[1].reason == "开始协商"
    queued = db.info["anju_events"]
    assert [(e.kind, e.topic, e.data["to"]) for e in queued if e.kind == "stage"] == [
        ("stage", f"project:{w.project_id}", "negotiating")
    ]


def test_signed_vacated_demolished_record_the_household_dates(db: Session, w: World) -> None:
    hid = w.household_ids[1]
    move(db, hid, "negotiating", date(2026, 11, 20))
    move(db, hid, "signed", date(2026, 11, 25))
    move(db, hid, "vacated", date(2026, 11, 28))
    move(db, hid, "demolished", date(2026, 12, 2))
    h = db.get(Household, hid)
    assert h is not None
    assert (h.status, h.sign_on, h.vacate_on, h.demolish_on) == (
        "demolished",
        date(2026, 11, 25),
        date(2026, 11, 28),
        date(2026, 12, 2),
    )
    t = campaign_service.stage_timeline(db, scope=ALL, household_id=hid)
    assert [(c.from_stage, c.to_stage, c.reached_on) for c in t.changes] == [
        ("surveyed", "negotiating", date(2026, 11, 20)),
        ("negotiating", "signed", date(2026, 11, 25)),
        ("signed", "vacated", date(2026, 11, 28)),
        ("vacated", "demolished", date(2026, 12, 2)),
    ]
    assert [(b.stage, b.state, b.reached_on) for b in t.bar] == [
        ("pending", "done", None),
        ("surveyed", "done", None),
        ("valued", "done", None),
        ("negotiating", "done", date(2026, 11, 20)),
        ("signed", "done", date(2026, 11, 25)),
        ("vacated", "done", date(2026, 11, 28)),
        ("demolished", "current", date(2026, 12, 2)),
    ]
    assert t.next == []  # archiving is not a campaign stage


@pytest.mark.parametrize(
    ("to", "on", "exc", "message"),
    [
        (
            "vacated",
            date(2026, 12, 1),
            Conflict,
            "该户阶段不能从“已调查”变为“已腾空”，当前可变为：“已评估”、“协商中”、“已签约”",
        ),
        ("pending", date(2026, 12, 1), Conflict, "该户阶段不能从“已调查”变为“未入户”"),
        ("bogus", date(2026, 12, 1), ValidationFailed, "目标阶段不存在"),
        ("signed", None, ValidationFailed, "已签约日期必填"),
        ("signed", date(2026, 12, 5), Conflict, "已签约日期不能晚于今天（2026-12-04）"),
    ],
)
def test_refused_moves_write_nothing(
    db: Session, w: World, to: str, on: date | None, exc: type[Exception], message: str
) -> None:
    hid = w.household_ids[2]
    before = state(db, hid)
    with pytest.raises(exc) as info:
        move(db, hid, to, on)
    assert message in str(getattr(info.value, "message_zh", info.value))
    assert state(db, hid) == before


def test_illegal_transition_is_a_409_naming_both_stages(db: Session, w: World) -> None:
    hid = w.household_ids[0]
    move(db, hid, "negotiating", date(2026, 12, 1))
    move(db, hid, "signed", date(2026, 12, 2))
    with pytest.raises(Conflict) as info:
        move(db, hid, "valued", date(2026, 12, 3))
    assert info.value.http_status == 409 and info.value.code == "illegal_transition"
    assert info.value.message_zh == "该户阶段不能从“已签约”变为“已评估”，当前可变为：“已腾空”"


def test_a_date_before_the_current_stage_is_refused(db: Session, w: World) -> None:
    hid = w.household_ids[0]
    move(db, hid, "negotiating", date(2026, 11, 30))
    move(db, hid, "signed", date(2026, 12, 2))
    before = state(db, hid)
    with pytest.raises(Conflict) as info:
        move(db, hid, "vacated", date(2026, 12, 1))
    assert info.value.message_zh == "已腾空日期不能早于上一阶段“已签约”的日期（2026-12-02）"
    assert state(db, hid) == before


def test_team_roles_move_up_to_negotiating_only(db: Session, w: World) -> None:
    hid = w.household_ids[0]
    move(db, hid, "valued", date(2026, 12, 1), **as_team(w, "team_member"))
    move(db, hid, "negotiating", date(2026, 12, 2), **as_team(w, "team_member"))
    before = state(db, hid)
    with pytest.raises(PermissionDenied) as info:
        move(db, hid, "signed", date(2026, 12, 3), **as_team(w, "team_leader"))
    assert info.value.message_zh == "“已签约”须由征迁办经办人登记，专班只能将阶段推进到“协商中”"
    assert state(db, hid) == before


def test_outside_the_scope_is_not_found_and_nothing_is_written(db: Session, w: World) -> None:
    hid = w.household_ids[2]  # the team's, not the member's
    before = state(db, hid)
    with pytest.raises(NotFound):
        move(db, hid, "valued", date(2026, 12, 1), **as_team(w, "team_member"))
    with pytest.raises(NotFound):
        campaign_service.campaign_file(db, scope=member_scope(w), household_id=hid)
    assert state(db, hid) == before


def test_moving_to_the_current_stage_changes_nothing(db: Session, w: World) -> None:
    hid = w.household_ids[0]
    before = state(db, hid)
    c = move(db, hid, "surveyed", date(2026, 12, 1))
    assert c.id is None and c.from_stage == c.to_stage == "surveyed"
    assert state(db, hid) == before


def test_next_moves_say_who_may_record_them(db: Session, w: World) -> None:
    hid = w.household_ids[0]
    team = campaign_service.stage_timeline(db, scope=ALL, household_id=hid, manage=False)
    office = campaign_service.stage_timeline(db, scope=ALL, household_id=hid, manage=True)
    assert [(n.stage, n.dated, n.allowed, n.recorded_in) for n in team.next] == [
        ("valued", False, True, ""),
        ("negotiating", False, True, ""),
        ("signed", True, False, "签约台"),
    ]
    # 已签约 is recorded at the signing desk, never moved by hand, whoever looks
    assert [(n.allowed, n.recorded_in) for n in office.next] == [(True, ""), (True, ""), (False, "签约台")]


# ---------------------------------------------------------------- campaign tab


def test_campaign_file_of_an_untouched_household(db: Session, w: World) -> None:
    f = campaign_service.campaign_file(
        db, scope=member_scope(w), household_id=w.household_ids[0], today=TODAY
    )
    assert (f.code, f.head_name, f.stage, f.stage_label) == ("H0001", "张建国", "surveyed", "已调查")
    assert (f.attitude, f.difficulty, f.difficulty_label, f.version, f.plan) == ("", 0, "一般户", 0, None)
    assert (f.visit_count, f.last_visit_at, f.days_since_visit, f.no_visit_days) == (0, None, None, 7)
    assert (f.team_name, f.user_name) == ("第一专班", "测试team_member")


def test_difficulty_and_escalation_are_versioned_and_audited(db: Session, w: World) -> None:
    hid = w.household_ids[0]
    officer = actor_of(w, "case_officer")
    c = campaign_service.update_campaign(
        db,
        actor=officer,
        scope=ALL,
        household_id=hid,
        expected_version=0,
        data={"difficulty": 2, "difficulty_reason": "面积争议", "escalated_to": w.users["commander"]},
    )
    assert (c.version, c.difficulty, c.escalated_to, c.escalated_to_name) == (1, 2, w.users["commander"], "")
    record = db.scalars(select(AuditRecord).order_by(AuditRecord.seq.desc())).first()
    assert record is not None and (record.entity, record.action, record.household_id) == (
        "household_campaign",
        "update",
        hid,
    )
    c = campaign_service.update_campaign(
        db,
        actor=officer,
        scope=ALL,
        household_id=hid,
        expected_version=1,
        data={"escalated_to_name": "王副书记"},
    )
    assert (c.version, c.escalated_to, c.escalated_to_name) == (2, None, "王副书记")
    f = campaign_service.campaign_file(db, scope=ALL, household_id=hid)
    assert (f.difficulty_label, f.escalation, f.version) == ("难点户（较难）", "王副书记", 2)
    before = state(db, hid)
    with pytest.raises(Conflict) as info:
        campaign_service.update_campaign(
            db, actor=officer, scope=ALL, household_id=hid, expected_version=1, data={"difficulty": 3}
        )
    assert info.value.code == "stale_version" and "测试case_officer" in info.value.message_zh
    assert state(db, hid) == before
    assert db.get(HouseholdCampaign, c.id).difficulty == 2  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("data", "exc", "message"),
    [
        ({"difficulty": 4}, ValidationFailed, "难点等级应为 0（一般户）至 3（特难）"),
        ({"escalated_to": "team_member"}, Conflict, "包案领导不是可选的人员"),
        ({"escalated_to": 999999}, NotFound, "包案领导不存在（用户编号 999999）"),
        ({"difficulty_reason": "x\x00"}, ValidationFailed, "难点原因"),
    ],
)
def test_bad_campaign_input_names_the_field(
    db: Session, w: World, data: dict[str, Any], exc: type[Exception], message: str
) -> None:
    if data.get("escalated_to") == "team_member":
        data = {"escalated_to": w.users["team_member"]}
    with pytest.raises(exc) as info:
        campaign_service.update_campaign(
            db, actor=ACTOR, scope=ALL, household_id=w.household_ids[0], expected_version=0, data=data
        )
    assert message in str(getattr(info.value, "message_zh", ""))
    assert db.scalar(select(func.count()).select_from(HouseholdCampaign)) == 0


def test_plan_and_steps(db: Session, w: World) -> None:
    hid = w.household_ids[0]
    member = actor_of(w, "team_member")
    plan = campaign_service.save_plan(
        db,
        actor=member,
        scope=member_scope(w),
        household_id=hid,
        expected_version=0,
        data={"summary": "请战友出面，先算清面积账", "owner_id": w.users["team_leader"]},
    )
    assert (plan.version, plan.status, plan.owner_id) == (1, "active", w.users["team_leader"])
    s1 = campaign_service.add_step(
        db,
        actor=member,
        scope=member_scope(w),
        household_id=hid,
        data={"text": "请评估公司复核阁楼", "due_on": date(2026, 12, 6), "owner_id": w.users["team_member"]},
    )
    s2 = campaign_service.add_step(
        db, actor=member, scope=member_scope(w), household_id=hid, data={"text": "联系战友"}
    )
    assert (s1.sort, s2.sort, s1.status, s1.version) == (1, 2, "todo", 1)
    s1 = campaign_service.update_step(
        db, actor=member, scope=member_scope(w), step_id=s1.id, expected_version=1, data={"status": "done"}
    )
    assert (s1.status, s1.version) == ("done", 2) and s1.done_at is not None
    with pytest.raises(Conflict) as info:
        campaign_service.update_step(
            db,
            actor=member,
            scope=member_scope(w),
            step_id=s1.id,
            expected_version=1,
            data={"status": "doing"},
        )
    assert info.value.code == "stale_version"
    f = campaign_service.campaign_file(db, scope=ALL, household_id=hid)
    assert f.plan is not None and [(s.text, s.status_label) for s in f.plan.steps] == [
        ("请评估公司复核阁楼", "已完成"),
        ("联系战友", "未开始"),
    ]
    assert (f.plan.owner_name, f.plan.open_steps) == ("测试team_leader", 1)
    entities = db.scalars(
        select(AuditRecord.entity).where(AuditRecord.household_id == hid).order_by(AuditRecord.seq)
    ).all()
    assert entities[-4:] == ["household_plan", "plan_step", "plan_step", "plan_step"]


def test_a_step_outside_the_scope_is_not_found(db: Session, w: World) -> None:
    step = campaign_service.add_step(
        db, actor=ACTOR, scope=ALL, household_id=w.household_ids[4], data={"text": "上门"}
    )
    with pytest.raises(NotFound):
        campaign_service.update_step(
            db,
            actor=ACTOR,
            scope=member_scope(w),
            step_id=step.id,
            expected_version=1,
            data={"status": "done"},
        )
    db.expire_all()
    assert db.get(PlanStep, step.id).status == "todo"  # type: ignore[union-attr]
    # adding a step made an (empty, active) plan
    assert (
        db.scalar(select(HouseholdPlan.status).where(HouseholdPlan.household_id == w.household_ids[4]))
        == "active"
    )


# ---------------------------------------------------------------- alerts and my households


def _campaign(db: Session, w: World, index: int, **values: Any) -> None:
    hid = w.household_ids[index]
    c = db.scalar(select(HouseholdCampaign).where(HouseholdCampaign.household_id == hid))
    if c is None:
        c = HouseholdCampaign(
            household_id=hid, project_id=w.project_id, version=1, updated_at=datetime.now(UTC)
        )
        db.add(c)
    for k, v in values.items():
        setattr(c, k, v)
    db.flush()


def at_office(day: date, hour: int = 10) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC) - timedelta(hours=8)


def test_alerts(db: Session, w: World) -> None:
    # H1 visited 6 days ago (fresh), H2 7 days ago (stale), H3 never, H4 signed (no visit alert)
    _campaign(
        db,
        w,
        0,
        last_visit_at=at_office(TODAY - timedelta(days=6)),
        next_step="复核面积",
        next_due_on=TODAY - timedelta(days=2),
        previous_attitude="support",
        attitude="resist",
        attitude_changed_at=at_office(TODAY - timedelta(days=3)),
        difficulty=1,
    )
    _campaign(
        db,
        w,
        1,
        last_visit_at=at_office(TODAY - timedelta(days=7), 23),
        next_step="再谈",
        next_due_on=TODAY,
        previous_attitude="resist",
        attitude="wait",
        attitude_changed_at=at_office(TODAY - timedelta(days=1)),
        difficulty=2,
    )
    move(db, w.household_ids[3], "signed", date(2026, 12, 1))
    _campaign(db, w, 3, difficulty=3, next_step="交房", next_due_on=TODAY - timedelta(days=5))
    step = campaign_service.add_step(
        db,
        actor=ACTOR,
        scope=ALL,
        household_id=w.household_ids[1],
        data={"text": "请村贤出面", "due_on": TODAY - timedelta(days=1)},
    )
    a = campaign_service.alerts(db, scope=leader_scope(w), project_id=w.project_id, today=TODAY)
    assert a.no_visit_days == 7
    assert [(i.code, i.days, i.detail) for i in a.no_visit] == [
        ("H0003", None, "从未走访"),
        ("H0002", 7, "7天未走访"),
    ]
    assert [(i.code, i.days, i.detail, i.step_id) for i in a.overdue_steps] == [
        ("H0001", 2, "下一步：复核面积", None),
        ("H0002", 1, "一户一策：请村贤出面", step.id),
    ]
    assert [(i.code, i.days) for i in a.hard_without_plan] == [("H0001", 1)]  # H0002 has a plan, H0004 signed
    assert [(i.code, i.detail, i.days) for i in a.worsened] == [("H0001", "支持 → 抵触", 3)]
    assert a.totals == {"no_visit": 2, "overdue_steps": 2, "hard_without_plan": 1, "worsened": 1}
    assert (a.no_visit[0].team_name, a.no_visit[1].user_name) == ("第一专班", "测试team_member")
    # the member sees only their two households; another team's households never appear
    m = campaign_service.alerts(db, scope=member_scope(w), project_id=w.project_id, today=TODAY)
    assert [i.code for i in m.no_visit] == ["H0002"]
    everyone = campaign_service.alerts(db, scope=ALL, project_id=w.project_id, today=TODAY)
    assert [i.code for i in everyone.no_visit] == ["H0003", "H0005", "H0006", "H0002"]
    assert everyone.to_dict()["overdue_steps"][0]["due_on"] == "2026-12-02"


def test_the_no_visit_limit_is_the_projects(db: Session, w: World) -> None:
    db.execute(text("UPDATE project SET alert_no_visit_days = 3 WHERE id = :p"), {"p": w.project_id})
    _campaign(db, w, 0, last_visit_at=at_office(TODAY - timedelta(days=3)))
    _campaign(db, w, 1, last_visit_at=at_office(TODAY - timedelta(days=2)))
    db.expire_all()
    a = campaign_service.alerts(db, scope=member_scope(w), project_id=w.project_id, today=TODAY)
    assert (a.no_visit_days, [(i.code, i.days) for i in a.no_visit]) == (3, [("H0001", 3)])


def test_my_households(db: Session, w: World) -> None:
    _campaign(
        db,
        w,
        0,
        last_visit_at=at_office(TODAY - timedelta(days=1)),
        attitude="wait",
        visit_count=3,
        next_step="复核面积",
        next_due_on=TODAY - timedelta(days=1),
    )
    mine = campaign_service.my_households(db, scope=member_scope(w), project_id=w.project_id, today=TODAY)
    assert mine.total == 2
    assert [
        (i.code, i.stage_label, i.attitude_label, i.days_since_visit, i.next_overdue) for i in mine.items
    ] == [
        ("H0002", "已调查", "", None, False),
        ("H0001", "已调查", "观望", 1, True),
    ]
    team = campaign_service.my_households(db, scope=leader_scope(w), project_id=w.project_id, today=TODAY)
    assert [i.code for i in team.items] == ["H0002", "H0003", "H0004", "H0001"]
