"""The dispatch report of a past date lists the households stalled as of that date: the last visit
on or before it counts (visits since, and voided ones, do not), and a household signed after it
was still open then. SQLite, PostgreSQL and MariaDB."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy.orm import Session

from anju.campaign import service as campaign_service
from anju.campaign.schemas import VisitCreate
from anju.core.dates import SHANGHAI, today_shanghai, utcnow
from anju.identity import service as identity_service
from anju.project import service as project_service
from anju.reporting import service as dispatch_service
from tests.factories import ACTOR, build_world

ALL = identity_service.DataScope.everything()


def _at(day: date, hour: int = 10, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=SHANGHAI)


def _visit(db: Session, hid: int, when: datetime, key: str) -> int:
    data = VisitCreate(visited_at=when.isoformat(), duration_min=30, place="户主家中", attitude="wait")
    visit, _created = campaign_service.record_visit(
        db, actor=ACTOR, scope=ALL, household_id=hid, data=data, idempotency_key=key, now=utcnow()
    )
    return int(visit.id)


def _move(db: Session, hid: int, *steps: tuple[str, date]) -> None:
    for stage, on in steps:
        campaign_service.move_stage(
            db, actor=ACTOR, scope=ALL, household_id=hid, to_stage=stage, on=on, manage=True
        )


def test_stalled_households_of_a_past_report_are_those_stalled_on_its_date(db: Session) -> None:
    world = build_world(db, households=8)
    pid = world.project_id
    t = today_shanghai()
    d = t - timedelta(days=10)  # the report's date
    project_service.update_project(
        db,
        actor=ACTOR,
        project_id=pid,
        data={"launched_on": d - timedelta(days=30), "alert_no_visit_days": 3},
        expected_version=None,
        reason="攻坚启动",
    )
    h = world.household_ids
    talk = [("surveyed", d - timedelta(days=12)), ("valued", d - timedelta(days=11))]
    talk.append(("negotiating", d - timedelta(days=10)))
    _visit(db, h[0], _at(d - timedelta(days=9)), "as-of-1")  # H0001: stalled on D ...
    _visit(db, h[0], _at(d + timedelta(days=5)), "as-of-2")  # ... though visited since
    _visit(db, h[1], _at(d - timedelta(days=1)), "as-of-3")  # H0002: visited the day before
    # H0003: never visited
    _visit(db, h[3], _at(d - timedelta(days=8)), "as-of-4")  # H0004: stalled on D, signed after it
    _move(db, h[3], *talk, ("signed", d + timedelta(days=3)))
    _move(db, h[4], *talk, ("signed", d - timedelta(days=5)))  # H0005: signed before D
    _visit(db, h[5], _at(d - timedelta(days=20)), "as-of-5")  # H0006: its later visit was voided
    mistaken = _visit(db, h[5], _at(d - timedelta(days=1)), "as-of-6")
    campaign_service.void_visit(
        db, actor=ACTOR, scope=ALL, visit_id=mistaken, reason="录错了户", now=utcnow()
    )
    _visit(db, h[6], _at(d, 23, 30), "as-of-7")  # H0007: visited late in the evening of D
    # H0008: never visited

    numbers: dict[str, Any] = dispatch_service.compute_numbers(db, project_id=pid, report_on=d)
    stalled = numbers["stalled"]
    assert (stalled["days"], stalled["total"]) == (3, 5)
    assert [(r["code"], r["days"]) for r in stalled["items"]] == [
        ("H0003", None),
        ("H0008", None),
        ("H0006", 20),
        ("H0001", 9),
        ("H0004", 8),
    ]
    # The team's start page for the same day still reads the households as they are now.
    now_view = campaign_service.alerts(db, scope=ALL, project_id=pid, today=d)
    assert [a.code for a in now_view.no_visit] == ["H0003", "H0008"]
    # As of today the same households read differently: H0001 was visited 5 days ago, H0004 signed.
    today_numbers = dispatch_service.compute_numbers(db, project_id=pid, report_on=t)
    assert [(r["code"], r["days"]) for r in today_numbers["stalled"]["items"]] == [
        ("H0003", None),
        ("H0008", None),
        ("H0006", 30),
        ("H0002", 11),
        ("H0007", 10),
        ("H0001", 5),
    ]
