"""包户到人: households assigned to a team and a person of it, with history; the assignment
filter that narrows a data scope."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
from sqlalchemy import ColumnElement, and_, false, or_, select, update
from sqlalchemy.orm import Session

from anju.audit import service as audit_service
from anju.core import text
from anju.core.actor import Actor
from anju.db import events
from anju.db.columns import fetch_int_columns, in_most
from anju.errors import (
    DomainError,
    ValidationFailed,
)
from anju.identity.models import HouseholdAssignment, Team, User
from anju.identity.service.accounts import DataScope
from anju.identity.service.teams import TEAM_ROLES, _refuse
from anju.project import service as project_service

__all__ = [
    "AssignmentFilter",
    "AssignmentStep",
    "active_assignments",
    "assign_households",
    "assignment_columns",
    "assignment_map",
    "assignment_steps",
    "narrowed",
]


_ASSIGN_CHUNK = 500  # household ids per IN (...) list of an UPDATE


@dataclass(frozen=True, slots=True)
class AssignmentFilter(DataScope):
    """A data scope narrowed further by the households' active assignments (包户).

    ``only_team_id``: households of that team (and of its 小组 unless ``exact_team``);
    ``only_user_id``: households the person carries; ``unassigned``: households without an
    active assignment; ``household_ids``: only these. Household listings take it as their
    ``scope``, so a filtered list reuses the household service's paging and search.
    """

    only_team_id: int | None = None
    exact_team: bool = False
    only_user_id: int | None = None
    unassigned: bool = False
    household_ids: tuple[int, ...] | None = None

    def household_clause(self, household_id_col: Any) -> ColumnElement[bool]:
        """The base scope's condition and the filters."""
        conds: list[ColumnElement[bool]] = [DataScope.household_clause(self, household_id_col)]
        active = HouseholdAssignment.active.is_(True)
        if self.only_team_id is not None:
            teams: Any = (
                [self.only_team_id]
                if self.exact_team
                else select(Team.id).where(
                    or_(Team.id == self.only_team_id, Team.parent_id == self.only_team_id)
                )
            )
            conds.append(
                household_id_col.in_(
                    select(HouseholdAssignment.household_id).where(
                        HouseholdAssignment.team_id.in_(teams), active
                    )
                )
            )
        if self.only_user_id is not None:
            conds.append(
                household_id_col.in_(
                    select(HouseholdAssignment.household_id).where(
                        HouseholdAssignment.user_id == self.only_user_id, active
                    )
                )
            )
        if self.unassigned:
            conds.append(household_id_col.not_in(select(HouseholdAssignment.household_id).where(active)))
        if self.household_ids is not None:
            conds.append(household_id_col.in_(list(self.household_ids)) if self.household_ids else false())
        return and_(*conds)

    @property
    def whole(self) -> bool:
        """Never every household: the filters narrow it."""
        return False


def narrowed(
    scope: DataScope,
    *,
    team_id: int | None = None,
    exact_team: bool = False,
    user_id: int | None = None,
    unassigned: bool = False,
    household_ids: Sequence[int] | None = None,
) -> AssignmentFilter:
    """``scope`` narrowed by assignment (see :class:`AssignmentFilter`)."""
    return AssignmentFilter(
        kind=scope.kind,
        user_id=scope.user_id,
        team_id=scope.team_id,
        only_team_id=team_id,
        exact_team=exact_team,
        only_user_id=user_id,
        unassigned=unassigned,
        household_ids=tuple(household_ids) if household_ids is not None else None,
    )


def assignment_map(session: Session, *, project_id: int) -> dict[int, tuple[int | None, int | None]]:
    """``household id -> (team id, user id)`` of every active assignment of the project's teams."""
    rows = session.execute(
        select(HouseholdAssignment.household_id, HouseholdAssignment.team_id, HouseholdAssignment.user_id)
        .join(Team, Team.id == HouseholdAssignment.team_id)
        .where(Team.project_id == project_id, HouseholdAssignment.active.is_(True))
    )
    return {int(h): (t, u) for h, t, u in rows}


def assignment_columns(session: Session, *, project_id: int) -> tuple[np.ndarray, np.ndarray]:
    """(household ids ascending, team ids) of the active assignments of the project's teams as int64
    arrays: :func:`assignment_map` for whole-project aggregation, without a Python object per row.
    A household with two active rows (never written so) keeps the newest."""
    team_ids = list(session.scalars(select(Team.id).where(Team.project_id == project_id).order_by(Team.id)))
    ids, households, teams = fetch_int_columns(
        session,
        select(HouseholdAssignment.id, HouseholdAssignment.household_id, HouseholdAssignment.team_id).where(
            in_most(session, HouseholdAssignment.team_id, team_ids), HouseholdAssignment.active.is_(True)
        ),
        3,
    )
    newest_first = np.argsort(-ids, kind="stable")
    households, teams = households[newest_first], teams[newest_first]
    keep = np.unique(households, return_index=True)[1]  # first of each household: the newest row
    return households[keep], teams[keep]


def active_assignments(
    session: Session, household_ids: list[int]
) -> dict[int, tuple[int | None, int | None]]:
    """``household id -> (team id, user id)`` of the active 包户 assignments of ``household_ids``."""
    if not household_ids:
        return {}
    rows = session.execute(
        select(HouseholdAssignment.household_id, HouseholdAssignment.team_id, HouseholdAssignment.user_id)
        .where(HouseholdAssignment.household_id.in_(household_ids), HouseholdAssignment.active.is_(True))
        .order_by(HouseholdAssignment.id)
    )
    return {int(h): (t, u) for h, t, u in rows}  # the newest active row wins


def _assignee(
    session: Session, *, team_id: int | None, user_id: int | None, project_id: int | None
) -> tuple[int | None, int | None, int | None]:
    """Check the team and person of an assignment; returns (team id, user id, project id).

    An unknown team or person is a 404; a person who cannot carry the team's households a 409.
    """

    def refuse(field: str, message: str, kind: str) -> DomainError:
        return _refuse([{"field": field, "message": message, "kind": kind}], "无法包户", "cannot assign")

    team = None
    if user_id is not None:
        user = session.get(User, user_id)
        if user is None:
            raise refuse("user_id", "包户责任人不存在", "missing")
        if user.role not in TEAM_ROLES or not user.is_active:
            raise refuse(
                "user_id", f"包户责任人须是在用的专班组长或专班成员（“{user.display_name}”不是）", "state"
            )
        if team_id is None:
            if user.team_id is None:
                raise refuse(
                    "user_id", f"“{user.display_name}”不属于任何专班，请先把他加入专班或指定专班", "state"
                )
            team_id = user.team_id
        team = session.get(Team, team_id)
        if team is not None and user.team_id != team.id and team.leader_id != user.id:
            raise refuse("user_id", f"“{user.display_name}”不是“{team.name}”的成员", "state")
    if team_id is not None:
        team = team or session.get(Team, team_id)
        if team is None or (project_id is not None and team.project_id != project_id):
            raise refuse("team_id", "专班不存在或不属于本项目", "missing")
        project_id = team.project_id
    return team_id, user_id, project_id


def assign_households(
    session: Session,
    *,
    actor: Actor,
    household_ids: Sequence[int],
    team_id: int | None,
    user_id: int | None,
    on: date,
    project_id: int | None = None,
    reason: str = "",
    audit: bool = True,
) -> int:
    """包户到人: assign households to a team and (optionally) a person of it; audited.

    The caller has checked that the households are live households of the project. A
    household's active assignment is ended (``ended_on``, kept for the history) and a new one
    records who assigned it and why; a household already assigned exactly so is left alone.
    No team and no person ends the assignments (a closed row keeps the "→ 未分配" step). The
    person's team is used when no team is given; the person must belong to the team (or lead
    it). Returns how many households changed; bumps the project's household-data version and
    queues an ``assignment`` change event.
    """
    if found := text.text_problem(reason, max_len=text.MAX_REASON, multiline=True):
        raise ValidationFailed(
            "理由" + found, "invalid reason", details=[{"field": "reason", "message": "理由" + found}]
        )
    team_id, user_id, project_id = _assignee(session, team_id=team_id, user_id=user_id, project_id=project_id)
    ids = list(dict.fromkeys(household_ids))
    if not ids:
        return 0
    if project_id is None:  # ending assignments without naming the project: the old teams' project
        current_teams = {t for t, _u in active_assignments(session, ids).values() if t is not None}
        project_id = (
            session.scalar(select(Team.project_id).where(Team.id.in_(current_teams)).limit(1))
            if current_teams
            else None
        )
    if project_id is not None:
        # First: the UPDATE of the project row serialises concurrent assignments of the project,
        # so the active rows read below are the committed ones.
        project_service.bump_households_version(session, project_id)
    current = active_assignments(session, ids)
    target = (team_id, user_id)
    changed = [h for h in ids if current.get(h, (None, None)) != target]
    if not changed:
        return 0
    for i in range(0, len(changed), _ASSIGN_CHUNK):
        session.execute(
            update(HouseholdAssignment)
            .where(
                HouseholdAssignment.household_id.in_(changed[i : i + _ASSIGN_CHUNK]),
                HouseholdAssignment.active.is_(True),
            )
            .values(active=False, ended_on=on)
        )
    ending = team_id is None and user_id is None
    session.add_all(
        HouseholdAssignment(
            household_id=h,
            team_id=team_id,
            user_id=user_id,
            assigned_on=on,
            active=not ending,
            ended_on=on if ending else None,
            assigned_by=actor.user_id,
            reason=reason,
        )
        for h in changed
    )
    session.flush()
    if audit:
        audit_service.record_many(
            session,
            actor=actor,
            entries=[
                audit_service.AuditEntry(
                    action="unassign" if ending else ("reassign" if h in current else "assign"),
                    entity="household_assignment",
                    entity_id=str(h),
                    household_id=h,
                    project_id=project_id,
                    reason=reason,
                    changes={
                        "team_id": [current.get(h, (None, None))[0], team_id],
                        "user_id": [current.get(h, (None, None))[1], user_id],
                    },
                )
                for h in changed
            ],
        )
    if project_id is not None:
        events.notify(
            session,
            topic=events.project_topic(project_id),
            kind="assignment",
            data={"households": len(changed), "team_id": team_id, "user_id": user_id},
        )
    return len(changed)


@dataclass(frozen=True, slots=True)
class AssignmentStep:
    """One step of a household's assignment history: from → to, by whom, when, why."""

    id: int
    household_id: int
    assigned_on: date
    ended_on: date | None
    active: bool
    team_id: int | None
    team_name: str
    user_id: int | None
    user_name: str
    from_team_id: int | None
    from_team_name: str
    from_user_id: int | None
    from_user_name: str
    assigned_by: int | None
    assigned_by_name: str
    reason: str


def assignment_steps(session: Session, *, household_id: int) -> list[AssignmentStep]:
    """Every assignment of a household, newest first, each with the one it replaced (no scope
    check here: callers check that the household is in the user's scope)."""
    rows = list(
        session.scalars(
            select(HouseholdAssignment)
            .where(HouseholdAssignment.household_id == household_id)
            .order_by(HouseholdAssignment.id)
        )
    )
    team_ids = {r.team_id for r in rows if r.team_id is not None}
    user_ids = {i for r in rows for i in (r.user_id, r.assigned_by) if i is not None}
    teams = (
        {int(i): str(n) for i, n in session.execute(select(Team.id, Team.name).where(Team.id.in_(team_ids)))}
        if team_ids
        else {}
    )
    users = (
        {
            int(i): str(n)
            for i, n in session.execute(select(User.id, User.display_name).where(User.id.in_(user_ids)))
        }
        if user_ids
        else {}
    )
    out: list[AssignmentStep] = []
    prev: HouseholdAssignment | None = None
    for r in rows:
        pt, pu = (prev.team_id, prev.user_id) if prev is not None else (None, None)
        out.append(
            AssignmentStep(
                id=r.id,
                household_id=r.household_id,
                assigned_on=r.assigned_on,
                ended_on=r.ended_on,
                active=r.active,
                team_id=r.team_id,
                team_name=teams.get(r.team_id, "") if r.team_id is not None else "",
                user_id=r.user_id,
                user_name=users.get(r.user_id, "") if r.user_id is not None else "",
                from_team_id=pt,
                from_team_name=teams.get(pt, "") if pt is not None else "",
                from_user_id=pu,
                from_user_name=users.get(pu, "") if pu is not None else "",
                assigned_by=r.assigned_by,
                assigned_by_name=users.get(r.assigned_by, "系统") if r.assigned_by is not None else "系统",
                reason=r.reason,
            )
        )
        prev = r
    out.reverse()
    return out
