"""The work calendar: make-up working days (调休) and holidays in deadlines, and the CSV of days with
every bad line named."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from anju.core.dates import SHANGHAI
from anju.errors import ValidationFailed
from anju.service_request import rules
from anju.service_request.service.calendar import holiday_range, parse_days


def sh(month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=SHANGHAI)


def test_a_make_up_saturday_counts_as_a_working_day() -> None:
    # Friday 9 Oct 2026 + 1 working day: Saturday 10 Oct is a make-up working day (国庆调休)
    workdays = frozenset({date(2026, 10, 10)})
    assert rules.deadline(sh(10, 9, 10), 1, "working_days") == sh(10, 12, 17, 30).astimezone(UTC)
    assert rules.deadline(sh(10, 9, 10), 1, "working_days", frozenset(), workdays) == sh(
        10, 10, 17, 30
    ).astimezone(UTC)


def test_the_national_day_week_is_skipped_in_working_hours() -> None:
    holidays = frozenset(d for d, _, _ in holiday_range(date(2026, 10, 1), date(2026, 10, 7), "国庆节"))
    workdays = frozenset({date(2026, 10, 10)})
    # 2 working hours asked at 16:30 on Wed 30 Sep: one hour that day, one on Thu 8 Oct at 10:00
    due = rules.deadline(sh(9, 30, 16, 30), 2, "working_hours", holidays, workdays)
    assert due == sh(10, 8, 10, 0).astimezone(UTC)
    assert rules.is_working_day(date(2026, 10, 10), holidays, workdays)
    assert not rules.is_working_day(date(2026, 10, 5), holidays, workdays)


def test_parse_days_reads_the_published_schedule() -> None:
    days = parse_days(
        "日期,类型,名称\n2026-10-01,放假,国庆节\n2026-10-10,调休上班,国庆节调休\n\n2026-09-20,补班,\n"
    )
    assert days == [
        (date(2026, 10, 1), "holiday", "国庆节"),
        (date(2026, 10, 10), "workday", "国庆节调休"),
        (date(2026, 9, 20), "workday", ""),
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("2026-13-01,放假,x", "第 1 行：日期“2026-13-01”格式不对"),
        ("2026-10-01,休息,x", "第 1 行：类型“休息”不对"),
        ("2026-10-09,调休上班,x", "第 1 行：2026-10-09 本来就是工作日"),
        ("2026-10-01,放假\n2026-10-01,放假", "第 2 行：2026-10-01 与第 1 行重复"),
        ("2026-10-01", "第 1 行：每行应为：日期,类型,名称"),
    ],
)
def test_parse_days_names_the_bad_line(text: str, message: str) -> None:
    with pytest.raises(ValidationFailed) as err:
        parse_days(text)
    assert err.value.message_zh.startswith(message)
