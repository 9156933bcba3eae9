"""Campaign service part: 我的包户, the team's start page: the households a user works on,
those still to win first (see the package docstring).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from anju.campaign import rules
from anju.campaign.models import HouseholdCampaign
from anju.campaign.service.households import _names, stage_label
from anju.core.dates import today_shanghai
from anju.household import service as household_service
from anju.identity import service as identity_service
from anju.identity.service import DataScope

__all__ = [
    "MyHousehold",
    "MyHouseholds",
    "my_households",
]

MY_LIMIT = 300


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
