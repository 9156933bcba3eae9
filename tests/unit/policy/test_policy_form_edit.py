"""Editing a policy's values in place (anju.policy.edit): parse(write(edit(p))) == edit(parse(p))."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from anju.policy import edit
from anju.policy.check import load_policy
from anju.policy.model import load_yaml, read_policy

EXAMPLES = Path(__file__).resolve().parents[3] / "src" / "anju" / "policy" / "examples"

# Every kind of value the form edits that the examples lack: dated values, category and table
# overrides, clock overrides, a quoted number, band bounds.
SYNTHETIC = """\
# 合成方案：按日期变化、区块调整与引号写法
policy:
  name: 测试方案
  version: "1"
  effective_on: 2025-04-01
  rounding: {mode: half_up, unit: fen}
  block_levels: [片区]
parameters:
  zone: {label: 区位, value: B, overrides: {东片区: A}}
  rate:
    label: 搬迁费单价   # 注释留着
    unit: 元/㎡
    ref: 第十条
    dated:
      - {from: 2025-01-01, value: 10}
      - {from: 2025-07-01, value: "12.50"}
    overrides:
      西片区: {dated: [{from: 2025-01-01, value: 11}]}
  house_rate:
    unit: 元/㎡
    keys: [结构, 区位]
    table: {砖混: {A: 12000, B: 10500}, 砖木: {A: 9800, B: 8600}, 简易: {A: 1, B: 1}, 钢混: {A: 1, B: 1}}
    default: 0
    overrides: {西片区: {table: {砖混: {B: 10800}}}}
  share: {unit: "%", value: 8}
  per_capita:
    unit: ㎡/人
    by: 人
    bands: [{upto: 2, value: 50}, {after: 2, upto: 3, value: 45}, {after: 3, value: 40}]
clocks:
  signing_start: {label: 签约期开始, date: 2025-04-01, overrides: {西片区: 2025-04-11}}
  deadline: 2025-05-31
tiers:
  reward:
    event: sign_on
    clock: signing_start
    unit: 元/㎡
    windows:
      - {upto: 30, value: 300}
      - {after: 30, upto: 45, value: 150}
    otherwise: 0
options: {cash: 货币补偿}
items:
  - id: house
    label: 房屋补偿
    per: certificate
    formula: building.legal_area * (house_rate[building.structure, zone] + rate + reward) * share
    when: known(household.sign_on) and household.sign_on <= deadline
  - id: area
    label: 人均面积
    formula: per_capita(count(members)) * 1人 * 1元/㎡
"""

TEXTS = {
    p.stem: p.read_text(encoding="utf-8") for p in sorted(EXAMPLES.glob("*.yaml")) if ".cases" not in p.name
}
TEXTS["synthetic"] = SYNTHETIC


def _get(data: Any, path: tuple[Any, ...]) -> Any:
    for p in path:
        data = next(v for k, v in data.items() if str(k) == str(p)) if isinstance(data, dict) else data[p]
    return data


def _set(data: Any, path: tuple[Any, ...], value: Any) -> None:
    parent = _get(data, path[:-1])
    if isinstance(parent, dict):
        key = next(k for k in parent if str(k) == str(path[-1]))
        parent[key] = value
    else:
        parent[path[-1]] = value


def _norm(data: Any) -> Any:
    """Numbers compared by value (12000 == 12000.0), strings holding numbers too."""
    if isinstance(data, dict):
        return {str(k): _norm(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_norm(v) for v in data]
    if isinstance(data, bool):
        return data
    if isinstance(data, int | Decimal):
        return Decimal(data).normalize()
    return data


def _typed(f: edit.Field, raw: str) -> Any:
    if f.kind == "date":
        return date.fromisoformat(raw)
    if f.kind == "text":
        return raw
    return Decimal(raw).normalize()


def _value_for(kind: str) -> st.SearchStrategy[str]:
    if kind == "number":
        return st.decimals(min_value=0, max_value=10**7, places=2, allow_nan=False).map(
            lambda d: format(d, "f")
        )
    if kind == "day":
        return st.integers(min_value=0, max_value=400).map(str)
    if kind == "date":
        return st.dates(min_value=date(2020, 1, 1), max_value=date(2030, 12, 31)).map(date.isoformat)
    return st.sampled_from(["A", "B", "C区", "甲"])


@st.composite
def _edit_case(draw: st.DrawFn) -> tuple[str, edit.Field, str]:
    name = draw(st.sampled_from(sorted(TEXTS)))
    fs = edit.fields(TEXTS[name])
    f = draw(st.sampled_from(fs))
    return name, f, draw(_value_for(f.kind))


def test_every_kind_of_value_is_offered() -> None:
    fs = edit.fields(SYNTHETIC)
    kinds = {(f.name, f.kind, f.detail) for f in fs}
    assert ("zone", "text", "") in kinds
    assert ("zone", "text", "东片区调整") in kinds
    assert ("rate", "date", "第1个日期段 · 起始日期") in kinds
    assert ("rate", "number", "第2个日期段") in kinds
    assert ("rate", "number", "西片区调整 · 第1个日期段") in kinds
    assert ("house_rate", "number", "结构=砖混 · 区位=B") in kinds
    assert ("house_rate", "number", "西片区调整 · 结构=砖混 · 区位=B") in kinds
    assert ("house_rate", "number", "表外取值") in kinds
    assert ("per_capita", "day", "第2档 · 下限（不含）") in kinds
    assert ("signing_start", "date", "西片区调整") in kinds
    assert ("deadline", "date", "") in kinds
    assert ("reward", "day", "第2个时间窗 · 超过第…日") in kinds
    assert ("reward", "number", "其他时间") in kinds
    rate = next(f for f in fs if f.name == "rate" and f.kind == "number")
    assert (rate.label, rate.unit, rate.ref) == ("搬迁费单价", "元/㎡", "第十条")
    bound = next(f for f in fs if f.name == "per_capita" and f.kind == "day")
    assert bound.unit == "人"
    # labels, units, references, formulas, event names are not values a form moves
    assert not any(f.path[-1] in ("label", "unit", "ref", "keys", "clock", "event") for f in fs)
    assert len(fs) == 35


@pytest.mark.parametrize("name", sorted(TEXTS))
def test_examples_are_valid_and_unchanged_by_a_noop_edit(name: str) -> None:
    text = TEXTS[name]
    load_policy(text, name)
    same = {f.key: f.value for f in edit.fields(text)}
    assert edit.apply(text, same) == text


@settings(max_examples=300, deadline=None)
@given(_edit_case())
def test_parse_write_edit_equals_edit_parse(case: tuple[str, edit.Field, str]) -> None:
    name, f, raw = case
    text = TEXTS[name]
    before, _ = load_yaml(text)
    after_text = edit.apply(text, {f.key: raw})
    after, _ = load_yaml(after_text)
    expected = _norm(before)
    _set(expected, f.path, _typed(f, raw))
    got = _norm(after)
    if f.style in ("'", '"') and f.kind == "number":
        _set(got, f.path, Decimal(_get(after, f.path)).normalize())  # a quoted number stays a string
    assert got == expected
    # only the edited line changed: comments, formulas and layout stay as written
    old_lines, new_lines = text.splitlines(), after_text.splitlines()
    assert len(old_lines) == len(new_lines)
    changed = [i + 1 for i, (a, b) in enumerate(zip(old_lines, new_lines, strict=True)) if a != b]
    assert changed in ([], [f.line])
    # the edited text still reads as a policy with the same parameters, clocks and tiers
    old_policy, _ = read_policy(text)
    new_policy, _ = read_policy(after_text)
    assert sorted(new_policy.params) == sorted(old_policy.params)
    for pname, p in old_policy.params.items():
        if (f.section, f.name) != ("parameters", pname):
            assert new_policy.params[pname].values == p.values
            assert new_policy.params[pname].overrides == p.overrides
    for cname, c in old_policy.clocks.items():
        if (f.section, f.name) != ("clocks", cname):
            assert (new_policy.clocks[cname].on, new_policy.clocks[cname].overrides) == (c.on, c.overrides)
    assert [it.formula.text for it in new_policy.items] == [it.formula.text for it in old_policy.items]


def test_model_value_changes_exactly_there() -> None:
    fs = {(f.name, f.detail): f for f in edit.fields(SYNTHETIC)}
    cell = fs[("house_rate", "结构=砖木 · 区位=B")]
    out = edit.apply(SYNTHETIC, {cell.key: "8,700"})
    p = load_policy(out).policy.params["house_rate"]
    assert p.values[0].value[("brick_wood", "B")] == Decimal(8700)
    assert p.values[0].value[("brick_concrete", "B")] == Decimal(10500)
    quoted = fs[("rate", "第2个日期段")]
    out = edit.apply(SYNTHETIC, {quoted.key: "13"})
    assert '- {from: 2025-07-01, value: "13"}' in out
    assert load_policy(out).policy.params["rate"].values[1].value == Decimal(13)
    pct = fs[("share", "")]
    assert load_policy(edit.apply(SYNTHETIC, {pct.key: "9.5"})).policy.params["share"].values[
        0
    ].value == Decimal("0.095")


@pytest.mark.parametrize(
    ("detail", "name", "raw", "message"),
    [
        ("结构=砖木 · 区位=B", "house_rate", "八千", "“八千”不是数字"),
        ("第2个时间窗 · 超过第…日", "reward", "3.5", "“3.5”应为整数日数（0 或正整数）"),
        ("第2档 · 下限（不含）", "per_capita", "2.5", "“2.5”应为整数（人）（0 或正整数）"),
        ("西片区调整", "signing_start", "2025-02-30", "“2025-02-30”不是日期，应写成 2025-04-01"),
        ("", "zone", "", "不能为空"),
    ],
)
def test_bad_values_are_refused_with_the_field(detail: str, name: str, raw: str, message: str) -> None:
    f = next(f for f in edit.fields(SYNTHETIC) if (f.name, f.detail) == (name, detail))
    with pytest.raises(edit.FieldProblem) as exc:
        edit.apply(SYNTHETIC, {f.key: raw})
    assert (exc.value.key, exc.value.message) == (f.key, message)


def test_unknown_field_is_refused() -> None:
    with pytest.raises(edit.FieldProblem) as exc:
        edit.apply(SYNTHETIC, {'["parameters","nope","value"]': "1"})
    assert exc.value.message == "方案中没有这个取值（方案可能已被修改，请刷新）"


def test_checker_problems_land_on_their_field() -> None:
    fs = {(f.name, f.detail): f for f in edit.fields(SYNTHETIC)}
    upto = fs[("reward", "第1个时间窗 · 不超过第…日")]
    out = edit.apply(SYNTHETIC, {upto.key: "40"})  # now overlaps the second window
    problems = edit.check_text(out)
    attached, rest = edit.problems_by_field(out, problems, {upto.key})
    assert list(attached) == [upto.key]
    assert rest == []
    assert len(attached[upto.key]) == 1
    assert "重叠" in attached[upto.key][0]


FACTS = """\
policy:
  name: 事实的录入范围
  effective_on: 2025-04-01
facts:
  ac_units: {label: 空调数量, type: count, unit: 台, max: 20, ref: 第十二条}
  reward_area:
    label: 认定奖励面积
    type: number
    unit: ㎡
    min: 5
    max: 200
  unit_price: {label: 重置成新价, type: money, unit: 元/㎡}
  business: {label: 实际经营, type: yesno}
measures:
  整片腾空率: {label: 整片腾空率, unit: "%", set_by: office, levels: [project]}
options: {cash: 货币补偿}
items:
  - {id: ac, label: 空调移机费, formula: fact.ac_units * 300元}
"""


def test_the_bounds_of_declared_facts_are_offered_and_checked() -> None:
    load_policy(FACTS, "facts.yaml")
    fs = {(f.name, f.detail): f for f in edit.fields(FACTS)}
    # only the bounds a numeric fact writes; measures have no value in the policy
    assert list(fs) == [("ac_units", "上限"), ("reward_area", "下限"), ("reward_area", "上限")]
    top = fs[("ac_units", "上限")]
    assert (top.section, top.kind, top.label, top.unit, top.ref, top.value) == (
        "facts",
        "number",
        "空调数量",
        "台",
        "第十二条",
        "20",
    )
    out = edit.apply(FACTS, {top.key: "25"})
    assert load_policy(out, "facts.yaml").policy.facts["ac_units"].maximum == Decimal(25)
    assert out.replace("max: 25", "max: 20", 1) == FACTS  # nothing else moved
    # a bound the checker refuses lands on its field
    low = fs[("reward_area", "下限")]
    bad = edit.apply(FACTS, {low.key: "300"})
    attached, rest = edit.problems_by_field(bad, edit.check_text(bad), {low.key})
    assert rest == [] and attached == {low.key: ["事实“reward_area”的 max 小于 min"]}
