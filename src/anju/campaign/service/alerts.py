"""Campaign service part: alerts, what a team must act on today (see the package docstring).

Four lists, each of households within the caller's data scope:
- ``no_visit``: not yet signed and never visited, or not visited for the project's
  ``alert_no_visit_days`` days or more;
- ``overdue_steps``: a next step (from the last visit) or a 一户一策 step whose due date has
  passed and that is not done (households not yet signed for next steps; plan steps always);
- ``hard_without_plan``: 难点户 (difficulty >= 1) not yet signed without an active plan;
- ``worsened``: not yet signed, whose attitude went down within the last 7 days.

Each list is one indexed query joined to the household subquery of the household service, capped
at :data:`LIMIT` items (``totals`` holds the full counts).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, time
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from anju.campaign import rules
from anju.campaign.models import HouseholdCampaign, HouseholdPlan, PlanStep, Visit
from anju.household import service as household_service
from anju.identity import service as identity_service
from anju.identity.service import DataScope
from anju.project import service as project_service

__all__ = ["ALERT_KINDS", "LIMIT", "WORSENED_DAYS", "AlertItem", "Alerts", "alerts"]

LIMIT = 200
WORSENED_DAYS = 7
ALERT_KINDS = {
    "no_visit": "久未走访",
    "overdue_steps": "下一步逾期",
    "hard_without_plan": "难点户未制定一户一策",
    "worsened": "态度转差",
}


@dataclass(frozen=True, slots=True)
class AlertItem:
    """One household on an alert list.

    ``days``: days since the last visit (``None`` = never visited), days overdue, the difficulty
    level (hard cases) or days since the attitude worsened. ``detail`` says what (the step, the
    attitude change); ``step_id`` names the plan step for overdue plan steps.
    """

    household_id: int
    code: str
    head_name: str
    stage: str
    team_id: int | None
    team_name: str
    user_id: int | None
    user_name: str
    days: int | None
    detail: str = ""
    due_on: date | None = None
    step_id: int | None = None


@dataclass
class Alerts:
    """The four alert lists of a project within a scope, for ``today``."""

    project_id: int
    today: date
    no_visit_days: int
    no_visit: list[AlertItem] = field(default_factory=list)
    overdue_steps: list[AlertItem] = field(default_factory=list)
    hard_without_plan: list[AlertItem] = field(default_factory=list)
    worsened: list[AlertItem] = field(default_factory=list)
    totals: dict[str, int] = field(default_factory=dict)

    @property
    def count(self) -> int:
        """All alerts (full counts, not only the items listed)."""
        return sum(self.totals.values())

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (dates as ISO text)."""
        out = asdict(self)
        out["today"] = self.today.isoformat()
        for kind in ALERT_KINDS:
            for item in out[kind]:
                if item["due_on"] is not None:
                    item["due_on"] = item["due_on"].isoformat()
        return out


def _start_of_office_day(day: date, days_before: int = 0) -> datetime:
    """The UTC instant at which the office day ``days_before`` days before ``day`` begins (Asia/Shanghai);
    clamped to the first days of the calendar, so that any date asked about has an answer."""
    first = date(1, 1, 2)  # the first day whose start in office time is still a UTC instant
    start = date.fromordinal(max(day.toordinal() - days_before, first.toordinal()))
    return datetime.combine(start, time(0), tzinfo=rules.OFFICE_TZ).astimezone(UTC)


def alerts(
    session: Session, *, scope: DataScope, project_id: int, today: date, as_of: bool = False
) -> Alerts:
    """The alerts of a project's households within ``scope`` on ``today`` (an office date).

    By default ``no_visit`` reads each household's last visit and stage as they are now (the
    team's start page). ``as_of`` computes it as things stood on ``today`` instead (a dispatch
    report, or a look back at a past date): the last visit recorded on or before ``today`` (office
    time; voided visits do not count), and a household signed after ``today`` still counts as open.
    """
    project = project_service.get_project(session, project_id)
    limit_days = max(int(project.alert_no_visit_days or 0), 1)
    out = Alerts(project_id=project_id, today=today, no_visit_days=limit_days)
    hh = household_service.live_households(scope=scope, project_id=project_id)
    c = HouseholdCampaign
    open_stage = hh.c.status.in_(rules.OPEN_STAGES)
    raw: dict[str, list[tuple[Any, ...]]] = {}

    def listed(kind: str, stmt: Any, order: list[Any], where: Any) -> None:
        out.totals[kind] = int(
            session.scalar(select(func.count()).select_from(stmt.where(where).subquery())) or 0
        )
        raw[kind] = [tuple(r) for r in session.execute(stmt.where(where).order_by(*order).limit(LIMIT))]

    # never visited, or the last visit on or before today - limit_days (office dates)
    cutoff = _start_of_office_day(today, limit_days - 1)
    if as_of:
        last = (
            select(Visit.household_id, func.max(Visit.visited_at).label("last_visit_at"))
            .where(
                Visit.project_id == project_id,
                Visit.voided_at.is_(None),
                Visit.visited_at < _start_of_office_day(today, -1),  # up to the end of today
            )
            .group_by(Visit.household_id)
            .subquery("last_visit")
        )
        open_then = or_(open_stage, and_(hh.c.sign_on.is_not(None), hh.c.sign_on > today))
        listed(
            "no_visit",
            select(hh.c.id, hh.c.code, hh.c.head_name, hh.c.status, last.c.last_visit_at)
            .select_from(hh)
            .outerjoin(last, last.c.household_id == hh.c.id),
            [last.c.last_visit_at.is_(None).desc(), last.c.last_visit_at, hh.c.code],
            and_(open_then, or_(last.c.last_visit_at.is_(None), last.c.last_visit_at < cutoff)),
        )
    else:
        listed(
            "no_visit",
            select(hh.c.id, hh.c.code, hh.c.head_name, hh.c.status, c.last_visit_at)
            .select_from(hh)
            .outerjoin(c, c.household_id == hh.c.id),
            [c.last_visit_at.is_(None).desc(), c.last_visit_at, hh.c.code],
            and_(open_stage, or_(c.last_visit_at.is_(None), c.last_visit_at < cutoff)),
        )
    listed(
        "next_steps",
        select(hh.c.id, hh.c.code, hh.c.head_name, hh.c.status, c.next_step, c.next_due_on)
        .select_from(hh)
        .join(c, c.household_id == hh.c.id),
        [c.next_due_on, hh.c.code],
        and_(open_stage, c.next_step != "", c.next_due_on < today),
    )
    listed(
        "plan_steps",
        select(hh.c.id, hh.c.code, hh.c.head_name, hh.c.status, PlanStep.text, PlanStep.due_on, PlanStep.id)
        .select_from(hh)
        .join(HouseholdPlan, HouseholdPlan.household_id == hh.c.id)
        .join(PlanStep, PlanStep.plan_id == HouseholdPlan.id),
        [PlanStep.due_on, hh.c.code, PlanStep.sort],
        and_(PlanStep.status.in_(("todo", "doing")), PlanStep.due_on < today),
    )
    active_plan = (
        select(HouseholdPlan.id)
        .where(HouseholdPlan.household_id == hh.c.id, HouseholdPlan.status == "active")
        .exists()
    )
    listed(
        "hard_without_plan",
        select(hh.c.id, hh.c.code, hh.c.head_name, hh.c.status, c.difficulty, c.difficulty_reason)
        .select_from(hh)
        .join(c, c.household_id == hh.c.id),
        [c.difficulty.desc(), hh.c.code],
        and_(open_stage, c.project_id == project_id, c.difficulty >= 1, ~active_plan),
    )
    worse = [
        and_(c.previous_attitude == before, c.attitude == after)
        for before in rules.ATTITUDE_RANK
        for after in rules.ATTITUDE_RANK
        if rules.attitude_worsened(before, after)
    ]
    since = _start_of_office_day(today, WORSENED_DAYS - 1)
    listed(
        "worsened",
        select(
            hh.c.id,
            hh.c.code,
            hh.c.head_name,
            hh.c.status,
            c.previous_attitude,
            c.attitude,
            c.attitude_changed_at,
        )
        .select_from(hh)
        .join(c, c.household_id == hh.c.id),
        [c.attitude_changed_at.desc(), hh.c.code],
        and_(open_stage, c.attitude_changed_at >= since, or_(*worse)),
    )

    ids = sorted({int(r[0]) for rows in raw.values() for r in rows})
    assignments = identity_service.active_assignments(session, ids)
    teams = identity_service.team_names(session, project_id)
    names = identity_service.user_names(session)

    def item(
        r: tuple[Any, ...],
        days: int | None,
        detail: str = "",
        due: date | None = None,
        step: int | None = None,
    ) -> AlertItem:
        team_id, user_id = assignments.get(int(r[0]), (None, None))
        return AlertItem(
            household_id=int(r[0]),
            code=str(r[1]),
            head_name=str(r[2]),
            stage=str(r[3]),
            team_id=team_id,
            team_name=teams.get(team_id, "") if team_id else "",
            user_id=user_id,
            user_name=names.get(user_id, "") if user_id else "",
            days=days,
            detail=detail,
            due_on=due,
            step_id=step,
        )

    out.no_visit = [
        item(
            r,
            rules.days_since(r[4], today),
            "从未走访" if r[4] is None else f"{rules.days_since(r[4], today)}天未走访",
        )
        for r in raw["no_visit"]
    ]
    overdue = [item(r, (today - r[5]).days, f"下一步：{r[4]}", r[5]) for r in raw["next_steps"]]
    overdue += [item(r, (today - r[5]).days, f"一户一策：{r[4]}", r[5], int(r[6])) for r in raw["plan_steps"]]
    overdue.sort(key=lambda a: (-(a.days or 0), a.code))
    out.overdue_steps = overdue[:LIMIT]
    out.totals["overdue_steps"] = out.totals.pop("next_steps") + out.totals.pop("plan_steps")
    out.hard_without_plan = [
        item(r, int(r[4]), rules.DIFFICULTY_LEVELS.get(int(r[4]), "") + (f"：{r[5]}" if r[5] else ""))
        for r in raw["hard_without_plan"]
    ]
    out.worsened = [
        item(
            r,
            rules.days_since(r[6], today),
            f"{rules.ATTITUDES.get(r[4], r[4])} → {rules.ATTITUDES.get(r[5], r[5])}",
        )
        for r in raw["worsened"]
    ]
    out.totals = {k: out.totals[k] for k in ALERT_KINDS}
    return out
