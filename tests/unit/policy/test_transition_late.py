"""Issue #12 item 2: the ``transition`` block's ``late_monthly``, ``due`` and ``when``, and the chosen
flats' ``flat.ready`` (现房/期房) and ``flat.rise`` (多层/高层): checker problems with their place,
scalar == numpy == kernel over generated households, the trace and the sheet in words."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from policy_helpers import HEAD, policy

from anju.policy import jit
from anju.policy.bulk import BulkEvaluator, HouseholdTable
from anju.policy.check import load_policy
from anju.policy.errors import PolicyError
from anju.policy.facts import (
    Building,
    ChosenFlat,
    GroupFacts,
    Household,
    default_rise,
    flat_from_dict,
    flat_ready,
    household_from_dict,
    household_to_dict,
)
from anju.policy.scalar import evaluate
from anju.policy.transition import transition_fees

BODY = """
parameters:
  rate: {label: 过渡费单价, unit: 元/㎡/月, value: 20}
  over: {label: 过渡期上限, unit: 月, keys: [楼型], table: {多层: 18, 高层: 24}, default: 18}
facts:
  turnover_flat: {label: 使用周转房过渡, type: yesno}
items:
  - {id: value, formula: "sum(buildings, building.legal_area) * 1000元/㎡"}
transition:
  label: 临时安置费
  when: not fact.turnover_flat
  monthly: sum(buildings, building.legal_area) * rate
  late_monthly: sum(buildings, building.legal_area) * rate + 1500元/月
  due: add_months(household.vacate_on, over[first(flats, flat.rise, order=flat.area desc, else='多层')])
  start: vacate_on
  months: started
"""


def _h(*flats: ChosenFlat, turnover: bool = False, vacate: date | None = date(2023, 1, 15)) -> Household:
    return Household(
        "H1",
        "G1",
        vacate_on=vacate,
        buildings=(Building("C1", legal_area=Decimal("50.00")),),
        facts={"turnover_flat": turnover},
        flats=flats,
    )


def _fees(h: Household, **kw: Any):  # type: ignore[no-untyped-def]
    args: dict[str, Any] = {"planned_delivery": date(2023, 6, 1), "actual_delivery": None}
    args.update(kw)
    return transition_fees(policy(BODY), h, **args)


# ----------------------------------------------------------------------------- late_monthly, due, when


def test_due_follows_the_chosen_flats_rise_and_late_months_pay_late_monthly() -> None:
    low = _fees(
        _h(ChosenFlat("5-301", Decimal("75"), rise="多层")),
        actual_delivery=date(2024, 9, 15),
        as_of=date(2024, 10, 1),
    )
    assert low.due == date(2024, 7, 15)  # 18 months after vacating, not the planned delivery
    assert (low.normal_months, low.late_months, low.monthly_fen, low.late_fen) == (18, 2, 100_000, 250_000)
    assert low.total_fen == 18 * 100_000 + 2 * 250_000
    high = _fees(
        _h(ChosenFlat("7-1801", Decimal("90"), rise="高层")),
        actual_delivery=date(2024, 9, 15),
        as_of=date(2024, 10, 1),
    )
    assert (high.due, high.normal_months, high.late_months) == (date(2025, 1, 15), 20, 0)
    # the largest flat decides; no flat: 多层 (the else=)
    both = _fees(
        _h(ChosenFlat("a", Decimal("60"), rise="多层"), ChosenFlat("b", Decimal("90"), rise="高层")),
        as_of=date(2024, 1, 1),
    )
    assert both.due == date(2025, 1, 15)
    assert _fees(_h(), as_of=date(2024, 1, 1)).due == date(2024, 7, 15)


def test_the_month_the_due_date_falls_in_and_zero_overdue_months() -> None:
    flat = ChosenFlat("5-301", Decimal("75"), rise="多层")
    before = _fees(_h(flat), as_of=date(2024, 7, 14))
    assert (before.normal_months, before.late_months, before.final) == (18, 0, False)
    on = _fees(_h(flat), as_of=date(2024, 7, 15))  # month 19 begins on the due date: overdue
    assert (on.normal_months, on.late_months) == (18, 1)
    exact = _fees(_h(flat), actual_delivery=date(2024, 7, 15), as_of=date(2024, 8, 1))
    assert (exact.normal_months, exact.late_months, exact.final) == (18, 0, True)


def test_an_unknown_due_gives_no_late_months_and_the_trace_says_so() -> None:
    body = BODY.replace("due: add_months(household.vacate_on,", "due: add_months(household.move_back_on,")
    c = policy(body)
    f = transition_fees(
        c, _h(), planned_delivery=date(2023, 6, 1), actual_delivery=None, as_of=date(2025, 1, 1)
    )
    assert (f.due, f.late_months, f.normal_months) == (None, 0, 24)
    assert any("尚不能确定" in line for line in f.trace)


def test_when_false_pays_nothing_and_says_why_in_words() -> None:
    f = _fees(_h(turnover=True), actual_delivery=date(2024, 9, 15), as_of=date(2024, 10, 1))
    assert (f.applies, f.months, f.total_fen, f.final) == (False, [], 0, True)
    assert f.reason.startswith("不适用") and "使用周转房过渡" in f.reason
    assert f.trace and "不列入付款计划" in f.trace[0]


def test_without_the_new_keys_the_block_is_as_before() -> None:
    body = BODY.replace("  when: not fact.turnover_flat\n", "").replace(
        "  late_monthly: sum(buildings, building.legal_area) * rate + 1500元/月\n", "  late_multiplier: 2\n"
    )
    body = body.replace(
        "  due: add_months(household.vacate_on, over[first(flats, flat.rise, order=flat.area desc, else='多层')])\n",
        "  grace_months: 3\n",
    )
    f = transition_fees(
        policy(body),
        _h(turnover=True),
        planned_delivery=date(2023, 6, 1),
        actual_delivery=None,
        as_of=date(2023, 12, 1),
    )
    assert f.applies and f.due == date(2023, 9, 1) and f.late_fen == 2 * f.monthly_fen
    assert any("计划交房 2023-06-01，加交房后过渡 3 个月" in line for line in f.trace)


def test_the_trace_names_the_late_amount_and_the_due_formula() -> None:
    f = _fees(_h(ChosenFlat("5-301", Decimal("75"), rise="多层")), as_of=date(2024, 8, 1))
    text = "\n".join(f.trace)
    assert (
        "逾期月份每月 2500.00 元 → 2,500.00 元（sum(buildings, building.legal_area) * rate + 1500元/月）"
        in text
    )
    assert "逾期起点（add_months(household.vacate_on" in text and "2024-07-15 起的月份为逾期" in text
    assert f.trace[-1] == "正常月份 18 个 × 1,000.00 元 + 逾期月份 1 个 × 2,500.00 元 = 20,500.00 元"


@pytest.mark.parametrize(
    ("old", "new", "code", "key"),
    [
        ("  late_monthly:", "  late_multiplier: 2\n  late_monthly:", "transition", "  late_monthly:"),
        ("+ 1500元/月", "+ 1500元", "unit", "  late_monthly:"),
        (
            "due: add_months(household.vacate_on, over[first(flats, flat.rise, order=flat.area desc, else='多层')])",
            "due: 18月",
            "type",
            "  due:",
        ),
        ("when: not fact.turnover_flat", "when: fact.nope", "name", "  when:"),
        ("when: not fact.turnover_flat", "when: 3元", "type", "  when:"),
        ("flat.rise, order", "flat.rize, order", "field", "  due:"),
        ("flat.rise, order", "flat.rise == '低层', order", "category", "  due:"),
    ],
)
def test_checker_places_every_mistake(old: str, new: str, code: str, key: str) -> None:
    body = BODY.replace(old, new)
    assert body != BODY
    with pytest.raises(PolicyError) as e:
        policy(body)
    problems = e.value.problems
    assert problems, body
    lines = (HEAD + body).split("\n")
    hit = [p for p in problems if lines[p.location.line - 1].startswith(key)]
    assert hit, [(p.code, p.message_zh, p.location.line) for p in problems]
    assert all(p.location.column >= 1 and p.message_en for p in hit)


def test_both_late_keys_is_one_problem_naming_both() -> None:
    with pytest.raises(PolicyError) as e:
        policy(BODY.replace("  late_monthly:", "  late_multiplier: 2\n  late_monthly:"))
    (p,) = e.value.problems
    assert "late_monthly" in p.message_zh and "late_multiplier" in p.message_zh


# ----------------------------------------------------------------------------- flat.ready, flat.rise


def test_ready_is_by_the_estates_delivery_on_the_calculation_date() -> None:
    on = date(2025, 6, 30)
    assert flat_ready(ChosenFlat("a", delivered_on=on), on) == "现房"
    assert flat_ready(ChosenFlat("a", delivered_on=on + timedelta(days=1)), on) == "期房"
    assert flat_ready(ChosenFlat("a"), on) == "期房"
    assert flat_ready(ChosenFlat("a", ready="现房"), on) == "现房"  # given outright
    with pytest.raises(ValueError, match="现房"):
        ChosenFlat("a", ready="准现房")
    with pytest.raises(ValueError, match="楼型"):
        ChosenFlat("a", rise="超高层")


def test_rise_defaults_by_the_floors_count() -> None:
    assert [default_rise(n) for n in (None, 0, 1, 9, 10, 33)] == ["", "", "多层", "多层", "高层", "高层"]
    assert flat_from_dict({"code": "x", "building_floors": 10}).rise == "高层"
    assert flat_from_dict({"code": "x", "building_floors": 10, "rise": "多层"}).rise == "多层"


def test_flats_round_trip_with_ready_delivery_and_rise() -> None:
    h = _h(
        ChosenFlat("a", Decimal("60"), ready="现房", rise="高层"),
        ChosenFlat("b", delivered_on=date(2025, 1, 2)),
    )
    assert household_from_dict(household_to_dict(h)) == h
    t = HouseholdTable.from_households([h])
    assert t.household(0) == h


FLAT_ITEMS = """
parameters:
  ready_off: {unit: 元/㎡, value: 700}
  future_off: {unit: 元/㎡, value: 1300}
items:
  - id: discount
    options: [swap]
    formula: >-
      sum(flats, flat.area * (if flat.ready == '现房' then ready_off else future_off))
  - id: high
    formula: sum(flats, flat.area * 10元/㎡, where=flat.rise == '高层' and flat.ready != '现房')
  - id: first_ready
    formula: if first(flats, flat.ready, order=flat.area desc, else='期房') == '现房' then 100元 else 0元
  - id: lows
    formula: count(flats, where=flat.rise == '多层') * 1元
"""


def test_flat_fields_in_formulas_and_words() -> None:
    c = policy(FLAT_ITEMS)
    h = _h(
        ChosenFlat("a", Decimal("60.00"), rise="高层", delivered_on=date(2025, 1, 1)),
        ChosenFlat("b", Decimal("40.00"), rise="多层"),
    )
    r = evaluate(c, h, "swap", date(2025, 1, 1))
    assert r.amounts() == {
        "discount": 60 * 70_000 + 40 * 130_000,
        "high": 0,
        "first_ready": 10_000,
        "lows": 100,
    }
    later = evaluate(c, h, "swap", date(2024, 12, 31))  # the day before delivery: 期房
    assert later.amounts()["discount"] == 100 * 130_000 and later.amounts()["high"] == 60_000
    basis = "\n".join(line for it in r.items for line in it.basis)
    assert "现房/期房" in basis or "楼型" in basis, basis


@st.composite
def households(draw: Any) -> list[Household]:
    out = []
    for i in range(draw(st.integers(1, 8))):
        flats = tuple(
            ChosenFlat(
                f"F{i}-{j}",
                Decimal(draw(st.integers(0, 20_000))).scaleb(-2),
                draw(st.sampled_from(["1幢", "2幢"])),
                draw(st.integers(1, 30)),
                ready=draw(st.sampled_from(["", "", "现房", "期房"])),
                delivered_on=draw(st.one_of(st.none(), st.dates(date(2024, 12, 1), date(2025, 2, 1)))),
                rise=draw(st.sampled_from(["", "多层", "高层"])),
            )
            for j in range(draw(st.integers(0, 3)))
        )
        out.append(
            Household(
                f"H{i}",
                "G1",
                buildings=(Building("C", legal_area=Decimal(draw(st.integers(0, 50_000))).scaleb(-2)),),
                flats=flats,
            )
        )
    return out


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(households(), st.dates(date(2024, 12, 15), date(2025, 1, 15)), st.sampled_from(["cash", "swap"]))
def test_bulk_and_kernel_equal_scalar_on_ready_and_rise(hs: list[Household], on: date, option: str) -> None:
    c = load_policy(HEAD + FLAT_ITEMS, "p.yaml")
    group = GroupFacts.from_households(hs)
    table = HouseholdTable.from_households(hs)
    numpy_result = BulkEvaluator(c, table, on, group).evaluate(option)
    kernel = None
    if jit.HAVE_NUMBA:
        prepared = jit.prepare(c, table, option, on, group)
        assert not isinstance(prepared, str), prepared
        kernel = jit.run(prepared, table, option, parallel=False)
        assert kernel is not None
    for i, h in enumerate(hs):
        s = evaluate(c, h, option, on, group, trace=i % 2 == 0)
        for res in (numpy_result, kernel):
            if res is not None:
                assert res.row(i) == s.amounts(), (h, option, on)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(["", "多层", "高层"]),
    st.dates(date(2023, 1, 1), date(2023, 12, 31)),
    st.one_of(st.none(), st.dates(date(2024, 1, 1), date(2026, 6, 30))),
    st.dates(date(2024, 1, 1), date(2026, 12, 31)),
)
def test_months_add_up_and_late_ones_start_at_due(
    rise: str, vacate: date, actual: date | None, as_of: date
) -> None:
    """Whatever the dates: normal months end before due, late ones reach beyond it, amounts add up."""
    f = _fees(
        _h(ChosenFlat("x", Decimal("80"), rise=rise), vacate=vacate), actual_delivery=actual, as_of=as_of
    )
    assert f.due is not None
    for m in f.months:
        assert m.late == (
            min(m.last_day + timedelta(days=1), (f.end or date.max), as_of + timedelta(days=1)) > f.due
        )
        assert m.amount_fen == (f.late_fen if m.late else f.monthly_fen)
    assert f.total_fen == f.normal_months * f.monthly_fen + f.late_months * f.late_fen


def test_cli_explain_shows_a_cases_transition_fees_and_why_not() -> None:
    from pathlib import Path

    from typer.testing import CliRunner

    from anju.policy.cli import app

    ex = Path(__file__).resolve().parents[3] / "src" / "anju" / "policy" / "examples"
    runner = CliRunner()
    r = runner.invoke(app, ["explain", str(ex / "tongling-yian-transition.yaml"), "--household", "YA-07"])
    assert r.exit_code == 0, r.output
    out = " ".join(r.output.split())
    assert "按月过渡费" in out and "2024-07-15 起的月份为逾期" in out
    assert "正常月份 18 个 × 900.00 元 + 逾期月份 2 个 × 1,800.00 元 = 19,800.00 元" in out
    r = runner.invoke(app, ["explain", str(ex / "tongling-yian-transition.yaml"), "--household", "YA-05"])
    assert r.exit_code == 0 and "不适用：使用征收人提供的周转房过渡" in "".join(r.output.split())
