"""A what-if that changes values only: the draft is not re-checked (it shares the checked formulas)
and its kernel keeps the policy's source and table arrays, re-making only the changed values'
arrays. Whatever path a change takes, the answer is exactly the full path's: copy, re-parse,
check, prepare and evaluate."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from anju.policy import jit
from anju.policy.bulk import HouseholdTable, evaluate_bulk
from anju.policy.cases import case_household
from anju.policy.check import Checked, load_policy, load_policy_file
from anju.policy.errors import PolicyError
from anju.policy.facts import GroupFacts, group_from_dict, household_from_dict
from anju.policy.jit import prepared
from anju.policy.model import load_yaml
from anju.policy.resolve import value_at
from anju.policy.scalar import evaluate
from anju.policy.table import mark_missing
from anju.policy.whatif import whatif, with_settings

EXAMPLES = Path(__file__).resolve().parents[3] / "src" / "anju" / "policy" / "examples"
NAMES = sorted(p.name.removesuffix(".cases.yaml") for p in EXAMPLES.glob("*.cases.yaml"))


@cache
def example(name: str) -> tuple[Checked, HouseholdTable, GroupFacts, list[Any], list[str]]:
    """An example policy, its case households as one table, their group facts and options."""
    path = EXAMPLES / f"{name}.cases.yaml"
    data, _ = load_yaml(path.read_text(encoding="utf-8"), str(path))
    checked = load_policy_file(EXAMPLES / str(data["policy"]))
    cases = data["cases"]
    hs = list({h.code: h for h in (household_from_dict(case_household(c)) for c in cases)}.values())
    group = group_from_dict(data["group"]) if data.get("group") else GroupFacts.from_households(hs)
    options = sorted({str(c.get("option", "cash")) for c in cases} & set(checked.policy.options))
    return checked, HouseholdTable.from_households(hs), group, hs, options


def knobs(checked: Checked) -> list[tuple[str, Decimal, int]]:
    """Every value a what-if may set: (setting key, value in force in the parameter's own unit,
    decimal places of that unit)."""
    p = checked.policy
    when = p.meta.effective_on
    out: list[tuple[str, Decimal, int]] = []
    for name, prm in p.params.items():
        ok, v = value_at(prm.values, when)
        if not ok:
            continue
        k = 100 if prm.percent else 1
        places = max(0, checked.param_scale[name] - (2 if prm.percent else 0))
        if prm.kind == "scalar":
            out.append((name, v * k, places))
        elif prm.kind == "table":
            out += [(f"{name}[{','.join(key)}]", x * k, places) for key, x in sorted(v.items())]
    for name, t in p.tiers.items():
        out += [(f"{name}[{i}]", w.value, checked.tier_scale[name]) for i, w in enumerate(t.windows, 1)]
    return out


@st.composite
def changes(draw: Any) -> tuple[str, list[str]]:
    """An example and one to three new values: mostly of the same decimal places (values only,
    some far beyond the policy's), sometimes more places or an unknown key (the full path)."""
    name = draw(st.sampled_from(NAMES))
    ks = knobs(example(name)[0])
    out = []
    for _ in range(draw(st.integers(1, 3))):
        key, value, places = draw(st.sampled_from(ks))
        how = draw(st.sampled_from(["near", "near", "near", "far", "zero", "negative", "places", "key"]))
        step = Decimal(1).scaleb(-places)
        if how == "near":
            new = value + draw(st.integers(-50, 50)) * step
        elif how == "far":
            new = value * draw(st.sampled_from([10, 99, 100, 101, 1000, 10**6, 10**12]))
        elif how == "zero":
            new = Decimal(0)
        elif how == "negative":
            new = -value - step
        elif how == "places":
            new = value + Decimal(draw(st.integers(1, 9))).scaleb(-places - draw(st.integers(1, 3)))
        else:
            key = key.split("[")[0] + ("[不存在]" if "[" in key else "[1]")
            new = value
        out.append(f"{key}={new}")
    return name, out


def _same_prepared(a: Any, b: Any) -> None:
    if isinstance(b, str):
        assert isinstance(a, str) and a.split(":")[0] == b.split(":")[0], (a, b)
        return
    assert not isinstance(a, str), (a, b)
    assert a.source == b.source
    assert len(a.args) == len(b.args)
    for x, y in zip(a.args, b.args, strict=True):
        assert type(x) is type(y)
        if isinstance(x, np.ndarray):
            assert x.dtype == y.dtype and x.shape == y.shape and np.array_equal(x, y)
        else:
            assert x == y


@settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
@given(changes())
def test_value_changes_equal_the_full_path(change: tuple[str, list[str]]) -> None:
    name, setting = change
    checked, table, group, hs, options = example(name)
    try:
        full = with_settings(checked, setting, full=True)
    except (ValueError, PolicyError) as exc:  # refused: the fast path refuses it with the same message
        with pytest.raises(type(exc)) as got:
            with_settings(checked, setting)
        assert str(got.value) == str(exc)
        return
    fast = with_settings(checked, setting)
    shape = (full.param_scale, full.tier_scale) == (checked.param_scale, checked.tier_scale)
    keys = all(
        [e.value.keys() for e in p.values] == [e.value.keys() for e in checked.policy.params[k].values]
        for k, p in full.policy.params.items()
        if p.kind == "table"
    )
    assert (fast.same_shape_as is checked) == (shape and keys)
    assert fast.order == full.order and fast.param_scale == full.param_scale
    assert fast.tier_scale == full.tier_scale and fast.item_deps == full.item_deps
    assert fast.derived_ty == full.derived_ty and fast.subtotal_leaves == full.subtotal_leaves
    for option in options:
        a = evaluate_bulk(fast, table, option, None, group, jit=False)
        b = evaluate_bulk(full, table, option, None, group, jit=False)
        assert a.item_ids == b.item_ids
        for i in a.item_ids:
            assert a.fen[i].tolist() == b.fen[i].tolist(), i
            assert a.applies[i].tolist() == b.applies[i].tolist(), i
        assert a.total.tolist() == b.total.tolist()
        assert {k: v.tolist() for k, v in a.subtotals.items()} == {
            k: v.tolist() for k, v in b.subtotals.items()
        }
        for k in range(min(3, len(hs))):  # and the scalar evaluator on a sample
            if a.missing.get(k):
                continue
            # the first with its explanation: every step of the trace the same as the full path's
            s = evaluate(fast, hs[k], option, None, group, trace=k == 0)
            assert a.row(k) == s.amounts()
            assert s == evaluate(full, hs[k], option, None, group, trace=k == 0)
        if jit.HAVE_NUMBA:
            # the draft's kernel (the policy's source and table arrays, its values' arrays
            # re-made) is what preparing the fully checked draft gives
            _same_prepared(
                jit.prepare(fast, table, option, None, group),
                prepared.build(full, table, option, None, group),
            )


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.skipif(not jit.HAVE_NUMBA, reason="numba is not installed")
def test_kernel_of_a_value_change_equals_numpy_and_scalar(name: str) -> None:
    checked, table, group, hs, options = example(name)
    ks = [(k, v, p) for k, v, p in knobs(checked) if v]
    if not ks:
        pytest.skip("no values")
    key, value, _ = ks[len(ks) // 2]
    draft = with_settings(checked, [f"{key}={value * 3}"])
    assert draft.same_shape_as is checked
    for option in options:
        p = jit.prepare(draft, table, option, None, group)
        if isinstance(p, str):
            continue
        kernel = jit.run(p, table, option, parallel=False)
        assert kernel is not None
        # as evaluate_bulk does: households lacking a required declared fact are not computed
        kernel = mark_missing(draft.policy.facts, table, kernel)
        numpy_result = evaluate_bulk(draft, table, option, None, group, jit=False)
        for i in kernel.item_ids:
            assert kernel.fen[i].tolist() == numpy_result.fen[i].tolist(), i
        assert kernel.total.tolist() == numpy_result.total.tolist()
        for k, h in enumerate(hs[:5]):
            if numpy_result.missing.get(k):
                continue
            assert kernel.row(k) == evaluate(draft, h, option, None, group, trace=False).amounts()


POLICY = """
policy: {name: 取值测试, effective_on: 2025-04-01, rounding: {mode: half_up, unit: fen}}
parameters:
  rate: {unit: 元/㎡, value: 100}
  share: {unit: "%", value: 8}
  grace: {unit: 天, value: 10}
  price:
    unit: 元/㎡
    keys: [结构 structure]
    table: {砖混: 3000, 砖木: 2500, 简易: 1000, 钢混: 3500}
clocks:
  start: 2025-04-01
tiers:
  reward:
    event: sign_on
    clock: start
    unit: 元
    windows:
      - {upto: 10, value: 5000}
      - {after: 10, upto: 20, value: 3000}
    otherwise: 0
items:
  - id: house
    per: certificate
    formula: building.legal_area * price[building.structure] + building.legal_area * rate * share
  - id: sign_reward
    formula: reward
  - id: early
    formula: if sign_rate('project', add_days(start, grace)) >= 50% then 100元 else 0元
"""


def _policy() -> tuple[Checked, HouseholdTable, GroupFacts]:
    from anju.policy.facts import Building, Household

    hs = [
        Household(
            code=f"H{k}",
            block_code="一地块",
            sign_on=date(2025, 4, 1 + 3 * k),
            buildings=(Building(certificate_no=f"C{k}", legal_area=Decimal(40 + k) + Decimal("0.25")),),
        )
        for k in range(8)
    ]
    return load_policy(POLICY, "p.yaml"), HouseholdTable.from_households(hs), GroupFacts.from_households(hs)


def test_a_value_change_shares_the_checked_formulas() -> None:
    c, _, _ = _policy()
    d = with_settings(c, ["rate=120", "price[砖混]=3100", "reward[2]=2500"])
    assert d.same_shape_as is c and d.changed_values == {"rate", "price", "reward"}
    assert d.policy.items is c.policy.items and d.policy.params["share"] is c.policy.params["share"]
    assert c.policy.params["rate"].values[0].value == 100  # the policy itself is untouched
    assert d.policy.meta.status == "draft"
    # a draft of a draft has the same policy as its shape, with both changes
    d2 = with_settings(d, ["share=9"])
    assert d2.same_shape_as is c and d2.changed_values == {"rate", "price", "reward", "share"}
    # more decimal places, a new table key: checked in full
    assert with_settings(c, ["rate=120.5"]).same_shape_as is None
    assert with_settings(c, ["share=8.5"]).same_shape_as is None
    assert with_settings(c, ["price[新型]=1"]).same_shape_as is None
    assert with_settings(c, ["reward[1]=5000.5"]).same_shape_as is None
    # a draft checked in full is the shape of its own value changes
    d3 = with_settings(c, ["rate=120.5"])
    assert with_settings(d3, ["rate=121.5"]).same_shape_as is d3
    assert with_settings(d3, ["rate=121.0"]).same_shape_as is None  # 121.0 is 121: scale 0


@pytest.mark.parametrize(
    "setting",
    [
        *("nope=1", "price[a,b]=1", "rate[1]=2", "reward[3]=1", "reward=1", "rate=abc", "rate"),
        *("rate=NaN", "rate=1e15", "rate=0.0000000000001", "price[砖混]=-1e16"),
    ],
)
def test_refusals_are_the_same_on_both_paths(setting: str) -> None:
    c, _, _ = _policy()
    with pytest.raises(ValueError) as full:
        with_settings(c, [setting], full=True)
    with pytest.raises(ValueError) as fast:
        with_settings(c, [setting])
    assert str(fast.value) == str(full.value)


@pytest.mark.skipif(not jit.HAVE_NUMBA, reason="numba is not installed")
def test_a_value_change_remakes_only_its_arrays() -> None:
    c, t, g = _policy()
    base = jit.prepare(c, t, "cash", None, g)
    assert not isinstance(base, str)
    d = with_settings(c, ["rate=300"])
    p = jit.prepare(d, t, "cash", None, g)
    assert not isinstance(p, str) and p.source == base.source
    changed = [k for k, (_, name, _) in p.value_args.items() if name == "rate"]
    assert changed
    key = (id(c), id(t), id(g), "cash", None, ())
    template = prepared._TEMPLATES.get(key, (c, g, *prepared._table_parts(t)))
    for k, (a, b) in enumerate(zip(p.args, template.args, strict=True)):
        assert (a is b) == (k not in changed)
    _same_prepared(p, prepared.build(with_settings(c, ["rate=300"], full=True), t, "cash", None, g))
    # far beyond the policy's values (beyond the template's room): prepared in full, same result
    far = with_settings(c, ["rate=100000000"])
    assert far.same_shape_as is c
    _same_prepared(
        jit.prepare(far, t, "cash", None, g),
        prepared.build(with_settings(c, ["rate=100000000"], full=True), t, "cash", None, g),
    )
    # a value that moves a group rate's date shaped the source's arguments: prepared in full
    moved = with_settings(c, ["grace=20"])
    assert moved.same_shape_as is c
    assert "grace" in base.shape_names
    _same_prepared(
        jit.prepare(moved, t, "cash", None, g),
        prepared.build(with_settings(c, ["grace=20"], full=True), t, "cash", None, g),
    )


def test_whatif_of_value_changes_equals_the_full_path() -> None:
    c, t, g = _policy()
    for s in (["rate=130"], ["reward[1]=6000", "price[简易]=1200"], ["grace=40"], ["rate=130.25"]):
        w = whatif(c, t, s, group=g)
        full = evaluate_bulk(with_settings(c, s, full=True), t, "cash", None, g, jit=False)
        assert w.new.total.tolist() == full.total.tolist()
        for i in full.item_ids:
            assert w.new.fen[i].tolist() == full.fen[i].tolist(), (s, i)
