"""Group measures (#12 item 3): sign and vacate rates counted by household, certificate (证) or
legal area, per block level or project, as of a date; office-set measures declared by the policy
and read as of a date. Scalar, numpy bulk and the numba kernel must agree to the fen."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from policy_helpers import amounts, policy

from anju.policy import jit
from anju.policy.bulk import BulkEvaluator, HouseholdTable, evaluate_bulk
from anju.policy.check import load_policy
from anju.policy.errors import EvaluationError, PolicyError
from anju.policy.facts import (
    BlockGroup,
    Building,
    GroupFacts,
    Household,
    MeasureValue,
    group_from_dict,
    group_to_dict,
)
from anju.policy.measures import value_problem
from anju.policy.scalar import evaluate
from anju.policy.table import GroupIndex

D = date(2025, 5, 31)


def _b(cert: str, area: str) -> Building:
    return Building(cert, legal_area=Decimal(area))


def _three() -> list[Household]:
    """Block D1: H1 (2 certificates, 120 ㎡) signed 05-01, H2 (1, 50 ㎡) signed 06-01;
    block D2: H3 (1, 50 ㎡) not signed, H4 (no certificate, 0 ㎡) signed 05-31."""
    return [
        Household(
            "H1",
            "D1",
            ("P1",),
            sign_on=date(2025, 5, 1),
            vacate_on=date(2025, 5, 20),
            buildings=(_b("C1", "100"), _b("C2", "20")),
        ),
        Household("H2", "D1", ("P1",), sign_on=date(2025, 6, 1), buildings=(_b("C3", "50"),)),
        Household("H3", "D2", ("P1",), buildings=(_b("C4", "50"),)),
        Household("H4", "D2", ("P1",), sign_on=D, buildings=(_b("", "0"),)),
    ]


# ----------------------------------------------------------------------------- facts


def test_rates_by_each_basis_truncate_and_count_the_day_itself() -> None:
    g = GroupFacts.from_households(_three())
    # households: D1 1/2, D2 1/2 (H4 signs on the day: counted), project 2/4
    assert g.rate_ppm("D1", D, "sign") == 500_000
    assert g.rate_ppm("D2", D, "sign") == 500_000
    assert g.rate_ppm("D2", D - timedelta(days=1), "sign") == 0
    # certificates: D1 2/3 truncated (never rounded up), D2 0/1, P1 2/4
    assert g.rate_ppm("D1", D, "sign", "certificate") == 666_666
    assert g.rate_ppm("D2", D, "sign", "certificate") == 0
    assert g.rate_ppm("P1", D, "sign", "certificate") == 500_000
    # area: D1 120/170 = 0.70588235... -> 705882
    assert g.rate_ppm("D1", D, "sign", "area") == 705_882
    assert g.rate_ppm(None, D, "sign", "area") == 120 * 1_000_000 // 220
    assert g.rate_ppm("D1", date(2025, 6, 1), "sign", "area") == 1_000_000
    # vacate by area
    assert g.rate_ppm("D1", D, "vacate", "area") == 705_882
    assert g.rate_ppm("D1", date(2025, 5, 19), "vacate", "area") == 0


def test_vectorised_index_equals_group_facts() -> None:
    g = GroupFacts.from_households(_three())
    gi = GroupIndex(g)
    for scope in (None, "P1", "D1", "D2"):
        for basis in ("household", "certificate", "area"):
            for event in ("sign", "vacate"):
                for day in (date(2025, 4, 30), date(2025, 5, 1), D, date(2025, 6, 1)):
                    assert gi.rate_ppm(scope, day.toordinal(), event, basis) == g.rate_ppm(
                        scope, day, event, basis
                    )


def test_table_group_facts_carry_the_same_weights() -> None:
    hs = _three()
    assert HouseholdTable.from_households(hs).group_facts().blocks == GroupFacts.from_households(hs).blocks


def test_group_round_trip_keeps_weights_and_measures() -> None:
    g = GroupFacts.from_households(_three()).with_measures(
        {"整片腾空率": {"P1": (MeasureValue(date(2025, 6, 1), Decimal("91.5")),), "": ()}}
    )
    again = group_from_dict(group_to_dict(g))
    assert again.blocks == g.blocks
    assert again.measures == g.measures
    assert again.rate_ppm("D1", D, "sign", "area") == 705_882


def test_unweighted_group_facts_refuse_other_bases() -> None:
    legacy = group_from_dict({"blocks": {"D1": {"total_households": 2, "sign_dates": ["2025-05-01"]}}})
    assert legacy.rate_ppm("D1", D, "sign") == 500_000
    with pytest.raises(EvaluationError, match="证数和面积"):
        legacy.rate_ppm("D1", D, "sign", "area")
    with pytest.raises(EvaluationError, match="证数和面积"):
        GroupIndex(legacy).rate_ppm("D1", D.toordinal(), "sign", "certificate")


def test_measure_value_in_force_on_a_date() -> None:
    g = GroupFacts().with_measures(
        {
            "m": {
                "P1": (
                    MeasureValue(date(2025, 5, 1), Decimal("80")),
                    MeasureValue(date(2025, 6, 1), Decimal("95")),
                )
            }
        }
    )
    assert g.measure_value("m", "P1", date(2025, 4, 30)) is None
    assert g.measure_value("m", "P1", date(2025, 5, 1)) == Decimal("80")
    assert g.measure_value("m", "P1", date(2025, 5, 31)) == Decimal("80")
    assert g.measure_value("m", "P1", date(2025, 6, 1)) == Decimal("95")
    assert g.measure_value("m", "P2", date(2025, 6, 1)) is None
    assert g.measure_value("other", "P1", date(2025, 6, 1)) is None


# ----------------------------------------------------------------------------- language

MEASURES = """
measures:
  整片腾空率:
    label: 整片腾空率
    unit: "%"
    set_by: office
    levels: [片区, project]
    ref: 第十二条
"""

BASES_POLICY = (
    MEASURES
    + """
items:
  - id: area_reward
    label: 按面积签约奖励
    options: [cash]
    formula: "if sign_rate('地块', date('2025-05-31'), basis='area') >= 70% then 1000元 else 0元"
  - id: cert_reward
    label: 按证签约奖励
    options: [cash]
    formula: "sign_rate('片区', date('2025-05-31'), basis='证') * 10000元"
  - id: household_reward
    label: 按户签约奖励
    options: [cash]
    formula: "sign_rate('project', date('2025-05-31')) * 10000元"
  - id: whole
    label: 整片腾空奖励
    options: [cash]
    formula: "if measure('整片腾空率', '片区', date('2025-06-30')) >= 90% then 2000元 else 0元"
"""
)


def _with_measure(hs: list[Household], value: str = "91.5", on: date = date(2025, 6, 1)) -> GroupFacts:
    return GroupFacts.from_households(hs).with_measures(
        {"整片腾空率": {"P1": (MeasureValue(on, Decimal(value)),)}}
    )


def test_bases_and_measure_in_formulas() -> None:
    c = policy(BASES_POLICY)
    hs = _three()
    got = amounts(c, hs, group=_with_measure(hs))
    # D1 by area 70.5882% >= 70%; D2 0%. P1 by certificate 2/4. Project by household 2/4.
    assert [a["area_reward"] for a in got] == [100_000, 100_000, 0, 0]
    assert {a["cert_reward"] for a in got} == {500_000}
    assert {a["household_reward"] for a in got} == {500_000}
    assert {a["whole"] for a in got} == {200_000}
    assert [a["whole"] for a in amounts(c, hs, group=_with_measure(hs, "89.9999"))] == [0, 0, 0, 0]


def test_kernel_agrees_with_the_scalar_evaluator() -> None:
    c = policy(BASES_POLICY)
    hs = _three()
    g = _with_measure(hs)
    table = HouseholdTable.from_households(hs)
    assert not isinstance(jit.prepare(c, table, "cash", None, g), str)
    res = evaluate_bulk(c, table, "cash", None, g, jit=True)
    for i, h in enumerate(hs):
        assert res.row(i) == evaluate(c, h, "cash", None, g).amounts()


def test_missing_measure_names_it_per_household_and_in_bulk() -> None:
    c = policy(BASES_POLICY)
    hs = _three()
    early = _with_measure(hs, on=date(2025, 7, 1))  # recorded, but effective after the date asked
    for g in (GroupFacts.from_households(hs), early):
        with pytest.raises(EvaluationError) as exc:
            evaluate(c, hs[0], "cash", None, g)
        assert "整片腾空率" in exc.value.message_zh and "H1" in exc.value.message_zh
        assert exc.value.code == "measure"
        with pytest.raises(EvaluationError, match="整片腾空率"):
            BulkEvaluator(c, HouseholdTable.from_households(hs), None, g).evaluate("cash")
        # the kernel leaves it to the numpy evaluator, which names the measure
        with pytest.raises(EvaluationError, match="整片腾空率"):
            evaluate_bulk(c, HouseholdTable.from_households(hs), "cash", None, g, jit=True)


def test_trace_and_words_say_basis_and_who_set_the_measure() -> None:
    c = policy(BASES_POLICY)
    hs = _three()
    r = evaluate(c, hs[0], "cash", None, _with_measure(hs))
    by = {it.id: it for it in r.items}
    assert by["area_reward"].basis == [
        "本地块截至2025年5月31日的签约率（按合法面积计） 70.5882% 不低于 70%，计 1,000.00 元"
    ]
    assert by["cert_reward"].basis[0].startswith("本片区截至2025年5月31日的签约率（按证数计） 50%")
    assert by["household_reward"].basis[0].startswith("全项目截至2025年5月31日的签约率 50%")
    assert by["whole"].basis == [
        "本片区截至2025年6月30日的整片腾空率（办公室认定） 91.5% 不低于 90%，计 2,000.00 元"
    ]
    notes = [s.note for s in by["whole"].steps]
    assert "片区 P1 截至 2025-06-30 的整片腾空率（办公室录入）= 91.5%" in notes
    assert any("按合法面积" in s.note for s in by["area_reward"].steps)


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ("formula: \"sign_rate('地块', date('2025-05-31'), basis='rooms') * 1元\"", "basis"),
        ("formula: \"sign_rate('地块', date('2025-05-31'), weight='area') * 1元\"", "用法"),
        ("formula: \"measure('没有', '片区', date('2025-05-31')) * 1元\"", "未定义的指标"),
        ("formula: \"measure('整片腾空率', '地块', date('2025-05-31')) * 1元\"", "只在这些层级录入"),
        ("formula: \"measure('整片腾空率', '片区') * 1元\"", "用法"),
        ("formula: \"measure('整片腾空率', '片区', 3) * 1元\"", "截止日期"),
        ("formula: \"measure('整片腾空率', '片区', date('2025-05-31')) + 1元\"", ""),
    ],
)
def test_checker_messages(body: str, needle: str) -> None:
    text = MEASURES + f"items:\n  - id: x\n    label: x\n    options: [cash]\n    {body}\n"
    with pytest.raises(PolicyError) as exc:
        policy(text)
    p = exc.value.problems[0]
    assert needle in p.message_zh
    assert p.location.line > 0


@pytest.mark.parametrize(
    ("spec", "needle"),
    [
        ("{set_by: computed}", "set_by"),
        ("{levels: [街道]}", "层级“街道”"),
        ("{unit: 'furlong'}", "单位"),
        ("{colour: red}", "不认识的字段"),
        ("[1, 2]", "映射"),
    ],
)
def test_measures_block_problems(spec: str, needle: str) -> None:
    text = f"measures:\n  m: {spec}\nitems: []\n"
    with pytest.raises(PolicyError) as exc:
        policy(text)
    assert any(needle in p.message_zh for p in exc.value.problems), [p.message_zh for p in exc.value.problems]


def test_measure_defaults_and_value_problems() -> None:
    c = policy("measures:\n  m: {label: 指标}\nitems: []\n")
    m = c.policy.measures["m"]
    assert (m.levels, m.percent, m.set_by, m.scale) == (("project",), True, "office", 6)
    assert value_problem(m, Decimal("85.1234")) is None
    assert value_problem(m, Decimal("85.12345")) == "最多 4 位小数"
    assert value_problem(m, Decimal("100.01")) == "百分比不能超过 100"
    assert value_problem(m, Decimal("-1")) == "不能为负数"


# ----------------------------------------------------------------------------- property: bulk == scalar

BLOCKS = [("P1", "V1", "G1"), ("P1", "V1", "G2"), ("P1", "V2", "G3"), ("P2", "V3", "G4")]
START = date(2025, 3, 1)


@st.composite
def households(draw: Any) -> list[Household]:
    n = draw(st.integers(1, 12))
    out = []
    for i in range(n):
        path = draw(st.sampled_from(BLOCKS))
        nb = draw(st.integers(0, 3))
        blds = tuple(
            Building(
                draw(st.sampled_from(["", f"C{i}-{k}", f"C{i}-0"])),
                legal_area=Decimal(draw(st.integers(0, 30000))).scaleb(-2),
            )
            for k in range(nb)
        )
        sign = draw(st.one_of(st.none(), st.integers(0, 120).map(lambda d: START + timedelta(days=d))))
        vac = draw(st.one_of(st.none(), st.integers(0, 120).map(lambda d: START + timedelta(days=d))))
        out.append(Household(f"H{i}", path[-1], path[:-1], sign_on=sign, vacate_on=vac, buildings=blds))
    return out


@st.composite
def rate_policies(draw: Any) -> str:
    lines = []
    for k in range(draw(st.integers(1, 4))):
        f = draw(st.sampled_from(["sign_rate", "vacate_rate"]))
        scope = draw(st.sampled_from(["project", "block", "片区", "村"]))
        basis = draw(
            st.sampled_from(
                [
                    "",
                    ", basis='household'",
                    ", basis='certificate'",
                    ", basis='area'",
                    ", basis='证'",
                    ", basis='面积'",
                ]
            )
        )
        when = draw(st.sampled_from(["deadline", "date('2025-04-15')", "date('2025-06-30')"]))
        step = draw(st.integers(1, 99999))
        pct = draw(st.integers(0, 100))
        shape = draw(st.sampled_from(["linear", "threshold", "points", "measure"]))
        rate = f"{f}('{scope}', {when}{basis})"
        if shape == "linear":
            formula = f"{rate} * {step}元"
        elif shape == "threshold":
            formula = f"if {rate} >= {pct}% then {step}元 else 0元"
        elif shape == "points":
            formula = f"points_above({rate}, {pct}%) * {step}元"
        else:
            lvl = draw(st.sampled_from(["片区", "project"]))
            formula = f"if measure('office', '{lvl}', {when}) >= {rate} then {step}元 else 1元"
        lines.append(f'  - id: i{k}\n    label: 项{k}\n    options: [cash]\n    formula: "{formula}"\n')
    return (
        "policy:\n  name: r\n  effective_on: 2025-03-01\n  rounding: {mode: half_up, unit: fen}\n"
        "  block_levels: [片区, 村, 组]\n"
        "clocks:\n  deadline: {date: '2025-05-01', overrides: {V2: '2025-05-20'}}\n"
        "measures:\n  office: {label: 办公室指标, unit: '%', set_by: office, levels: [片区, project]}\n"
        "items:\n" + "".join(lines)
    )


@st.composite
def office_values(draw: Any) -> dict[str, dict[str, tuple[MeasureValue, ...]]]:
    per: dict[str, tuple[MeasureValue, ...]] = {}
    for scope in ("", "P1", "P2"):
        vals = sorted(
            {
                START - timedelta(days=draw(st.integers(0, 30))): Decimal(
                    draw(st.integers(0, 1_000_000))
                ).scaleb(-4)
                for _ in range(draw(st.integers(1, 3)))
            }.items()
        )
        per[scope] = tuple(MeasureValue(d, v) for d, v in vals)
    return {"office": per}


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
@given(text=rate_policies(), hs=households(), values=office_values())
def test_property_bulk_and_kernel_equal_scalar_with_bases(
    text: str, hs: list[Household], values: dict[str, dict[str, tuple[MeasureValue, ...]]]
) -> None:
    c = load_policy(text, "r.yaml")
    g = GroupFacts.from_households(hs).with_measures(values)
    table = HouseholdTable.from_households(hs)
    scalar = [evaluate(c, h, "cash", None, g, trace=False).amounts() for h in hs]
    bulk = BulkEvaluator(c, table, None, g).evaluate("cash")
    assert [bulk.row(i) for i in range(len(hs))] == scalar
    kernel = evaluate_bulk(c, table, "cash", None, g, jit=True)
    assert [kernel.row(i) for i in range(len(hs))] == scalar


def test_block_group_defaults_stay_household_only() -> None:
    b = BlockGroup(2, (D,), ())
    assert not b.weighted
    assert b.total("household") == 2


def test_cases_file_carries_office_values(tmp_path: Any) -> None:
    from anju.policy.cases import run_cases

    (tmp_path / "p.yaml").write_text(
        "policy:\n  name: p\n  effective_on: 2025-04-01\n  rounding: {mode: half_up, unit: fen}\n"
        "  block_levels: [片区, 地块]\n" + BASES_POLICY,
        encoding="utf-8",
    )
    case = (
        "  - name: 东片区一户\n    option: cash\n"
        "    household: {code: H1, block_code: D1, block_chain: [P1], sign_on: 2025-05-01,"
        " buildings: [{certificate_no: C1, legal_area: '100'}]}\n"
        "    expect: {whole: 2000.00, area_reward: 1000.00}\n"
    )
    (tmp_path / "p.cases.yaml").write_text(
        "policy: p.yaml\nmeasures:\n  整片腾空率:\n    P1: [{effective_on: 2025-06-01, value: '91.5'}]\ncases:\n"
        + case,
        encoding="utf-8",
    )
    report = run_cases(tmp_path / "p.cases.yaml")
    assert [o.mismatches for o in report.outcomes] == [[]]


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hs=households())
def test_property_table_group_facts_equal_household_group_facts(hs: list[Household]) -> None:
    assert HouseholdTable.from_households(hs).group_facts().blocks == GroupFacts.from_households(hs).blocks


def test_version_diff_lists_measure_changes() -> None:
    from anju.policy.versioning import diff

    a = policy(MEASURES + "items: []\n").policy
    b = policy(MEASURES.replace("levels: [片区, project]", "levels: [片区]") + "items: []\n").policy
    changes = diff(a, b)
    assert [(c.kind, c.name) for c in changes] == [("measure", "整片腾空率")]
