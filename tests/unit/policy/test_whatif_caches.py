"""What the what-if keeps between calls: the checked draft per (policy, settings), the prepared
kernel per (policy, table, group facts), the tokens of a formula text. Each is reused only for the
very same inputs and never changes an answer."""

from __future__ import annotations

import dataclasses
from datetime import date
from decimal import Decimal

import numpy as np
import pytest

from anju.policy import jit
from anju.policy.bulk import HouseholdTable, evaluate_bulk
from anju.policy.check import load_policy
from anju.policy.expr import parse, walk
from anju.policy.facts import Building, Household, Member
from anju.policy.jit import kernels, prepared
from anju.policy.whatif import whatif, with_settings, with_settings_cached

POLICY = """
policy: {name: 缓存测试, effective_on: 2025-04-01, rounding: {mode: half_up, unit: fen}}
parameters:
  rate: {unit: 元/㎡, value: 100}
  per_person: {unit: 元/人, value: 500}
items:
  - id: house
    per: certificate
    formula: building.legal_area * rate
  - id: people
    formula: count(members) * per_person
  - id: moved
    when: known(household.delivery_actual_on)
    formula: months_between(household.vacate_on, household.delivery_actual_on, started=true) * 10元/月
"""


def _households(n: int = 9) -> list[Household]:
    return [
        Household(
            code=f"H{k}",
            block_code=("一地块", "二地块")[k % 2],
            vacate_on=date(2025, 5, 1 + k),
            delivery_actual_on=date(2026, 1 + k % 12, 3) if k % 3 else None,
            members=tuple(Member(name=f"m{k}{j}") for j in range(1 + k % 3)),
            buildings=(Building(certificate_no=f"C{k}", legal_area=Decimal(40 + k) + Decimal("0.25")),),
        )
        for k in range(n)
    ]


def test_the_same_draft_is_checked_once() -> None:
    c = load_policy(POLICY, "p.yaml")
    a = with_settings_cached(c, ["rate=120"])
    assert with_settings_cached(c, ["rate=120"]) is a
    assert with_settings_cached(c, ["rate=121"]) is not a
    # another policy object with the same settings is its own draft
    c2 = load_policy(POLICY, "p.yaml")
    assert with_settings_cached(c2, ["rate=120"]) is not a
    # a bad setting is refused every time (nothing cached)
    for _ in range(2):
        with pytest.raises(ValueError):
            with_settings_cached(c, ["nope=1"])


def test_cached_whatif_equals_a_fresh_one() -> None:
    c = load_policy(POLICY, "p.yaml")
    t = HouseholdTable.from_households(_households())
    for settings in (["rate=130"], ["per_person=800"], ["rate=130"]):
        w = whatif(c, t, settings)
        fresh = evaluate_bulk(with_settings(c, settings), t, "cash", jit=False)
        for i in fresh.item_ids:
            assert np.array_equal(w.new.fen[i], fresh.fen[i]), (settings, i)
    assert whatif(c, t, ["rate=130"]).new_total != whatif(c, t, ["rate=131"]).new_total


@pytest.mark.skipif(not jit.HAVE_NUMBA, reason="numba is not installed")
def test_prepared_kernel_is_reused_per_data_version() -> None:
    c = load_policy(POLICY, "p.yaml")
    hs = _households()
    t = HouseholdTable.from_households(hs)
    p = jit.prepare(c, t, "cash")
    assert not isinstance(p, str)
    assert jit.prepare(c, t, "cash") is p
    # other sums, another table with the same facts, another policy: prepared anew
    assert jit.prepare(c, t, "cash", sums={"s": ["house"]}) is not p
    t2 = HouseholdTable.from_households(hs)
    assert jit.prepare(c, t2, "cash") is not p
    changed = with_settings_cached(c, ["rate=150"])
    p3 = jit.prepare(changed, t, "cash")
    assert p3 is not p and jit.prepare(changed, t, "cash") is p3


@pytest.mark.skipif(not jit.HAVE_NUMBA, reason="numba is not installed")
def test_a_replaced_column_is_a_new_data_version() -> None:
    c = load_policy(POLICY, "p.yaml")
    t = HouseholdTable.from_households(_households())
    p = jit.prepare(c, t, "cash")
    before = evaluate_bulk(c, t, "cash", jit=True).fen["moved"].copy()
    # the table's delivery dates replaced (the same table object, a new column)
    t.events["delivery_actual_on"] = np.where(t.vacate_on > 0, t.vacate_on + 400, 0)
    assert jit.prepare(c, t, "cash") is not p
    after = evaluate_bulk(c, t, "cash", jit=True).fen["moved"]
    numpy = evaluate_bulk(c, t, "cash", jit=False).fen["moved"]
    assert np.array_equal(after, numpy)
    assert not np.array_equal(after, before)
    # a replaced element table too
    p2 = jit.prepare(c, t, "cash")
    b = t.buildings
    t.buildings = dataclasses.replace(b, cols={**b.cols, "legal_area": b.cols["legal_area"] * 2})
    assert jit.prepare(c, t, "cash") is not p2
    assert np.array_equal(
        evaluate_bulk(c, t, "cash", jit=True).fen["house"],
        evaluate_bulk(c, t, "cash", jit=False).fen["house"],
    )
    kernels.clear_prepared()
    assert jit.prepare(c, t, "cash") is not p


def test_parses_of_one_text_share_no_nodes() -> None:
    text = "sum(buildings, building.legal_area) * rate + 12.5元"
    a, b = parse(text), parse(text)
    ids_a = {id(n) for n in walk(a)}
    assert not ids_a & {id(n) for n in walk(b)}


@pytest.mark.skipif(not jit.HAVE_NUMBA, reason="numba is not installed")
def test_large_tables_are_not_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    c = load_policy(POLICY, "p.yaml")
    t = HouseholdTable.from_households(_households())
    monkeypatch.setattr(prepared, "MAX_HOUSEHOLDS", t.n - 1)
    assert jit.prepare(c, t, "cash") is not jit.prepare(c, t, "cash")
