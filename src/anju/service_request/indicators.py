"""Indicators of the five-order loop per grid, community or department and month, derived from the
requests and their history (``request_event``) by SQL aggregation, never typed in.

For a month M (Asia/Shanghai calendar month):

- received: requests submitted in M; accepted: requests with an ``accept`` event in M;
- closed: requests with a closing event (``verify`` or ``auto_close``) in M;
- due (应结案): requests whose deadline to close (``close_due_at``, after approved postponements)
  falls in M, rejected and merged ones left out; due_closed / due_on_time: of those, closed by the
  end of M / closed no later than the deadline;
- 结案率 = due_closed / due; 按期结案率 = due_on_time / due;
- 返工率 = requests reopened in M / requests closed in M;
- 延期率 = due requests with an approved postponement (``postpone_approve`` event) / due;
- satisfaction: mean rating and share of ratings >= 4 of the requests closed in M;
- average handling time: submitted -> closed, hours, of the requests closed in M.

A request counts under its current grid, community and department. Two queries per month: one
over ``service_request``, one over ``request_event`` joined to it; both grouped by the key.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import ColumnElement, and_, case, distinct, exists, func, or_, select
from sqlalchemy.orm import Session

from anju.core.dates import SHANGHAI
from anju.errors import ValidationFailed
from anju.grid import service as grid_service
from anju.service_request.models import Department, RequestEvent, ServiceRequest

__all__ = [
    "GROUPS",
    "Indicators",
    "Row",
    "indicators",
    "month_bounds",
    "parse_month",
    "previous_months",
    "trend",
]

GROUPS: dict[str, str] = {"grid": "网格", "community": "社区", "department": "部门"}
CLOSE_ACTIONS = ("verify", "auto_close")
REOPEN_ACTION = "reopen"
ACCEPT_ACTION = "accept"
POSTPONE_APPROVED = "postpone_approve"
SATISFIED_FROM = 4  # ratings 4 and 5 are 满意
NOT_COUNTED = ("rejected", "merged")  # never due to close
UNASSIGNED = {"grid": "未划入网格", "community": "未划入社区", "department": "未分派部门"}
RATE_PLACES = Decimal("0.0001")
MONTH_RE = re.compile(r"^(\d{4})-(\d{2})$")


def parse_month(value: str) -> str:
    """``YYYY-MM`` checked; raises :class:`ValidationFailed` naming the field."""
    m = MONTH_RE.match(value.strip())
    if not m or not 1 <= int(m.group(2)) <= 12 or int(m.group(1)) < 2000:
        raise ValidationFailed(
            "月份应为 YYYY-MM（如 2026-11）",
            "month must be YYYY-MM",
            details=[{"field": "month", "message": "应为 YYYY-MM"}],
        )
    return value.strip()


def month_bounds(month: str) -> tuple[datetime, datetime]:
    """The month's first instant and the next month's first instant, Asia/Shanghai, as aware datetimes."""
    year, mon = (int(x) for x in parse_month(month).split("-"))
    start = datetime(year, mon, 1, tzinfo=SHANGHAI)
    end = datetime(year + (mon == 12), mon % 12 + 1, 1, tzinfo=SHANGHAI)
    return start, end


def previous_months(month: str, count: int) -> list[str]:
    """``count`` months ending with ``month``, oldest first."""
    year, mon = (int(x) for x in parse_month(month).split("-"))
    out = []
    for _ in range(count):
        out.append(f"{year:04d}-{mon:02d}")
        year, mon = (year - 1, 12) if mon == 1 else (year, mon - 1)
    return out[::-1]


def _rate(numerator: int, denominator: int) -> Decimal | None:
    if not denominator:
        return None
    return (Decimal(numerator) / Decimal(denominator)).quantize(RATE_PLACES, ROUND_HALF_UP)


@dataclass(slots=True)
class Row:
    """The counts of one group (or the total) in a month; rates are derived."""

    key: int | None
    name: str
    received: int = 0
    accepted: int = 0
    closed: int = 0
    due: int = 0
    due_closed: int = 0
    due_on_time: int = 0
    reopened: int = 0
    postponed: int = 0
    rated: int = 0
    rating_sum: int = 0
    satisfied: int = 0
    handled: int = 0
    handling_seconds: int = 0

    COUNTS = (
        "received",
        "accepted",
        "closed",
        "due",
        "due_closed",
        "due_on_time",
        "reopened",
        "postponed",
        "rated",
        "rating_sum",
        "satisfied",
        "handled",
        "handling_seconds",
    )

    def add(self, other: Row) -> None:
        for name in self.COUNTS:
            setattr(self, name, getattr(self, name) + getattr(other, name))

    @property
    def closure_rate(self) -> Decimal | None:
        return _rate(self.due_closed, self.due)

    @property
    def on_time_rate(self) -> Decimal | None:
        return _rate(self.due_on_time, self.due)

    @property
    def reopen_rate(self) -> Decimal | None:
        return _rate(self.reopened, self.closed)

    @property
    def postpone_rate(self) -> Decimal | None:
        return _rate(self.postponed, self.due)

    @property
    def satisfied_share(self) -> Decimal | None:
        return _rate(self.satisfied, self.rated)

    @property
    def mean_rating(self) -> Decimal | None:
        if not self.rated:
            return None
        return (Decimal(self.rating_sum) / Decimal(self.rated)).quantize(Decimal("0.01"), ROUND_HALF_UP)

    @property
    def avg_handling_hours(self) -> Decimal | None:
        if not self.handled:
            return None
        return (Decimal(self.handling_seconds) / Decimal(3600 * self.handled)).quantize(
            Decimal("0.1"), ROUND_HALF_UP
        )

    def to_dict(self) -> dict[str, Any]:
        """Counts as numbers, rates as decimal text (``"0.7500"``) or ``None`` when nothing to divide."""

        def text(d: Decimal | None) -> str | None:
            return None if d is None else str(d)

        return {
            "key": self.key,
            "name": self.name,
            "received": self.received,
            "accepted": self.accepted,
            "closed": self.closed,
            "due": self.due,
            "due_closed": self.due_closed,
            "due_on_time": self.due_on_time,
            "reopened": self.reopened,
            "postponed": self.postponed,
            "rated": self.rated,
            "satisfied": self.satisfied,
            "closure_rate": text(self.closure_rate),
            "on_time_rate": text(self.on_time_rate),
            "reopen_rate": text(self.reopen_rate),
            "postpone_rate": text(self.postpone_rate),
            "mean_rating": text(self.mean_rating),
            "satisfied_share": text(self.satisfied_share),
            "avg_handling_hours": text(self.avg_handling_hours),
        }


@dataclass(slots=True)
class Indicators:
    """One month's indicators by group, busiest first, and the total."""

    group: str
    month: str
    rows: list[Row]
    total: Row
    generated_at: datetime | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "group": self.group,
            "group_label": GROUPS[self.group],
            "month": self.month,
            "rows": [r.to_dict() for r in self.rows],
            "total": self.total.to_dict(),
        }


def _key_column(group: str) -> Any:
    if group not in GROUPS:
        raise ValidationFailed(
            "分组应为 grid（网格）、community（社区）或 department（部门）",
            "group must be grid, community or department",
            details=[{"field": "group", "message": "应为 grid、community 或 department"}],
        )
    return {
        "grid": ServiceRequest.grid_id,
        "community": ServiceRequest.community_id,
        "department": ServiceRequest.department_id,
    }[group]


def _seconds_between(db: Session, start: Any, end: Any) -> ColumnElement[Any]:
    """``end - start`` in seconds, written for each backend (no portable SQL for it)."""
    dialect = db.get_bind().dialect.name
    if dialect == "sqlite":
        return func.round((func.julianday(end) - func.julianday(start)) * 86400)
    if dialect == "postgresql":
        return func.round(func.extract("epoch", end - start))
    return func.timestampdiff(func_literal("SECOND"), start, end)


def func_literal(word: str) -> Any:
    """A bare SQL keyword as a function argument (MySQL's TIMESTAMPDIFF unit)."""
    from sqlalchemy import literal_column

    return literal_column(word)


def _names(db: Session, group: str, keys: set[int]) -> dict[int, str]:
    """Display names of the keys (grids and communities from the grid service)."""
    if not keys:
        return {}
    if group == "department":
        rows = db.execute(select(Department.id, Department.name).where(Department.id.in_(keys)))
    elif group == "grid":
        return grid_service.grid_names(db, keys)
    else:
        return grid_service.community_names(db, keys)
    return {int(k): str(n) for k, n in rows}


def indicators(db: Session, *, group: str, month: str) -> Indicators:
    """The month's indicators by ``group`` (grid | community | department) and their total."""
    key = _key_column(group)
    start, end = month_bounds(month)
    sr = ServiceRequest

    def within(col: Any) -> ColumnElement[bool]:
        return and_(col >= start, col < end)

    def count_if(cond: ColumnElement[bool]) -> Any:
        return func.coalesce(func.sum(case((cond, 1), else_=0)), 0)

    due = and_(within(sr.close_due_at), sr.status.not_in(NOT_COUNTED))
    closed_by_end = and_(sr.status == "closed", sr.closed_at < end)
    closed_in = within(sr.closed_at)
    postponed = (
        exists()
        .where(RequestEvent.request_id == sr.id, RequestEvent.action == POSTPONE_APPROVED)
        .correlate(sr)
    )
    seconds = _seconds_between(db, sr.submitted_at, sr.closed_at)
    requests = db.execute(
        select(
            key,
            count_if(within(sr.submitted_at)),
            count_if(due),
            count_if(and_(due, closed_by_end)),
            count_if(and_(due, closed_by_end, sr.closed_at <= sr.close_due_at)),
            count_if(and_(due, postponed)),
            count_if(and_(closed_in, sr.rating.is_not(None))),
            func.coalesce(func.sum(case((closed_in, sr.rating), else_=None)), 0),
            count_if(and_(closed_in, sr.rating >= SATISFIED_FROM)),
            count_if(closed_in),
            func.coalesce(func.sum(case((closed_in, seconds), else_=None)), 0),
        )
        .where(or_(within(sr.submitted_at), within(sr.close_due_at), within(sr.closed_at)))
        .group_by(key)
    ).all()
    ev = RequestEvent

    def requests_with(cond: ColumnElement[bool]) -> Any:
        return func.count(distinct(case((cond, ev.request_id), else_=None)))

    events = db.execute(
        select(
            key,
            requests_with(ev.action == ACCEPT_ACTION),
            requests_with(ev.action.in_(CLOSE_ACTIONS)),
            requests_with(ev.action == REOPEN_ACTION),
        )
        .join(sr, sr.id == ev.request_id)
        .where(ev.at >= start, ev.at < end, ev.action.in_((ACCEPT_ACTION, REOPEN_ACTION, *CLOSE_ACTIONS)))
        .group_by(key)
    ).all()
    by_key: dict[int | None, Row] = {}

    def row(k: Any) -> Row:
        k = None if k is None else int(k)
        return by_key.setdefault(k, Row(key=k, name=""))

    for (
        k,
        received,
        n_due,
        due_closed,
        on_time,
        n_post,
        rated,
        rating_sum,
        satisfied,
        handled,
        secs,
    ) in requests:
        r = row(k)
        r.received, r.due, r.due_closed, r.due_on_time, r.postponed = (
            int(received),
            int(n_due),
            int(due_closed),
            int(on_time),
            int(n_post),
        )
        r.rated, r.rating_sum, r.satisfied = int(rated), int(rating_sum), int(satisfied)
        r.handled, r.handling_seconds = int(handled), int(Decimal(str(secs)))
    for k, accepted, closed, reopened in events:
        r = row(k)
        r.accepted, r.closed, r.reopened = int(accepted), int(closed), int(reopened)
    names = _names(db, group, {k for k in by_key if k is not None})
    total = Row(key=None, name="合计")
    for k, r in by_key.items():
        r.name = names.get(k, f"#{k}") if k is not None else UNASSIGNED[group]
        total.add(r)
    rows = sorted(by_key.values(), key=lambda r: (-r.received, -r.due, r.name))
    return Indicators(group=group, month=month, rows=rows, total=total)


def trend(db: Session, *, group: str, month: str, months: int = 12) -> list[dict[str, Any]]:
    """The totals of the ``months`` months ending with ``month`` (oldest first): two queries a month."""
    return [
        {"month": m, **indicators(db, group=group, month=m).total.to_dict()}
        for m in previous_months(month, months)
    ]


def current_month(today: date) -> str:
    """``YYYY-MM`` of a date."""
    return f"{today.year:04d}-{today.month:02d}"
