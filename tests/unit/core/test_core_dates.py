"""Day counting under both conventions, and the inclusive/exclusive windows of reward tiers."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from anju.core.dates import DayCount, DayWindow, day_number, to_shanghai, today_shanghai

CLOCK1 = DayCount.CLOCK_DAY_IS_DAY_1
NEXT1 = DayCount.NEXT_DAY_IS_DAY_1
START = date(2025, 4, 1)  # start of a signing period


@pytest.mark.parametrize(
    ("event", "clock_day_1", "next_day_1"),
    [
        (date(2025, 3, 31), 0, -1),
        (date(2025, 4, 1), 1, 0),
        (date(2025, 4, 2), 2, 1),
        (date(2025, 4, 30), 30, 29),
        (date(2025, 5, 1), 31, 30),
        (date(2025, 5, 2), 32, 31),
        (date(2025, 5, 15), 45, 44),
        (date(2025, 5, 16), 46, 45),
        (date(2026, 4, 1), 366, 365),
    ],
)
def test_day_number_both_conventions(event: date, clock_day_1: int, next_day_1: int) -> None:
    assert day_number(START, event, CLOCK1) == clock_day_1
    assert day_number(START, event, NEXT1) == next_day_1


def test_day_number_across_a_leap_day() -> None:
    assert day_number(date(2024, 2, 28), date(2024, 3, 1), CLOCK1) == 3  # 28, 29, 1
    assert day_number(date(2023, 2, 28), date(2023, 3, 1), CLOCK1) == 2


WITHIN_30 = DayWindow(after=None, upto=30)  # 30日内（含第30日）
BEYOND_30_TO_45 = DayWindow(after=30, upto=45)  # 超过30日但不超过45日
BEYOND_45 = DayWindow(after=45, upto=None)


@pytest.mark.parametrize(
    ("n", "within_30", "beyond_30_to_45", "beyond_45"),
    [
        (-3, True, False, False),  # early signers count as within
        (0, True, False, False),
        (1, True, False, False),
        (29, True, False, False),
        (30, True, False, False),
        (31, False, True, False),
        (44, False, True, False),
        (45, False, True, False),
        (46, False, False, True),
    ],
)
def test_window_boundaries(n: int, within_30: bool, beyond_30_to_45: bool, beyond_45: bool) -> None:
    assert WITHIN_30.contains(n) is within_30
    assert BEYOND_30_TO_45.contains(n) is beyond_30_to_45
    assert BEYOND_45.contains(n) is beyond_45


def test_a_signing_date_falls_in_the_tier_its_convention_says() -> None:
    # "自签约期开始之日起30日内": 30 April is day 30 (within), 1 May is day 31 (the next tier).
    assert WITHIN_30.contains(day_number(START, date(2025, 4, 30), CLOCK1))
    assert BEYOND_30_TO_45.contains(day_number(START, date(2025, 5, 1), CLOCK1))
    # "自协议生效之日的次日起30日内": 1 May is day 30, still within.
    assert WITHIN_30.contains(day_number(START, date(2025, 5, 1), NEXT1))
    assert BEYOND_30_TO_45.contains(day_number(START, date(2025, 5, 16), NEXT1))
    assert not BEYOND_30_TO_45.contains(day_number(START, date(2025, 5, 16), CLOCK1))


@given(st.integers(min_value=-1000, max_value=1000))
def test_consecutive_windows_partition_the_days(n: int) -> None:
    assert [WITHIN_30.contains(n), BEYOND_30_TO_45.contains(n), BEYOND_45.contains(n)].count(True) == 1


@given(st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 1, 1)), st.integers(-400, 400))
def test_conventions_differ_by_exactly_one_day(clock: date, offset: int) -> None:
    event = clock + timedelta(days=offset)
    assert day_number(clock, event, CLOCK1) == offset + 1
    assert day_number(clock, event, NEXT1) == offset


def test_today_in_shanghai_switches_at_16_utc() -> None:
    assert today_shanghai(datetime(2025, 1, 1, 15, 59, 59, tzinfo=UTC)) == date(2025, 1, 1)
    assert today_shanghai(datetime(2025, 1, 1, 16, 0, 0, tzinfo=UTC)) == date(2025, 1, 2)


def test_to_shanghai_reads_naive_values_as_utc() -> None:
    shown = to_shanghai(datetime(2025, 6, 30, 20, 30))
    assert shown.replace(tzinfo=None) == datetime(2025, 7, 1, 4, 30)
    assert shown.utcoffset() == timedelta(hours=8)
    other = to_shanghai(datetime(2025, 6, 30, 20, 30, tzinfo=timezone(timedelta(hours=-5))))
    assert other.replace(tzinfo=None) == datetime(2025, 7, 1, 9, 30)
