"""Every shape of "What a compensation plan contains" (DOMAIN.md), each evaluated by both evaluators."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from policy_helpers import amounts, policy

from anju.policy.errors import EvaluationError
from anju.policy.facts import Building, GroupFacts, Homestead, Household, Member
from anju.policy.swap import Flat, compare_options, settle_swap


def hh(
    code: str = "H1", block: str = "一地块", chain: tuple[str, ...] = ("东片区",), **kw: object
) -> Household:
    return Household(code=code, block_code=block, block_chain=chain, **kw)  # type: ignore[arg-type]


def b(
    no: str, area: str, structure: str = "brick_concrete", use: str = "residential", **kw: object
) -> Building:
    return Building(no, structure=structure, use=use, legal_area=Decimal(area), **kw)  # type: ignore[arg-type]


def test_rates_by_structure_use_zone_and_sub_project() -> None:
    c = policy("""parameters:
  zone: {value: B, overrides: {东片区: A}}
  rate:
    unit: 元/㎡
    keys: [结构, 用途, 区位]
    table:
      砖混: {住宅: {A: 100, B: 90}, 非住宅: {A: 80, B: 70}, 营业: {A: 150, B: 140}}
      砖木: {住宅: {A: 60, B: 50}, 非住宅: {A: 40, B: 30}, 营业: {A: 20, B: 10}}
    default: 0
    overrides: {二地块: {table: {砖混: {住宅: {A: 111}}}}}
items:
  - {id: v, per: certificate, formula: "building.legal_area * rate[building.structure, building.use, zone]"}
""")
    hs = [
        hh("A", buildings=(b("1", "10.00"), b("2", "1.00", "brick_wood", "business"))),
        hh("B", block="二地块", buildings=(b("3", "10.00"),)),
        hh("C", block="三地块", chain=("西片区",), buildings=(b("4", "10.00", use="non_residential"),)),
        hh("D", block="三地块", chain=("西片区",), buildings=(b("5", "10.00", "simple"),)),
    ]
    assert [a["v"] for a in amounts(c, hs)] == [102000, 111000, 70000, 0]


TIERS = """clocks:
  start: {date: 2025-04-01, overrides: {西片区: 2025-04-11}}
tiers:
  t:
    event: sign_on
    clock: start
    count: %s
    unit: 元
    windows: [{upto: 30, value: 300}, {after: 30, upto: 45, value: 150}]
    otherwise: 7
items:
  - {id: r, formula: t}
"""


@pytest.mark.parametrize(
    ("count", "offsets", "expected"),
    [
        # clock day is day 1: 2025-04-30 (offset 29) is day 30, within 30 days; offset 30 is day 31
        ("clock_day_is_day_1", [-3, 0, 29, 30, 44, 45, None], [300, 300, 300, 150, 150, 7, 7]),
        # next day is day 1: offset 30 is day 30 (still within); offset 45 is day 45
        ("next_day_is_day_1", [-3, 0, 30, 31, 45, 46, None], [300, 300, 300, 150, 150, 7, 7]),
    ],
)
def test_date_window_tiers_inclusive_conventions(
    count: str, offsets: list[int | None], expected: list[int]
) -> None:
    c = policy(TIERS % count)
    start = date(2025, 4, 1)
    hs = [
        hh(f"H{i}", sign_on=None if o is None else start + timedelta(days=o)) for i, o in enumerate(offsets)
    ]
    assert [a["r"] // 100 for a in amounts(c, hs)] == expected
    # the clock is overridden for a sub-area: the same sign date is 10 days earlier in its count
    west = hh("W", block="三地块", chain=("西片区",), sign_on=start + timedelta(days=39))
    assert amounts(c, [west])[0]["r"] == 30000


def test_per_m2_with_floor_and_cap_per_certificate_and_per_household() -> None:
    c = policy("""items:
  - id: per_cert
    per: certificate
    formula: building.legal_area * 100元/㎡
    floor: 2000元
    cap: 5000元
    household_cap: 6000元
  - id: per_household
    formula: sum(buildings, building.legal_area) * 100元/㎡
    floor: 3000元
  - id: share
    formula: per_household * 8%
    floor: 500元
    cap: 600元
""")
    h1 = hh(
        "A", buildings=(b("1", "10.00"), b("2", "60.00"))
    )  # 1000→2000 floor; 6000→5000 cap; sum 7000→6000
    h2 = hh("B", buildings=(b("3", "25.00"),))  # 2500; household 2500→3000 floor; share 240→500
    h3 = hh("C", buildings=(b("4", "45.00"), b("5", "45.00")))  # 4500+4500=9000→6000; 9000; 720→600
    res = amounts(c, [h1, h2, h3])
    assert res == [
        {"per_cert": 600000, "per_household": 700000, "share": 56000},
        {"per_cert": 250000, "per_household": 300000, "share": 50000},
        {"per_cert": 600000, "per_household": 900000, "share": 60000},
    ]


def test_collective_reward_threshold_and_whole_points() -> None:
    c = policy("""clocks: {deadline: 2025-05-31}
items:
  - id: coll
    formula: >-
      if sign_rate('片区', deadline) >= 80% then 1000元 + 100元 * points_above(sign_rate('片区', deadline), 80%)
      else 0元
""")
    d = date(2025, 5, 1)

    def project(signed: int, total: int) -> list[Household]:
        return [hh(f"H{i}", sign_on=d if i < signed else None) for i in range(total)]

    assert amounts(c, project(7, 9))[0]["coll"] == 0  # 77.77%
    assert amounts(c, project(4, 5))[0]["coll"] == 100000  # exactly 80%: threshold reached, 0 further points
    assert amounts(c, project(5, 6))[0]["coll"] == 130000  # 83.33%: 3 whole points
    assert amounts(c, project(3, 3))[0]["coll"] == 300000  # 100%: 20 points
    late = [hh("L", sign_on=date(2025, 6, 1)), hh("E", sign_on=d)]  # signed after the deadline: 50%
    assert amounts(c, late)[0]["coll"] == 0


def test_collective_reward_needs_group_facts_in_scalar() -> None:
    from anju.policy.scalar import evaluate

    c = policy("clocks: {d: 2025-05-31}\nitems:\n  - {id: x, formula: \"sign_rate('block', d) * 100元\"}\n")
    with pytest.raises(EvaluationError):
        evaluate(c, hh(), "cash")


HOMESTEAD = """parameters:
  control: {unit: ㎡, value: 266.67}
  ratio: {unit: "%", value: 50}
  per_capita: {unit: ㎡/人, by: 人, bands: [{upto: 2, value: 50}, {after: 2, upto: 3, value: 45}, {after: 3, value: 40}]}
derived:
  persons: count(members)
  entitled: persons * per_capita(persons) + 10㎡
items:
  - id: land
    formula: min(homestead.area, control) * 800元/㎡ + max(homestead.area - control, 0㎡) * 800元/㎡ * ratio
  - id: house
    formula: max(sum(buildings, building.legal_area), 45㎡) * 1000元/㎡
  - id: area_money
    formula: entitled * 1元/㎡
"""


def test_homestead_control_area_excess_household_tiers_and_minimum_area() -> None:
    c = policy(HOMESTEAD)
    people = [Member(f"m{i}") for i in range(5)]
    hs = [
        hh(
            "A",
            homestead=Homestead(Decimal("300.00")),
            members=tuple(people[:1]),
            buildings=(b("1", "30.00"),),
        ),
        hh(
            "B",
            homestead=Homestead(Decimal("200.00")),
            members=tuple(people[:3]),
            buildings=(b("2", "90.00"),),
        ),
        hh("C", members=tuple(people[:5])),
    ]
    res = amounts(c, hs)
    # A: 266.67×800 = 213336 + 33.33×800×50% = 13332 → 226668; house max(30,45)=45 → 45000; 1×50+10 = 60
    assert res[0] == {"land": 22666800, "house": 4500000, "area_money": 6000}
    # B: 200×800 = 160000; 90×1000; 3 persons × 45 + 10 = 145
    assert res[1] == {"land": 16000000, "house": 9000000, "area_money": 14500}
    # C: no homestead → 0; no building → minimum 45 ㎡; 5×40+10 = 210
    assert res[2] == {"land": 0, "house": 4500000, "area_money": 21000}


def test_transition_per_person_per_month_doubled_when_flat_late() -> None:
    c = policy("""parameters:
  rate: {unit: 元/人/月, value: 400}
items:
  - {id: t, formula: "count(members) * rate * 18月 * (if flag('安置房逾期') then 2 else 1)"}
""")
    ms = (Member("a"), Member("b"))
    res = amounts(c, [hh("A", members=ms), hh("B", members=ms, flags=frozenset({"安置房逾期"}))])
    assert [r["t"] for r in res] == [1440000, 2880000]


@pytest.mark.parametrize(
    ("mode", "unit", "expected"),
    [
        ("half_up", "fen", [13, -13, 12]),
        ("half_down", "fen", [12, -12, 12]),
        ("half_even", "fen", [12, -12, 12]),
        ("down", "fen", [12, -12, 12]),
        ("up", "fen", [13, -13, 13]),
        ("half_up", "yuan", [0, 0, 0]),
    ],
)
def test_rounding_mode_and_unit_per_plan(mode: str, unit: str, expected: list[int]) -> None:
    c = policy(f"""parameters:
  x: {{unit: 元, value: 0, overrides: {{A: 0.125, B: -0.125, C: 0.1201}}}}
items:
  - {{id: v, formula: x, rounding: {{mode: {mode}, unit: {unit}}}}}
""")
    res = amounts(
        c, [hh("a", block="A", chain=()), hh("b", block="B", chain=()), hh("c", block="C", chain=())]
    )
    assert [r["v"] for r in res] == expected


def test_dated_parameter_values() -> None:
    c = policy("""parameters:
  r: {unit: 元, dated: [{from: 2025-01-01, value: 10}, {from: 2025-07-01, value: 12}]}
items:
  - {id: v, formula: r}
""")
    assert amounts(c, [hh()], as_of=date(2025, 6, 30))[0]["v"] == 1000
    assert amounts(c, [hh()], as_of=date(2025, 7, 1))[0]["v"] == 1200
    with pytest.raises(EvaluationError):
        amounts(c, [hh()], as_of=date(2024, 12, 31))


SWAP = """parameters:
  cost: {unit: 元/㎡, value: 3000}
items:
  - {id: value, per: certificate, formula: building.legal_area * 8000元/㎡}
  - {id: bonus, options: [cash], formula: value * 10%}
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


def test_swap_settlement_tiers_and_limits() -> None:
    c = policy(SWAP)
    h = hh(buildings=(b("1", "40.00"),))  # value 320000; entitled 50 ㎡
    s = settle_swap(c, h, [Flat("F1", Decimal("75.00"), "两室")])
    # 50×3000 = 150000; 15×5000 = 75000; 10×9000 = 90000 → 315000; 315000 − 320000 = −5000 (refund)
    assert [x.amount_fen for x in s.lines] == [15000000, 7500000, 9000000]
    assert (s.flats_cost_fen, s.credit_fen, s.balance_fen, s.household_pays) == (
        31500000,
        32000000,
        -500000,
        False,
    )
    small = settle_swap(c, h, [Flat("F2", Decimal("45.00"), "一室")])
    # 45×3000 = 135000; 5 ㎡ not taken refunded at 6000 = 30000; 135000 − 320000 − 30000
    assert (small.refund_fen, small.balance_fen) == (3000000, -21500000)
    with pytest.raises(EvaluationError) as e:
        settle_swap(c, h, [Flat("F3", Decimal("80.01"), "两室")])  # 30.01 ㎡ over the entitled area
    assert e.value.code == "flat-area"
    with pytest.raises(EvaluationError) as e:
        settle_swap(c, h, [Flat("F4", Decimal("60.00"), "三室")])
    assert e.value.code == "flat-type"


def test_cash_and_swap_options_side_by_side() -> None:
    c = policy(SWAP)
    cmp = compare_options(c, hh(buildings=(b("1", "40.00"),)), flats=[Flat("F", Decimal("50.00"), "两室")])
    assert cmp.totals() == {"cash": 35200000, "swap": 32000000}
    assert cmp.settlement is not None and cmp.settlement.balance_fen == 15000000 - 32000000
    assert [i.id for i in cmp.results["swap"].items] == ["value"]


def test_trace_records_tier_floor_and_rounding() -> None:
    from anju.policy.scalar import evaluate

    c = policy(TIERS % "clock_day_is_day_1" + "  - {id: f, formula: r * 1.0005, floor: 1元}\n")
    res = evaluate(c, hh(sign_on=date(2025, 5, 5)), "cash", group=GroupFacts())
    r, f = res.items
    assert any("第 35 日" in s.note and "超过第30日" in s.note for s in r.steps)
    assert any(n.startswith("舍入") for n in f.notes)
    assert f.amount_fen == 15008  # 150 × 1.0005 = 150.075 → half-up → 150.08
