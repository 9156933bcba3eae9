"""``add_days(d, n)``: a date moved by whole days ("征收决定发布后60天内" ends on add_days(发布日, 60)).
The checker's messages, the convention against ``days_between``, the trace and the sheet in words, the
out-of-range error, and bulk == kernel == scalar on random households."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from anju.policy import jit
from anju.policy.bulk import BulkEvaluator, HouseholdTable, evaluate_bulk
from anju.policy.check import load_policy
from anju.policy.datecalc import add_days_d, add_days_o, days_between_d
from anju.policy.errors import EvaluationError, PolicyError
from anju.policy.facts import Household
from anju.policy.scalar import evaluate

HEAD = """
policy: {name: 按日加, effective_on: 2025-01-01}
options: {cash: 货币补偿, swap: 产权调换}
parameters:
  window: {label: 奖励期限, unit: 日, value: 60}
  reward: {label: 奖励, unit: 元, value: 4000}
clocks:
  published: {label: 征收决定发布日, date: 2015-03-01}
items:
"""

ITEMS = """
  - id: in_window
    label: 期限内签约奖
    when: known(household.sign_on) and household.sign_on <= add_days(published, window)
    formula: reward
  - id: per_day
    label: 按日计
    formula: >-
      2元/日 * days_between(household.vacate_on, add_days(household.sign_on, 30日), inclusive=true)
      + (if add_days(household.vacate_on, -7) >= household.sign_on then 1元 else 0元)
"""


def policy(items: str) -> Any:
    return load_policy(HEAD + items, "t.yaml")


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 3_000_000), st.integers(-5000, 5000))
def test_ordinal_form_equals_the_date_form_and_days_between(a: int, n: int) -> None:
    d = date.fromordinal(a)
    try:
        want = add_days_d(d, n)
    except OverflowError:
        return
    assert want is not None
    assert add_days_o(a, n) == want.toordinal()
    assert add_days_o(np.array([0, a], dtype=np.int64), n).tolist() == [0, want.toordinal()]
    if n >= 0:
        assert days_between_d(d, want) == n
    assert add_days_d(None, n) is None


def test_checker_messages() -> None:
    with pytest.raises(PolicyError) as exc:
        policy(
            """
  - {id: a, label: A, formula: "if add_days(published, 2月) > household.sign_on then 1元 else 0元"}
  - {id: b, label: B, formula: "if add_days(3, 2) > household.sign_on then 1元 else 0元"}
  - {id: c, label: C, formula: "if add_days(published) > household.sign_on then 1元 else 0元"}
  - {id: d, label: D, formula: "if add_days(published, 1.5) > household.sign_on then 1元 else 0元"}
"""
        )
    msgs = [f"{p.location.line}:{p.location.column} {p.message_zh}" for p in exc.value.problems]
    text = "\n".join(msgs)
    assert text.count("add_days 的天数应为整数天") == 2
    assert "add_days 的第一个参数应为日期" in text
    assert "用法：add_days(日期, 天数)" in text
    assert all(m.split(" ")[0].count(":") == 1 for m in msgs)


def test_sixtieth_day_is_in_the_window_the_sixty_first_is_not_with_trace_and_words() -> None:
    c = policy(ITEMS)
    last = Household(code="A", block_code="B", sign_on=date(2015, 4, 30), vacate_on=date(2015, 5, 10))
    late = Household(code="L", block_code="B", sign_on=date(2015, 5, 1))
    r = evaluate(c, last, "cash")
    assert r.amounts()["in_window"] == 400000
    # 5-10 .. 5-30 both counted = 21 days x 2 元; 5-10 minus 7 days = 5-03 >= 4-30 -> 1 元
    assert r.amounts()["per_day"] == 21 * 200 + 100
    assert evaluate(c, late, "cash").amounts()["in_window"] == 0
    notes = [s.note for it in r.items for s in it.steps]
    assert "add_days(2015-03-01, 60) = 2015-04-30" in notes
    assert "add_days(2015-04-30, 30) = 2015-05-30" in notes
    words = " ".join(b for it in r.items for b in it.basis)
    assert "腾空日期（2015年5月10日）前 7 日即 2015年5月3日" in words
    # an unknown date stays unknown: no sign date, no comparison holds and no days are counted
    none = evaluate(c, Household(code="N", block_code="B"), "cash").amounts()
    assert none == {"in_window": 0, "per_day": 0}


def test_out_of_range_is_an_error_everywhere() -> None:
    c = policy(
        """
  - {id: a, label: A, formula: "if add_days(household.vacate_on, 3000000) > household.vacate_on then 1元 else 0元"}
"""
    )
    h = Household(code="H", block_code="B", vacate_on=date(2025, 1, 1))
    with pytest.raises(EvaluationError):
        evaluate(c, h, "cash")
    with pytest.raises(EvaluationError):
        evaluate_bulk(c, HouseholdTable.from_households([h]), "cash", jit=False)
    with pytest.raises(EvaluationError):
        evaluate_bulk(c, HouseholdTable.from_households([h]), "cash", jit=True)


BASE = date(2015, 3, 1)


@st.composite
def households(draw: Any) -> list[Household]:
    def day() -> date | None:
        return draw(st.one_of(st.none(), st.integers(-20, 120).map(lambda d: BASE + timedelta(days=d))))

    return [
        Household(code=f"H{i}", block_code="B", sign_on=day(), vacate_on=day())
        for i in range(draw(st.integers(1, 12)))
    ]


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(households())
def test_bulk_equals_scalar(hs: list[Household]) -> None:
    c = policy(ITEMS)
    bulk = BulkEvaluator(c, HouseholdTable.from_households(hs)).evaluate("cash")
    for i, h in enumerate(hs):
        assert bulk.row(i) == evaluate(c, h, "cash", trace=i % 2 == 0).amounts(), h


@pytest.mark.skipif(not jit.HAVE_NUMBA, reason="numba not installed")
@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(households())
def test_kernel_equals_scalar(hs: list[Household]) -> None:
    c = policy(ITEMS)
    table = HouseholdTable.from_households(hs)
    prepared = jit.prepare(c, table, "cash")
    assert not isinstance(prepared, str), prepared  # add_days runs in the kernel
    kernel = jit.run(prepared, table, "cash", parallel=False)
    assert kernel is not None
    for i, h in enumerate(hs):
        assert kernel.row(i) == evaluate(c, h, "cash", trace=False).amounts(), h


def test_group_rate_as_of_a_shifted_clock_runs_in_the_kernel() -> None:
    from anju.policy.facts import GroupFacts

    c = policy(
        """
  - id: unit_sign
    label: 单元签约奖
    formula: if sign_rate('block', add_days(published, window)) >= 100% then reward else 0元
  - id: half_year
    label: 半年
    formula: if sign_rate('block', add_months(published, 6)) >= 100% then 1元 else 0元
"""
    )
    hs = [
        Household(code="A", block_code="U1", sign_on=date(2015, 4, 30)),  # day 60: in
        Household(code="B", block_code="U2", sign_on=date(2015, 3, 2)),
        Household(code="C", block_code="U2", sign_on=date(2015, 5, 1)),  # day 61: U2 not whole in time
    ]
    group = GroupFacts.from_households(hs)
    table = HouseholdTable.from_households(hs)
    want = [evaluate(c, h, "cash", None, group).amounts() for h in hs]
    assert [w["unit_sign"] for w in want] == [400000, 0, 0]
    assert [w["half_year"] for w in want] == [100, 100, 100]
    bulk = BulkEvaluator(c, table, None, group).evaluate("cash")
    assert [bulk.row(i) for i in range(3)] == want
    if jit.HAVE_NUMBA:
        prepared = jit.prepare(c, table, "cash", None, group)
        assert not isinstance(prepared, str), prepared
        kernel = jit.run(prepared, table, "cash", parallel=False)
        assert kernel is not None
        assert [kernel.row(i) for i in range(3)] == want
