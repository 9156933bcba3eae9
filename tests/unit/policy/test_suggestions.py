""" "Did you mean" for unknown names in policies and on the command line (#12 item 7)."""

from __future__ import annotations

import pytest
from policy_helpers import HEAD

from anju.policy.check import load_policy
from anju.policy.errors import PolicyError, Problem
from anju.policy.suggest import close_matches, did_you_mean

BASE = """
clocks:
  sign_start: 2025-04-01
parameters:
  house_rate: {unit: 元/㎡, value: 1000}
  zone: {value: A}
  zone_rate: {unit: 元/㎡, keys: [区位], table: {A: 10, B: 20}}
  people_bands: {unit: 元, by: 人, bands: [{upto: 2, value: 100}]}
tiers:
  sign_tier: {event: sign_on, clock: sign_start, unit: 元/㎡, windows: [{upto: 30, value: 5}]}
derived:
  entitled_area: {formula: "sum(buildings, building.legal_area)"}
options: {cash: 货币补偿, swap: 产权调换}
items:
  - {id: house_value, formula: entitled_area * house_rate}
"""


def problems(extra: str, base: str = BASE) -> list[Problem]:
    with pytest.raises(PolicyError) as exc:
        load_policy(HEAD + base + extra, "t.yaml")
    return exc.value.problems


def only(extra: str, base: str = BASE) -> Problem:
    found = problems(extra, base)
    assert len(found) == 1, found
    return found[0]


def test_close_matches_nearest_first_and_nothing_for_strangers() -> None:
    assert close_matches("house_rte", ["relocation_rate", "house_rate", "x"]) == ["house_rate"]
    assert close_matches("CASH", ["cash", "swap"]) == ["cash"]
    assert close_matches("签约奖", ["签约奖励", "腾空奖励"])[0] == "签约奖励"
    assert close_matches("zzz", ["house_rate", "cash"]) == []
    assert did_you_mean("zzz", ["house_rate"]) == ("", "")
    assert did_you_mean("house_rte", ["house_rate"]) == (
        "（是不是“house_rate”？）",
        " (did you mean 'house_rate'?)",
    )


@pytest.mark.parametrize(
    ("formula", "wrong", "meant"),
    [
        ("entitled_area * house_rte", "house_rte", "house_rate"),  # parameter
        ("entitled_aera * house_rate", "entitled_aera", "entitled_area"),  # derived
        ("house_valu", "house_valu", "house_value"),  # item
        ("if sign_start2 > date('2025-01-01') then 1元 else 0元", "sign_start2", "sign_start"),  # clock
        ("sign_tie * entitled_area", "sign_tie", "sign_tier"),  # tier
        ("sum(buildings, building.legal_aera * house_rate)", "legal_aera", "legal_area"),  # field
        ("sum(buildngs, building.legal_area * house_rate)", "buildngs", "buildings"),  # collection
        ("buildng.legal_area * house_rate", "buildng.legal_area", "building.legal_area"),  # object
        ("zone_rat[zone] * entitled_area", "zone_rat", "zone_rate"),  # table
        ("people_band(count(members)) * 1", "people_band", "people_bands"),  # bands
        ("maxx(house_value, 1元)", "maxx", "max"),  # function
        (
            "if known(household.sign_onn) then 1元 else 0元",
            "household.sign_onn",
            "household.sign_on",
        ),  # optional fact
        ("if sign_rate('片', date('2025-05-01')) > 50% then 1元 else 0元", "片", "片区"),  # block level
        (
            "sum(buildings, building.legal_area * house_rate, where=building.use == '住')",
            "住",
            "住宅",
        ),  # category value
    ],
)
def test_unknown_names_in_formulas_suggest_the_nearest(formula: str, wrong: str, meant: str) -> None:
    p = only(f'  - {{id: extra, formula: "{formula}"}}\n')
    assert f"“{wrong}”" in p.message_zh and f"是不是“{meant}”" in p.message_zh, p
    assert f"did you mean '{meant}'" in p.message_en, p
    assert p.location.line > 1 and p.location.column > 1


def test_a_stranger_gets_no_suggestion() -> None:
    p = only("  - {id: extra, formula: qqqqqq * house_rate}\n")
    assert "是不是" not in p.message_zh and "did you mean" not in p.message_en


def test_unknown_option_clock_and_field_names_suggest_the_nearest() -> None:
    p = only("  - {id: extra, options: [csh], formula: 1元}\n")
    assert "是不是“cash”" in p.message_zh and "did you mean 'cash'" in p.message_en
    p = only("", BASE.replace("clock: sign_start,", "clock: sign_strat,"))
    assert "“sign_strat”" in p.message_zh and "是不是“sign_start”" in p.message_zh
    p = only("  - {id: extra, formul: 1元, formula: 2元}\n")
    assert "“formul”" in p.message_zh and "是不是“formula”" in p.message_zh
    found = problems(
        "", BASE.replace("house_rate: {unit: 元/㎡, value: 1000}", "house_rate: {unit: 元/㎡, valu: 1000}")
    )
    assert any("“valu”" in p.message_zh and "是不是“value”" in p.message_zh for p in found), found
    p = only("transition:\n  monthly: 100元\n  options: [swp]\n")
    assert "“swp”" in p.message_zh and "是不是“swap”" in p.message_zh
