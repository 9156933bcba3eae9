"""Traces show rates as percentages and the value of every function call (#12 item 7)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from policy_helpers import policy

from anju.policy.facts import BlockGroup, Building, GroupFacts, Household
from anju.policy.scalar import Step, evaluate
from anju.policy.wording import is_rate

BODY = """
clocks:
  deadline: 2025-05-31
parameters:
  share: {unit: "%", value: 8.5}
  threshold: {unit: "%", value: 85}
  step: {unit: 元, value: 500}
  rate: {unit: 元/㎡, value: 1000}
tiers:
  speed: {event: sign_on, clock: deadline, unit: "%", windows: [{upto: 400, value: 12.5}], otherwise: 0}
derived:
  rate_or_zero: {formula: "max(sign_rate('project', deadline), 0)"}
items:
  - id: base
    formula: sum(buildings, building.legal_area) * rate
  - id: bonus
    formula: base * share
  - id: collective
    formula: if rate_or_zero >= threshold then step * points_above(sign_rate('project', deadline), threshold) else 0元
  - id: speed_bonus
    formula: base * min(speed, 10%)
  - id: whole
    formula: floor(sum(buildings, building.legal_area)) * 1元/㎡ + round(base * 0.333, 1) + clamp(base, 0元, 100元)
"""


def hh(code: str, signed: bool) -> Household:
    return Household(
        code=code,
        block_code="一地块",
        block_chain=("东片区",),
        sign_on=date(2025, 4, 10) if signed else None,
        buildings=(Building("C1", legal_area=Decimal("10.50")),),
    )


def steps(item: str) -> list[Step]:
    c = policy(BODY)
    # 873 of 1000 households signed by the deadline: 87.3%
    group = GroupFacts(blocks={"一地块": BlockGroup(1000, tuple([date(2025, 4, 1)] * 873), ())}, parents={})
    r = evaluate(c, hh("H1", True), "cash", None, group)
    return next(i for i in r.items if i.id == item).steps


def shown(item: str) -> list[tuple[str, str, str]]:
    return [(s.text, s.value, s.note) for s in steps(item)]


def test_a_percent_parameter_is_shown_as_a_percentage() -> None:
    assert ("share", "8.5%", "share") in shown("bonus")


def test_points_above_shows_its_arguments_and_how_many_whole_points() -> None:
    lines = shown("collective")
    call = [x for x in lines if x[0].startswith("points_above(")]
    assert call == [
        (
            "points_above(sign_rate('project', deadline), threshold)",
            "2",
            "points_above(87.3%, 85%) = 2 个整百分点 / whole points above",
        )
    ]
    assert any(text == "threshold" and value == "85%" for text, value, _ in lines)
    rate = [x for x in lines if x[0] == "sign_rate('project', deadline)"]
    assert rate and rate[0][1] == "87.3%" and rate[0][2].endswith("的签约率 = 87.3%")
    # the derived rate compared with the threshold is a rate too
    assert any(text == "rate_or_zero" and value == "87.3%" for text, value, _ in lines)


def test_min_of_a_percent_tier_and_a_percent_literal() -> None:
    lines = shown("speed_bonus")
    assert ("min(speed, 10%)", "10%", "min(12.5%, 10%) = 10%，取较小者 / the smaller") in lines
    assert any(text == "speed" and value == "12.5%" for text, value, _ in lines)


def test_floor_round_and_clamp_show_their_values() -> None:
    notes = [note for _, _, note in shown("whole")]
    assert "floor(10.50 ㎡) = 10 ㎡，取整数部分 / whole part" in notes
    assert "round(3,496.50 元, 1) = 3,496.50 元" in notes
    assert "clamp(10,500.00 元, 0.00 元, 100.00 元) = 100.00 元，限定在上下限内 / clamped" in notes


def test_is_rate_only_for_dimensionless_rates() -> None:
    c = policy(BODY)
    by_id = {it.id: it for it in c.policy.items}
    bonus = by_id["bonus"].formula
    assert bonus.node is not None
    assert not is_rate(c, bonus.node, bonus.text)  # money
    assert is_rate(c, bonus.node.right, bonus.text)  # type: ignore[attr-defined]
    assert not is_rate(c, bonus.node.left, bonus.text)  # type: ignore[attr-defined]


def test_the_trace_is_off_without_cost() -> None:
    c = policy(BODY)
    group = GroupFacts(blocks={"一地块": BlockGroup(10, (date(2025, 4, 1),), ())}, parents={})
    r = evaluate(c, hh("H1", False), "cash", None, group, trace=False)
    assert all(not i.steps for i in r.items)
