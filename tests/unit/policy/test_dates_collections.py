"""Dates and months (days_between, months_between, add_months, the event dates after signing), picks
over collections (max / min / first with where, order and else) and the option as a value: the
checker's messages, the conventions, the trace and the sheet in words, and bulk == kernel == scalar
on random households."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from anju.core.dates import add_months
from anju.policy import jit
from anju.policy.bulk import BulkEvaluator, HouseholdTable, evaluate_bulk
from anju.policy.check import load_policy
from anju.policy.datecalc import (
    add_months_d,
    add_months_o,
    days_between_d,
    days_between_o,
    months_between_d,
    months_between_o,
)
from anju.policy.errors import EvaluationError, PolicyError
from anju.policy.facts import Building, Household, Member, Tenant, household_from_dict, household_to_dict
from anju.policy.scalar import evaluate

HEAD = """
policy: {name: 日期与集合, effective_on: 2025-01-01}
options: {cash: 货币补偿, swap: 产权调换}
parameters:
  monthly: {label: 过渡费标准, unit: 元/㎡/月, value: 12.5}
  transition_rate:
    label: 过渡期分档
    unit: 元/月
    by: 月
    bands:
      - {upto: 24, value: 1000}
      - {after: 24, value: 1500}
items:
"""


def policy(items: str) -> Any:
    return load_policy(HEAD + items, "t.yaml")


def problems(items: str) -> list[str]:
    with pytest.raises(PolicyError) as exc:
        policy(items)
    return [f"{p.location.line}:{p.location.column} {p.code} {p.message_zh}" for p in exc.value.problems]


# ----------------------------------------------------------------------------- conventions


@pytest.mark.parametrize(
    ("a", "b", "whole", "started"),
    [
        ("2025-06-01", "2026-01-15", 7, 8),  # the brief's example: 7 whole months, the 8th begun
        ("2025-06-01", "2025-07-01", 1, 1),  # exactly one month: nothing more has begun
        ("2025-01-31", "2025-02-28", 1, 1),  # month end clamps: 01-31 + 1 month = 02-28
        ("2024-01-31", "2024-02-28", 0, 1),  # leap year: 01-31 + 1 month = 02-29
        ("2025-01-31", "2025-03-30", 1, 2),  # 01-31 + 2 months = 03-31 > 03-30
        ("2025-06-01", "2025-06-01", 0, 0),  # the same day: no time has passed
        ("2025-06-02", "2025-06-01", 0, 0),  # backwards: 0, never negative
    ],
)
def test_months_between_conventions(a: str, b: str, whole: int, started: int) -> None:
    da, db = date.fromisoformat(a), date.fromisoformat(b)
    assert months_between_d(da, db) == whole
    assert months_between_d(da, db, started=True) == started
    assert months_between_o(da.toordinal(), db.toordinal(), 0) == whole
    assert months_between_o(da.toordinal(), db.toordinal(), 1) == started


def test_days_between_counts_the_last_day_and_with_inclusive_both() -> None:
    a, b = date(2026, 1, 1), date(2026, 1, 31)
    assert days_between_d(a, b) == 30
    assert days_between_d(a, b, inclusive=True) == 31
    assert days_between_d(a, a, inclusive=True) == 1
    assert days_between_d(b, a) == 0
    assert days_between_d(None, a) == 0


dates = st.integers(date(1990, 1, 1).toordinal(), date(2060, 12, 31).toordinal())


@settings(max_examples=500, deadline=None)
@given(dates, dates, st.integers(-400, 400), st.integers(0, 1))
def test_ordinal_functions_equal_the_date_functions(a: int, b: int, n: int, flag: int) -> None:
    da, db = date.fromordinal(a), date.fromordinal(b)
    assert days_between_o(a, b, flag) == days_between_d(da, db, bool(flag))
    assert months_between_o(a, b, flag) == months_between_d(da, db, bool(flag))
    assert add_months_o(a, n) == add_months(da, n).toordinal() == add_months_d(da, n).toordinal()  # type: ignore[union-attr]
    # whole months: the most k with add_months(a, k) <= b
    k = months_between_d(da, db)
    if db > da:
        assert add_months(da, k) <= db < add_months(da, k + 1)
    # the same code on numpy arrays, 0 (unknown) on either side gives 0
    arr_a, arr_b = np.asarray([a, 0, a], dtype=np.int64), np.asarray([b, b, 0], dtype=np.int64)
    assert months_between_o(arr_a, arr_b, flag).tolist() == [months_between_d(da, db, bool(flag)), 0, 0]
    assert add_months_o(arr_a, n).tolist()[1] == 0


@pytest.mark.skipif(not jit.HAVE_NUMBA, reason="numba not installed")
def test_ordinal_functions_compile_as_kernel_helpers() -> None:
    from anju.policy.jit.helpers import _MINMAX

    nb = jit.numba
    rng = np.random.default_rng(5)
    a = rng.integers(date(2000, 1, 1).toordinal(), date(2040, 1, 1).toordinal(), 300)
    b = a + rng.integers(-50, 1500, 300)
    months, plus = nb.njit(_MINMAX["months_between_o"]), nb.njit(_MINMAX["add_months_o"])
    for x, y in zip(a.tolist(), b.tolist(), strict=True):
        assert months(x, y, 1) == months_between_o(x, y, 1)
        assert plus(x, 13) == add_months_o(x, 13)


# ----------------------------------------------------------------------------- checker


def test_checker_messages() -> None:
    msgs = problems(
        """
  - {id: a, label: A, formula: "monthly * 1㎡ * months_between(household.vacate_on, 3)"}
  - {id: b, label: B, formula: "1元 * max(buildings, building.legal_area) / 1㎡"}
  - {id: c, label: C, formula: "1元/日 * days_between(household.sign_on, household.vacate_on, inclusive=1)"}
  - {id: d, label: D, formula: "if add_months(household.vacate_on, 1.5) > household.move_back_on then 1元 else 0元"}
  - {id: e, label: E, formula: "if option == 'rent' then 1元 else 0元"}
  - {id: f, label: F, formula: "1元 * max(buildings, building.structure, else=0)"}
  - {id: g, label: G, formula: "1元/㎡ * first(members, 1㎡, order=member.dibao, else=0)"}
"""
    )
    text = "\n".join(msgs)
    assert "months_between 的第二个参数应为日期" in text
    assert "请用 else= 给出此时的取值" in text
    assert "inclusive= 应写 true 或 false" in text
    assert "add_months 的月数应为整数个月" in text
    assert "“rent”不是可能的取值" in text
    assert "max 需要数值" in text
    assert "排序 order需要数值" in text
    assert all(m.split(" ")[0].count(":") == 1 for m in msgs)  # every message has line:column


def test_scalar_min_max_stay_and_option_labels_stand_for_ids() -> None:
    c = policy(
        """
  - {id: a, label: A, formula: "max(1元, 2元) + min(3元, 4元) + (if option == '产权调换' then 10元 else 0元)"}
"""
    )
    h = Household(code="H", block_code="B")
    assert evaluate(c, h, "cash").amounts() == {"a": 500}
    assert evaluate(c, h, "swap").amounts() == {"a": 1500}


# ----------------------------------------------------------------------------- evaluation, trace, words

ONE_ITEM = """
  - id: transition
    label: 过渡费（逾期交房加倍）
    formula: >-
      monthly * sum(buildings, building.legal_area)
      * (months_between(household.vacate_on, household.delivery_actual_on, started=true)
         + months_between(household.delivery_planned_on, household.delivery_actual_on, started=true))
  - id: banded
    label: 过渡费（按过渡期分档）
    formula: transition_rate(months_between(household.vacate_on, household.move_back_on)) * 1月
  - id: biggest
    label: 最大一证的面积奖励
    formula: 10元/㎡ * max(buildings, building.legal_area, where=building.use == '住宅', else=0)
  - id: eldest
    label: 第一位低保成员补助
    formula: 'first(members, 100元, where=member.dibao, else=0元)'
  - id: swap_only
    label: 按补偿方式
    formula: if option == 'swap' then 200元 else 100元
"""


def household() -> Household:
    return Household(
        code="H1",
        block_code="B",
        vacate_on=date(2025, 6, 1),
        delivery_planned_on=date(2025, 12, 1),
        delivery_actual_on=date(2026, 1, 15),
        move_back_on=date(2027, 7, 1),
        buildings=(
            Building("C1", legal_area="50", use="residential"),
            Building("C2", legal_area="70", use="business"),
            Building("C3", legal_area="60", use="residential"),
        ),
        members=(Member("甲"), Member("乙", dibao=True)),
    )


def test_transition_doubled_after_overdue_delivery_in_one_item_with_trace_and_words() -> None:
    c = policy(ONE_ITEM)
    r = evaluate(c, household(), "swap")
    got = r.amounts()
    # 180 ㎡ x 12.5 元 x (8 months begun + 2 months overdue, paid twice)
    assert got["transition"] == 180 * 1250 * 10
    # 25 whole months from vacating to moving back: beyond 24 -> 1,500 元/月
    assert got["banded"] == 150000
    assert got["biggest"] == 60000  # the largest residential certificate: 60 ㎡
    assert got["eldest"] == 10000
    assert got["swap_only"] == 20000
    assert evaluate(c, household(), "cash").amounts()["swap_only"] == 10000
    tr = r.items[0]
    notes = [s.note for s in tr.steps]
    assert "months_between(2025-06-01, 2026-01-15) = 8 月（不满一月按一月计）" in notes
    assert "months_between(2025-12-01, 2026-01-15) = 2 月（不满一月按一月计）" in notes
    assert (
        "自腾空日期（2025年6月1日）至实际交房日期（2026年1月15日）共 8 月（不满一月按一月计）" in tr.basis[0]
    )
    biggest = r.items[2]
    assert any("max：3 个元素中符合条件 2 个" in s.note for s in biggest.steps)
    assert "各证中用途为住宅的合法面积最大者 60.00 ㎡" in biggest.basis[0]
    swap_words = r.items[4].basis[0]
    assert "补偿方式为产权调换" in swap_words


def test_unknown_dates_stay_unknown_and_empty_picks_take_else() -> None:
    c = policy(
        ONE_ITEM
        + """
  - id: known_delivery
    label: 已交房
    when: known(household.delivery_actual_on) and add_months(household.delivery_actual_on, 3) > household.vacate_on
    formula: 1元
"""
    )
    h = Household(code="H2", block_code="B")
    r = evaluate(c, h, "cash")
    assert r.amounts() == {
        "transition": 0,
        "banded": 100000,
        "biggest": 0,
        "eldest": 0,
        "swap_only": 10000,
        "known_delivery": 0,
    }
    assert "各证中没有用途为住宅的（共 0 个），按 0 ㎡ 计" in r.items[2].basis[0]
    assert "尚未交房" in r.items[5].basis[0]


def test_first_with_order_desc_and_ties_keep_the_collection_order() -> None:
    c = policy(
        """
  - id: a
    label: A
    formula: 'first(buildings, building.legal_area, order=building.floors desc, else=0) * 1元/㎡'
  - id: b
    label: B
    formula: 'first(buildings, building.legal_area, order=building.floors, else=0) * 1元/㎡'
  - id: c
    label: C
    formula: 'first(tenants, tenant.area, else=0) * 1元/㎡ + min(tenants, tenant.area, else=0) * 1元/㎡'
"""
    )
    h = Household(
        code="H",
        block_code="B",
        buildings=(
            Building("1", legal_area="10", floors=2),
            Building("2", legal_area="20", floors=3),
            Building("3", legal_area="30", floors=3),
            Building("4", legal_area="40", floors=1),
        ),
        tenants=(Tenant("a", area="7"), Tenant("b", area="3")),
    )
    assert evaluate(c, h, "cash").amounts() == {"a": 2000, "b": 4000, "c": 1000}
    table = HouseholdTable.from_households([h, Household(code="E", block_code="B")])
    assert BulkEvaluator(c, table).evaluate("cash").row(0) == {"a": 2000, "b": 4000, "c": 1000}


def test_add_months_out_of_range_is_an_error_everywhere() -> None:
    c = policy(
        """
  - {id: a, label: A, formula: "if add_months(household.vacate_on, 120000) > household.vacate_on then 1元 else 0元"}
"""
    )
    h = Household(code="H", block_code="B", vacate_on=date(2025, 1, 1))
    with pytest.raises(EvaluationError):
        evaluate(c, h, "cash")
    with pytest.raises(EvaluationError):
        evaluate_bulk(c, HouseholdTable.from_households([h]), "cash", jit=True)


def test_event_dates_round_trip_through_the_table_and_the_frozen_dict() -> None:
    h = household()
    assert HouseholdTable.from_households([h]).household(0) == h
    assert household_from_dict(household_to_dict(h)) == h
    plain = Household(code="P", block_code="B")
    assert "move_back_on" not in household_to_dict(plain)  # old snapshots read back unchanged


# ----------------------------------------------------------------------------- bulk == kernel == scalar

RANDOM_ITEMS = """
  - id: t1
    label: 过渡费
    formula: >-
      monthly * sum(buildings, building.legal_area)
      * (months_between(household.vacate_on, household.delivery_actual_on, started=true)
         + months_between(household.delivery_planned_on, household.delivery_actual_on))
  - id: t2
    label: 分档过渡费
    formula: transition_rate(months_between(household.agreement_effective_on, household.move_back_on, started=true)) * 1月
  - id: t3
    label: 天数
    formula: 3元/日 * days_between(household.vacate_on, add_months(household.delivery_planned_on, 2月), inclusive=true)
  - id: t4
    label: 最大最小
    formula: >-
      10元/㎡ * (max(buildings, building.legal_area, where=building.use == '住宅', else=0)
                 - min(buildings, building.legal_area, else=1㎡))
      + first(members, if member.dibao then 300元 else 100元, where=not member.only_child,
              order=member.disability_grade desc, else=7元)
  - id: t5
    label: 按方式
    per: certificate
    formula: >-
      (if option == '产权调换' then 2 else 1) * building.legal_area * 1元/㎡
      + max(tenants, tenant.area, where=tenant.area > 30㎡, else=0) * 1元/㎡ + 1元/㎡ * building.legal_area
  - id: t6
    label: 签约后
    when: known(household.agreement_effective_on) and add_months(household.agreement_effective_on, 6) >= household.move_back_on
    formula: if first(buildings, building.legal_area > 50㎡, order=building.floors, else=false) then 5元 else 2元
  - id: t7
    label: 首证用途
    formula: >-
      if first(buildings, building.use, where=building.floors >= 2, order=building.legal_area desc, else='住宅')
      == '营业' then 9元 else 1元
"""

BASE = date(2025, 1, 1)


@st.composite
def households(draw: Any) -> list[Household]:
    out = []
    for i in range(draw(st.integers(1, 10))):

        def day(lo: int, hi: int) -> date | None:
            return draw(st.one_of(st.none(), st.integers(lo, hi).map(lambda d: BASE + timedelta(days=d))))

        out.append(
            Household(
                code=f"H{i}",
                block_code="B",
                vacate_on=day(0, 400),
                agreement_effective_on=day(-30, 100),
                delivery_planned_on=day(300, 900),
                delivery_actual_on=day(300, 1200),
                move_back_on=day(200, 1500),
                buildings=tuple(
                    Building(
                        f"C{i}-{j}",
                        legal_area=Decimal(draw(st.integers(0, 20000))).scaleb(-2),
                        use=draw(st.sampled_from(["residential", "business"])),
                        floors=draw(st.integers(1, 4)),
                    )
                    for j in range(draw(st.integers(0, 4)))
                ),
                members=tuple(
                    Member(
                        f"m{j}",
                        dibao=draw(st.booleans()),
                        only_child=draw(st.booleans()),
                        disability_grade=draw(st.one_of(st.none(), st.integers(1, 4))),
                    )
                    for j in range(draw(st.integers(0, 4)))
                ),
                tenants=tuple(
                    Tenant(f"t{j}", area=Decimal(draw(st.integers(0, 9000))).scaleb(-2))
                    for j in range(draw(st.integers(0, 2)))
                ),
            )
        )
    return out


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(households(), st.sampled_from(["cash", "swap"]))
def test_bulk_equals_scalar_on_dates_picks_and_option(hs: list[Household], option: str) -> None:
    c = policy(RANDOM_ITEMS)
    table = HouseholdTable.from_households(hs)
    bulk = BulkEvaluator(c, table).evaluate(option)
    for i, h in enumerate(hs):
        assert bulk.row(i) == evaluate(c, h, option, trace=i % 2 == 0).amounts(), h


@pytest.mark.skipif(not jit.HAVE_NUMBA, reason="numba not installed")
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(households(), st.sampled_from(["cash", "swap"]))
def test_kernel_equals_scalar_on_dates_picks_and_option(hs: list[Household], option: str) -> None:
    c = policy(RANDOM_ITEMS)
    table = HouseholdTable.from_households(hs)
    prepared = jit.prepare(c, table, option)
    assert not isinstance(prepared, str), prepared  # every construct here runs in the kernel
    kernel = jit.run(prepared, table, option, parallel=False)
    assert kernel is not None
    for i, h in enumerate(hs):
        assert kernel.row(i) == evaluate(c, h, option, trace=False).amounts(), h


# ----------------------------------------------------------------------------- the shipped example, the CLI

EXAMPLES = Path(__file__).resolve().parents[3] / "src" / "anju" / "policy" / "examples"


def test_example_cases_pass_and_explain_shows_every_date_call(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from anju.policy.cli import app

    runner = CliRunner()
    r = runner.invoke(app, ["test", str(EXAMPLES / "dates_and_picks.cases.yaml")])
    assert r.exit_code == 0, r.output
    (tmp_path / "hh.csv").write_text(
        "code,block_code,vacate_on,delivery_planned_on,delivery_actual_on,move_back_on\n"
        "QS-001,青石巷,2025-06-01,2025-12-01,2026-01-15,2027-07-01\n",
        encoding="utf-8",
    )
    (tmp_path / "hh_buildings.csv").write_text(
        "household,certificate_no,use,legal_area\nQS-001,青房001,住宅,80.00\nQS-001,青房002,营业,95.00\n",
        encoding="utf-8",
    )
    r = runner.invoke(
        app,
        [
            "explain",
            str(EXAMPLES / "dates_and_picks.yaml"),
            "--households",
            str(tmp_path / "hh.csv"),
            "--household",
            "QS-001",
            "--option",
            "swap",
        ],
        env={"COLUMNS": "400"},
    )
    assert r.exit_code == 0, r.output
    out = r.output
    assert "months_between(2025-06-01, 2026-01-15) = 8 月（不满一月按一月计）" in out
    assert "months_between(2025-06-01, 2027-07-01) = 25 月（只计满月）" in out
    assert "days_between(2025-06-01, 2025-06-30) = 29 日（不计首日、计末日）" in out
    assert "max：2 个元素中符合条件 1 个" in out
    assert "合计 total: 36,900.00 元" in out
