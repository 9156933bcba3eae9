"""Test data builders that go through the services, as the application does."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from sqlalchemy.orm import Session

from anju.core.actor import Actor
from anju.core.ids import make_id_number
from anju.household import service as household_service
from anju.identity import service as identity_service
from anju.identity.rules import Role
from anju.project import service as project_service

ACTOR = Actor.system("test")
PASSWORD = "Test-Passw0rd!"


def id_number(serial: int, born: date = date(1980, 5, 17)) -> str:
    """A valid identity number that differs by ``serial``."""
    return make_id_number("330102", born, serial)


@dataclass
class World:
    """A small project with two blocks, households, and a user of every role."""

    project_id: int
    block_ids: dict[str, int]
    household_ids: list[int]
    member_ids: list[int]
    users: dict[str, int] = field(default_factory=dict)
    team_id: int | None = None
    assigned: list[int] = field(default_factory=list)


def build_world(db: Session, *, households: int = 6, code: str = "P1") -> World:
    """Create the standard test world (no commit)."""
    p = project_service.create_project(
        db, actor=ACTOR, code=code, name="测试征收项目", kind="state_land", district="青溪街道"
    )
    east = project_service.add_block(db, actor=ACTOR, project_id=p.id, code="E", name="东片区", level="area")
    west = project_service.add_block(db, actor=ACTOR, project_id=p.id, code="W", name="西片区", level="area")
    heads = ["张建国", "李秀英", "王志强", "刘桂兰", "陈国华", "杨丽娟", "赵德明", "黄淑芬"]
    hids, mids = [], []
    for i in range(households):
        block = east if i % 2 == 0 else west
        h = household_service.create_household(
            db,
            actor=ACTOR,
            project_id=p.id,
            block_id=block.id,
            data={"code": f"H{i + 1:04d}", "head_name": heads[i % len(heads)], "address": f"青溪路{i + 1}号"},
        )
        m = household_service.add_member(
            db,
            actor=ACTOR,
            scope=identity_service.DataScope.everything(),
            household_id=h.id,
            data={
                "name": h.head_name,
                "relation": "户主",
                "id_number": id_number(i + 1),
                "phone": "13800000000",
            },
        )
        household_service.add_building(
            db,
            actor=ACTOR,
            scope=identity_service.DataScope.everything(),
            household_id=h.id,
            data={
                "certificate_no": f"Z{i + 1:05d}",
                "structure": "砖混",
                "use": "住宅",
                "legal_area": "88.50",
            },
        )
        hids.append(h.id)
        mids.append(m.id)
    world = World(
        project_id=p.id, block_ids={"E": east.id, "W": west.id}, household_ids=hids, member_ids=mids
    )
    team = identity_service.create_team(db, actor=ACTOR, project_id=p.id, name="第一专班")
    world.team_id = team.id
    for role in Role:
        u = identity_service.create_user(
            db,
            actor=ACTOR,
            username=role.value,
            display_name=f"测试{role.value}",
            password=PASSWORD,
            role=role.value,
            team_id=team.id if role in (Role.TEAM_LEADER, Role.TEAM_MEMBER) else None,
        )
        world.users[role.value] = u.id
    # The team member is assigned the first two households only; the team the first four.
    identity_service.assign_households(
        db, actor=ACTOR, household_ids=hids[2:4], team_id=team.id, user_id=None, on=date(2026, 11, 1)
    )
    identity_service.assign_households(
        db,
        actor=ACTOR,
        household_ids=hids[:2],
        team_id=team.id,
        user_id=world.users["team_member"],
        on=date(2026, 11, 1),
    )
    world.assigned = hids[:2]
    return world
