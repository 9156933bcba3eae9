"""Entitlement (安置资格) in the policy language: the ``swap_settlement.entitlement`` block, its
checking with line and column, and selections checked against it."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from policy_helpers import HEAD, policy
from typer.testing import CliRunner

from anju.policy.bulk import HouseholdTable
from anju.policy.cases import run_cases
from anju.policy.cli import app
from anju.policy.errors import EvaluationError, PolicyError
from anju.policy.facts import Building, Household, Member
from anju.policy.model import read_policy
from anju.policy.swap import (
    Flat,
    Violation,
    check_selection,
    entitlement,
    screen_candidates,
    settle_swap,
    violations,
)
from anju.policy.versioning import diff
from anju.policy.whatif import whatif

EXAMPLES = Path(__file__).resolve().parents[3] / "src" / "anju" / "policy" / "examples"

# Body lines start at file line 7 (HEAD is 6 lines with its leading blank line).
BODY = """parameters:
  cost: {unit: 元/㎡, value: 3000}
  per_capita: {unit: ㎡/人, value: 30}
derived:
  persons: count(members)
items:
  - {id: value, per: certificate, formula: building.legal_area * 8000元/㎡}
  - {id: bonus, options: [cash], formula: value * 10%}
swap_settlement:
  entitled_area: persons * per_capita + 10㎡
  credit: value
  cost_price: cost
  extra_price: 5000元/㎡
  market_price: 9000元/㎡
  refund_price: 6000元/㎡
  entitlement:
    max_area: entitled + 20㎡
    max_flats: if persons >= 3人 then 2 else 1
    rules:
      - id: big_flat
        label: 应安置面积超过60㎡的，至少选一套60㎡及以上的房源
        when: entitled > 60㎡
        require: {min_flat_area: {area: 60㎡, count: 1}}
      - {id: small_flats, when: entitled <= 60㎡, require: {max_flat_area: 75}}
      - {id: types, when: entitled <= 60㎡, require: {flat_types_allowed: [A, 两室一厅]}}
"""


def hh(persons: int, code: str = "H1") -> Household:
    members = tuple(Member(f"成员{i}") for i in range(persons))
    return Household(
        code=code,
        block_code="一地块",
        block_chain=("东片区",),
        members=members,
        buildings=(Building("Z1", legal_area=Decimal("40.00")),),
    )


def flat(code: str, area: str, flat_type: str = "", name: str = "") -> Flat:
    return Flat(code, Decimal(area), flat_type, flat_type_name=name)


def ids(vs: list[Violation]) -> list[str]:
    return [v.rule_id for v in vs]


def test_entitlement_of_each_household_from_the_policy() -> None:
    c = policy(BODY)
    one = entitlement(c, hh(1))  # 1×30 + 10 = 40 ㎡
    assert (one.household, one.entitled_area, one.max_area, one.max_flats) == (
        "H1",
        Decimal("40.00"),
        Decimal("60.00"),
        1,
    )
    assert [(r.id, r.applies) for r in one.rules] == [
        ("big_flat", False),
        ("small_flats", True),
        ("types", True),
    ]
    assert [r.id for r in one.applicable_rules] == ["small_flats", "types"]
    small = one.rules[1]
    assert (small.kind, small.area, small.label) == (
        "max_flat_area",
        Decimal("75.00"),
        "每套房源不超过 75.00㎡",
    )
    assert (one.rules[2].flat_types, one.rules[2].label) == (("A", "两室一厅"), "户型限于 A、两室一厅")
    three = entitlement(c, hh(3))  # 3×30 + 10 = 100 ㎡, up to 120 ㎡ and 2 flats
    assert (three.entitled_area, three.max_area, three.max_flats) == (Decimal("100.00"), Decimal("120.00"), 2)
    big = three.applicable_rules
    assert [(r.id, r.kind, r.area, r.count) for r in big] == [
        ("big_flat", "min_flat_area", Decimal("60.00"), 1)
    ]
    assert big[0].label == "应安置面积超过60㎡的，至少选一套60㎡及以上的房源"
    assert big[0].describe() == "至少 1 套 60.00㎡ 及以上的房源"
    # max_area never goes beyond entitled + max_extra (30 ㎡), which the settlement refuses
    wide = policy(BODY.replace("max_area: entitled + 20㎡", "max_area: entitled + 45㎡"))
    assert entitlement(wide, hh(3)).max_area == Decimal("130.00")


def test_selection_breaking_a_rule_is_refused_with_the_rule_named() -> None:
    c = policy(BODY)
    found = check_selection(c, hh(3), [flat("1-101", "45.00"), flat("1-102", "50.00")])
    assert found == [
        Violation(
            "big_flat",
            "应安置面积超过60㎡的，至少选一套60㎡及以上的房源",
            "须至少 1 套 60.00㎡ 及以上的房源，所选只有 0 套",
            "at least 1 flat(s) of 60.00 ㎡ or more are required, 0 chosen",
            ("1-101", "1-102"),
        )
    ]
    assert check_selection(c, hh(3), [flat("1-101", "45.00"), flat("3-502", "60.00")]) == []


def test_a_selection_in_progress_is_refused_only_when_the_rule_can_no_longer_be_met() -> None:
    c = policy(BODY)
    first = [flat("1-101", "45.00")]
    assert check_selection(c, hh(3), first, complete=False) == []  # one more flat may follow
    assert ids(check_selection(c, hh(3), first)) == ["big_flat"]  # as the whole selection: refused
    two_small = check_selection(c, hh(3), [*first, flat("1-102", "45.00")], complete=False)
    assert ids(two_small) == ["big_flat"]
    assert "最多还能再选 0 套" in two_small[0].message_zh
    assert check_selection(c, hh(3), [flat("1-101", "61.00")], complete=False) == []  # 61 ≥ 60 meets it
    # one flat left; 120 − 59.99 = 60.01 ㎡ left is still room for a 60 ㎡ flat, 120 − 60.01 − ... is not
    assert check_selection(c, hh(3), [flat("1-101", "59.99")], complete=False) == []
    wide = policy(BODY.replace("max_flats: if persons >= 3人 then 2 else 1", "max_flats: 3"))
    no_room = check_selection(wide, hh(3), [flat("1-101", "30.00"), flat("1-102", "30.01")], complete=False)
    assert ids(no_room) == ["big_flat"]  # a third flat is allowed, but 120 − 60.01 = 59.99 ㎡ < 60 ㎡
    assert "最多还能再选 1 套、59.99㎡" in no_room[0].message_zh
    none_left = check_selection(c, hh(3), [flat("1-101", "59.00"), flat("x", "0.01")], complete=False)
    assert ids(none_left) == ["big_flat"]  # no flat left (max 2)


def test_each_requirement_and_limit_names_the_flats() -> None:
    c = policy(BODY)
    one = entitlement(c, hh(1))  # 40 ㎡: max 60 ㎡, 1 flat, ≤ 75 ㎡ each, types A or 两室一厅
    assert violations(one, [flat("1-201", "55.00", "A")]) == []
    assert violations(one, [flat("1-202", "55.00", "B", "两室一厅")]) == []  # matched by the type's name
    found = violations(one, [flat("5-101", "80.00", "C", "三室两厅")])
    assert ids(found) == ["max_area", "small_flats", "types"]
    assert found[0].message_zh == "所选房源合计 80.00㎡，超过最大可选面积 60.00㎡（应安置面积 40.00㎡）"
    assert found[1].message_zh == "5-101 的面积超过 75.00㎡（每套房源不超过 75.00㎡）"
    assert found[2].message_zh == "5-101 的户型不在可选户型（A、两室一厅）之列"
    assert [v.flats for v in found] == [("5-101",), ("5-101",), ("5-101",)]
    two = violations(one, [flat("1-201", "30.00", "A"), flat("1-202", "30.00", "A")])
    assert two == [
        Violation(
            "max_flats",
            "最多可选套数",
            "最多可选 1 套房源，所选为 2 套",
            "at most 1 flat(s) may be chosen, 2 chosen",
            ("1-201", "1-202"),
        )
    ]
    # exactly at the limits is allowed
    assert violations(one, [flat("1-201", "60.00", "A")]) == []


def test_screen_candidates_tells_which_flats_may_still_be_chosen() -> None:
    c = policy(BODY)
    ent = entitlement(c, hh(3))
    screened = screen_candidates(
        ent, [flat("1-101", "45.00")], [flat("a", "59.99"), flat("b", "60.00"), flat("c", "75.01")]
    )
    assert {k: ids(v) for k, v in screened.items()} == {"a": ["big_flat"], "b": [], "c": ["max_area"]}


def test_numbers_are_areas_and_counts() -> None:
    c = policy(
        BODY.replace("max_area: entitled + 20㎡", "max_area: 90").replace(
            "max_flats: if persons >= 3人 then 2 else 1", "max_flats: 3"
        )
    )
    ent = entitlement(c, hh(3))
    assert (ent.max_area, ent.max_flats) == (Decimal("90.00"), 3)


SWAP = """parameters:
  cost: {unit: 元/㎡, value: 3000}
items:
  - {id: value, per: certificate, formula: building.legal_area * 8000元/㎡}
swap_settlement:
  entitled_area: sum(buildings, building.legal_area) + 10㎡
  credit: value
  cost_price: cost
  extra_price: 5000元/㎡
  market_price: 9000元/㎡
  refund_price: 6000元/㎡
  flat_types:
    - {entitled_upto: 60, types: [一室, 两室]}
    - {types: [两室, 三室]}
"""


def test_without_the_block_the_settlement_limits_are_the_entitlement() -> None:
    c = policy(SWAP)
    h = hh(1)  # 40 + 10 = 50 ㎡
    ent = entitlement(c, h)
    assert (ent.entitled_area, ent.max_area, ent.max_flats) == (Decimal("50.00"), Decimal("80.00"), None)
    assert [(r.id, r.flat_types, r.label) for r in ent.rules] == [
        ("flat_types", ("一室", "两室"), "应安置面积不超过 60.00㎡ 的可选户型")
    ]
    # what the check allows the settlement accepts, and what it refuses the settlement refuses
    cases = [
        ([flat("F1", "75.00", "两室")], []),
        ([flat("F2", "80.00", "一室")], []),
        ([flat("F3", "80.01", "两室")], ["max_area"]),
        ([flat("F4", "60.00", "三室")], ["flat_types"]),
        ([flat("F5", "40.00", "一室"), flat("F6", "40.01", "两室")], ["max_area"]),
    ]
    for flats, expected in cases:
        assert ids(check_selection(c, h, flats)) == expected, flats
        if expected:
            with pytest.raises(EvaluationError):
                settle_swap(c, h, flats)
        else:
            settle_swap(c, h, flats)


def test_no_swap_settlement_no_entitlement() -> None:
    c = policy("items:\n  - {id: v, formula: 1元}\n")
    with pytest.raises(EvaluationError) as e:
        entitlement(c, hh(1))
    assert e.value.code == "no-swap"


BAD = (
    BODY.split("  entitlement:")[0]
    + """  entitlement:
    max_area: entitled * cost
    max_flats: persons
    maximum: 3
    rules:
      - id: big_flat
        when: entitled + 60㎡
        require: {min_flat_area: {area: 60, count: 0}}
      - {id: big_flat, require: {max_flat_area: 75元}}
      - {id: max_area, require: {flat_types_allowed: []}}
      - {id: two, require: {max_flat_area: 70, min_flat_area: 50}}
      - {id: nothing}
      - {id: odd, require: {min_area: 50}}
      - {id: cashy, when: bonus > 0元, require: {max_flat_area: 90}}
      - {id: third, require: {min_flat_area: {area: entitled / 3}}}
"""
)


def test_every_mistake_is_named_with_line_and_column() -> None:
    with pytest.raises(PolicyError) as e:
        policy(BAD)
    lines = (HEAD + BAD).split("\n")
    got = [(p.location.line, p.location.column, p.code) for p in e.value.problems]
    assert got == [
        (23, 15, "unit"),  # max_area in 元
        (24, 16, "unit"),  # max_flats in 人
        (25, 5, "unknown-key"),
        (28, 15, "type"),  # when is not a condition
        (29, 52, "number"),  # count 0
        (30, 14, "duplicate"),
        (30, 49, "unit"),  # 75元
        (31, 14, "reserved"),
        (31, 54, "type"),  # empty type list
        (32, 28, "rule"),  # two requirements
        (33, 9, "missing"),  # no require
        (34, 29, "unknown-key"),
        (35, 27, "option"),  # a cash-only item
        (36, 64, "division"),
    ]
    at = {
        (p.location.line, p.code): lines[p.location.line - 1][p.location.column - 1 :]
        for p in e.value.problems
    }
    assert at[(23, "unit")].startswith("entitled * cost")
    assert at[(29, "number")].startswith("0}}")
    assert at[(35, "option")].startswith("bonus > 0元")
    msgs = {p.code: p.message_zh for p in e.value.problems}
    assert msgs["reserved"] == "规则 id“max_area”是保留名称（最大可选面积），请换一个"
    assert msgs["duplicate"] == "规则 id“big_flat”重复（第 1 条已使用）"
    assert msgs["option"] == "规则“cashy”的适用条件 when 引用了不属于产权调换（swap）的项目：bonus"


@pytest.mark.parametrize(
    ("block", "code", "message"),
    [
        ("  entitlement: [1]\n", "type", "entitlement 应为映射（max_area / max_flats / rules）"),
        ("  entitlement: {max_flats: 1.5}\n", "number", "max_flats 应为整数套数或公式"),
        (
            "  entitlement: {max_flats: floor(persons / 2)}\n",
            "unit",
            "最多可选套数 max_flats 应为套数（纯数，如 2），公式得出的是 人；按人数定套数请写成 if persons >= 4人 then 2 else 1",
        ),
        (
            "  entitlement: {max_flats: if persons >= 3人 then 1.5 else 1}\n",
            "type",
            "最多可选套数 max_flats 应为整数，请用 floor(...) 取整",
        ),
        (
            '  entitlement: {max_area: "60"}\n',
            "unit",
            "最大可选面积 max_area 应为面积（㎡），公式得出的是纯数",
        ),
        ("  entitlement: {rules: {id: x}}\n", "type", "rules 应为列表（每条规则以 - 开头）"),
        ("  entitlement: {rules: [{require: {max_flat_area: 60}}]}\n", "rule", "第 1 条选房规则缺少 id"),
    ],
)
def test_single_mistakes(block: str, code: str, message: str) -> None:
    with pytest.raises(PolicyError) as e:
        policy(BODY.split("  entitlement:")[0] + block)
    assert [(p.code, p.message_zh, p.location.line) for p in e.value.problems] == [(code, message, 22)]


def test_entitled_is_a_name_of_the_entitlement_block_only() -> None:
    with pytest.raises(PolicyError) as e:
        policy(BODY.replace("formula: value * 10%", "formula: value * 10% + entitled * 1元/㎡"))
    assert [(p.code, p.message_zh, p.location.line) for p in e.value.problems] == [
        ("name", "未定义的名称“entitled”", 14)
    ]
    clash = BODY.replace("  persons: count(members)\n", "  persons: count(members)\n  entitled: 1㎡\n")
    with pytest.raises(PolicyError) as e:
        policy(clash)
    assert [p.code for p in e.value.problems] == ["reserved"]
    assert "“entitled”表示应安置面积" in e.value.problems[0].message_zh
    # without an entitlement block the name is free
    policy(clash.split("  entitlement:")[0])


def test_cli_check_names_the_mistake(tmp_path: Path) -> None:
    p = tmp_path / "bad.yaml"
    p.write_text(HEAD + BODY.replace("max_flat_area: 75}", "max_flat_area: 75元}"), encoding="utf-8")
    r = CliRunner().invoke(app, ["check", str(p)])
    assert r.exit_code == 1
    assert (
        f"{p}:30:75 [unit] 规则“small_flats”的面积 area 应为面积（㎡），公式得出的是 元"
        in r.output.replace("\n", "")
    )
    good = tmp_path / "good.yaml"
    good.write_text(HEAD + BODY, encoding="utf-8")
    r = CliRunner().invoke(app, ["check", str(good)])
    assert r.exit_code == 0, r.output
    assert "3 条选房规则（big_flat, small_flats, types）" in r.output.replace("\n", "")


def test_cases_compare_entitlement_and_trial_selections(tmp_path: Path) -> None:
    report = run_cases(EXAMPLES / "homestead.cases.yaml")
    assert report.passed
    src = (EXAMPLES / "homestead.cases.yaml").read_text(encoding="utf-8")
    (tmp_path / "homestead.yaml").write_text(
        (EXAMPLES / "homestead.yaml").read_text(encoding="utf-8"), encoding="utf-8"
    )
    bad = tmp_path / "bad.cases.yaml"
    wrong = src.replace('max_area: "200.00"', 'max_area: "210.00"').replace(
        "refused: [big_flat, two_big_flats]   #", "refused: [big_flat]   #"
    )
    assert wrong != src
    bad.write_text(wrong, encoding="utf-8")
    out = run_cases(bad)
    failed = [o for o in out.outcomes if not o.passed]
    assert [o.name for o in failed] == ["陈大山户的安置资格：4口人，应安置 4×40+10 = 170㎡，最多 200㎡、3套"]
    assert failed[0].mismatches[0] == "max_area: 期望 expected 210.00，实际 got 200.00"
    assert (
        failed[0]
        .mismatches[1]
        .startswith(
            "第 1 次试选 selection 1: 期望违反 expected ['big_flat']，实际 got ['big_flat', 'two_big_flats']"
        )
    )


def test_diff_and_whatif_see_the_block() -> None:
    a, _ = read_policy(HEAD + BODY)
    b, _ = read_policy(HEAD + BODY.replace("area: 60㎡, count: 1", "area: 65㎡, count: 1"))
    assert [str(x) for x in diff(a, b)] == [
        "swap swap_settlement.entitlement.rules[0].require.min_flat_area.area: 60㎡ -> 65㎡"
    ]
    c = policy(BODY)
    w = whatif(c, HouseholdTable.from_households([hh(1), hh(3, "H3")]), ["cost=3100"], option="swap")
    assert w.new_total == w.base_total  # no item uses the cost price
    assert entitlement(c, hh(3)).max_area == Decimal("120.00")  # the original is untouched
