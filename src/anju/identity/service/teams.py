"""Teams (专班): a 大组 holds 小组; create, change, members, the tree, look-ups by id and name."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from anju.audit import service as audit_service
from anju.core import text
from anju.core.actor import Actor
from anju.core.dates import today_shanghai
from anju.db import events
from anju.errors import (
    Conflict,
    DomainError,
    NotFound,
    ValidationFailed,
)
from anju.identity.models import HouseholdAssignment, Team, User
from anju.identity.rules import Role
from anju.identity.service.accounts import get_user
from anju.project import service as project_service

__all__ = [
    "MAX_TEAM_SORT",
    "PERSONNEL_CHANGE",
    "TEAM_KINDS",
    "TEAM_ROLES",
    "TeamMember",
    "TeamNode",
    "create_team",
    "delete_team",
    "get_team",
    "list_teams",
    "set_team_members",
    "team_by_name",
    "team_names",
    "team_tree",
    "team_users",
    "update_team",
]


TEAM_KINDS: dict[str, str] = {"group": "大组", "squad": "小组"}
"""Kinds of team: a 大组 (``group``) holds 小组 (``squad``); teams nest one level."""


TEAM_ROLES = frozenset({Role.TEAM_LEADER.value, Role.TEAM_MEMBER.value})
"""Roles whose users belong to a team (``User.team_id``) and carry households."""


MAX_TEAM_SORT = 1_000_000

PERSONNEL_CHANGE = "人员调整"
"""Reason of the assignment rows written when a person's households follow them to another team."""


def get_team(session: Session, team_id: int) -> Team:
    """A team by id; raises :class:`NotFound`."""
    team = session.get(Team, team_id)
    if team is None:
        raise NotFound("专班不存在", "team not found")
    return team


def list_teams(session: Session, *, project_id: int) -> list[Team]:
    """A project's teams by sort order, then creation."""
    return list(
        session.scalars(select(Team).where(Team.project_id == project_id).order_by(Team.sort, Team.id))
    )


def team_by_name(session: Session, *, project_id: int, name: str) -> Team:
    """A project's team by its name; raises :class:`NotFound` naming it."""
    team = session.scalar(select(Team).where(Team.project_id == project_id, Team.name == name.strip()))
    if team is None:
        raise NotFound(f"本项目没有名为“{name}”的专班", f"team {name} not found")
    return team


def team_users(session: Session) -> list[User]:
    """Active users who can belong to a team (专班组长 and 专班成员), by display name."""
    return list(
        session.scalars(
            select(User)
            .where(User.role.in_(sorted(TEAM_ROLES)), User.is_active.is_(True))
            .order_by(User.display_name, User.username)
        )
    )


def _refuse(problems: list[dict[str, Any]], what_zh: str, what_en: str) -> DomainError:
    """One error for all ``problems``, each tagged ``kind``: ``input`` (wrong input), ``missing``
    (a record named does not exist) or ``state`` (conflicts with other records). 422 if any input is
    wrong, else 404 if a record is missing, else 409."""
    kinds = {p.pop("kind", "input") for p in problems}
    message = what_zh + "：" + "；".join(str(p["message"]) for p in problems)
    if "input" in kinds:
        return ValidationFailed(message, what_en, details=problems)
    if "missing" in kinds:
        return NotFound(message, what_en, details=problems)
    return Conflict(message, what_en, details=problems)


def _check_team(session: Session, *, project_id: int, team: Team | None, values: Mapping[str, Any]) -> None:
    """Refuse an invalid team, all problems at once (:func:`_refuse`), or a duplicate name (409)."""
    problems: list[dict[str, Any]] = []

    def problem(field: str, message: str, kind: str = "input") -> None:
        problems.append({"field": field, "message": message, "kind": kind})

    name, kind, parent_id = values["name"], values["kind"], values["parent_id"]
    leader_id, sort = values["leader_id"], values["sort"]
    if not isinstance(name, str) or not name.strip():
        problem("name", "专班名称必填")
    elif found := text.text_problem(name, max_len=64):
        problem("name", "专班名称" + found)
    if kind not in TEAM_KINDS:
        problem("kind", "专班类型应为“大组”（group）或“小组”（squad）")
    if parent_id is not None:
        parent = session.get(Team, parent_id)
        if kind == "group":
            problem("parent_id", "大组不能隶属于其他专班（专班只分大组、小组两级）", "state")
        elif parent is None or parent.project_id != project_id:
            problem("parent_id", "上级大组不存在或不属于本项目", "missing")
        elif team is not None and parent.id == team.id:
            problem("parent_id", "专班不能隶属于自己", "state")
        elif parent.kind != "group":
            problem("parent_id", f"上级专班“{parent.name}”不是大组", "state")
    if team is not None and kind != "group":
        child = session.scalar(select(Team.name).where(Team.parent_id == team.id).limit(1))
        if child is not None:
            problem("kind", f"“{team.name}”下还有小组“{child}”，不能改为小组", "state")
    if leader_id is not None:
        leader = session.get(User, leader_id)
        if leader is None:
            problem("leader_id", "组长不存在", "missing")
        elif leader.role != Role.TEAM_LEADER.value:
            problem("leader_id", f"组长须是“专班组长”角色的用户（“{leader.display_name}”不是）", "state")
        elif not leader.is_active:
            problem("leader_id", f"“{leader.display_name}”的账号已停用", "state")
    if not isinstance(sort, int) or not 0 <= sort <= MAX_TEAM_SORT:
        problem("sort", f"排序应为 0 至 {MAX_TEAM_SORT} 的整数")
    if problems:
        raise _refuse(problems, "专班信息有误", "invalid team")
    same = select(Team.id).where(Team.project_id == project_id, Team.name == name.strip())
    if team is not None:
        same = same.where(Team.id != team.id)
    if session.scalar(same) is not None:
        raise Conflict(
            f"本项目已有名为“{name.strip()}”的专班",
            f"team {name} exists",
            details=[{"field": "name", "message": "专班名称重复"}],
        )


def _carry_households(session: Session, *, actor: Actor, user: User) -> list[int]:
    """After ``user`` changed team: the households they carry (active 包户到人 rows) follow them
    into their new team when it is of the same project; otherwise (they left every team, or joined
    a team of another project) the households stay with their team without a responsible person.
    New assignment rows keep the history (reason :data:`PERSONNEL_CHANGE`), audited. Returns the
    ids of the households whose assignment changed."""
    # The assignments module builds on this one (team checks), so it is imported when needed.
    from anju.identity.service.assignments import assign_households

    rows = session.execute(
        select(HouseholdAssignment.household_id, HouseholdAssignment.team_id, Team.project_id)
        .join(Team, Team.id == HouseholdAssignment.team_id)
        .where(HouseholdAssignment.user_id == user.id, HouseholdAssignment.active.is_(True))
        .order_by(HouseholdAssignment.household_id)
    ).all()
    new_team = session.get(Team, user.team_id) if user.team_id is not None else None
    follow: list[int] = []
    stay: dict[tuple[int, int], list[int]] = {}  # (team id, project id) -> households
    for household_id, team_id, project_id in rows:
        if team_id is None:  # (the join keeps only rows with a team)
            continue
        if new_team is not None and project_id == new_team.project_id:
            if team_id != new_team.id:
                follow.append(int(household_id))
        else:
            stay.setdefault((int(team_id), int(project_id)), []).append(int(household_id))
    on = today_shanghai()
    if follow and new_team is not None:
        assign_households(
            session,
            actor=actor,
            household_ids=follow,
            team_id=new_team.id,
            user_id=user.id,
            on=on,
            project_id=new_team.project_id,
            reason=PERSONNEL_CHANGE,
        )
    for (team_id, project_id), households in sorted(stay.items()):
        assign_households(
            session,
            actor=actor,
            household_ids=households,
            team_id=team_id,
            user_id=None,
            on=on,
            project_id=project_id,
            reason=PERSONNEL_CHANGE,
        )
    return sorted([*follow, *(h for households in stay.values() for h in households)])


def _move_user(
    session: Session, *, actor: Actor, user: User, team_id: int | None, project_id: int
) -> list[int] | None:
    """Put ``user`` into team ``team_id`` (None: out of any team); audited. A leader who leaves
    a team stops leading it; the households the user carries follow (:func:`_carry_households`).
    Returns the households whose assignment changed, or ``None`` when the user was in the team."""
    if user.team_id == team_id:
        return None
    old = user.team_id
    if old is not None:
        for led in session.scalars(select(Team).where(Team.id == old, Team.leader_id == user.id)):
            led.leader_id = None
            led.version += 1
            audit_service.record(
                session,
                actor=actor,
                action="update",
                entity="team",
                entity_id=led.id,
                project_id=led.project_id,
                changes={"leader_id": [user.id, None]},
                reason=f"组长“{user.display_name}”调离",
            )
    user.team_id = team_id
    user.version += 1
    audit_service.record(
        session,
        actor=actor,
        action="update",
        entity="user",
        entity_id=user.id,
        project_id=project_id,
        changes={"team_id": [old, team_id]},
    )
    return _carry_households(session, actor=actor, user=user)


def _team_changed(session: Session, project_id: int, team_id: int) -> None:
    # Team names and members show in household lists and campaign pages of the project.
    project_service.bump_households_version(session, project_id)
    events.notify(session, topic=events.project_topic(project_id), kind="team", data={"team_id": team_id})


def create_team(
    session: Session,
    *,
    actor: Actor,
    project_id: int,
    name: str,
    kind: str = "squad",
    parent_id: int | None = None,
    leader_id: int | None = None,
    sort: int = 0,
) -> Team:
    """Create a team (专班 / 攻坚小组: a 大组 or a 小组 under one); audited.

    The leader (a 专班组长 user) joins the team. Raises :class:`ValidationFailed` listing every
    problem, :class:`Conflict` for a name the project already has.
    """
    project_service.get_project(session, project_id)
    values = {"name": name, "kind": kind, "parent_id": parent_id, "leader_id": leader_id, "sort": sort}
    _check_team(session, project_id=project_id, team=None, values=values)
    team = Team(
        project_id=project_id,
        name=name.strip(),
        kind=kind,
        parent_id=parent_id,
        leader_id=leader_id,
        sort=sort,
    )
    session.add(team)
    session.flush()
    audit_service.record(
        session,
        actor=actor,
        action="create",
        entity="team",
        entity_id=team.id,
        project_id=project_id,
        changes={k: [None, team.name if k == "name" else v] for k, v in values.items()},
    )
    if leader_id is not None:
        _move_user(
            session, actor=actor, user=get_user(session, leader_id), team_id=team.id, project_id=project_id
        )
    _team_changed(session, project_id, team.id)
    return team


def _stale(what: str, current: int) -> Conflict:
    return Conflict(
        f"{what}已被他人修改，请刷新后重试",
        "the record was changed by someone else; reload and try again",
        code="stale_version",
        details=[{"field": "version", "message": "已被他人修改", "current_version": current}],
    )


def _lock_team(session: Session, team_id: int) -> Team:
    team = session.scalar(
        select(Team).where(Team.id == team_id).with_for_update().execution_options(populate_existing=True)
    )
    if team is None:
        raise NotFound("专班不存在", "team not found")
    return team


def update_team(
    session: Session,
    *,
    actor: Actor,
    team_id: int,
    values: Mapping[str, Any],
    expected_version: int | None = None,
) -> dict[str, list[Any]]:
    """Change a team's name, kind, parent, leader or sort (only the keys given); audited.

    ``expected_version`` (the version read) refuses a stale edit with a 409 ``stale_version``.
    A new leader joins the team. Returns the diff ``{field: [before, after]}``.
    """
    team = _lock_team(session, team_id)
    if expected_version is not None and team.version != expected_version:
        raise _stale(f"专班“{team.name}”", team.version)
    fields = ("name", "kind", "parent_id", "leader_id", "sort")
    unknown = set(values) - set(fields)
    if unknown:
        raise ValidationFailed("不认识的字段：" + "、".join(sorted(unknown)), "unknown team fields")
    before = {f: getattr(team, f) for f in fields}
    merged = {**before, **values}
    if isinstance(merged["name"], str):
        merged["name"] = merged["name"].strip()
    _check_team(session, project_id=team.project_id, team=team, values=merged)
    diff = {f: [before[f], merged[f]] for f in fields if before[f] != merged[f]}
    if not diff:
        return {}
    for f, (_old, new) in diff.items():
        setattr(team, f, new)
    team.version += 1
    audit_service.record(
        session,
        actor=actor,
        action="update",
        entity="team",
        entity_id=team.id,
        project_id=team.project_id,
        changes=diff,
    )
    if "leader_id" in diff and team.leader_id is not None:
        leader = get_user(session, team.leader_id)
        _move_user(session, actor=actor, user=leader, team_id=team.id, project_id=team.project_id)
        team.leader_id = leader.id  # _move_user clears the old team's leader, never this one
    _team_changed(session, team.project_id, team.id)
    return diff


def set_team_members(
    session: Session,
    *,
    actor: Actor,
    team_id: int,
    user_ids: Sequence[int],
    expected_version: int | None = None,
) -> dict[str, list[int]]:
    """Make ``user_ids`` the team's members (专班组长 / 专班成员 users; a user is in one team, so
    one coming from another team moves, audited). The leader must stay a member.

    The households a person carries (包户到人) follow them into this team; those of a person who
    leaves stay with this team without a responsible person (new assignment rows, reason
    :data:`PERSONNEL_CHANGE`). Returns ``{"added": [...], "removed": [...], "households": [...]}``
    (the households whose assignment changed); every move is audited.
    """
    team = _lock_team(session, team_id)
    if expected_version is not None and team.version != expected_version:
        raise _stale(f"专班“{team.name}”", team.version)
    wanted = list(dict.fromkeys(user_ids))
    users = {u.id: u for u in session.scalars(select(User).where(User.id.in_(wanted)))} if wanted else {}
    problems: list[dict[str, Any]] = []
    for uid in wanted:
        u = users.get(uid)
        if u is None:
            problems.append(
                {
                    "field": "user_ids",
                    "user_id": uid,
                    "message": f"用户（编号 {uid}）不存在",
                    "kind": "missing",
                }
            )
        elif u.role not in TEAM_ROLES:
            message = f"“{u.display_name}”不是专班组长或专班成员，不能加入专班"
            problems.append({"field": "user_ids", "user_id": uid, "message": message, "kind": "state"})
        elif not u.is_active and u.team_id != team.id:
            message = f"“{u.display_name}”的账号已停用"
            problems.append({"field": "user_ids", "user_id": uid, "message": message, "kind": "state"})
    current = {u.id: u for u in session.scalars(select(User).where(User.team_id == team.id))}
    if team.leader_id is not None and team.leader_id in current and team.leader_id not in users:
        name = current[team.leader_id].display_name
        message = f"组长“{name}”须是本组成员（请先更换组长）"
        problems.append({"field": "user_ids", "message": message, "kind": "state"})
    if problems:
        raise _refuse(problems, "专班成员有误", "invalid members")
    added = [uid for uid in wanted if uid not in current]
    removed = [uid for uid in current if uid not in users]
    households: list[int] = []
    for uid in added:
        households += (
            _move_user(session, actor=actor, user=users[uid], team_id=team.id, project_id=team.project_id)
            or []
        )
    for uid in removed:
        households += (
            _move_user(session, actor=actor, user=current[uid], team_id=None, project_id=team.project_id)
            or []
        )
    if added or removed:
        team.version += 1
        _team_changed(session, team.project_id, team.id)
    return {"added": added, "removed": removed, "households": sorted(households)}


def delete_team(
    session: Session,
    *,
    actor: Actor,
    team_id: int,
    expected_version: int | None = None,
    other_uses: Sequence[str] = (),
    reason: str = "",
) -> dict[str, Any]:
    """解散专班: delete a team that never carried a household; its members become teamless. Audited.

    Teams have no "dissolved" state, and their assignment rows and visits keep the team's id for
    the history, so only a team that was never used can go: one with 小组 under it, households it
    carries now, or any assignment row in its history is refused (409 ``team_in_use`` naming how
    many of each). ``other_uses`` are further uses the caller found in other domains (say
    "走访记录 3 条"), refused the same way. Returns ``{"id", "name", "members"}`` (the members
    released).
    """
    team = _lock_team(session, team_id)
    if expected_version is not None and team.version != expected_version:
        raise _stale(f"专班“{team.name}”", team.version)
    if found := text.text_problem(reason, max_len=text.MAX_REASON, multiline=True):
        raise ValidationFailed(
            "理由" + found, "invalid reason", details=[{"field": "reason", "message": "理由" + found}]
        )
    squads = int(session.scalar(select(func.count()).select_from(Team).where(Team.parent_id == team.id)) or 0)
    active = int(
        session.scalar(
            select(func.count(func.distinct(HouseholdAssignment.household_id))).where(
                HouseholdAssignment.team_id == team.id, HouseholdAssignment.active.is_(True)
            )
        )
        or 0
    )
    ever = int(
        session.scalar(
            select(func.count())
            .select_from(HouseholdAssignment)
            .where(HouseholdAssignment.team_id == team.id)
        )
        or 0
    )
    uses = []
    if squads:
        uses.append(f"下有小组 {squads} 个（请先解散或移出）")
    if active:
        uses.append(f"在包 {active} 户（请先改派给其他专班）")
    if ever:
        uses.append(f"包户记录 {ever} 条")
    uses += list(other_uses)
    if uses:
        keep = "；有包户或走访记录的专班为保留历史不能解散" if ever or other_uses else ""
        raise Conflict(
            f"专班“{team.name}”不能解散：{'、'.join(uses)}{keep}",
            f"team {team.name} is in use",
            code="team_in_use",
            details=[
                {
                    "field": "team_id",
                    "message": u,
                    "squads": squads,
                    "households": active,
                    "assignments": ever,
                }
                for u in uses
            ],
        )
    snapshot = {f: getattr(team, f) for f in ("name", "kind", "parent_id", "leader_id", "sort")}
    members = list(session.scalars(select(User).where(User.team_id == team.id).order_by(User.id)))
    project_id = team.project_id
    for member in members:
        _move_user(session, actor=actor, user=member, team_id=None, project_id=project_id)
    audit_service.record(
        session,
        actor=actor,
        action="delete",
        entity="team",
        entity_id=team.id,
        project_id=project_id,
        changes={k: [v, None] for k, v in snapshot.items() if v is not None},
        reason=reason,
    )
    session.flush()  # the members leave before the row goes (no ORM relationship orders the two)
    session.delete(team)
    session.flush()
    _team_changed(session, project_id, team_id)
    return {"id": team_id, "name": snapshot["name"], "members": [m.id for m in members]}


@dataclass(frozen=True, slots=True)
class TeamMember:
    """A member of a team as pages show it."""

    id: int
    username: str
    display_name: str
    role: str
    is_active: bool


@dataclass(slots=True)
class TeamNode:
    """A team with its members and (for a 大组) its 小组."""

    id: int
    name: str
    kind: str
    parent_id: int | None
    leader_id: int | None
    leader_name: str
    sort: int
    version: int
    members: list[TeamMember] = dataclass_field(default_factory=list)
    children: list[TeamNode] = dataclass_field(default_factory=list)

    def walk(self) -> list[TeamNode]:
        """This team and its 小组, depth first."""
        return [self, *(n for c in self.children for n in c.walk())]

    def ids(self) -> list[int]:
        """Ids of this team and its 小组."""
        return [n.id for n in self.walk()]


def team_tree(session: Session, *, project_id: int) -> list[TeamNode]:
    """A project's teams as a tree (大组 → 小组), by sort then creation, with members and leaders."""
    teams = list_teams(session, project_id=project_id)
    ids = [t.id for t in teams]
    members: dict[int, list[TeamMember]] = {}
    names: dict[int, str] = {}
    if ids:
        for u in session.scalars(
            select(User).where(User.team_id.in_(ids)).order_by(User.role, User.display_name, User.id)
        ):
            members.setdefault(int(u.team_id or 0), []).append(
                TeamMember(u.id, u.username, u.display_name, u.role, u.is_active)
            )
    leader_ids = [t.leader_id for t in teams if t.leader_id is not None]
    if leader_ids:
        names = {
            int(i): str(n)
            for i, n in session.execute(select(User.id, User.display_name).where(User.id.in_(leader_ids)))
        }
    nodes = {
        t.id: TeamNode(
            t.id,
            t.name,
            t.kind,
            t.parent_id,
            t.leader_id,
            names.get(t.leader_id or 0, ""),
            t.sort,
            t.version,
            members.get(t.id, []),
        )
        for t in teams
    }
    roots: list[TeamNode] = []
    for t in teams:
        node = nodes[t.id]
        parent = nodes.get(t.parent_id) if t.parent_id is not None else None
        (parent.children if parent is not None and parent.parent_id is None else roots).append(node)
    return roots


def team_names(session: Session, project_id: int) -> dict[int, str]:
    """``team id -> name`` of a project's teams (for showing ids in histories)."""
    return {t.id: t.name for t in session.scalars(select(Team).where(Team.project_id == project_id))}
