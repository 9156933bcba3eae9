"""Indicators of the five-order loop on a constructed month (March 2031), on every backend: exact
counts and rates, the deadline on the last second of the month, a reopened and a postponed case."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from anju.core.dates import SHANGHAI
from anju.errors import ValidationFailed
from anju.service_request import indicators as ind
from anju.service_request.models import RequestEvent
from tests.factories_requests import Place, build_place, insert_plans, plan


def sh(month: int, day: int, hour: int = 9, minute: int = 0, second: int = 0) -> datetime:
    return datetime(2031, month, day, hour, minute, second, tzinfo=SHANGHAI)


def build_month(db: Session) -> Place:
    p = build_place(db)
    a = {"grid_id": p.grid_ids[0], "community_id": p.community_ids[0], "department_id": p.department_ids[0]}
    b = {"grid_id": p.grid_ids[1], "community_id": p.community_ids[1], "department_id": p.department_ids[1]}
    cat = p.category_id
    plans = [
        # R1: closed on time, rated 5
        plan(code="R1", category_id=cat, **a, close_due_at=sh(3, 10), rating=5,
             steps=[("submit", sh(3, 2)), ("accept", sh(3, 2, 10)), ("take", sh(3, 3)),
                    ("publish", sh(3, 5)), ("verify", sh(3, 6))]),
        # R2: deadline on the last second of March, closed in April (due in March, not closed by its end)
        plan(code="R2", category_id=cat, **a, close_due_at=sh(3, 31, 23, 59, 59), rating=4,
             steps=[("submit", sh(3, 20)), ("accept", sh(3, 20, 10)), ("take", sh(3, 21)),
                    ("publish", sh(4, 1, 10)), ("verify", sh(4, 2))]),
        # R2b: deadline at the first instant of April: due in April, not March
        plan(code="R2b", category_id=cat, **a, close_due_at=sh(4, 1, 0),
             steps=[("submit", sh(3, 25)), ("accept", sh(3, 25, 10))]),
        # R3: reopened once, closed on time, rated 2
        plan(code="R3", category_id=cat, **a, close_due_at=sh(3, 15), rating=2,
             steps=[("submit", sh(3, 3)), ("accept", sh(3, 3, 10)), ("take", sh(3, 4)),
                    ("publish", sh(3, 6)), ("reopen", sh(3, 7)), ("publish", sh(3, 12)),
                    ("verify", sh(3, 13))]),
        # R4: postponed (deadline moved to 03-25), closed late by the system, no rating
        plan(code="R4", category_id=cat, **a, close_due_at=sh(3, 25),
             steps=[("submit", sh(3, 5)), ("accept", sh(3, 5, 10)), ("take", sh(3, 6)),
                    ("postpone", sh(3, 9)), ("postpone_approve", sh(3, 10)), ("publish", sh(3, 26)),
                    ("auto_close", sh(3, 30))]),
        # R5: submitted in February, due 1 March, still in progress
        plan(code="R5", category_id=cat, **a, close_due_at=sh(3, 1),
             steps=[("submit", sh(2, 20)), ("accept", sh(2, 20, 10)), ("take", sh(2, 21))]),
        # R6: rejected: received, never due
        plan(code="R6", category_id=cat, **a,
             steps=[("submit", sh(3, 8)), ("reject", sh(3, 8, 10))]),
        # R7: the other grid, community and department: closed on time, rated 4
        plan(code="R7", category_id=cat, **b, close_due_at=sh(3, 20), rating=4,
             steps=[("submit", sh(3, 10)), ("accept", sh(3, 10, 10)), ("take", sh(3, 11)),
                    ("publish", sh(3, 11, 15)), ("verify", sh(3, 12))]),
    ]  # fmt: skip
    insert_plans(db, plans)
    return p


GRID_A = {
    "received": 6, "accepted": 5, "closed": 3, "due": 5, "due_closed": 3, "due_on_time": 2,
    "reopened": 1, "postponed": 1, "rated": 2, "satisfied": 1,
    "closure_rate": "0.6000", "on_time_rate": "0.4000", "reopen_rate": "0.3333",
    "postpone_rate": "0.2000", "mean_rating": "3.50", "satisfied_share": "0.5000",
    "avg_handling_hours": "312.0",
}  # fmt: skip
GRID_B = {
    "received": 1, "accepted": 1, "closed": 1, "due": 1, "due_closed": 1, "due_on_time": 1,
    "reopened": 0, "postponed": 0, "rated": 1, "satisfied": 1,
    "closure_rate": "1.0000", "on_time_rate": "1.0000", "reopen_rate": "0.0000",
    "postpone_rate": "0.0000", "mean_rating": "4.00", "satisfied_share": "1.0000",
    "avg_handling_hours": "48.0",
}  # fmt: skip
TOTAL = {
    "received": 7, "accepted": 6, "closed": 4, "due": 6, "due_closed": 4, "due_on_time": 3,
    "reopened": 1, "postponed": 1, "rated": 3, "satisfied": 2,
    "closure_rate": "0.6667", "on_time_rate": "0.5000", "reopen_rate": "0.2500",
    "postpone_rate": "0.1667", "mean_rating": "3.67", "satisfied_share": "0.6667",
    "avg_handling_hours": "246.0",
}  # fmt: skip


@pytest.mark.parametrize(
    ("group", "names"),
    [
        ("grid", ("东埠一网格", "西城一网格")),
        ("community", ("东埠社区", "西城社区")),
        ("department", ("城管", "住建")),
    ],
)
def test_march_by_group(db: Session, group: str, names: tuple[str, str]) -> None:
    p = build_month(db)
    keys = {"grid": p.grid_ids, "community": p.community_ids, "department": p.department_ids}[group]
    got = ind.indicators(db, group=group, month="2031-03").to_dict()
    assert got["group"] == group and got["month"] == "2031-03"
    assert [r["key"] for r in got["rows"]] == list(keys)
    assert [r["name"] for r in got["rows"]] == list(names)
    assert {k: got["rows"][0][k] for k in GRID_A} == GRID_A
    assert {k: got["rows"][1][k] for k in GRID_B} == GRID_B
    assert {k: got["total"][k] for k in TOTAL} == TOTAL
    assert got["total"]["name"] == "合计"


def test_april_sees_the_boundary_cases(db: Session) -> None:
    build_month(db)
    got = ind.indicators(db, group="grid", month="2031-04").to_dict()["total"]
    # R2 closed in April (verify 04-02, no accept in April); R2b due at 04-01 00:00, still open
    assert {k: got[k] for k in ("received", "accepted", "closed", "due", "due_closed", "rated")} == {
        "received": 0, "accepted": 0, "closed": 1, "due": 1, "due_closed": 0, "rated": 1,
    }  # fmt: skip
    assert got["closure_rate"] == "0.0000" and got["mean_rating"] == "4.00"
    assert got["avg_handling_hours"] == str(
        ind.Row(key=None, name="", handled=1, handling_seconds=13 * 86400).avg_handling_hours
    )


def test_an_empty_month_has_no_rows_and_no_rates(db: Session) -> None:
    build_month(db)
    got = ind.indicators(db, group="department", month="2030-07").to_dict()
    assert got["rows"] == []
    assert got["total"]["received"] == 0 and got["total"]["closure_rate"] is None


def test_trend_runs_month_by_month(db: Session) -> None:
    build_month(db)
    got = ind.trend(db, group="grid", month="2031-04", months=3)
    assert [(m["month"], m["received"], m["closed"]) for m in got] == [
        ("2031-02", 1, 0), ("2031-03", 7, 4), ("2031-04", 0, 1)
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("group", "month", "field"),
    [("grid", "2031-13", "month"), ("grid", "31-03", "month"), ("street", "2031-03", "group")],
)
def test_bad_arguments_are_refused(db: Session, group: str, month: str, field: str) -> None:
    before = db.scalar(select(func.count()).select_from(RequestEvent))
    with pytest.raises(ValidationFailed) as err:
        ind.indicators(db, group=group, month=month)
    assert err.value.details[0]["field"] == field
    assert db.scalar(select(func.count()).select_from(RequestEvent)) == before


def test_months() -> None:
    assert ind.previous_months("2031-02", 3) == ["2030-12", "2031-01", "2031-02"]
    start, end = ind.month_bounds("2031-12")
    assert (start.isoformat(), end.isoformat()) == ("2031-12-01T00:00:00+08:00", "2032-01-01T00:00:00+08:00")
