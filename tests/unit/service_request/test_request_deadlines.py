"""Time limits of the five orders at every boundary: calendar days, working days (Mon-Fri, holidays
skipped, 17:30 of the last day), working hours (9:00-12:00 and 13:30-17:30 Asia/Shanghai), and the
escalation level the clock gives a late request."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from anju.core.dates import SHANGHAI
from anju.service_request import rules


def sh(day: int, hour: int, minute: int = 0, month: int = 12) -> datetime:
    """An instant in Shanghai time in December 2026 (Fri 4, Sat 5, Sun 6, Mon 7)."""
    return datetime(2026, month, day, hour, minute, tzinfo=SHANGHAI)


def test_calendar_days_are_whole_days_from_the_instant() -> None:
    assert rules.deadline(sh(4, 10, 15), 3, "calendar_days") == sh(7, 10, 15).astimezone(UTC)
    assert rules.deadline(sh(4, 10, 15), 0, "calendar_days") == sh(4, 10, 15).astimezone(UTC)
    assert rules.deadline(sh(4, 10), 1, "calendar_days").tzinfo == UTC


@pytest.mark.parametrize(
    ("start", "amount", "end"),
    [
        (sh(7, 8, 0), 1, sh(8, 17, 30)),  # Monday early: Tuesday's close
        (sh(7, 23, 59), 1, sh(8, 17, 30)),  # late Monday: still Tuesday (the start day never counts)
        (sh(4, 10, 0), 1, sh(7, 17, 30)),  # Friday: Monday
        (sh(5, 10, 0), 1, sh(7, 17, 30)),  # Saturday: Monday
        (sh(6, 23, 0), 1, sh(7, 17, 30)),  # Sunday night: Monday
        (sh(4, 10, 0), 5, sh(11, 17, 30)),  # a full week
        (sh(7, 10, 0), 0, sh(7, 17, 30)),  # 0: the start day's close
        (sh(5, 10, 0), 0, sh(7, 17, 30)),  # 0 on a weekend: the next working day's close
    ],
)
def test_working_days(start: datetime, amount: int, end: datetime) -> None:
    assert rules.deadline(start, amount, "working_days") == end.astimezone(UTC)


def test_working_days_skip_holidays() -> None:
    holidays = frozenset({date(2026, 12, 7), date(2026, 12, 8)})
    assert rules.deadline(sh(4, 10), 1, "working_days", holidays) == sh(9, 17, 30).astimezone(UTC)


@pytest.mark.parametrize(
    ("start", "amount", "end"),
    [
        (sh(7, 8, 0), 2, sh(7, 11, 0)),  # before opening: counts from 9:00
        (sh(7, 9, 0), 3, sh(7, 12, 0)),  # ends exactly at noon: stays at 12:00
        (sh(7, 10, 30), 2, sh(7, 14, 0)),  # 1.5 h before noon, 0.5 h after lunch
        (sh(7, 12, 30), 1, sh(7, 14, 30)),  # at lunch: counts from 13:30
        (sh(7, 16, 30), 1, sh(7, 17, 30)),  # ends exactly at close
        (sh(7, 17, 0), 1, sh(8, 9, 30)),  # crosses the night
        (sh(7, 18, 0), 1, sh(8, 10, 0)),  # after close: next morning
        (sh(4, 17, 0), 2, sh(7, 10, 30)),  # Friday afternoon: over the weekend
        (sh(5, 11, 0), 1, sh(7, 10, 0)),  # Saturday: Monday morning
        (sh(7, 9, 0), 7, sh(7, 17, 30)),  # a whole working day is 7 hours
        (sh(7, 9, 0), 8, sh(8, 10, 0)),
        (sh(7, 10, 0), 0, sh(7, 10, 0)),
    ],
)
def test_working_hours(start: datetime, amount: int, end: datetime) -> None:
    assert rules.deadline(start, amount, "working_hours") == end.astimezone(UTC)


def test_working_hours_keep_seconds() -> None:
    start = sh(7, 11, 59) + timedelta(seconds=30)
    assert rules.deadline(start, 1, "working_hours") == (sh(7, 14, 29) + timedelta(seconds=30)).astimezone(
        UTC
    )


def test_deadline_refuses_bad_input() -> None:
    with pytest.raises(ValueError, match="unknown calendar"):
        rules.deadline(sh(7, 10), 1, "lunar_days")
    with pytest.raises(ValueError, match="naive"):
        rules.deadline(datetime(2026, 12, 7, 10), 1, "working_days")
    with pytest.raises(ValueError, match=">= 0"):
        rules.deadline(sh(7, 10), -1, "working_days")


@pytest.mark.parametrize(
    ("late", "current", "level"),
    [
        (timedelta(0), 0, 0),  # due exactly now: not late
        (timedelta(seconds=1), 0, 1),
        (timedelta(hours=23, minutes=59), 0, 1),
        (timedelta(days=1), 0, 2),
        (timedelta(days=2), 0, 3),
        (timedelta(days=30), 0, 3),  # capped
        (timedelta(hours=1), 2, 2),  # never lowered
        (-timedelta(hours=1), 1, 1),
    ],
)
def test_escalation_level(late: timedelta, current: int, level: int) -> None:
    due = sh(7, 17, 30)
    assert rules.escalation_level(due, due + late, current) == level
