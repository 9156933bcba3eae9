"""Building- and member-level declared facts (``level: building`` / ``level: member``, read as
``building.fact.ID`` / ``member.fact.ID``): checking with places and did-you-mean, scalar
evaluation with its trace and sheet in words, the missing-required refusal naming the building or
member, the frozen form and the table, cases files, and bulk (numpy and kernel) == scalar over
generated households."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from anju.policy import jit
from anju.policy.bulk import BulkEvaluator, HouseholdTable, evaluate_bulk
from anju.policy.cases import run_cases
from anju.policy.check import load_policy
from anju.policy.errors import EvaluationError, PolicyError
from anju.policy.facts import Building, Household, Member, household_from_dict, household_to_dict
from anju.policy.scalar import evaluate
from anju.policy.table import mark_missing
from tests.unit.policy.test_declared_facts import _check_equal as declared_facts_check_equal

POLICY = """\
policy:
  name: 测试方案
  effective_on: 2025-04-01
facts:
  frontage: {label: 临街位置, type: category, level: building, choices: [主街, 小巷], required: true}
  ac_units: {label: 空调数量, type: count, unit: 台, level: building, max: 20}
  complete: {label: 成套房, type: yesno, level: building}
  price: {label: 重置单价, type: money, unit: 元/㎡, level: building}
  care_months: {label: 护理月数, type: count, unit: 月, level: member}
  carer: {label: 需要护理, type: yesno, level: member}
  wubao: {label: 五保户, type: yesno}
parameters:
  shop_rate: {label: 营业奖励单价, unit: 元/㎡, keys: [临街位置], table: {主街: 3468, 小巷: 2315}, default: 0}
items:
  - id: shop
    label: 营业用房奖励
    per: certificate
    formula: building.legal_area * shop_rate[building.fact.frontage]
  - {id: ac, label: 空调移机费, formula: "sum(buildings, building.fact.ac_units * 300元)"}
  - id: infra
    label: 成套房配套费
    formula: "sum(buildings, building.legal_area * 420元/㎡, where=building.fact.complete)"
  - id: rebuild
    label: 重置价补偿
    per: certificate
    when: known(building.fact.price)
    formula: building.legal_area * building.fact.price
  - id: care
    label: 护理补助
    formula: "sum(members, member.fact.care_months * 500元/月, where=member.fact.carer)"
  - {id: carers, label: 护理人数奖励, formula: "count(members, where=known(member.fact.care_months)) * 100元/人"}
  - {id: wubao, label: 五保补助, formula: 1000元, when: fact.wubao}
"""


def _h(code: str = "H1", members: Any = None, buildings: Any = None) -> Household:
    return household_from_dict(
        {
            "code": code,
            "block_code": "A",
            "members": members
            if members is not None
            else [{"name": "张某", "facts": {"care_months": 3, "carer": True}}, {"name": "李某"}],
            "buildings": buildings
            if buildings is not None
            else [
                {
                    "certificate_no": "C1",
                    "legal_area": "10.00",
                    "facts": {"frontage": "主街", "ac_units": 2, "complete": True, "price": "1000.50"},
                },
                {"certificate_no": "C2", "legal_area": "5.00", "facts": {"frontage": "小巷"}},
            ],
        }
    )


def _problems(text: str) -> list[str]:
    with pytest.raises(PolicyError) as exc:
        load_policy(text, "p.yaml")
    return [f"{p.location.line}:{p.location.column} {p.message_zh}" for p in exc.value.problems]


def test_levels_are_read() -> None:
    decls = load_policy(POLICY).policy.facts
    assert {k: d.level for k, d in decls.items()} == {
        "frontage": "building",
        "ac_units": "building",
        "complete": "building",
        "price": "building",
        "care_months": "member",
        "carer": "member",
        "wubao": "household",
    }


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        # a building fact outside any building in scope
        (
            ("formula: 1000元, when: fact.wubao}", "formula: 1000元, when: building.fact.complete}"),
            "32:52 “building.fact.complete”（成套房）是每证（每处房屋）的事实，只能用在",
        ),
        # a member fact inside a buildings collection
        (
            ("building.fact.ac_units * 300元", "member.fact.care_months * 300元"),
            "只能用在 sum/count/any/max/min/first(members, ...) 之内",
        ),
        # the household spelling of a building fact: did you mean building.fact.x
        (
            ("where=building.fact.complete", "where=fact.complete"),
            "应写成 building.fact.complete（是不是“building.fact.complete”？）",
        ),
        # the building spelling of a household fact
        (("when: fact.wubao", "when: building.fact.wubao"), "应写成 fact.wubao"),
        # a misspelt building fact suggests the nearest of its level
        (
            ("building.fact.ac_units * 300元", "building.fact.ac_unit * 300元"),
            "未声明的事实“building.fact.ac_unit”（是不是“building.fact.ac_units”",
        ),
        (
            ("unit: 月, level: member", "unit: 月, level: street"),
            "层级 level 应为 household（每户）、building（每证）",
        ),
        (
            ("known(building.fact.price)", "known(building.fact.prize)"),
            "26:17 未声明的事实“building.fact.prize”（是不是“building.fact.price”",
        ),
    ],
)
def test_checker_messages(change: tuple[str, str], expected: str) -> None:
    text = POLICY.replace(*change)
    assert text != POLICY
    problems = _problems(text)
    assert any(expected in p for p in problems), problems


def test_scalar_values_trace_and_sheet_in_words() -> None:
    c = load_policy(POLICY)
    r = evaluate(c, _h(), "cash", trace=True)
    assert r.amounts() == {
        "shop": 4625500,  # 10×3468 + 5×2315
        "ac": 60000,  # 2 台 × 300
        "infra": 420000,  # 10 ㎡ × 420
        "rebuild": 1000500,  # C1 only: 10 × 1000.50
        "care": 150000,  # 张某 3 月 × 500
        "carers": 10000,
        "wubao": 0,
    }
    by = {i.id: i for i in r.items}
    assert by["shop"].basis == [
        "证 C1：合法面积 10.00 ㎡ × 营业奖励单价（主街）3,468 元/㎡ = 34,680.00 元",
        "证 C2：合法面积 5.00 ㎡ × 营业奖励单价（小巷）2,315 元/㎡ = 11,575.00 元",
        "各证合计 46,255.00 元",
    ]
    assert by["rebuild"].basis[0] == "证 C1：合法面积 10.00 ㎡ × 重置单价 1,000.50 元/㎡ = 10,005.00 元"
    # The explain trace names the fact of each certificate with its label.
    steps = [(s.text, s.value, s.note) for s in by["shop"].steps]
    assert ("[证 C1] building.fact.frontage", "主街", "临街位置") in steps
    assert ("[证 C2] building.fact.frontage", "小巷", "临街位置") in steps
    # An optional numeric building fact missing on one certificate reads 0 and says where.
    assert r.warnings == ["证 C2 缺少空调数量，按 0 计 / missing ac_units, taken as 0"]


@pytest.mark.parametrize(
    ("buildings", "members", "expected_zh"),
    [
        (
            [{"certificate_no": "C1", "legal_area": "1.00"}, {"certificate_no": "", "legal_area": "1.00"}],
            [],
            "缺少方案要求的事实：临街位置（证 C1、第 2 处房屋）",
        ),
        (
            [
                {"certificate_no": "C1", "legal_area": "1.00", "facts": {"frontage": "主街"}},
                {"certificate_no": "C9", "legal_area": "1.00", "facts": {"frontage": "大街"}},  # not a choice
            ],
            [],
            "缺少方案要求的事实：临街位置（证 C9）",
        ),
    ],
)
def test_a_required_building_fact_missing_names_the_building(
    buildings: list[dict[str, Any]], members: list[dict[str, Any]], expected_zh: str
) -> None:
    c = load_policy(POLICY)
    with pytest.raises(EvaluationError) as exc:
        evaluate(c, _h("H2", members, buildings), "cash")
    assert exc.value.code == "missing-fact" and exc.value.message_zh == expected_zh
    table = HouseholdTable.from_households([_h("H1"), _h("H2", members, buildings)])
    res = evaluate_bulk(c, table, "cash", jit=False)
    assert [d.label for d in res.missing[1]] == [expected_zh.split("：", 1)[1]] and 0 not in res.missing
    assert res.row(1) == dict.fromkeys(res.item_ids, 0) and res.row(0)["shop"] == 4625500


def test_a_required_member_fact_missing_names_the_member() -> None:
    c = load_policy(
        POLICY.replace("type: yesno, level: member}", "type: yesno, level: member, required: true}")
    )
    h = _h("H3", [{"name": "王某", "facts": {"carer": False}}, {"name": "赵某"}], [])
    with pytest.raises(EvaluationError) as exc:
        evaluate(c, h, "cash")
    assert exc.value.message_zh == "缺少方案要求的事实：需要护理（成员 赵某）"
    res = evaluate_bulk(c, HouseholdTable.from_households([h]), "cash", jit=False)
    assert [d.label for d in res.missing[0]] == ["需要护理（成员 赵某）"]


def test_facts_survive_the_frozen_form_and_the_table() -> None:
    h = _h()
    d = household_to_dict(h)
    assert d["buildings"][0]["facts"] == {
        "ac_units": 2,
        "complete": True,
        "frontage": "主街",
        "price": "1000.50",
    }
    assert d["members"][0]["facts"] == {"care_months": 3, "carer": True}
    assert "facts" not in d["members"][1] and "facts" not in d
    back = household_from_dict(d)
    assert [b.facts for b in back.buildings] == [b.facts for b in h.buildings]
    table = HouseholdTable.from_households([Household("H0", "A"), h])
    rebuilt = table.household(1)
    assert [b.facts for b in rebuilt.buildings] == [b.facts for b in h.buildings]
    assert [m.facts for m in rebuilt.members] == [m.facts for m in h.members]


def test_cases_files_carry_building_and_member_facts(tmp_path: Any) -> None:
    (tmp_path / "p.yaml").write_text(POLICY, encoding="utf-8")
    (tmp_path / "p.cases.yaml").write_text(
        """\
policy: p.yaml
cases:
  - name: 两证两人
    option: cash
    household:
      code: H1
      block_code: A
      members: [{name: 张某, facts: {care_months: 3, carer: true}}]
      buildings:
        - {certificate_no: C1, legal_area: "10.00", facts: {frontage: 主街, complete: true}}
    expect: {shop: "34680.00", infra: "4200.00", care: "1500.00", total: "40480.00"}
  - name: 缺少临街位置
    option: cash
    household: {code: H2, block_code: A, buildings: [{certificate_no: C2, legal_area: "1.00"}]}
    missing: [frontage]
""",
        encoding="utf-8",
    )
    report = run_cases(tmp_path / "p.cases.yaml")
    assert [o.passed for o in report.outcomes] == [True, True], [o.mismatches for o in report.outcomes]


# ----------------------------------------------------------------------------- bulk == scalar


@st.composite
def level_households(draw: Any) -> list[Household]:
    out = []
    for i in range(draw(st.integers(1, 8))):
        buildings = []
        for j in range(draw(st.integers(0, 3))):
            facts: dict[str, Any] = {}
            pick = draw(st.integers(0, 12))
            if pick:  # missing (0), invalid (1) or a choice
                facts["frontage"] = "大街" if pick == 1 else draw(st.sampled_from(["主街", "小巷"]))
            for fid, strat in [
                ("ac_units", st.integers(-1, 22)),
                ("complete", st.booleans()),
                ("price", st.integers(0, 10**7).map(lambda v: str(Decimal(v).scaleb(-2)))),
            ]:
                if draw(st.booleans()):
                    facts[fid] = draw(strat)
            buildings.append(
                Building(
                    certificate_no=draw(st.sampled_from([f"C{i}-{j}", ""])),
                    legal_area=Decimal(draw(st.integers(0, 50000))).scaleb(-2),
                    facts=facts,
                )
            )
        members = []
        for j in range(draw(st.integers(0, 3))):
            mf: dict[str, Any] = {}
            if draw(st.booleans()):
                mf["care_months"] = draw(st.integers(0, 30))
            if draw(st.booleans()):
                mf["carer"] = draw(st.booleans())
            members.append(Member(name=f"M{i}-{j}", facts=mf))
        hf = {"wubao": draw(st.booleans())} if draw(st.booleans()) else {}
        out.append(Household(f"H{i}", "A", buildings=tuple(buildings), members=tuple(members), facts=hf))
    return out


def _check_equal(c: Any, hs: list[Household], res: Any) -> None:
    declared_facts_check_equal(c, hs, res)
    for i, h in enumerate(hs):  # and the words naming the buildings / members agree
        if i in res.missing:
            with pytest.raises(EvaluationError) as exc:
                evaluate(c, h, "cash")
            assert exc.value.message_zh.endswith("、".join(d.label for d in res.missing[i]))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(level_households())
def test_bulk_equals_scalar_with_level_facts(hs: list[Household]) -> None:
    c = load_policy(POLICY)
    table = HouseholdTable.from_households(hs)
    _check_equal(c, hs, BulkEvaluator(c, table).evaluate("cash"))


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(level_households())
def test_kernel_equals_scalar_with_level_facts(hs: list[Household]) -> None:
    if not jit.HAVE_NUMBA:
        return
    c = load_policy(POLICY)
    table = HouseholdTable.from_households(hs)
    prepared = jit.prepare(c, table, "cash")
    assert not isinstance(prepared, str), prepared  # building and member facts run in the kernel
    kernel = jit.run(prepared, table, "cash", parallel=False)
    assert kernel is not None
    _check_equal(c, hs, mark_missing(c.policy.facts, table, kernel))
