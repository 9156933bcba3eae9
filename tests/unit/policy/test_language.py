"""The formula language: tokenizer, parser, checker errors with places, units."""

from __future__ import annotations

from decimal import Decimal

import pytest
from policy_helpers import HEAD, policy

from anju.policy.check import load_policy, reciprocal
from anju.policy.errors import PolicyError
from anju.policy.expr import Binary, Call, If, Index, Num, SyntaxProblem, parse, tokenize
from anju.policy.units import M2, YUAN, parse_unit


def test_tokenizer_reads_units_and_percentages() -> None:
    toks = tokenize("300元/㎡ * 10% + 45㎡ * 2[yuan/m2]")
    nums = [t for t in toks if t.kind == "num"]
    assert [t.value for t in nums] == [Decimal(300), Decimal("0.1"), Decimal(45), Decimal(2)]
    assert nums[0].unit == YUAN / M2
    assert nums[2].unit == M2
    assert nums[3].unit == YUAN / M2


def test_unit_symbol_glued_to_a_name_is_a_name() -> None:
    toks = tokenize("3 人数")
    assert [t.kind for t in toks] == ["num", "name", "end"]


def test_parser_precedence_and_shapes() -> None:
    n = parse("a + b * c")
    assert isinstance(n, Binary) and n.op == "+" and isinstance(n.right, Binary) and n.right.op == "*"
    n = parse("if x > 1 then 2 elif x > 0 then 1 else 0")
    assert isinstance(n, If) and len(n.branches) == 2
    n = parse("rate[building.structure, zone]")
    assert isinstance(n, Index) and len(n.keys) == 2
    n = parse("sum(buildings, building.legal_area, where=building.use == '住宅')")
    assert isinstance(n, Call) and set(n.kwargs) == {"where"}
    assert isinstance(parse("-5"), type(parse("-5")))
    assert isinstance(parse("(1)"), Num)


@pytest.mark.parametrize(
    ("text", "offset"),
    [("1 +", 3), ("a b", 2), ("(1", 2), ("f(1,", 4), ("a < b < c", 6), ("1 （", 2), ("'abc", 0)],
)
def test_syntax_errors_carry_the_offset(text: str, offset: int) -> None:
    with pytest.raises(SyntaxProblem) as e:
        parse(text)
    assert e.value.offset == offset
    assert e.value.message_zh and e.value.message_en


def test_no_python_eval_of_user_text() -> None:
    with pytest.raises(SyntaxProblem):
        parse("__import__('os').system('x')")  # names cannot start a call chain with '.'; '(' after ')'
    c_err = None
    try:
        policy("items:\n  - {id: x, formula: \"__import__('os')\"}\n")
    except PolicyError as exc:
        c_err = exc
    assert c_err is not None and c_err.problems[0].code == "name"


def test_parse_unit() -> None:
    assert parse_unit("元/㎡/月")[0] == YUAN / M2 / parse_unit("月")[0]
    assert parse_unit("%") == (parse_unit("")[0], True)
    assert str(parse_unit("元/人/月")[0]) == "元/人/月"


def test_reciprocal_only_for_terminating_decimals() -> None:
    assert reciprocal(Decimal(4)) == Decimal("0.25")
    assert reciprocal(Decimal("1.25")) == Decimal("0.8")
    assert reciprocal(Decimal(3)) is None


def test_unit_checker_rejects_area_plus_money_with_place() -> None:
    body = """parameters:
  rate: {unit: 元/㎡, value: 10}
items:
  - id: bad
    formula: sum(buildings, building.legal_area) + rate
"""
    with pytest.raises(PolicyError) as e:
        policy(body)
    p = e.value.problems[0]
    assert p.code == "unit"
    assert "㎡" in p.message_zh and "cannot add" in p.message_en
    # header is 6 lines (incl. the leading blank line); 'formula:' is on line 11, column 14
    assert (p.location.file, p.location.line, p.location.column) == ("t.yaml", 11, 14)


def test_money_item_must_come_out_in_yuan() -> None:
    with pytest.raises(PolicyError) as e:
        policy('items:\n  - {id: area_only, formula: "sum(buildings, building.legal_area)"}\n')
    assert e.value.problems[0].code == "unit"
    assert "元" in e.value.problems[0].message_zh


def test_all_errors_reported_at_once() -> None:
    body = """items:
  - {id: a, formula: undefined_thing}
  - {id: b, formula: 1元 +}
  - {id: c, formula: building.legal_area * 1元/㎡}
"""
    with pytest.raises(PolicyError) as e:
        policy(body)
    codes = [p.code for p in e.value.problems]
    assert codes == ["name", "syntax", "context"]
    assert [p.location.line for p in e.value.problems] == [8, 9, 10]


def test_table_must_be_complete_or_have_default() -> None:
    body = """parameters:
  r: {unit: 元/㎡, keys: [s], table: {砖混: 1, 砖木: 2}}
items:
  - {id: x, per: certificate, formula: "building.legal_area * r[building.structure]"}
"""
    with pytest.raises(PolicyError) as e:
        policy(body)
    assert e.value.problems[0].code == "table"
    policy(body.replace("table: {砖混: 1, 砖木: 2}", "table: {砖混: 1, 砖木: 2}, default: 0"))


def test_category_literal_is_checked() -> None:
    with pytest.raises(PolicyError) as e:
        policy(
            "items:\n  - {id: x, per: certificate, when: \"building.structure == '砖头'\", formula: 1元}\n"
        )
    assert e.value.problems[0].code == "domain"


def test_division_only_by_exact_constants() -> None:
    with pytest.raises(PolicyError) as e:
        policy("items:\n  - {id: x, formula: 100元 / 3}\n")
    assert e.value.problems[0].code == "division"
    policy("items:\n  - {id: x, formula: 100元 / 8}\n")


def test_item_cycle_detected() -> None:
    with pytest.raises(PolicyError) as e:
        policy("items:\n  - {id: a, formula: b}\n  - {id: b, formula: a}\n")
    assert any(p.code == "cycle" for p in e.value.problems)


def test_overlapping_tier_windows_rejected() -> None:
    body = """clocks: {s: 2025-04-01}
tiers:
  t: {event: sign_on, clock: s, unit: 元, windows: [{upto: 30, value: 1}, {after: 20, upto: 40, value: 2}]}
items:
  - {id: x, formula: t}
"""
    with pytest.raises(PolicyError) as e:
        policy(body)
    assert e.value.problems[0].code == "tier"


def test_yaml_numbers_are_never_float() -> None:
    c = load_policy(HEAD + "parameters:\n  r: {unit: 元, value: 0.1}\nitems:\n  - {id: x, formula: r * 3}\n")
    v = c.policy.params["r"].values[0].value
    assert isinstance(v, Decimal) and v == Decimal("0.1")
