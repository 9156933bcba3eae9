"""Property tests: the numpy bulk evaluator and the fused numba kernel equal the scalar Decimal
evaluator to the fen, on random policies written in the language and random households."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from anju.policy import jit
from anju.policy.bulk import BulkEvaluator, HouseholdTable, evaluate_bulk
from anju.policy.check import load_policy
from anju.policy.facts import Building, GroupFacts, Homestead, Household, Member, Tenant
from anju.policy.scalar import evaluate

CLOCK = date(2025, 3, 1)
BLOCKS = [("P1", "V1", "G1"), ("P1", "V1", "G2"), ("P1", "V2", "G3"), ("P2", "V3", "G4")]
MODES = ["half_up", "half_down", "half_even", "down", "up"]
UNITS = ["fen", "jiao", "yuan"]


def dec(draw: Any, lo: int, hi: int, places: int) -> str:
    """A decimal literal text with up to ``places`` decimals."""
    p = draw(st.integers(0, places))
    v = draw(st.integers(lo * 10**p, hi * 10**p))
    return str(Decimal(v).scaleb(-p))


@st.composite
def expressions(draw: Any, kind: str, ctx: str, depth: int, items: list[str]) -> str:
    """A random well-typed formula of ``kind`` (money, area, rate, ratio, count, bool) in ``ctx``."""
    leaf = depth <= 0
    if kind == "bool":
        choices = ["cmp_area", "known", "flag", "date", "sign"]
        if ctx == "building":
            choices += ["structure", "use"]
        if not leaf:
            choices += ["and", "or", "not"]
        c = draw(st.sampled_from(choices))
        if c == "cmp_area":
            op = draw(st.sampled_from(["<", "<=", ">", ">=", "==", "!="]))
            return f"{draw(expressions('area', ctx, depth - 1, items))} {op} {dec(draw, 0, 200, 2)}㎡"
        if c == "known":
            return draw(st.sampled_from(["known(household.sign_on)", "known(household.vacate_on)"]))
        if c == "flag":
            return "flag('临街')"
        if c == "date":
            op = draw(st.sampled_from(["<", "<=", ">", ">=", "=="]))
            return f"household.sign_on {op} {draw(st.sampled_from(['sign_start', 'deadline']))}"
        if c == "sign":
            scope = draw(st.sampled_from(["'block'", "'project'", "'村'", "'片区'"]))
            return f"sign_rate({scope}, deadline) >= {draw(st.integers(0, 100))}%"
        if c == "structure":
            return f"building.structure == '{draw(st.sampled_from(['砖混', '砖木', '简易', '钢混']))}'"
        if c == "use":
            return f"building.use != '{draw(st.sampled_from(['住宅', '非住宅', '营业']))}'"
        if c == "not":
            return f"not ({draw(expressions('bool', ctx, depth - 1, items))})"
        a = draw(expressions("bool", ctx, depth - 1, items))
        b = draw(expressions("bool", ctx, depth - 1, items))
        return f"({a}) {c} ({b})"
    if kind == "area":
        choices = ["lit", "hh_sum", "homestead"]
        if ctx == "building":
            choices += ["legal", "unreg", "legal"]
        if not leaf:
            choices += ["minmax", "add", "round"]
        c = draw(st.sampled_from(choices))
        if c == "lit":
            return dec(draw, 0, 300, 2) + "㎡"
        if c == "hh_sum":
            return "sum(buildings, building.legal_area)"
        if c == "homestead":
            return "homestead.area"
        if c == "legal":
            return "building.legal_area"
        if c == "unreg":
            return "building.unregistered_area"
        if c == "round":
            return f"round({draw(expressions('area', ctx, depth - 1, items))}, {draw(st.integers(0, 3))})"
        a = draw(expressions("area", ctx, depth - 1, items))
        b = draw(expressions("area", ctx, depth - 1, items))
        if c == "add":
            return f"({a} {draw(st.sampled_from(['+', '-']))} {b})"
        return f"{draw(st.sampled_from(['min', 'max']))}({a}, {b})"
    if kind == "rate":  # 元/㎡
        choices = ["lit", "param", "tier", "table2", "bands_x"]
        if ctx == "building":
            choices += ["table", "table", "assessed"]
        c = draw(st.sampled_from(choices))
        if c == "lit":
            return dec(draw, 0, 20000, 2) + "元/㎡"
        if c == "param":
            return "rate_a"
        if c == "tier":
            return "sign_tier"
        if c == "table":
            return "house_rate[building.structure, zone]"
        if c == "table2":
            return "zone_rate[zone]"
        if c == "assessed":
            return "building.assessed_unit_price"
        return "rate_a * per_capita_ratio(count(members))"
    if kind == "ratio":
        c = draw(st.sampled_from(["lit", "param", "rate"]))
        if c == "lit":
            return f"{draw(st.integers(0, 200))}%"
        if c == "param":
            return "share"
        return "sign_rate('block', deadline)"
    # money
    choices = ["area_rate", "persons", "lit"]
    if ctx == "hh":
        choices += ["sum_b", "sum_b", "collective"]
        if items:
            choices += ["item", "item"]
    if ctx == "building":
        choices += ["assessed"]
    if not leaf:
        choices += ["if", "minmax", "add", "clamp", "scale", "div", "floor", "round", "neg"]
    c = draw(st.sampled_from(choices))
    d = depth - 1
    if c == "area_rate":
        return f"{draw(expressions('area', ctx, d, items))} * {draw(expressions('rate', ctx, d, items))}"
    if c == "persons":
        where = draw(
            st.sampled_from(
                [
                    "",
                    ", where=member.dibao",
                    ", where=member.disabled and member.disability_grade <= 2",
                    ", where=not member.resettlement_counted",
                ]
            )
        )
        return f"count(members{where}) * per_person"
    if c == "lit":
        return dec(draw, 0, 100000, 2) + "元"
    if c == "sum_b":
        inner = draw(expressions("money", "building", d, []))
        where = draw(
            st.one_of(st.just(""), expressions("bool", "building", 1, []).map(lambda s: f", where={s}"))
        )
        return f"sum(buildings, {inner}{where})"
    if c == "collective":
        return "points_above(sign_rate('block', deadline), 80%) * step"
    if c == "item":
        return f"{draw(st.sampled_from(items))} * {draw(expressions('ratio', ctx, d, items))}"
    if c == "assessed":
        return "building.assessed_value + building.decoration"
    if c == "if":
        return (
            f"(if {draw(expressions('bool', ctx, d, items))} then {draw(expressions('money', ctx, d, items))} "
            f"else {draw(expressions('money', ctx, d, items))})"
        )
    if c == "minmax":
        return f"{draw(st.sampled_from(['min', 'max']))}({draw(expressions('money', ctx, d, items))}, {draw(expressions('money', ctx, d, items))})"
    if c == "clamp":
        return f"clamp({draw(expressions('money', ctx, d, items))}, {dec(draw, 0, 5000, 2)}元, {dec(draw, 5000, 90000, 2)}元)"
    if c == "add":
        return f"({draw(expressions('money', ctx, d, items))} {draw(st.sampled_from(['+', '-']))} {draw(expressions('money', ctx, d, items))})"
    if c == "scale":
        return f"{draw(expressions('money', ctx, d, items))} * {draw(expressions('ratio', ctx, d, items))}"
    if c == "div":
        return f"{draw(expressions('money', ctx, d, items))} / {draw(st.sampled_from(['2', '4', '8', '1.25', '40', '3.2']))}"
    if c == "floor":
        return f"floor({draw(expressions('money', ctx, d, items))})"
    if c == "round":
        return f"round({draw(expressions('money', ctx, d, items))}, {draw(st.integers(0, 4))})"
    return f"-({draw(expressions('money', ctx, d, items))})"


@st.composite
def policies(draw: Any) -> str:
    """A random policy document (YAML text)."""
    big = draw(st.booleans())
    hi = 10**9 if big else 20000
    doc: dict[str, Any] = {
        "policy": {
            "name": "random",
            "effective_on": "2025-03-01",
            "rounding": {"mode": draw(st.sampled_from(MODES)), "unit": draw(st.sampled_from(UNITS))},
            "block_levels": ["片区", "村", "组"],
        },
        "parameters": {
            "rate_a": {
                "unit": "元/㎡",
                "dated": [
                    {"from": "2024-01-01", "value": Decimal(dec(draw, 0, hi, 4))},
                    {"from": "2025-03-01", "value": Decimal(dec(draw, 0, hi, 4))},
                    {"from": "2026-01-01", "value": Decimal(dec(draw, 0, hi, 4))},
                ],
                "overrides": {"V2": {"value": Decimal(dec(draw, 0, hi, 3))}},
            },
            "share": {"unit": "%", "value": Decimal(dec(draw, 0, 150, 3))},
            "per_person": {"unit": "元/人", "value": Decimal(dec(draw, 0, 50000, 2))},
            "step": {"unit": "元", "value": Decimal(dec(draw, 0, 5000, 2))},
            "zone": {"value": "B", "overrides": {"P2": "A", "G2": "C"}},
            "house_rate": {
                "unit": "元/㎡",
                "keys": ["结构", "区位"],
                "table": {
                    s: {z: Decimal(dec(draw, 0, hi, 2)) for z in "ABC"}
                    for s in ["砖混", "砖木", "简易", "钢混"]
                },
                "overrides": {"V1": {"table": {"砖混": {"A": Decimal(dec(draw, 0, hi, 1))}}}},
            },
            "zone_rate": {
                "unit": "元/㎡",
                "keys": ["区位"],
                "table": {"A": Decimal(dec(draw, 0, 900, 2))},
                "default": Decimal(dec(draw, 0, 900, 2)),
            },
            "per_capita_ratio": {
                "by": "人",
                "bands": [
                    {"upto": 2, "value": Decimal(dec(draw, 0, 2, 2))},
                    {"after": 2, "upto": 4, "value": Decimal(dec(draw, 0, 2, 2))},
                ],
                "default": Decimal(dec(draw, 0, 2, 2)),
            },
        },
        "clocks": {
            "sign_start": {"date": "2025-03-01", "overrides": {"G3": "2025-03-10"}},
            "deadline": "2025-04-30",
        },
        "tiers": {
            "sign_tier": {
                "event": "sign_on",
                "clock": "sign_start",
                "unit": "元/㎡",
                "count": draw(st.sampled_from(["clock_day_is_day_1", "next_day_is_day_1"])),
                "windows": [
                    {"upto": 30, "value": Decimal(dec(draw, 0, 500, 2))},
                    {"after": 30, "upto": 45, "value": Decimal(dec(draw, 0, 500, 2))},
                ],
                "otherwise": Decimal(dec(draw, 0, 50, 2)),
            }
        },
        "items": [],
    }
    n_items = draw(st.integers(1, 5))
    hh_items: list[str] = []
    for i in range(n_items):
        per = draw(st.sampled_from(["household", "certificate"]))
        ctx = "building" if per == "certificate" else "hh"
        item: dict[str, Any] = {
            "id": f"item{i}",
            "per": per,
            "formula": draw(expressions("money", ctx, draw(st.integers(0, 3)), list(hh_items))),
        }
        if draw(st.booleans()):
            item["when"] = draw(expressions("bool", ctx, 1, []))
        if draw(st.booleans()):
            item["floor"] = dec(draw, 0, 3000, 3) + "元"
        if draw(st.booleans()):
            item["cap"] = dec(draw, 0, 900000, 1) + "元"
        if per == "certificate" and draw(st.booleans()):
            item["household_floor"] = dec(draw, 0, 9000, 2) + "元"
        if draw(st.booleans()):
            item["rounding"] = {"mode": draw(st.sampled_from(MODES)), "unit": draw(st.sampled_from(UNITS))}
        if draw(st.booleans()):
            item["options"] = ["cash"]
        else:
            hh_items.append(item["id"])
        doc["items"].append(item)

    def plain(x: Any) -> Any:
        if isinstance(x, Decimal):
            return str(x)  # written as text: the reader takes it back exactly
        if isinstance(x, dict):
            return {k: plain(v) for k, v in x.items()}
        if isinstance(x, list):
            return [plain(v) for v in x]
        return x

    return yaml.safe_dump(plain(doc), allow_unicode=True, sort_keys=False)


@st.composite
def households(draw: Any) -> list[Household]:
    """A random small project."""
    n = draw(st.integers(1, 12))
    out = []
    for i in range(n):
        path = draw(st.sampled_from(BLOCKS))
        sign = draw(st.one_of(st.none(), st.integers(-5, 70).map(lambda d: CLOCK + timedelta(days=d))))
        vac = draw(st.one_of(st.none(), st.integers(0, 90).map(lambda d: CLOCK + timedelta(days=d))))
        big = draw(st.integers(0, 9)) == 0
        amax = 10**8 if big else 30000
        members = tuple(
            Member(
                name=f"m{j}",
                dibao=draw(st.booleans()),
                disability_grade=draw(st.one_of(st.none(), st.integers(1, 4))),
                resettlement_counted=draw(st.booleans()),
            )
            for j in range(draw(st.integers(0, 5)))
        )
        buildings = tuple(
            Building(
                certificate_no=f"C{i}-{j}",
                structure=draw(st.sampled_from(["brick_concrete", "brick_wood", "simple", "steel_concrete"])),
                use=draw(st.sampled_from(["residential", "non_residential", "business"])),
                legal_area=Decimal(draw(st.integers(0, amax))).scaleb(-2),
                unregistered_area=Decimal(draw(st.integers(0, 5000))).scaleb(-2),
                assessed_unit_price_fen=draw(st.one_of(st.none(), st.integers(0, 3_000_000))),
                assessed_value_fen=draw(st.one_of(st.none(), st.integers(0, 10**9))),
                decoration_fen=draw(st.one_of(st.none(), st.integers(0, 10**7))),
            )
            for j in range(draw(st.integers(0, 3)))
        )
        homestead = draw(
            st.one_of(st.none(), st.integers(0, 60000).map(lambda a: Homestead(Decimal(a).scaleb(-2))))
        )
        out.append(
            Household(
                code=f"H{i}",
                block_code=path[-1],
                block_chain=path[:-1],
                sign_on=sign,
                vacate_on=vac,
                flags=frozenset({"临街"}) if draw(st.booleans()) else frozenset(),
                members=members,
                buildings=buildings,
                homestead=homestead,
                tenants=(Tenant("t", area=Decimal("10.00")),) if draw(st.booleans()) else (),
            )
        )
    return out


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
@given(policies(), households(), st.sampled_from([date(2025, 3, 1), date(2024, 6, 1), date(2026, 2, 1)]))
def test_bulk_equals_scalar_to_the_fen(text: str, hs: list[Household], as_of: date) -> None:
    checked = load_policy(text, "random.yaml")
    group = GroupFacts.from_households(hs)
    table = HouseholdTable.from_households(hs)
    for option in ("cash", "swap"):
        bulk = evaluate_bulk(checked, table, option, as_of, group)
        for i, h in enumerate(hs):
            scalar = evaluate(checked, h, option, as_of, group, trace=i % 2 == 0)
            assert bulk.row(i) == scalar.amounts(), (h.code, option)
            assert int(bulk.total[i]) == scalar.total_fen


# Every example compiles a kernel (about a second each, serial variant: the generated source is the
# same for the parallel one, only the loop over households differs), so fewer examples.
@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
@given(
    policies(),
    households(),
    st.sampled_from([date(2025, 3, 1), date(2024, 6, 1), date(2026, 2, 1)]),
    st.sampled_from(["cash", "swap"]),
)
def test_kernel_equals_numpy_and_scalar_to_the_fen(
    text: str, hs: list[Household], as_of: date, option: str
) -> None:
    if not jit.HAVE_NUMBA:
        return
    checked = load_policy(text, "random.yaml")
    group = GroupFacts.from_households(hs)
    table = HouseholdTable.from_households(hs)
    numpy_result = BulkEvaluator(checked, table, as_of, group).evaluate(option)
    every_other = [it.id for it in checked.items_for(option)][::2]
    prepared = jit.prepare(checked, table, option, as_of, group, sums={"every_other": every_other})
    if isinstance(prepared, str):
        # The only reason a random policy may not run as a kernel: values that could leave int64
        # (the numpy evaluator then computes with exact Python integers).
        assert prepared.startswith("int64 overflow risk"), prepared
        return
    kernel = jit.run(prepared, table, option, parallel=False)
    assert kernel is not None
    assert kernel.item_ids == numpy_result.item_ids
    for k in kernel.item_ids:
        assert kernel.fen[k].tolist() == numpy_result.fen[k].tolist(), k
        assert kernel.applies[k].tolist() == numpy_result.applies[k].tolist(), k
    # the total and a named sum of items, written by the kernel in the items' pass
    assert kernel.total.tolist() == numpy_result.total.tolist()
    assert kernel.sums["every_other"].tolist() == numpy_result.sum_of(every_other).tolist()
    for i, h in enumerate(hs):
        scalar = evaluate(checked, h, option, as_of, group, trace=False)
        assert kernel.row(i) == scalar.amounts(), (h.code, option)
        assert int(kernel.total[i]) == scalar.total_fen


@settings(max_examples=50, deadline=None)
@given(households())
def test_table_round_trip(hs: list[Household]) -> None:
    table = HouseholdTable.from_households(hs)
    assert [table.household(i) for i in range(len(hs))] == hs
