"""Household facts declared by the policy (``facts:`` block, ``fact.ID`` in formulas): reading and
checking, typed values, scalar evaluation with its trace and sheet in words, the missing-required
refusal, and bulk (numpy and kernel) == scalar over generated households."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from anju.policy import jit
from anju.policy.bulk import BulkEvaluator, HouseholdTable, evaluate_bulk
from anju.policy.check import load_policy
from anju.policy.declared import FactValueError, display, parse_value, to_text
from anju.policy.errors import EvaluationError, PolicyError
from anju.policy.facts import Building, Household, household_from_dict, household_to_dict
from anju.policy.scalar import evaluate

POLICY = """\
policy:
  name: 测试方案
  effective_on: 2025-04-01
facts:
  ac_units: {label: 空调数量, type: count, unit: 台, required: true, ref: 第十二条, max: 20}
  reward_area: {label: 认定奖励面积, type: number, unit: ㎡}
  unit_price: {label: 重置成新价, type: money, unit: 元/㎡}
  persons: {label: 计补人数, type: count, unit: 人}
  handover_on: {label: 约定交房日, type: date}
  shop: {label: 实际经营, type: yesno}
  grade: {label: 装修档次, type: category, choices: [简易, 普通, 精装]}
parameters:
  ac_fee: {label: 空调移机费, unit: 元, value: 300}
  reward_rate: {label: 奖励面积单价, unit: 元/㎡, value: 1000}
  per_person: {label: 生活补助, unit: 元/人, value: 1500}
  grade_rate: {label: 装修补偿单价, unit: 元/㎡, keys: [档次], table: {精装: 800, 普通: 400}, default: 0}
clocks:
  cutoff: {label: 交房截止日, date: 2025-06-30}
items:
  - {id: ac, label: 空调移机费, formula: fact.ac_units * ac_fee}
  - {id: reward, label: 奖励面积补偿, formula: fact.reward_area * reward_rate, when: known(fact.reward_area)}
  - id: rebuild
    label: 重置价补偿
    formula: sum(buildings, building.legal_area) * fact.unit_price
  - {id: living, label: 生活补助, formula: fact.persons * per_person}
  - {id: shop, label: 经营补助, formula: 5000元, when: fact.shop and fact.handover_on <= cutoff}
  - id: deco
    label: 装修补偿
    formula: sum(buildings, building.legal_area) * grade_rate[fact.grade]
  - id: fine
    label: 精装奖励
    formula: 100元
    when: fact.grade == '精装'
"""


def _h(code: str = "H1", **facts: Any) -> Household:
    return household_from_dict(
        {
            "code": code,
            "block_code": "A",
            "buildings": [{"certificate_no": "C1", "legal_area": "80.50"}],
            "facts": facts,
        }
    )


def _problems(text: str) -> list[str]:
    with pytest.raises(PolicyError) as exc:
        load_policy(text, "p.yaml")
    return [f"{p.location.line}:{p.location.column} {p.message_zh}" for p in exc.value.problems]


def test_declared_facts_are_read_in_order_with_their_types() -> None:
    c = load_policy(POLICY)
    decls = c.policy.facts
    assert list(decls) == ["ac_units", "reward_area", "unit_price", "persons", "handover_on", "shop", "grade"]
    ac = decls["ac_units"]
    assert (ac.label, ac.type, ac.unit_text, ac.required, ac.ref, ac.maximum) == (
        "空调数量",
        "count",
        "台",
        True,
        "第十二条",
        Decimal(20),
    )
    assert ac.unit.dimensionless  # a counter word: a plain number to formulas
    assert str(decls["persons"].unit) == "人"
    assert str(decls["unit_price"].unit) == "元/㎡" and decls["unit_price"].places == 2
    assert decls["reward_area"].places == 2 and not decls["reward_area"].required
    # Choices are kept as the language keeps category words (简易 is the structure word "simple").
    assert decls["grade"].choices == ("simple", "普通", "精装")


def test_an_undeclared_fact_is_named_with_its_place() -> None:
    text = POLICY.replace("formula: fact.persons * per_person", "formula: fact.people * per_person")
    (msg,) = _problems(text)
    assert msg.startswith("25:40 ") and "未声明的事实“people”" in msg and "ac_units" in msg


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (("fact.reward_area * reward_rate", "fact.reward_area + reward_rate"), "单位不一致"),
        (("fact.ac_units * ac_fee", "fact.handover_on * ac_fee"), "需要数值"),
        (("fact.grade == '精装'", "fact.grade == '豪装'"), "“豪装”不是可能的取值"),
        (("type: count, unit: 台", "type: count, unit: 斤斤斤斤"), "单位“斤斤斤斤”不认识"),
        (("type: money, unit: 元/㎡", "type: money, unit: ㎡"), "金额事实“unit_price”的单位应为 元"),
        (("type: date}", "type: date, unit: 日}"), "没有单位"),
        (("type: yesno}", "type: boolean}"), "类型 type 应为"),
        (("choices: [简易, 普通, 精装]", "choices: 精装"), "需要可选值列表"),
        (("{label: 实际经营, type: yesno}", "{type: yesno}"), "缺少中文名称"),
        (("required: true, ref", "required: 是, ref"), "required 应为 true 或 false"),
        (("ac_units: {", "2ac: {"), "只能由字母、数字和下划线组成"),
        (("  ac_fee:", "  fact:"), "保留名称"),
    ],
)
def test_checker_messages(change: tuple[str, str], expected: str) -> None:
    text = POLICY.replace(*change)
    assert text != POLICY
    problems = _problems(text)
    assert any(expected in p for p in problems), problems


def test_values_are_typed_and_refused_with_the_label() -> None:
    d = load_policy(POLICY).policy.facts
    assert parse_value(d["ac_units"], "3") == Decimal(3)
    assert parse_value(d["ac_units"], 3.0) == Decimal(3)  # a spreadsheet number
    assert parse_value(d["reward_area"], "12.5 ㎡") == Decimal("12.50")
    assert parse_value(d["unit_price"], "1,234.56") == Decimal("1234.56")
    assert parse_value(d["shop"], "是") is True and parse_value(d["shop"], "否") is False
    assert parse_value(d["handover_on"], "2025-06-30") == date(2025, 6, 30)
    assert parse_value(d["grade"], "精装") == "精装"
    assert parse_value(d["ac_units"], "  ") is None
    for fid, raw, msg in [
        ("ac_units", "2.5", "空调数量应为整数"),
        ("ac_units", "21", "空调数量不能大于 20 台"),
        ("ac_units", "-1", "空调数量不能小于 0 台"),
        ("ac_units", "三", "空调数量应为数字"),
        ("reward_area", "1.234", "认定奖励面积应为最多 2 位小数的数"),
        ("shop", "也许", "实际经营应填“是”或“否”"),
        ("handover_on", "6月30日", "约定交房日应为日期"),
        ("grade", "豪装", "装修档次只能是简易、普通、精装之一"),
        ("reward_area", "1e400", "认定奖励面积过大"),
        ("ac_units", "1E-400", "空调数量应为整数"),
        ("unit_price", Decimal("NaN"), "重置成新价应为数字"),
    ]:
        with pytest.raises(FactValueError) as exc:
            parse_value(d[fid], raw)
        assert exc.value.message_zh.startswith(msg), exc.value.message_zh
    assert to_text(d["reward_area"], Decimal("12.5")) == "12.50"
    assert display(d["ac_units"], Decimal(3)) == "3 台"


def test_english_refusals_name_the_fact_by_its_label_and_id() -> None:
    d = load_policy(POLICY).policy.facts
    for fid, raw, en in [
        ("ac_units", "2.5", "空调数量 (ac_units): a whole number is expected, got '2.5'"),
        ("ac_units", "21", "空调数量 (ac_units): must be at most 20 台"),
        ("ac_units", "-1", "空调数量 (ac_units): must be at least 0 台"),
        ("ac_units", "三", "空调数量 (ac_units): a number is expected, got '三'"),
        ("reward_area", "1.234", "认定奖励面积 (reward_area): at most 2 decimals, got '1.234'"),
        ("shop", "也许", "实际经营 (shop): yes or no is expected, got '也许'"),
        (
            "handover_on",
            "6月30日",
            "约定交房日 (handover_on): a date is expected (YYYY-MM-DD), got '6月30日'",
        ),
        ("grade", "豪装", "装修档次 (grade): one of 简易, 普通, 精装 is expected, got '豪装'"),
        ("reward_area", "1e400", "认定奖励面积 (reward_area): the number is too large"),
    ]:
        with pytest.raises(FactValueError) as exc:
            parse_value(d[fid], raw)
        assert exc.value.message_en == en
    assert display(d["unit_price"], Decimal("1234.5")) == "1,234.50 元/㎡"


def test_scalar_values_trace_and_sheet_in_words() -> None:
    c = load_policy(POLICY)
    h = _h(
        ac_units=3,
        reward_area="12.5",
        unit_price="1234.56",
        persons=4,
        shop=True,
        handover_on="2025-05-01",
        grade="精装",
    )
    r = evaluate(c, h, "cash")
    assert r.amounts() == {
        "ac": 90000,
        "reward": 1250000,
        "rebuild": 9938208,
        "living": 600000,
        "shop": 500000,
        "deco": 6440000,
        "fine": 10000,
    }
    by = {i.id: i for i in r.items}
    assert by["ac"].basis == ["空调数量 3 台 × 空调移机费 300 元 = 900.00 元"]
    assert by["living"].basis == ["计补人数 4 人 × 生活补助 1,500 元/人 = 6,000.00 元"]
    assert by["reward"].basis == ["认定奖励面积 12.50 ㎡ × 奖励面积单价 1,000 元/㎡ = 12,500.00 元"]
    assert by["rebuild"].basis == ["各证合法面积合计 80.50 ㎡ × 重置成新价 1,234.56 元/㎡ = 99,382.08 元"]
    # The explain trace names the fact, its value and the article it comes from.
    steps = [(s.text, s.value, s.note) for s in by["ac"].steps]
    assert ("fact.ac_units", "3", "空调数量（第十二条）") in steps
    assert r.warnings == []


def test_missing_optional_facts_read_as_zero_no_and_none() -> None:
    c = load_policy(POLICY)
    r = evaluate(c, _h(ac_units="2"), "cash")
    assert r.amounts() == {
        "ac": 60000,
        "reward": 0,
        "rebuild": 0,
        "living": 0,
        "shop": 0,
        "deco": 0,
        "fine": 0,
    }
    by = {i.id: i for i in r.items}
    assert not by["reward"].applies and by["reward"].basis == ["不适用：没有认定奖励面积"]
    assert "缺少重置成新价，按 0 计 / missing unit_price, taken as 0" in r.warnings


@pytest.mark.parametrize("facts", [{}, {"ac_units": ""}, {"ac_units": "2.5"}, {"ac_units": "99"}])
def test_a_household_lacking_a_required_fact_is_not_computed(facts: dict[str, Any]) -> None:
    c = load_policy(POLICY)
    with pytest.raises(EvaluationError) as exc:
        evaluate(c, _h(**facts), "cash")
    assert exc.value.code == "missing-fact"
    assert exc.value.message_zh == "缺少方案要求的事实：空调数量"
    table = HouseholdTable.from_households([_h("H1", ac_units=1), _h("H2", **facts)])
    res = evaluate_bulk(c, table, "cash", jit=False)
    assert [d.label for d in res.missing[1]] == ["空调数量"] and 0 not in res.missing
    assert res.row(1) == dict.fromkeys(res.item_ids, 0) and res.row(0)["ac"] == 30000
    assert not any(bool(res.applies[k][1]) for k in res.item_ids)


def test_facts_survive_the_frozen_form_and_the_table() -> None:
    h = _h(ac_units=3, handover_on=date(2025, 5, 1), reward_area=Decimal("12.50"))
    d = household_to_dict(h)
    assert d["facts"] == {"ac_units": 3, "handover_on": "2025-05-01", "reward_area": "12.50"}
    assert household_from_dict(d).facts == d["facts"]
    assert "facts" not in household_to_dict(Household("H2", "A"))  # unchanged form without them
    table = HouseholdTable.from_households([h, Household("H2", "A")])
    assert table.household(0).facts == h.facts and table.household(1).facts == {}


# ----------------------------------------------------------------------------- bulk == scalar


@st.composite
def fact_households(draw: Any) -> list[Household]:
    out = []
    for i in range(draw(st.integers(1, 10))):
        facts: dict[str, Any] = {}
        pick = draw(st.integers(0, 9))
        facts["ac_units"] = (
            None if pick == 0 else "x" if pick == 1 else draw(st.integers(-2, 24))
        )  # missing, invalid, valid
        for fid, strat in [
            ("reward_area", st.integers(0, 10**7).map(lambda v: str(Decimal(v).scaleb(-2)))),
            ("unit_price", st.integers(0, 10**8).map(lambda v: str(Decimal(v).scaleb(-2)))),
            ("persons", st.integers(0, 12)),
            ("handover_on", st.dates(date(2025, 1, 1), date(2025, 12, 31))),
            ("shop", st.booleans()),
            ("grade", st.sampled_from(["简易", "普通", "精装", "豪装"])),
        ]:
            if draw(st.booleans()):
                facts[fid] = draw(strat)
        buildings = tuple(
            Building(certificate_no=f"C{i}-{j}", legal_area=Decimal(draw(st.integers(0, 50000))).scaleb(-2))
            for j in range(draw(st.integers(0, 3)))
        )
        out.append(
            Household(
                f"H{i}", "A", buildings=buildings, facts={k: v for k, v in facts.items() if v is not None}
            )
        )
    return out


def _check_equal(c: Any, hs: list[Household], res: Any) -> None:
    for i, h in enumerate(hs):
        try:
            scalar = evaluate(c, h, "cash", trace=i % 2 == 0)
        except EvaluationError as exc:
            assert exc.code == "missing-fact"
            assert i in res.missing and res.row(i) == dict.fromkeys(res.item_ids, 0)
            continue
        assert i not in res.missing
        assert res.row(i) == scalar.amounts(), h
        assert int(res.total[i]) == scalar.total_fen


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(fact_households())
def test_bulk_equals_scalar_with_declared_facts(hs: list[Household]) -> None:
    c = load_policy(POLICY)
    table = HouseholdTable.from_households(hs)
    _check_equal(c, hs, BulkEvaluator(c, table).evaluate("cash"))


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(fact_households())
def test_kernel_equals_scalar_with_declared_facts(hs: list[Household]) -> None:
    if not jit.HAVE_NUMBA:
        return
    c = load_policy(POLICY)
    table = HouseholdTable.from_households(hs)
    prepared = jit.prepare(c, table, "cash")
    assert not isinstance(prepared, str), prepared  # declared facts run in the kernel
    kernel = jit.run(prepared, table, "cash", parallel=False)
    assert kernel is not None
    from anju.policy.table import mark_missing

    _check_equal(c, hs, mark_missing(c.policy.facts, table, kernel))


def test_cases_files_carry_declared_facts(tmp_path: Any) -> None:
    from anju.policy.cases import run_cases

    (tmp_path / "p.yaml").write_text(POLICY, encoding="utf-8")
    cases = """\
policy: p.yaml
cases:
  - name: 空调3台，认定面积12.5㎡
    household: {code: H1, block_code: A, facts: {ac_units: 3, reward_area: "12.50", grade: 精装},
                buildings: [{certificate_no: C1, legal_area: "80.50"}]}
    # 3 台 × 300 = 900；12.50 × 1000 = 12,500；80.50 × 800 = 64,400；精装 100
    expect: {ac: "900.00", reward: "12500.00", deco: "64400.00", fine: "100.00", total: "77900.00"}
  - name: 未登记空调数量
    household: {code: H2, block_code: A}
    missing: [ac_units]
  - name: 未登记空调数量，用例却期望金额
    household: {code: H3, block_code: A}
    expect: {ac: "0.00"}
"""
    (tmp_path / "p.cases.yaml").write_text(cases, encoding="utf-8")
    report = run_cases(tmp_path / "p.cases.yaml")
    assert [(o.name, o.passed) for o in report.outcomes] == [
        ("空调3台，认定面积12.5㎡", True),
        ("未登记空调数量", True),
        ("未登记空调数量，用例却期望金额", False),
    ]
    assert report.outcomes[2].mismatches[0].startswith("缺少方案要求的事实：空调数量")


def test_households_files_read_declared_fact_columns(tmp_path: Any) -> None:
    from typer.testing import CliRunner

    from anju.policy.cli import app
    from anju.policy.workbooks import HouseholdsFileError, read_households_file

    decls = load_policy(POLICY).policy.facts
    f = tmp_path / "hh.csv"
    f.write_text(
        "code,block_code,空调数量(台),认定奖励面积,fact.grade\nH1,A,3,12.5,精装\nH2,A,,,\n", encoding="utf-8"
    )
    h1, h2 = read_households_file(f, facts=decls)
    assert h1.facts == {"ac_units": "3", "reward_area": "12.50", "grade": "精装"} and h2.facts == {}
    assert read_households_file(f)[0].facts == {}  # without the policy the columns are not read
    bad = tmp_path / "bad.csv"
    bad.write_text("code,block_code,空调数量(台)\nH1,A,2.5\n", encoding="utf-8")
    with pytest.raises(HouseholdsFileError) as exc:
        read_households_file(bad, facts=decls)
    assert "第 2 行" in str(exc.value) and "空调数量应为整数" in str(exc.value)
    (tmp_path / "p.yaml").write_text(POLICY, encoding="utf-8")
    r = CliRunner().invoke(app, ["calc", str(tmp_path / "p.yaml"), str(f), "-o", str(tmp_path / "out.xlsx")])
    assert r.exit_code == 0, r.output
    assert "缺少方案要求的事实，未计算：H2（空调数量）" in r.output
