"""The work calendar (工作日历): public holidays and make-up working days (调休) that the deadlines on
working days and working hours count with. The office enters the State Council's yearly schedule
(or imports it from a CSV of ``日期,类型,名称`` lines); changes are audited and apply to deadlines set
from then on (a deadline already set is not moved)."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from anju.audit import service as audit_service
from anju.core.actor import Actor
from anju.errors import ValidationFailed
from anju.service_request.models import WorkCalendarDay

KINDS: dict[str, str] = {"holiday": "放假", "workday": "调休上班"}
_KIND_WORDS = {
    "holiday": "holiday",
    "放假": "holiday",
    "节假日": "holiday",
    "workday": "workday",
    "上班": "workday",
    "调休上班": "workday",
    "补班": "workday",
}


@dataclass(frozen=True, slots=True)
class Calendar:
    """Holidays and make-up working days."""

    holidays: frozenset[date]
    workdays: frozenset[date]


def calendar(db: Session) -> Calendar:
    """The whole calendar (a few dozen rows a year)."""
    rows = db.execute(select(WorkCalendarDay.day, WorkCalendarDay.kind)).all()
    return Calendar(
        frozenset(d for d, k in rows if k == "holiday"), frozenset(d for d, k in rows if k == "workday")
    )


def list_days(db: Session, *, year: int | None = None) -> list[WorkCalendarDay]:
    """The calendar's days in date order (of one year when given)."""
    q = select(WorkCalendarDay).order_by(WorkCalendarDay.day)
    if year is not None:
        q = q.where(WorkCalendarDay.day >= date(year, 1, 1), WorkCalendarDay.day <= date(year, 12, 31))
    return list(db.scalars(q).all())


def _fail(line: int | None, message: str) -> ValidationFailed:
    where = f"第 {line} 行：" if line else ""
    return ValidationFailed(
        where + message, message, details=[{"field": "day", "line": line, "message": message}]
    )


def parse_days(text: str) -> list[tuple[date, str, str]]:
    """``日期,类型,名称`` lines (类型: 放假/holiday or 调休上班/补班/workday; a header line and blank lines
    are skipped) as (day, kind, name); every bad line is named."""
    # A holiday on a weekend is accepted: the published schedule lists whole ranges (1月1日至3日).
    out: list[tuple[date, str, str]] = []
    seen: dict[date, int] = {}
    for n, row in enumerate(csv.reader(io.StringIO(text.lstrip("\ufeff"))), start=1):
        cells = [c.strip() for c in row]
        if not any(cells) or cells[0] in ("日期", "day", "date"):
            continue
        if len(cells) < 2:
            raise _fail(n, "每行应为：日期,类型,名称")
        try:
            day = date.fromisoformat(cells[0])
        except ValueError:
            raise _fail(n, f"日期“{cells[0]}”格式不对，应为 2026-10-01") from None
        kind = _KIND_WORDS.get(cells[1])
        if kind is None:
            raise _fail(n, f"类型“{cells[1]}”不对，应为 放假 或 调休上班")
        if kind == "workday" and day.weekday() < 5:
            raise _fail(n, f"{day} 本来就是工作日，不必登记为调休上班")
        if day in seen:
            raise _fail(n, f"{day} 与第 {seen[day]} 行重复")
        seen[day] = n
        out.append((day, kind, (cells[2] if len(cells) > 2 else "")[:64]))
    return out


def set_days(db: Session, *, actor: Actor, days: list[tuple[date, str, str]], year: int) -> int:
    """Replace one year's calendar with ``days`` (all of that year); audited. Returns the count."""
    for d, _, _ in days:
        if d.year != year:
            raise _fail(None, f"{d} 不在 {year} 年")
    before = [f"{r.day}:{r.kind}" for r in list_days(db, year=year)]
    db.execute(
        delete(WorkCalendarDay).where(
            WorkCalendarDay.day >= date(year, 1, 1), WorkCalendarDay.day <= date(year, 12, 31)
        )
    )
    for d, kind, name in days:
        db.add(WorkCalendarDay(day=d, kind=kind, name=name))
    db.flush()
    audit_service.record(
        db,
        actor=actor,
        action="work_calendar.set",
        entity="work_calendar",
        entity_id=year,
        changes={"days": [before, [f"{d}:{k}" for d, k, _ in days]]},
    )
    return len(days)


def holiday_range(first: date, last: date, name: str) -> list[tuple[date, str, str]]:
    """Every day from ``first`` to ``last`` as a holiday named ``name``."""
    return [(date.fromordinal(o), "holiday", name) for o in range(first.toordinal(), last.toordinal() + 1)]
