"""Teams (大组 → 小组), members, 包户到人 in bulk and from an xlsx list, history, and the scopes they drive."""

from __future__ import annotations

import io
import json
from datetime import UTC, date, datetime
from typing import Any

import pytest
import xlsxwriter
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from anju.audit.models import AuditRecord
from anju.campaign import service as campaign_service
from anju.campaign.schemas import VisitCreate
from anju.core.actor import Actor
from anju.core.dates import today_shanghai
from anju.db import events
from anju.errors import Conflict, NotFound, ValidationFailed
from anju.household import service as household_service
from anju.identity import service as identity_service
from anju.identity.models import HouseholdAssignment, Team, User
from anju.identity.rules import ScopeKind
from anju.project import service as project_service
from tests.factories import ACTOR, PASSWORD, World, build_world

ALL = identity_service.DataScope.everything()
ON = date(2026, 12, 1)


def _user(db: Session, username: str, role: str, team_id: int | None = None) -> User:
    return identity_service.create_user(
        db,
        actor=ACTOR,
        username=username,
        display_name=f"{username}名",
        password=PASSWORD,
        role=role,
        team_id=team_id,
    )


def _listed(db: Session, scope: identity_service.DataScope, project_id: int) -> list[int]:
    page = household_service.list_households(db, scope=scope, project_id=project_id)
    return sorted(r.id for r in page.items)


def _audits(db: Session, entity: str) -> list[AuditRecord]:
    return list(db.scalars(select(AuditRecord).where(AuditRecord.entity == entity).order_by(AuditRecord.seq)))


def _xlsx(rows: list[list[Any]]) -> bytes:
    out = io.BytesIO()
    wb = xlsxwriter.Workbook(out, {"in_memory": True})
    ws = wb.add_worksheet("包户名单")
    for i, row in enumerate(rows):
        ws.write_row(i, 0, row)
    wb.close()
    return out.getvalue()


def _assign(db: Session, project_id: int, **kw: Any) -> campaign_service.AssignResult:
    """``bulk_assign`` by the office over the whole scope, on ``ON`` and to no one in particular
    unless ``kw`` says otherwise (``kw``: the team, households or block, user, reason ...)."""
    args: dict[str, Any] = {"actor": ACTOR, "scope": ALL, "user_id": None, "on": ON, **kw}
    return campaign_service.bulk_assign(db, project_id=project_id, **args)


@pytest.fixture
def world(db: Session) -> World:
    return build_world(db, households=6)


def test_nested_teams_and_the_group_leaders_scope_covers_its_squads(db: Session, world: World) -> None:
    group_leader = _user(db, "dazu", "team_leader")
    squad_leader = _user(db, "xiaozu", "team_leader")
    group = campaign_service.create_team(
        db, actor=ACTOR, project_id=world.project_id, name="东片大组", kind="group", leader_id=group_leader.id
    )
    squad = campaign_service.create_team(
        db,
        actor=ACTOR,
        project_id=world.project_id,
        name="东片一小组",
        parent_id=group.id,
        leader_id=squad_leader.id,
    )
    assert (group_leader.team_id, squad_leader.team_id) == (group.id, squad.id)  # leaders join their teams
    hids = world.household_ids
    _assign(db, world.project_id, team_id=squad.id, household_ids=[hids[4]])
    _assign(db, world.project_id, team_id=group.id, household_ids=[hids[5]])
    group_scope = identity_service.DataScope(kind=ScopeKind.TEAM, user_id=group_leader.id, team_id=group.id)
    squad_scope = identity_service.DataScope(kind=ScopeKind.TEAM, user_id=squad_leader.id, team_id=squad.id)
    assert _listed(db, group_scope, world.project_id) == sorted([hids[4], hids[5]])
    assert _listed(db, squad_scope, world.project_id) == [hids[4]]
    tree = campaign_service.team_tree(db, project_id=world.project_id)
    assert [(n.name, [c.name for c in n.children]) for n in tree] == [
        ("第一专班", []),
        ("东片大组", ["东片一小组"]),
    ]
    assert tree[1].leader_name == "dazu名" and [m.username for m in tree[1].children[0].members] == ["xiaozu"]
    overview = campaign_service.teams_overview(db, project_id=world.project_id)
    assert overview.own[group.id] == 1 and overview.total[group.id] == 2 and overview.own[squad.id] == 1
    assert overview.own[world.team_id] == 4 and overview.per_user[world.users["team_member"]] == 2
    assert overview.unassigned == 0 and overview.households == 6


def test_team_rules_are_refused_in_chinese(db: Session, world: World) -> None:
    group = campaign_service.create_team(
        db, actor=ACTOR, project_id=world.project_id, name="大组甲", kind="group"
    )
    squad = campaign_service.create_team(
        db, actor=ACTOR, project_id=world.project_id, name="小组乙", parent_id=group.id
    )
    before = db.scalar(select(func.count()).select_from(Team))
    with pytest.raises(Conflict) as e:
        campaign_service.create_team(
            db, actor=ACTOR, project_id=world.project_id, name="小组丙", parent_id=squad.id
        )
    assert e.value.details == [{"field": "parent_id", "message": "上级专班“小组乙”不是大组"}]
    with pytest.raises(ValidationFailed) as e:
        campaign_service.create_team(
            db,
            actor=ACTOR,
            project_id=world.project_id,
            name=" ",
            kind="platoon",
            leader_id=world.users["finance"],
        )
    assert [d["field"] for d in e.value.details] == ["name", "kind", "leader_id"]
    with pytest.raises(Conflict):
        campaign_service.create_team(db, actor=ACTOR, project_id=world.project_id, name="大组甲")
    with pytest.raises(Conflict) as e:
        campaign_service.update_team(db, actor=ACTOR, team_id=group.id, values={"kind": "squad"})
    assert "下还有小组“小组乙”" in e.value.message_zh
    assert db.scalar(select(func.count()).select_from(Team)) == before


def test_update_team_is_versioned_and_audited(db: Session, world: World) -> None:
    team = identity_service.get_team(db, world.team_id or 0)
    version = team.version
    diff = campaign_service.update_team(
        db, actor=ACTOR, team_id=team.id, values={"name": "第一攻坚专班", "sort": 3}, expected_version=version
    )
    assert diff == {"name": ["第一专班", "第一攻坚专班"], "sort": [0, 3]}
    assert team.version == version + 1
    assert json.loads(_audits(db, "team")[-1].changes) == {
        "name": ["第一专班", "第一攻坚专班"],
        "sort": [0, 3],
    }
    with pytest.raises(Conflict) as e:
        campaign_service.update_team(
            db, actor=ACTOR, team_id=team.id, values={"sort": 4}, expected_version=version
        )
    assert e.value.code == "stale_version" and team.sort == 3


def test_members_move_between_teams_audited_and_the_leader_stays(db: Session, world: World) -> None:
    second = campaign_service.create_team(db, actor=ACTOR, project_id=world.project_id, name="第二专班")
    member = world.users["team_member"]
    leader = world.users["team_leader"]
    result = campaign_service.set_team_members(db, actor=ACTOR, team_id=second.id, user_ids=[member])
    assert result == {"added": [member], "removed": [], "households": sorted(world.household_ids[:2])}
    assert identity_service.get_user(db, member).team_id == second.id
    assert json.loads(_audits(db, "user")[-1].changes) == {"team_id": [world.team_id, second.id]}
    with pytest.raises(Conflict) as e:
        campaign_service.set_team_members(
            db, actor=ACTOR, team_id=second.id, user_ids=[world.users["commander"]]
        )
    assert "不是专班组长或专班成员" in e.value.message_zh
    assert identity_service.get_user(db, member).team_id == second.id  # nothing changed
    campaign_service.update_team(db, actor=ACTOR, team_id=world.team_id or 0, values={"leader_id": leader})
    with pytest.raises(Conflict) as e:
        campaign_service.set_team_members(db, actor=ACTOR, team_id=world.team_id or 0, user_ids=[])
    assert "组长“测试team_leader”须是本组成员" in e.value.message_zh


def _scope(kind: ScopeKind, user_id: int, team_id: int | None = None) -> identity_service.DataScope:
    return identity_service.DataScope(kind=kind, user_id=user_id, team_id=team_id)


def _active(db: Session, household_ids: list[int]) -> dict[int, tuple[int | None, int | None]]:
    db.expire_all()
    return identity_service.active_assignments(db, household_ids)


def test_a_member_who_changes_team_takes_their_households_along(db: Session, world: World) -> None:
    hids = world.household_ids
    member = world.users["team_member"]  # carries hids[0:2] in 第一专班; hids[2:4] are the team's only
    new_leader = _user(db, "zuzhang2", "team_leader")
    second = campaign_service.create_team(
        db, actor=ACTOR, project_id=world.project_id, name="第二专班", leader_id=new_leader.id
    )
    old_leader_scope = _scope(ScopeKind.TEAM, world.users["team_leader"], world.team_id)
    new_leader_scope = _scope(ScopeKind.TEAM, new_leader.id, second.id)
    member_scope = _scope(ScopeKind.ASSIGNED, member)
    assert _listed(db, old_leader_scope, world.project_id) == sorted(hids[:4])
    assert _listed(db, new_leader_scope, world.project_id) == []
    n_audit = len(_audits(db, "household_assignment"))

    result = campaign_service.set_team_members(
        db, actor=ACTOR, team_id=second.id, user_ids=[new_leader.id, member]
    )
    assert result == {"added": [member], "removed": [], "households": sorted(hids[:2])}
    assert _active(db, hids[:4]) == {
        hids[0]: (second.id, member),
        hids[1]: (second.id, member),
        hids[2]: (world.team_id, None),
        hids[3]: (world.team_id, None),
    }
    # the member still sees their households, the old team's leader no longer does, the new one does
    assert _listed(db, member_scope, world.project_id) == sorted(hids[:2])
    assert _listed(db, old_leader_scope, world.project_id) == sorted(hids[2:4])
    assert _listed(db, new_leader_scope, world.project_id) == sorted(hids[:2])
    history = campaign_service.assignment_history(db, scope=ALL, household_id=hids[0])
    assert [(s.team_name, s.user_name, s.from_team_name, s.from_user_name, s.reason) for s in history] == [
        ("第二专班", "测试team_member", "第一专班", "测试team_member", "人员调整"),
        ("第一专班", "测试team_member", "", "", ""),
    ]
    assert history[0].assigned_on == today_shanghai() and history[1].ended_on == today_shanghai()
    audits = _audits(db, "household_assignment")[n_audit:]
    assert [(a.household_id, a.action, a.reason, json.loads(a.changes)) for a in audits] == [
        (h, "reassign", "人员调整", {"team_id": [world.team_id, second.id], "user_id": [member, member]})
        for h in hids[:2]
    ]
    overview = campaign_service.teams_overview(db, project_id=world.project_id)
    assert (overview.own[second.id], overview.per_user[member], overview.own[world.team_id]) == (2, 2, 2)

    # Leaving the team: the households stay with it, without a responsible person.
    result = campaign_service.set_team_members(db, actor=ACTOR, team_id=second.id, user_ids=[new_leader.id])
    assert result == {"added": [], "removed": [member], "households": sorted(hids[:2])}
    assert _active(db, hids[:2]) == {hids[0]: (second.id, None), hids[1]: (second.id, None)}
    assert _listed(db, member_scope, world.project_id) == []
    assert _listed(db, new_leader_scope, world.project_id) == sorted(hids[:2])
    # Joining a team again later brings nothing back: the households were left behind.
    result = campaign_service.set_team_members(
        db, actor=ACTOR, team_id=world.team_id or 0, user_ids=[world.users["team_leader"], member]
    )
    assert result["households"] == [] and _active(db, hids[:2])[hids[0]] == (second.id, None)


def test_a_leader_who_takes_another_team_brings_their_households(db: Session, world: World) -> None:
    hids = world.household_ids
    leader = world.users["team_leader"]  # a member of 第一专班
    _assign(db, world.project_id, team_id=world.team_id, user_id=leader, household_ids=[hids[3]])
    third = campaign_service.create_team(
        db, actor=ACTOR, project_id=world.project_id, name="第三专班", leader_id=leader
    )
    assert _active(db, [hids[3]]) == {hids[3]: (third.id, leader)}
    assert _listed(db, _scope(ScopeKind.TEAM, leader, third.id), world.project_id) == [hids[3]]
    fourth = campaign_service.create_team(db, actor=ACTOR, project_id=world.project_id, name="第四专班")
    campaign_service.update_team(db, actor=ACTOR, team_id=fourth.id, values={"leader_id": leader})
    assert _active(db, [hids[3]]) == {hids[3]: (fourth.id, leader)}
    assert identity_service.get_team(db, third.id).leader_id is None


def test_a_member_who_joins_another_projects_team_leaves_the_households(db: Session, world: World) -> None:
    hids = world.household_ids
    member = world.users["team_member"]
    other = project_service.create_project(db, actor=ACTOR, code="P2", name="另一项目", kind="state_land")
    elsewhere = campaign_service.create_team(db, actor=ACTOR, project_id=other.id, name="外项目专班")
    result = campaign_service.set_team_members(db, actor=ACTOR, team_id=elsewhere.id, user_ids=[member])
    assert result["households"] == sorted(hids[:2])
    assert _active(db, hids[:2]) == {hids[0]: (world.team_id, None), hids[1]: (world.team_id, None)}


def test_a_refused_member_change_moves_no_household(db: Session, world: World) -> None:
    hids = world.household_ids
    member = world.users["team_member"]
    second = campaign_service.create_team(db, actor=ACTOR, project_id=world.project_id, name="第二专班")
    before = (_active(db, hids), len(_audits(db, "household_assignment")))
    with pytest.raises(NotFound):
        campaign_service.set_team_members(db, actor=ACTOR, team_id=second.id, user_ids=[member, 999_999])
    assert (_active(db, hids), len(_audits(db, "household_assignment"))) == before
    assert identity_service.get_user(db, member).team_id == world.team_id


def _team_state(db: Session) -> tuple[Any, ...]:
    """What a refused dissolution must leave as it was."""
    db.expire_all()
    return (
        sorted((t.id, t.name, t.version, t.leader_id) for t in db.scalars(select(Team))),
        sorted((u.id, u.team_id, u.version) for u in db.scalars(select(User))),
        db.scalar(select(func.count()).select_from(AuditRecord)),
    )


def test_dissolving_a_team_in_use_is_refused_naming_how_many(db: Session, world: World) -> None:
    group = campaign_service.create_team(
        db, actor=ACTOR, project_id=world.project_id, name="东片大组", kind="group"
    )
    campaign_service.create_team(
        db, actor=ACTOR, project_id=world.project_id, name="东片一组", parent_id=group.id
    )
    second = campaign_service.create_team(db, actor=ACTOR, project_id=world.project_id, name="第二专班")
    hid = world.household_ids[4]
    _assign(db, world.project_id, team_id=second.id, household_ids=[hid])
    campaign_service.record_visit(
        db,
        actor=ACTOR,
        scope=ALL,
        household_id=hid,
        data=VisitCreate.model_validate(
            {"visited_at": "2026-12-03T19:30", "duration_min": 30, "attitude": "wait"}
        ),
        idempotency_key="dissolve-test-visit",
        now=datetime(2026, 12, 4, 2, 0, tzinfo=UTC),
    )
    _assign(db, world.project_id, team_id=world.team_id, household_ids=[hid])  # the team is idle now
    before = _team_state(db)
    refusals = {}
    for team_id in (group.id, world.team_id or 0, second.id):
        with pytest.raises(Conflict) as e:
            campaign_service.dissolve_team(db, actor=ACTOR, team_id=team_id)
        assert e.value.code == "team_in_use" and e.value.http_status == 409
        refusals[team_id] = e.value.message_zh
    assert refusals == {
        group.id: "专班“东片大组”不能解散：下有小组 1 个（请先解散或移出）",
        world.team_id: "专班“第一专班”不能解散：在包 5 户（请先改派给其他专班）、包户记录 5 条；"
        "有包户或走访记录的专班为保留历史不能解散",
        second.id: "专班“第二专班”不能解散：包户记录 1 条、走访记录 1 条；有包户或走访记录的专班为保留历史不能解散",
    }
    assert _team_state(db) == before
    with pytest.raises(NotFound):
        campaign_service.dissolve_team(db, actor=ACTOR, team_id=999_999)


def test_dissolving_an_unused_team_deletes_it_and_frees_its_members(db: Session, world: World) -> None:
    leader = _user(db, "zuzhang3", "team_leader")
    spare = campaign_service.create_team(
        db, actor=ACTOR, project_id=world.project_id, name="备用专班", leader_id=leader.id, sort=5
    )
    helper = _user(db, "zuyuan3", "team_member")
    campaign_service.set_team_members(db, actor=ACTOR, team_id=spare.id, user_ids=[leader.id, helper.id])
    version = identity_service.get_team(db, spare.id).version
    with pytest.raises(Conflict) as e:
        campaign_service.dissolve_team(db, actor=ACTOR, team_id=spare.id, expected_version=version - 1)
    assert e.value.code == "stale_version" and identity_service.get_team(db, spare.id).name == "备用专班"
    households_version = project_service.households_version(db, world.project_id, fresh=True)
    n_user_audits = len(_audits(db, "user"))

    result = campaign_service.dissolve_team(
        db, actor=ACTOR, team_id=spare.id, expected_version=version, reason="建错了"
    )
    assert result == {"id": spare.id, "name": "备用专班", "members": sorted([leader.id, helper.id])}
    db.expire_all()
    assert db.get(Team, spare.id) is None
    assert (db.get(User, leader.id).team_id, db.get(User, helper.id).team_id) == (None, None)  # type: ignore[union-attr]
    deleted = _audits(db, "team")[-1]
    assert (deleted.action, deleted.entity_id, deleted.reason) == ("delete", str(spare.id), "建错了")
    assert json.loads(deleted.changes) == {
        "name": ["备用专班", None],
        "kind": ["squad", None],
        "leader_id": [leader.id, None],
        "sort": [5, None],
    }
    assert [json.loads(a.changes) for a in _audits(db, "user")[n_user_audits:]] == [
        {"team_id": [spare.id, None]},
        {"team_id": [spare.id, None]},
    ]
    assert project_service.households_version(db, world.project_id, fresh=True) > households_version
    assert db.info.get("anju_events", [])[-1] == events.ChangeEvent(
        f"project:{world.project_id}", "team", {"team_id": spare.id}
    )
    assert [n.name for n in campaign_service.team_tree(db, project_id=world.project_id)] == ["第一专班"]


def test_reassignment_keeps_history_and_is_audited(db: Session, world: World) -> None:
    hid = world.household_ids[0]  # 第一专班 / team_member
    second = campaign_service.create_team(db, actor=ACTOR, project_id=world.project_id, name="第二专班")
    other = _user(db, "zuyuan9", "team_member", team_id=second.id)
    commander = Actor(
        user_id=world.users["commander"], username="commander", display_name="测试commander", role="commander"
    )
    version = project_service.households_version(db, world.project_id, fresh=True)
    result = _assign(
        db,
        world.project_id,
        actor=commander,
        team_id=second.id,
        user_id=other.id,
        on=date(2026, 12, 2),
        household_ids=[hid, world.household_ids[1]],
        reason="调整力量",
    )
    assert result == campaign_service.AssignResult(households=2, changed=2)
    assert project_service.households_version(db, world.project_id, fresh=True) == version + 1
    pending = db.info.get("anju_events", [])
    assert pending[-1] == events.ChangeEvent(
        f"project:{world.project_id}",
        "assignment",
        {"households": 2, "team_id": second.id, "user_id": other.id},
    )
    rows = list(
        db.scalars(
            select(HouseholdAssignment)
            .where(HouseholdAssignment.household_id == hid)
            .order_by(HouseholdAssignment.id)
        )
    )
    assert [(r.team_id, r.user_id, r.active, r.ended_on) for r in rows] == [
        (world.team_id, world.users["team_member"], False, date(2026, 12, 2)),
        (second.id, other.id, True, None),
    ]
    assert (rows[1].assigned_by, rows[1].reason) == (world.users["commander"], "调整力量")
    history = campaign_service.assignment_history(db, scope=ALL, household_id=hid)
    assert [
        (s.team_name, s.user_name, s.from_team_name, s.from_user_name, s.assigned_by_name, s.reason)
        for s in history
    ] == [
        ("第二专班", "zuyuan9名", "第一专班", "测试team_member", "测试commander", "调整力量"),
        ("第一专班", "测试team_member", "", "", "系统", ""),
    ]
    audit = [a for a in _audits(db, "household_assignment") if a.household_id == hid][-1]
    assert (audit.action, audit.reason) == ("reassign", "调整力量")
    assert json.loads(audit.changes) == {
        "team_id": [world.team_id, second.id],
        "user_id": [world.users["team_member"], other.id],
    }
    # the same assignment again changes nothing and writes nothing
    n_audit = len(_audits(db, "household_assignment"))
    again = _assign(db, world.project_id, team_id=second.id, user_id=other.id, household_ids=[hid])
    assert again.changed == 0 and len(_audits(db, "household_assignment")) == n_audit
    # the old member no longer sees it, the new one does
    old_scope = identity_service.DataScope(kind=ScopeKind.ASSIGNED, user_id=world.users["team_member"])
    new_scope = identity_service.DataScope(kind=ScopeKind.ASSIGNED, user_id=other.id)
    assert _listed(db, old_scope, world.project_id) == []
    assert _listed(db, new_scope, world.project_id) == sorted(world.household_ids[:2])


def test_assign_by_block_takes_the_live_households_of_the_subtree(db: Session, world: World) -> None:
    team = campaign_service.create_team(db, actor=ACTOR, project_id=world.project_id, name="东片专班")
    household_service.void_household(
        db, actor=ACTOR, scope=ALL, household_id=world.household_ids[2], reason="重复登记"
    )
    result = _assign(db, world.project_id, team_id=team.id, block_id=world.block_ids["E"])
    assert result == campaign_service.AssignResult(households=2, changed=2)  # H0001 and H0005 (H0003 voided)
    amap = campaign_service.assignment_map(db, project_id=world.project_id)
    assert amap[world.household_ids[0]] == (team.id, None) and amap[world.household_ids[4]] == (team.id, None)
    assert amap[world.household_ids[2]] == (world.team_id, None)


def test_bulk_assign_refuses_foreign_households_and_wrong_people(db: Session, world: World) -> None:
    p9 = project_service.create_project(db, actor=ACTOR, code="P9", name="另一项目", kind="state_land")
    foreign = household_service.create_household(
        db,
        actor=ACTOR,
        project_id=p9.id,
        data={"code": "Q0001", "head_name": "赵德明", "address": "南溪路1号"},
    )
    foreign_team = campaign_service.create_team(db, actor=ACTOR, project_id=p9.id, name="南片专班")
    before = db.scalar(select(func.count()).select_from(HouseholdAssignment))
    with pytest.raises(NotFound) as e:
        _assign(
            db, world.project_id, team_id=world.team_id, household_ids=[world.household_ids[0], foreign.id]
        )
    assert e.value.message_zh.startswith("1 户不存在、已作废、不属于本项目或不在您的权限范围内")
    with pytest.raises(NotFound) as e:
        _assign(db, world.project_id, team_id=foreign_team.id, household_ids=[world.household_ids[0]])
    assert e.value.message_zh == "无法包户：专班不存在或不属于本项目"
    stranger = _user(db, "zuyuan8", "team_member")
    with pytest.raises(Conflict) as e:
        _assign(
            db,
            world.project_id,
            team_id=world.team_id,
            user_id=stranger.id,
            household_ids=[world.household_ids[0]],
        )
    assert e.value.message_zh == "无法包户：“zuyuan8名”不是“第一专班”的成员"
    with pytest.raises(ValidationFailed):
        _assign(db, world.project_id, team_id=world.team_id)
    assert db.scalar(select(func.count()).select_from(HouseholdAssignment)) == before


def test_candidates_filter_by_team_and_unassigned(db: Session, world: World) -> None:
    extra = household_service.create_household(
        db,
        actor=ACTOR,
        project_id=world.project_id,
        block_id=world.block_ids["W"],
        data={"code": "H0099", "head_name": "孙未分", "address": "青溪路99号"},
    )
    page = campaign_service.assignment_candidates(db, scope=ALL, project_id=world.project_id, unassigned=True)
    assert [(c.code, c.team_name) for c in page.items] == [("H0005", ""), ("H0006", ""), ("H0099", "")]
    page = campaign_service.assignment_candidates(
        db, scope=ALL, project_id=world.project_id, team_id=world.team_id
    )
    assert [c.code for c in page.items] == ["H0001", "H0002", "H0003", "H0004"]
    assert (page.items[0].team_name, page.items[0].user_name) == ("第一专班", "测试team_member")
    page = campaign_service.assignment_candidates(
        db, scope=ALL, project_id=world.project_id, block_id=world.block_ids["W"], unassigned=True
    )
    assert [c.id for c in page.items] == [world.household_ids[5], extra.id]
    assert campaign_service.teams_overview(db, project_id=world.project_id).unassigned == 3


def test_history_outside_the_scope_is_not_found(db: Session, world: World) -> None:
    member = identity_service.DataScope(kind=ScopeKind.ASSIGNED, user_id=world.users["team_member"])
    assert (
        len(campaign_service.assignment_history(db, scope=member, household_id=world.household_ids[0])) == 1
    )
    with pytest.raises(NotFound):
        campaign_service.assignment_history(db, scope=member, household_id=world.household_ids[2])


def test_xlsx_list_is_checked_row_by_row_and_imported_all_or_nothing(db: Session, world: World) -> None:
    second = campaign_service.create_team(db, actor=ACTOR, project_id=world.project_id, name="第二专班")
    _user(db, "zy2", "team_member", team_id=second.id)
    _user(db, "dup1", "team_member", team_id=second.id).display_name = "同名"
    _user(db, "dup2", "team_member", team_id=second.id).display_name = "同名"
    db.flush()
    bad = _xlsx(
        [
            ["包户名单"],
            ["户编号*", "专班", "责任人（用户名或姓名）"],
            ["H0005", "第二专班", "zy2"],
            ["H0404", "第二专班", ""],
            ["H0005", "第二专班", ""],
            ["H0006", "第九专班", ""],
            ["H0001", "第二专班", "同名"],
            ["H0002", "第二专班", "team_member"],
            ["H0003", "", ""],
            [None, None, None],
            ["H0004", "", "无此人"],
        ]
    )
    rows = campaign_service.read_assignment_sheet(bad, "名单.xlsx")
    assert [r.row for r in rows] == [3, 4, 5, 6, 7, 8, 9, 11]
    check = campaign_service.check_assignment_rows(db, scope=ALL, project_id=world.project_id, rows=rows)
    assert [p.as_dict()["message"] for p in check.problems] == [
        "第 4 行“户编号”：本项目没有户编号为“H0404”的户（或已作废、不在您的权限范围内）",
        "第 5 行“户编号”：“H0005”与第 3 行重复",
        "第 6 行“专班”：本项目没有名为“第九专班”的专班",
        "第 7 行“责任人”：姓名“同名”对应 2 个用户，请填写用户名",
        "第 8 行“责任人”：“测试team_member”不是“第二专班”的成员",
        "第 9 行“专班”：专班和责任人不能都为空",
        "第 11 行“责任人”：找不到用户名或姓名为“无此人”的专班组长或专班成员",
    ]
    before = sorted(campaign_service.assignment_map(db, project_id=world.project_id).items())
    with pytest.raises(ValidationFailed) as e:
        campaign_service.import_assignments(
            db, actor=ACTOR, scope=ALL, project_id=world.project_id, rows=rows, on=ON
        )
    assert e.value.message_zh.startswith("包户名单有 7 处错误，未导入任何一户")
    assert (
        len(e.value.details) == 7
        and e.value.details[0]["row"] == 4
        and e.value.details[0]["column"] == "户编号"
    )
    assert sorted(campaign_service.assignment_map(db, project_id=world.project_id).items()) == before

    good = _xlsx(
        [
            ["户编号", "责任人", "专班"],
            ["H0005", "zy2", ""],
            ["H0006", "", "第二专班"],
            ["H0001", "zy2名", "第二专班"],
        ]
    )
    rows = campaign_service.read_assignment_sheet(good, "名单.xlsx")
    check, changed = campaign_service.import_assignments(
        db, actor=ACTOR, scope=ALL, project_id=world.project_id, rows=rows, on=ON, reason="名单导入"
    )
    assert changed == 3 and [(r.code, r.team_name, r.user_name, r.from_team_name) for r in check.rows] == [
        ("H0005", "第二专班", "zy2名", ""),
        ("H0006", "第二专班", "", ""),
        ("H0001", "第二专班", "zy2名", "第一专班"),
    ]
    amap = campaign_service.assignment_map(db, project_id=world.project_id)
    assert amap[world.household_ids[5]] == (second.id, None)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "为空"),
        (b"%PDF-1.4 not a sheet", "不是Excel 工作簿"),
        (_xlsx([["姓名", "地址"], ["张三", "x"]]), "找不到表头"),
        (_xlsx([["户编号", "地址"], ["H0001", "x"]]), "缺少“专班”或“责任人”列"),
        (_xlsx([["户编号", "专班"]]), "名单中没有数据行"),
    ],
)
def test_a_bad_file_is_refused_before_any_row(data: bytes, message: str) -> None:
    with pytest.raises(ValidationFailed) as e:
        campaign_service.read_assignment_sheet(data, "名单.xlsx")
    assert message in e.value.message_zh


def test_template_reads_back() -> None:
    rows = campaign_service.read_assignment_sheet(campaign_service.assignment_template(), "t.xlsx")
    assert [(r.code, r.team, r.user) for r in rows] == [
        ("LJ0001", "李家村一组", "zuyuan"),
        ("LJ0002", "李家村一组", ""),
    ]
