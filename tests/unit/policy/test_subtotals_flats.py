"""Subtotal lines (小计) and the chosen flats as facts (issue #12 items 4 and 5): checker, scalar,
numpy and kernel evaluation, the trace and the sheet in words, cases files and the CLI."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from policy_helpers import HEAD, amounts, policy
from test_property_bulk import policies
from typer.testing import CliRunner

from anju.policy import jit
from anju.policy.bulk import BulkEvaluator, HouseholdTable, evaluate_bulk
from anju.policy.cases import run_cases
from anju.policy.check import load_policy
from anju.policy.cli import app
from anju.policy.errors import PolicyError
from anju.policy.facts import (
    Building,
    ChosenFlat,
    GroupFacts,
    Household,
    Member,
    household_from_dict,
    household_to_dict,
)
from anju.policy.scalar import evaluate
from anju.policy.swap import flats_of

SUBTOTALS = """
parameters:
  rate: {unit: 元/㎡, value: 1000}
  bonus_rate: {unit: "%", value: 10}
items:
  - {id: house, label: 房屋价值补偿, formula: "sum(buildings, building.legal_area) * rate"}
  - {id: deco, label: 装修补偿, formula: "120.50元"}
  - {id: moving, label: 搬迁费, options: [cash], formula: "500元"}
  - {id: reward, label: 房屋奖励, formula: "house_sub * bonus_rate"}
  - {id: extra, label: 合计奖励, formula: "all_sub * 1%"}
subtotals:
  - {id: house_sub, label: 房屋补偿小计, items: [house, deco]}
  - {id: move_sub, label: 搬迁安置补偿小计, items: [moving]}
  - {id: all_sub, label: 补偿合计, items: [house_sub, move_sub]}
  - {id: reward_sub, label: 奖励补助合计, items: [reward, extra]}
"""


def _h(code: str = "H1", area: str = "98.60", flats: tuple[ChosenFlat, ...] = ()) -> Household:
    return Household(
        code,
        "G1",
        ("P1",),
        buildings=(Building("C1", legal_area=Decimal(area)),),
        members=(Member("甲"),),
        flats=flats,
    )


# ----------------------------------------------------------------------------- subtotals


def test_subtotals_add_up_their_items_and_stay_out_of_the_total() -> None:
    c = policy(SUBTOTALS)
    r = evaluate(c, _h(), "cash")
    assert r.subtotal_amounts() == {
        "house_sub": 9_872_050,  # 98,600.00 + 120.50
        "move_sub": 50_000,
        "all_sub": 9_922_050,  # nested: house_sub + move_sub
        "reward_sub": 987_205 + 99_221,
    }
    assert r.amounts()["reward"] == 987_205  # 10% of the subtotal
    assert r.amounts()["extra"] == 99_221  # 1% of 99,220.50 = 992.205 -> 992.21
    # the total is the items' sum: no subtotal is counted in it
    assert r.total_fen == sum(r.amounts().values()) == 9_860_000 + 12_050 + 50_000 + 987_205 + 99_221


def test_an_item_not_offered_under_an_option_is_absent_from_its_subtotal() -> None:
    c = policy(SUBTOTALS)
    r = evaluate(c, _h(), "swap")
    subs = r.subtotal_amounts()
    assert "move_sub" not in subs  # no item of it under swap: no line
    assert subs["all_sub"] == subs["house_sub"] == 9_872_050
    assert [s.id for s in r.subtotals] == ["house_sub", "all_sub", "reward_sub"]
    assert r.subtotals[1].parts == ["house_sub"]
    assert r.amounts()["extra"] == 98_721  # 1% of 98,720.50 under swap


def test_subtotal_lines_follow_their_last_item_inner_first() -> None:
    r = evaluate(policy(SUBTOTALS), _h(), "cash")
    after = {k: [s.id for s in v] for k, v in r.subtotals_after().items()}
    assert after == {"deco": ["house_sub"], "moving": ["move_sub", "all_sub"], "extra": ["reward_sub"]}


def test_bulk_and_kernel_give_the_subtotals_of_the_scalar_evaluator() -> None:
    c = policy(SUBTOTALS)
    hs = [_h("H1"), _h("H2", "0.00"), _h("H3", "1234.56")]
    table = HouseholdTable.from_households(hs)
    for option in ("cash", "swap"):
        numpy_result = BulkEvaluator(c, table).evaluate(option)
        scalar = [evaluate(c, h, option) for h in hs]
        for i, s in enumerate(scalar):
            assert numpy_result.row(i) == s.amounts()
            assert numpy_result.subtotal_row(i) == s.subtotal_amounts()
            assert int(numpy_result.total[i]) == s.total_fen
        assert numpy_result.subtotal_labels["house_sub"] == "房屋补偿小计"
        if not jit.HAVE_NUMBA:
            continue
        prepared = jit.prepare(c, table, option)
        assert not isinstance(prepared, str), prepared
        kernel = jit.run(prepared, table, option, parallel=False)
        assert kernel is not None
        for i, s in enumerate(scalar):
            assert kernel.row(i) == s.amounts()
            assert kernel.subtotal_row(i) == s.subtotal_amounts()
            assert int(kernel.total[i]) == s.total_fen


def test_explain_trace_names_the_subtotal_and_its_items() -> None:
    r = evaluate(policy(SUBTOTALS), _h(), "cash")
    reward = next(i for i in r.items if i.id == "reward")
    step = next(s for s in reward.steps if s.text == "house_sub")
    assert step.value == "98,720.50 元"
    assert "房屋补偿小计" in step.note and "house、deco" in step.note
    assert reward.basis[0] == "房屋补偿小计 98,720.50 元 × 比例 10% = 9,872.05 元"
    lines = {s.id: s.basis for s in r.subtotals}
    assert lines["house_sub"] == [
        "房屋补偿小计 = 房屋价值补偿 98,600.00 元 + 装修补偿 120.50 元 = 98,720.50 元"
    ]
    assert lines["all_sub"] == [
        "补偿合计 = 房屋补偿小计 98,720.50 元 + 搬迁安置补偿小计 500.00 元 = 99,220.50 元"
    ]


def _problems(body: str) -> list[str]:
    with pytest.raises(PolicyError) as e:
        load_policy(HEAD + body, "t.yaml")
    return [f"{p.location.line}:{p.code}:{p.message_zh}" for p in e.value.problems]


def test_checker_names_a_cycle_through_a_subtotal() -> None:
    probs = _problems(
        "items:\n"
        "  - {id: a, formula: 100元}\n"
        "  - {id: b, formula: s * 10%}\n"
        "subtotals:\n"
        "  - {id: s, items: [a, b]}\n"
    )
    assert probs == ["9:cycle:项目循环引用：b -> 小计 s -> b"]


def test_checker_refuses_subtotals_in_a_cycle_unknown_parts_and_double_counting() -> None:
    probs = _problems(
        "parameters:\n"
        "  p: {unit: 元, value: 1}\n"
        "items:\n"
        "  - {id: a, formula: 100元}\n"
        "  - {id: b, formula: 100元}\n"
        "subtotals:\n"
        "  - {id: s1, items: [s2, a]}\n"
        "  - {id: s2, items: [s1]}\n"
        "  - {id: s3, items: [a, a]}\n"
        "  - {id: s4, items: [s3, a, p, nope]}\n"
        "  - {id: b, items: [a]}\n"
        "  - {id: s5}\n"
    )
    assert "13:cycle:小计循环包含：s1 -> s2 -> s1" in probs
    assert "15:subtotal:小计“s3”把项目“a”计入两次（重复列出）" in probs
    assert "16:subtotal:小计“s4”把项目“a”计入两次（经“s3”与“a”）" in probs
    assert "16:subtotal:小计“s4”中的“p”不是补偿项目或小计（它是参数）" in probs
    assert "16:subtotal:小计“s4”中的“nope”不是补偿项目或小计" in probs
    assert any(p.startswith("17:duplicate:名称“b”重复定义") for p in probs)
    assert any(p.startswith("18:subtotal:小计“s5”需要 items") for p in probs)


def test_a_subtotal_is_money_in_formulas() -> None:
    probs = _problems(
        "items:\n  - {id: a, formula: 100元}\n  - {id: b, formula: s * 1㎡}\nsubtotals:\n  - {id: s, items: [a]}\n"
    )
    assert probs and "unit" in probs[0]


# ----------------------------------------------------------------------------- chosen flats

FLATS = """
parameters:
  subsidy: {unit: "%", value: 5}
  high_floor: {unit: 元/㎡, value: 50}
items:
  - {id: purchase_subsidy, label: 购房补贴, options: [swap], formula: "household.purchase_total * subsidy"}
  - {id: floor_bonus, label: 高层补贴, options: [swap],
     formula: "sum(flats, flat.area * high_floor, where=flat.floor >= 10)"}
  - {id: priced, label: 按套补助, options: [swap],
     formula: "count(flats, where=known(flat.price) and flat.building == '3幢') * 100元"}
  - {id: area_part, label: 面积补助, options: [swap],
     formula: "household.chosen_flats_area * 1元/㎡ + sum(flats, flat.purchase_total, where=flat.type == 'A')"}
subtotals:
  - {id: flat_sub, label: 购房补助小计, items: [purchase_subsidy, floor_bonus, priced, area_part]}
"""

F1 = ChosenFlat("3-1-1001", Decimal("89.50"), "3幢", 10, "A", price_fen=650_000)
F2 = ChosenFlat("4-2-201", Decimal("45.00"), "4幢", 2, "B")


def test_flat_facts_in_formulas() -> None:
    c = policy(FLATS)
    assert F1.purchase_total_fen == 58_175_000  # 89.50 ㎡ × 6,500.00 元/㎡
    (a, b) = amounts(c, [_h(flats=(F1, F2)), _h("H2")], "swap")
    assert a == {
        "purchase_subsidy": 2_908_750,  # 5% of 581,750.00
        "floor_bonus": 447_500,  # 89.50 × 50
        "priced": 10_000,
        "area_part": 13_450 + 58_175_000,
    }
    assert b == dict.fromkeys(a, 0)
    r = evaluate(c, _h(flats=(F1, F2)), "swap")
    assert r.subtotal_amounts() == {"flat_sub": sum(a.values())}
    assert r.items[0].basis == ["所选安置房购房款合计 581,750.00 元 × 比例 5% = 29,087.50 元"]


def test_a_flat_without_a_price_reads_as_zero_with_a_warning() -> None:
    c = policy("items:\n  - {id: x, formula: 'sum(flats, flat.price * flat.area)'}\n")
    r = evaluate(c, _h(flats=(F2,)), "cash")
    assert r.amounts() == {"x": 0}
    assert any("4-2-201" in w and "price" in w for w in r.warnings)


def test_flat_fields_only_inside_their_collection() -> None:
    probs = _problems("items:\n  - {id: x, formula: flat.area * 1元/㎡}\n")
    assert probs == ["8:context:“flat.area”只能用在 sum/count(flats, ...) 之内"]
    probs = _problems("items:\n  - {id: x, formula: 'sum(flats, flat.size) * 1元'}\n")
    assert "没有字段“size”" in probs[0]


def test_flats_round_trip_through_the_table_and_the_snapshot_dict() -> None:
    h = _h(flats=(F1, F2))
    table = HouseholdTable.from_households([h, _h("H2")])
    assert table.household(0) == h and table.household(1) == _h("H2")
    assert table.chosen_flats_area.tolist() == [13_450, 0]
    assert household_from_dict(household_to_dict(h)) == h
    assert "flats" not in household_to_dict(_h("H2"))  # facts without flats keep their old form
    assert [f.market_unit_price_fen for f in flats_of(h)] == [650_000, None]


def test_a_table_built_without_flats_has_none() -> None:
    t = HouseholdTable.from_households([_h()])
    fields = {
        f: getattr(t, f)
        for f in t.__dataclass_fields__
        if f not in ("flats", "chosen_flats_area", "purchase_total")
    }
    bare = HouseholdTable(**fields)
    assert bare.flats.size == 0 and bare.flats.count.tolist() == [0]
    assert evaluate_bulk(policy(FLATS), bare, "swap", jit=False).row(0) == dict.fromkeys(
        ["purchase_subsidy", "floor_bonus", "priced", "area_part"], 0
    )


# ----------------------------------------------------------------------------- property: bulk == scalar

PROPERTY = """
parameters:
  rate: {unit: 元/㎡, value: 1234.5}
  share: {unit: "%", value: 12.5}
  flat_rate: {unit: "%", value: 3}
items:
  - {id: house, formula: "sum(buildings, building.legal_area) * rate"}
  - {id: deco, options: [cash], formula: "count(members) * 333.33元/人"}
  - {id: subsidy, options: [swap], formula: "household.purchase_total * flat_rate"}
  - {id: high, options: [swap], formula: "sum(flats, flat.area * 20元/㎡, where=flat.floor > 6 and flat.building != 'X')"}
  - {id: priced, formula: "sum(flats, flat.purchase_total, where=known(flat.purchase_total)) * 1%"}
  - {id: reward, formula: "comp * share", cap: "50000元"}
  - {id: top, formula: "all * 0.5% + household.chosen_flats_area * 2元/㎡"}
subtotals:
  - {id: comp, items: [house, deco]}
  - {id: flat_part, items: [subsidy, high, priced]}
  - {id: all, items: [comp, flat_part, reward]}
"""


@st.composite
def flat_households(draw: Any) -> list[Household]:
    out = []
    for i in range(draw(st.integers(1, 8))):
        flats = tuple(
            ChosenFlat(
                f"F{i}-{j}",
                Decimal(draw(st.integers(0, 20_000))).scaleb(-2),
                draw(st.sampled_from(["X", "Y", "3幢"])),
                draw(st.integers(0, 30)),
                draw(st.sampled_from(["A", "B"])),
                price_fen=draw(st.one_of(st.none(), st.integers(0, 3_000_000))),
                purchase_total_fen=draw(st.one_of(st.none(), st.integers(0, 10**9))),
            )
            for j in range(draw(st.integers(0, 3)))
        )
        out.append(
            Household(
                f"H{i}",
                draw(st.sampled_from(["G1", "G2"])),
                ("P1",),
                buildings=(Building("C", legal_area=Decimal(draw(st.integers(0, 50_000))).scaleb(-2)),),
                members=tuple(Member(f"m{k}") for k in range(draw(st.integers(0, 4)))),
                flats=flats,
            )
        )
    return out


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(flat_households(), st.sampled_from(["cash", "swap"]))
def test_bulk_and_kernel_equal_scalar_with_subtotals_and_flats(hs: list[Household], option: str) -> None:
    c = load_policy(HEAD + PROPERTY, "p.yaml")
    group = GroupFacts.from_households(hs)
    table = HouseholdTable.from_households(hs)
    numpy_result = BulkEvaluator(c, table, None, group).evaluate(option)
    kernel = None
    if jit.HAVE_NUMBA:
        prepared = jit.prepare(c, table, option, None, group)
        assert not isinstance(prepared, str), prepared
        kernel = jit.run(prepared, table, option, parallel=False)
        assert kernel is not None
    for i, h in enumerate(hs):
        s = evaluate(c, h, option, None, group, trace=i % 2 == 0)
        for res in (numpy_result, kernel):
            if res is None:
                continue
            assert res.row(i) == s.amounts(), (h, option)
            assert res.subtotal_row(i) == s.subtotal_amounts(), (h, option)
            assert int(res.total[i]) == s.total_fen


# ----------------------------------------------------------------------------- cases and the CLI

EXAMPLES = Path(__file__).resolve().parents[3] / "src" / "anju" / "policy" / "examples"


def test_cases_carry_flats_and_expect_subtotals_and_the_settlement(tmp_path: Path) -> None:
    report = run_cases(EXAMPLES / "shantytown.cases.yaml")
    assert report.passed, [o.mismatches for o in report.outcomes]
    src = (EXAMPLES / "shantytown.cases.yaml").read_text(encoding="utf-8")
    (tmp_path / "shantytown.yaml").write_text(
        (EXAMPLES / "shantytown.yaml").read_text(encoding="utf-8"), encoding="utf-8"
    )
    bad = tmp_path / "bad.cases.yaml"
    bad.write_text(
        src.replace('balance: "-88685.59"', 'balance: "-88685.58"').replace(
            'moving_subtotal: "566.60"', 'moving_subtotal: "566.61"'
        ),
        encoding="utf-8",
    )
    out = run_cases(bad)
    mismatches = [m for o in out.outcomes for m in o.mismatches]
    assert any(m.startswith("settlement balance") and "-88,685.59" in m for m in mismatches), mismatches
    assert any(m.startswith("moving_subtotal") for m in mismatches), mismatches


def test_cli_explain_shows_subtotals_and_the_settlement() -> None:
    r = CliRunner().invoke(
        app,
        ["explain", str(EXAMPLES / "shantytown.yaml"), "--household", "LW-001", "--option", "swap"],
        terminal_width=200,
    )
    assert r.exit_code == 0, r.output
    output = r.output.replace("\n", "")
    assert "房屋补偿小计（house_subtotal，小计，不另计入合计）= 252,025.59 元" in output
    assert "产权调换结算" in output and "2-1-301" in output
    assert "购房款 flats cost 163,340.00 元" in output
    assert "应退还该户 household is refunded 88,685.59 元" in output
    # the total stays the items' sum
    assert "合计 total: 252,592.19 元" in output


def test_cli_calc_writes_subtotal_columns_and_the_settlement_sheet(tmp_path: Path) -> None:
    (tmp_path / "hh.csv").write_text(
        "code,block_code,kind,vacate_on\nLW-001,柳湾,棚户区,2025-09-15\nLW-002,柳湾,棚户区,\n",
        encoding="utf-8",
    )
    (tmp_path / "hh_buildings.csv").write_text(
        "household,certificate_no,structure,legal_area,assessed_unit_price,decoration\n"
        "LW-001,柳房001,砖木,33.33,7321.50,8000\nLW-002,柳房002,砖木,20,7000,\n",
        encoding="utf-8",
    )
    (tmp_path / "hh_flats.csv").write_text(
        "household,code,area,building,floor,type,price\nLW-001,2-1-301,50.00,2幢,3,两室,\n", encoding="utf-8"
    )
    out = tmp_path / "out.xlsx"
    r = CliRunner().invoke(
        app,
        ["calc", str(EXAMPLES / "shantytown.yaml"), str(tmp_path / "hh.csv"), "-o", str(out)],
        terminal_width=200,
    )
    assert r.exit_code == 0, r.output
    assert (
        "产权调换结算 swap settlement：1 户已选房，应补交 0.00 元，应退还 88,685.59 元"
        in r.output.replace("\n", "")
    )
    from python_calamine import CalamineWorkbook

    wb = CalamineWorkbook.from_path(str(out))
    rows = wb.get_sheet_by_name("swap").to_python()
    assert rows[0][-3:] == ["房屋补偿小计 house_subtotal", "搬迁补助小计 moving_subtotal", "合计 total"]
    assert rows[1][-3:] == [252025.59, 566.6, 252592.19]
    settlement = wb.get_sheet_by_name("settlement").to_python()
    assert settlement[1][0] == "LW-001" and settlement[1][6] == -88685.59


def test_a_flat_given_with_a_price_costs_its_area_times_the_price() -> None:
    h = household_from_dict(
        {"code": "X", "block_code": "B", "flats": [{"code": "1", "area": "10", "price": "5000"}]}
    )
    assert h.flats[0].purchase_total_fen == 5_000_000 and h.purchase_total_fen == 5_000_000


def test_version_diff_lists_subtotal_changes() -> None:
    from anju.policy.model import read_policy
    from anju.policy.versioning import diff

    a, _ = read_policy(HEAD + SUBTOTALS, "a.yaml")
    b, _ = read_policy(
        HEAD
        + SUBTOTALS.replace("items: [reward, extra]}", "items: [reward]}").replace(
            "  - {id: move_sub, label: 搬迁安置补偿小计, items: [moving]}\n", ""
        ),
        "b.yaml",
    )
    changes = [(c.kind, c.name, c.field) for c in diff(a, b)]
    assert ("subtotal", "move_sub", "(removed 删除)") in changes
    assert any(k == "subtotal" and n == "reward_sub" and f.startswith("items") for k, n, f in changes), (
        changes
    )


@st.composite
def policies_with_subtotals(draw: Any) -> str:
    """A random policy of the shared property test with random (nested) subtotals over its items and
    an item that takes a share of one of them."""
    doc = yaml.safe_load(draw(policies()))
    ids = [it["id"] for it in doc["items"]]
    first = draw(st.lists(st.sampled_from(ids), min_size=1, unique=True))
    rest = [i for i in ids if i not in first]
    second = draw(st.lists(st.sampled_from(rest), unique=True)) if rest else []
    doc["subtotals"] = [{"id": "s0", "label": "小计一", "items": first}]
    if second:
        doc["subtotals"] += [
            {"id": "s1", "label": "小计二", "items": second},
            {"id": "s2", "label": "合计", "items": ["s0", "s1"]},
        ]
    target = draw(st.sampled_from([s["id"] for s in doc["subtotals"]]))
    doc["items"].append({"id": "sub_share", "formula": f"{target} * {draw(st.integers(0, 150))}%"})
    return str(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False))


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
@given(policies_with_subtotals(), flat_households(), st.sampled_from(["cash", "swap"]))
def test_random_policies_with_subtotals_bulk_equals_scalar(
    text: str, hs: list[Household], option: str
) -> None:
    c = load_policy(text, "random.yaml")
    group = GroupFacts.from_households(hs)
    bulk = BulkEvaluator(c, HouseholdTable.from_households(hs), None, group).evaluate(option)
    for i, h in enumerate(hs):
        s = evaluate(c, h, option, None, group, trace=i % 2 == 0)
        assert bulk.row(i) == s.amounts()
        assert bulk.subtotal_row(i) == s.subtotal_amounts()
        assert int(bulk.total[i]) == s.total_fen == sum(s.amounts().values())


# Each example compiles a kernel: few examples.
@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
@given(policies_with_subtotals(), flat_households(), st.sampled_from(["cash", "swap"]))
def test_random_policies_with_subtotals_kernel_equals_scalar(
    text: str, hs: list[Household], option: str
) -> None:
    if not jit.HAVE_NUMBA:
        return
    c = load_policy(text, "random.yaml")
    group = GroupFacts.from_households(hs)
    table = HouseholdTable.from_households(hs)
    prepared = jit.prepare(c, table, option, None, group)
    if isinstance(prepared, str):
        assert prepared.startswith("int64 overflow risk"), prepared
        return
    kernel = jit.run(prepared, table, option, parallel=False)
    assert kernel is not None
    for i, h in enumerate(hs):
        s = evaluate(c, h, option, None, group, trace=False)
        assert kernel.row(i) == s.amounts()
        assert kernel.subtotal_row(i) == s.subtotal_amounts()


def test_cases_of_one_household_with_different_selections(tmp_path: Path) -> None:
    (tmp_path / "p.yaml").write_text(HEAD + FLATS, encoding="utf-8")
    h = {"code": "H1", "block_code": "G1"}
    cases = {
        "policy": "p.yaml",
        "cases": [
            {"name": "未选房", "option": "swap", "household": h, "expect": {"floor_bonus": "0.00"}},
            {
                "name": "选高层",
                "option": "swap",
                "household": h,
                "flats": [
                    {"code": "3-1-1001", "area": "89.50", "building": "3幢", "floor": 10, "price": "6500"}
                ],
                # 29,087.50 + 4,475.00 + 100.00 (priced, 3幢) + 89.50 (area) = 33,752.00
                "expect": {"floor_bonus": "4475.00", "purchase_subsidy": "29087.50", "flat_sub": "33752.00"},
            },
        ],
    }
    (tmp_path / "p.cases.yaml").write_text(yaml.safe_dump(cases, allow_unicode=True), encoding="utf-8")
    report = run_cases(tmp_path / "p.cases.yaml")
    assert [o.mismatches for o in report.outcomes] == [[], []]
