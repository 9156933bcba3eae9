"""Transition fees (过渡费) in the policy language: the ``transition`` block, its checking with line
and column, month counting (started / whole), grace months, the late multiplier, and boundaries."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from policy_helpers import HEAD, policy

from anju.core.dates import add_months
from anju.policy.errors import EvaluationError, PolicyError
from anju.policy.facts import Building, Household
from anju.policy.transition import count_months, transition_fees

BODY = """
parameters:
  rate: {label: 过渡费单价, unit: 元/㎡/月, value: 10.005}
items:
  - id: value
    formula: sum(buildings, building.legal_area) * 1000元/㎡
transition:
  label: 临时安置费
  monthly: sum(buildings, building.legal_area) * rate
  start: vacate_on
  grace_months: 3
  late_multiplier: 2
  months: MONTHS
"""

H = Household(
    code="H1",
    block_code="一组",
    vacate_on=date(2025, 1, 31),
    sign_on=date(2025, 1, 10),
    buildings=(Building("C1", legal_area=Decimal("33.33")),),
)


def fees(months: str = "started", **kw: object):  # type: ignore[no-untyped-def]
    c = policy(BODY.replace("MONTHS", months))
    args: dict[str, object] = {"planned_delivery": date(2026, 1, 31), "actual_delivery": None}
    args.update(kw)
    return transition_fees(c, H, **args)  # type: ignore[arg-type]


def test_add_months_clamps_to_the_end_of_the_month() -> None:
    assert add_months(date(2025, 1, 31), 1) == date(2025, 2, 28)
    assert add_months(date(2024, 1, 31), 1) == date(2024, 2, 29)
    assert add_months(date(2025, 1, 31), 2) == date(2025, 3, 31)
    assert add_months(date(2025, 11, 30), 3) == date(2026, 2, 28)
    assert add_months(date(2025, 12, 15), 1) == date(2026, 1, 15)
    assert add_months(date(2025, 3, 15), -3) == date(2024, 12, 15)


def test_monthly_amount_is_rounded_once_and_the_late_one_from_the_exact_value() -> None:
    f = fees(as_of=date(2025, 1, 31))
    # 33.33 × 10.005 = 333.46665 → 333.47; × 2 = 666.9333 → 666.93 (not 2 × 333.47 = 666.94)
    assert (f.monthly_fen, f.late_fen) == (33347, 66693)
    assert [(m.number, m.first_day, m.last_day, m.late, m.amount_fen) for m in f.months] == [
        (1, date(2025, 1, 31), date(2025, 2, 27), False, 33347)
    ]
    assert f.total_fen == 33347 and f.final is False
    assert f.trace[0] == "起算日：腾空之日 2025-01-31"


def test_started_month_counts_and_whole_month_does_not() -> None:
    # as_of 2025-03-30: months 1 (01-31..02-27) and 2 (02-28..03-30) have fully elapsed, 3 not begun
    assert len(fees(as_of=date(2025, 3, 30)).months) == 2
    assert len(fees("whole", as_of=date(2025, 3, 30)).months) == 2
    # one more day: month 3 has started (counts under started, not under whole)
    assert len(fees(as_of=date(2025, 3, 31)).months) == 3
    assert len(fees("whole", as_of=date(2025, 3, 31)).months) == 2
    # before the start: nothing
    assert fees(as_of=date(2025, 1, 30)).months == []


def test_unknown_start_date_gives_no_months() -> None:
    c = policy(BODY.replace("MONTHS", "started"))
    h = Household(code="H2", block_code="一组", buildings=H.buildings)
    f = transition_fees(
        c, h, planned_delivery=date(2026, 1, 31), actual_delivery=None, as_of=date(2026, 5, 1)
    )
    assert (f.months, f.start, f.total_fen) == ([], None, 0)
    assert f.trace[0] == "起算日（腾空之日）未知：尚无过渡费"
    # an explicit start (the agreement's sign date) overrides the facts
    g = transition_fees(
        c,
        h,
        planned_delivery=date(2026, 1, 31),
        actual_delivery=None,
        as_of=date(2025, 2, 1),
        start_on=date(2025, 1, 1),
    )
    assert [m.number for m in g.months] == [1, 2]


def test_delivered_on_the_planned_day_has_no_late_month() -> None:
    # planned 2026-01-31 + 3 months grace = due 2026-04-30; delivered on the planned day: end = due
    for conv in ("started", "whole"):
        f = fees(conv, actual_delivery=date(2026, 1, 31), as_of=date(2027, 1, 1))
        assert f.late_months == 0 and f.final is True
    # start 2025-01-31; month 16 begins 2026-04-30 = end: not counted; 15 months, all normal
    assert fees(actual_delivery=date(2026, 1, 31), as_of=date(2027, 1, 1)).normal_months == 15


def test_delivery_on_the_last_day_of_grace_and_one_day_later() -> None:
    # delivered one day late: end 2026-05-01 > due 2026-04-30. Month 16 (2026-04-30..05-30) has begun
    # and its part inside the period (04-30) lies beyond the due date: it is late under started.
    f = fees(actual_delivery=date(2026, 2, 1), as_of=date(2027, 1, 1))
    assert (f.normal_months, f.late_months) == (15, 1)
    assert f.months[-1].first_day == date(2026, 4, 30) and f.months[-1].amount_fen == 66693
    assert f.total_fen == 15 * 33347 + 66693
    # under whole months, month 16 is not whole before the end: not paid at all
    g = fees("whole", actual_delivery=date(2026, 2, 1), as_of=date(2027, 1, 1))
    assert (g.normal_months, g.late_months) == (15, 0)


def test_a_started_month_straddling_the_due_date_is_late_only_when_the_period_passes_it() -> None:
    c = policy(BODY.replace("MONTHS", "started"))
    h = Household(code="H3", block_code="一组", vacate_on=date(2025, 1, 15), buildings=H.buildings)
    # due = 2026-01-31 + 3 months = 2026-04-30, inside month 16 (2026-04-15..05-14)
    on_time = transition_fees(
        c, h, planned_delivery=date(2026, 1, 31), actual_delivery=date(2026, 1, 31), as_of=date(2027, 1, 1)
    )
    assert (on_time.normal_months, on_time.late_months) == (16, 0)
    late = transition_fees(
        c, h, planned_delivery=date(2026, 1, 31), actual_delivery=date(2026, 2, 10), as_of=date(2027, 1, 1)
    )
    assert (late.normal_months, late.late_months) == (15, 1)
    w = policy(BODY.replace("MONTHS", "whole"))
    whole = transition_fees(
        w, h, planned_delivery=date(2026, 1, 31), actual_delivery=date(2026, 3, 20), as_of=date(2027, 1, 1)
    )
    # end 2026-06-20: months 1..17 whole (17 ends 2026-06-14); late: those starting on/after 04-30 → 17
    assert (whole.normal_months, whole.late_months) == (16, 1)


def test_actual_before_planned_pays_until_actual_plus_grace() -> None:
    f = fees(actual_delivery=date(2025, 10, 15), as_of=date(2026, 12, 31))
    # end 2026-01-15: months beginning before it: 2025-01-31 .. 2025-12-31 → 12 months
    assert (f.normal_months, f.late_months, f.final) == (12, 0, True)
    assert f.end == date(2026, 1, 15)


def test_not_delivered_and_late_keeps_counting_at_the_multiplied_rate() -> None:
    f = fees(as_of=date(2026, 7, 1))
    # months 1..18 begun (18 starts 2026-06-30); late from due 2026-04-30: months 16.. (04-30 on)
    assert (f.normal_months, f.late_months, f.final) == (15, 3, False)
    assert f.total_fen == 15 * 33347 + 3 * 66693
    assert f.trace[-1] == "正常月份 15 个 × 333.47 元 + 逾期月份 3 个 × 666.93 元 = 7,002.84 元"


def test_as_of_before_the_end_counts_only_what_has_begun() -> None:
    f = fees(actual_delivery=date(2026, 1, 31), as_of=date(2025, 6, 1))
    assert (len(f.months), f.final) == (5, False)


def test_option_and_missing_block_are_refused() -> None:
    with pytest.raises(EvaluationError) as e:
        fees(as_of=date(2025, 6, 1), option="cash")
    assert e.value.message_zh == "补偿方式“cash”不按月支付过渡费（适用：swap）"
    c = policy(BODY.split("transition:")[0])
    with pytest.raises(EvaluationError) as e2:
        transition_fees(c, H, planned_delivery=date(2026, 1, 1), actual_delivery=None, as_of=date(2026, 1, 1))
    assert e2.value.code == "no-transition"


BAD_CASES = [
    (
        "  monthly: sum(buildings, building.legal_area) * rate * 2月\n",
        "unit",
        "每月过渡费 monthly 应为 元/月（如 面积 × 元/㎡/月），公式得出的是 元",
        15,
    ),
    (
        "  start: demolish_on\n",
        "transition",
        "起算日 start 应为 vacate_on（腾空之日） 或 sign_on（签约之日），却是“demolish_on”",
        16,
    ),
    ("  grace_months: 2.5\n", "number", "交房后过渡月数 grace_months 应为 0 到 120 的整数", 17),
    (
        "  late_multiplier: 0.5\n",
        "number",
        "逾期倍数 late_multiplier 应在 1 到 10 之间（如 2 表示双倍，1.5 表示增加50%）",
        18,
    ),
    (
        "  months: half\n",
        "transition",
        "计月方式 months 应为 started（不满一个月的按一个月计（已开始的月份计入））或 whole（只计满月（不满一个月的不计）），"
        "却是“half”",
        19,
    ),
    (
        "  monthly: sum(buildings, building.legal_area) * rat\n",
        "name",
        "未定义的名称“rat”（是不是“rate”？）",
        15,
    ),
]


@pytest.mark.parametrize(("line", "code", "message", "lineno"), BAD_CASES)
def test_checker_names_mistakes_with_line(line: str, code: str, message: str, lineno: int) -> None:
    key = line.split(":")[0]
    lines = BODY.replace("MONTHS", "started").split("\n")
    body = "\n".join(line.rstrip("\n") if ln.startswith(key + ":") else ln for ln in lines)
    with pytest.raises(PolicyError) as e:
        policy(body)
    got = [(p.code, p.message_zh, p.location.line) for p in e.value.problems]
    assert got == [(code, message, lineno)]
    assert (HEAD + body).split("\n")[lineno - 1].startswith(key)


def test_checker_unknown_key_and_unknown_option() -> None:
    body = BODY.replace("MONTHS", "started").replace(
        "  late_multiplier: 2\n", "  late_multiplier: 2\n  graces: 1\n"
    )
    body = body.replace("  start: vacate_on\n", "  start: vacate_on\n  options: [rent]\n")
    with pytest.raises(PolicyError) as e:
        policy(body)
    got = [(p.code, p.location.line, p.location.column) for p in e.value.problems]
    assert got == [("option", 17, 13), ("unknown-key", 20, 3)]
    lines = (HEAD + body).split("\n")
    assert lines[16].startswith("  options:") and lines[19].startswith("  graces:")


# ----------------------------------------------------------------------------- property test

dates = st.dates(min_value=date(2020, 1, 1), max_value=date(2030, 12, 31))


def _oracle(start: date, stop: date, due: date, convention: str) -> tuple[int, int]:
    """Count (normal, late) months by walking day by day: a month is a run of days from the
    start's day-of-month (clamped) to the next; independent of count_months' arithmetic."""
    normal = late = 0
    k = 0
    while True:
        y, m = divmod(start.year * 12 + start.month - 1 + k, 12)
        first = _clamped(y, m + 1, start.day)
        y2, m2 = divmod(start.year * 12 + start.month + k, 12)
        nxt = _clamped(y2, m2 + 1, start.day)
        days = [first + timedelta(days=i) for i in range((nxt - first).days)]
        inside = [d for d in days if d < stop]
        if convention == "started":
            if not inside:
                return normal, late
            is_late = any(d >= due for d in inside)
        else:
            if len(inside) < len(days):
                return normal, late
            is_late = all(d >= due for d in days)
        if is_late:
            late += 1
        else:
            normal += 1
        k += 1


def _clamped(y: int, m: int, day: int) -> date:
    while True:
        try:
            return date(y, m, day)
        except ValueError:
            day -= 1


@settings(max_examples=150, deadline=None)
@given(
    start=dates,
    planned=dates,
    actual=st.one_of(st.none(), dates),
    as_of=dates,
    grace=st.integers(0, 6),
    convention=st.sampled_from(["started", "whole"]),
)
def test_month_counting_matches_a_day_by_day_oracle(
    start: date, planned: date, actual: date | None, as_of: date, grace: int, convention: str
) -> None:
    got = count_months(
        start,
        planned_delivery=planned,
        actual_delivery=actual,
        as_of=as_of,
        grace_months=grace,
        convention=convention,
    )
    stop = as_of + timedelta(days=1)
    if actual is not None:
        stop = min(stop, add_months(actual, grace))
    due = add_months(planned, grace)
    want = _oracle(start, stop, due, convention)
    assert (sum(1 for g in got if not g[3]), sum(1 for g in got if g[3])) == want
    assert [g[0] for g in got] == list(range(1, len(got) + 1))
    if actual is not None and actual <= planned:
        assert not any(g[3] for g in got)
