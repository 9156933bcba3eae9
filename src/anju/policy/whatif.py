"""What-if: change parameters, recompute the project in bulk, and compare with the plan as it is."""

from __future__ import annotations

import copy
import dataclasses
import re
import threading
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

import numpy as np

from anju.policy.bulk import Arr, BulkResult, HouseholdTable, evaluate_bulk
from anju.policy.check import Checked, check_policy, param_scale, tier_scale
from anju.policy.errors import EvaluationError
from anju.policy.expr import parse
from anju.policy.facts import GroupFacts, canonical
from anju.policy.model import MAX_NUMBER, MAX_PLACES, Dated, Formula, Policy, TierWindow
from anju.policy.resolve import value_at
from anju.policy.selection_rules import EntitlementSpec
from anju.policy.suggest import did_you_mean

_SET = re.compile(r"^\s*([^\s\[=]+)\s*(?:\[([^\]]*)\])?\s*=\s*(.+?)\s*$")


def parse_setting(text: str) -> tuple[str, tuple[str, ...], Decimal]:
    """Parse ``name=value``, ``table[key, key]=value`` or ``tier[window]=value``."""
    m = _SET.match(text)
    if not m:
        raise ValueError(f"无法识别的设置“{text}”，应为 参数=数值 / expected name=value: {text!r}")
    keys = tuple(canonical(k) for k in m.group(2).split(",")) if m.group(2) else ()
    try:
        value = Decimal(m.group(3).replace(",", ""))
    except ArithmeticError:
        value = Decimal("NaN")
    if not value.is_finite():
        raise ValueError(f"设置“{text}”的取值不是数字 / the value of {text!r} is not a number")
    if abs(value) >= MAX_NUMBER or value != round(value, MAX_PLACES):  # as the reader of a policy file
        raise ValueError(
            f"设置“{text}”的取值超出范围（绝对值应小于 10^15，最多 {MAX_PLACES} 位小数）"
            f" / the value of {text!r} is out of range (below 10^15, at most {MAX_PLACES} decimal places)"
        )
    return m.group(1), keys, value


# The checked drafts of recent what-ifs: (policy, settings, date) -> checked copy. The same draft
# asked again (a page refresh, another officer, a value set back) skips copying, re-parsing and
# re-checking the policy, and being the same object, it finds its prepared kernel too
# (jit.kernels.prepare). Entries hold the policy they were made from (compared by identity).
_DRAFTS: dict[tuple[Any, ...], tuple[Checked, Checked]] = {}
_DRAFTS_MAX = 32
_DRAFTS_LOCK = threading.Lock()


def with_settings_cached(checked: Checked, settings: list[str], as_of: date | None = None) -> Checked:
    """:func:`with_settings`, reusing the result of the same policy, settings and date."""
    key = (id(checked), tuple(settings), as_of)
    with _DRAFTS_LOCK:
        hit = _DRAFTS.get(key)
    if hit is not None and hit[0] is checked:
        return hit[1]
    changed = with_settings(checked, settings, as_of)
    with _DRAFTS_LOCK:
        _DRAFTS[key] = (checked, changed)
        while len(_DRAFTS) > _DRAFTS_MAX:
            del _DRAFTS[next(iter(_DRAFTS))]
    return changed


def with_settings(
    checked: Checked, settings: list[str], as_of: date | None = None, *, full: bool = False
) -> Checked:
    """A checked copy of the policy with parameter values changed (the value in force on ``as_of``).

    Values are written in the parameter's own unit (for a % parameter, ``10`` means 10%).

    A change of values only (every changed parameter keeps its decimal places, a table keeps its
    keys) is not re-checked: the draft shares the checked formulas of ``checked`` and is the very
    policy :func:`check_policy` would return for it (the checker's verdict and every type depend on
    the names, keys and decimal places alone). Anything else, or any change with ``full`` (the
    reference of tests and benchmarks), is copied, re-parsed and checked.
    """
    when = as_of or checked.policy.meta.effective_on
    policy = _value_copy(checked.policy)
    changed = _apply(policy, settings, when)
    same = None if full else _same_shape(checked, policy, changed)
    if same is not None:
        return same
    return check_policy(_fresh_copy(policy))


def _apply(policy: Policy, settings: list[str], when: date) -> set[str]:
    """Write ``settings`` into ``policy`` (its changed parameters and tiers are replaced by copies,
    so that the policy it was copied from is untouched); returns the changed names."""
    changed: set[str] = set()
    for s in settings:
        name, keys, value = parse_setting(s)
        if name in policy.tiers:
            tier = policy.tiers[name]
            if len(keys) != 1 or not keys[0].isdigit() or not 1 <= int(keys[0]) <= len(tier.windows):
                raise ValueError(f"时间窗分档应写成 {name}[第几个窗口]=数值 / write {name}[window]=value")
            tier = policy.tiers[name] = dataclasses.replace(tier, windows=list(tier.windows))
            w = tier.windows[int(keys[0]) - 1]
            tier.windows[int(keys[0]) - 1] = TierWindow(w.window, value, w.label)
            changed.add(name)
            continue
        if name not in policy.params:
            zh, en = did_you_mean(name, [*policy.params, *policy.tiers])
            raise ValueError(f"没有参数“{name}”{zh} / no parameter {name!r}{en}")
        p = policy.params[name]
        v = value / 100 if p.percent else value
        ok, current = value_at(p.values, when)
        if not ok:
            raise ValueError(f"参数“{name}”在 {when} 没有生效的取值 / no value in force")
        idx = next(i for i, e in enumerate(p.values) if e.value is current)
        if p.kind == "table":
            if len(keys) != len(p.keys):
                raise ValueError(f"表格“{name}”需要 {len(p.keys)} 个键 / needs {len(p.keys)} keys")
            table = dict(current)
            table[keys] = v
            new: Dated = Dated(p.values[idx].since, table)
        elif p.kind == "scalar":
            if keys:
                raise ValueError(f"参数“{name}”不是表格 / {name!r} is not a table")
            new = Dated(p.values[idx].since, v)
        else:
            raise ValueError(f"参数“{name}”不能用数值设置 / {name!r} cannot be set to a number")
        p = policy.params[name] = dataclasses.replace(p, values=list(p.values))
        p.values[idx] = new
        changed.add(name)
    return changed


def _value_copy(policy: Policy) -> Policy:
    """A draft of ``policy`` that shares everything but its parameter and tier dictionaries
    (:func:`_apply` replaces the entries it changes)."""
    p = copy.copy(policy)
    p.meta = dataclasses.replace(policy.meta, status="draft")  # a scenario, never the published text
    p.params = dict(policy.params)
    p.tiers = dict(policy.tiers)
    return p


def _same_shape(checked: Checked, policy: Policy, changed: set[str]) -> Checked | None:
    """``policy`` checked without re-checking, when it differs from ``checked`` only in values.

    The checker's result depends on values only through each parameter's and tier's decimal
    places (the scales of every type) and a table's keys (completeness); with those unchanged it is
    ``checked`` with the new values. Two new values of the state_land example: 0.14 ms of CPU
    instead of 2.6 ms for the copy, re-parse and check (measured in one run, load 10 on the shared
    2-core VM; bench/RESULTS.md, "What-if caches").
    ``None`` when the shape changed (the caller checks the policy in full)."""
    old = checked.policy
    for name in changed:
        if name in policy.tiers:
            if tier_scale(policy.tiers[name]) != checked.tier_scale[name]:
                return None
            continue
        p, q = policy.params[name], old.params[name]
        if param_scale(p) != checked.param_scale[name]:
            return None
        if p.kind == "table" and any(
            a.value.keys() != b.value.keys() for a, b in zip(p.values, q.values, strict=True)
        ):
            return None
    root = checked.same_shape_as or checked
    return dataclasses.replace(
        checked,
        policy=policy,
        same_shape_as=root,
        changed_values=checked.changed_values | changed,
    )


def _reparse(f: Formula | None) -> Formula | None:
    if f is None:
        return None
    return Formula(f.text, f.src, parse(f.text))


def _reparse_req(f: Formula) -> Formula:
    return Formula(f.text, f.src, parse(f.text))


def _fresh_copy(policy: Policy) -> Policy:
    """A copy that shares nothing mutable with ``policy``: values are copied, formulas re-parsed
    (the checker annotates syntax trees, so two checked policies must not share them)."""
    p = copy.copy(policy)
    p.meta = dataclasses.replace(policy.meta, status="draft")  # a scenario, never the published text
    p.params = {k: dataclasses.replace(v, values=list(v.values)) for k, v in policy.params.items()}
    p.tiers = {k: dataclasses.replace(v, windows=list(v.windows)) for k, v in policy.tiers.items()}
    p.derived = {
        k: dataclasses.replace(v, formula=_reparse_req(v.formula)) for k, v in policy.derived.items()
    }
    p.items = [
        dataclasses.replace(
            it,
            formula=_reparse_req(it.formula),
            when=_reparse(it.when),
            floor=_reparse(it.floor),
            cap=_reparse(it.cap),
            household_floor=_reparse(it.household_floor),
            household_cap=_reparse(it.household_cap),
        )
        for it in policy.items
    ]
    if policy.swap is not None:
        sw = policy.swap
        p.swap = dataclasses.replace(
            sw,
            entitled_area=_reparse_req(sw.entitled_area),
            credit=_reparse_req(sw.credit),
            cost_price=_reparse_req(sw.cost_price),
            extra_price=_reparse_req(sw.extra_price),
            market_price=_reparse(sw.market_price),
            refund_price=_reparse_req(sw.refund_price),
            entitlement=_fresh_entitlement(sw.entitlement),
        )
    return p


def _fresh_entitlement(e: EntitlementSpec | None) -> EntitlementSpec | None:
    if e is None:
        return None
    rules = [
        dataclasses.replace(
            r, when=_reparse(r.when), require=dataclasses.replace(r.require, area=_reparse(r.require.area))
        )
        for r in e.rules
    ]
    return dataclasses.replace(e, max_area=_reparse(e.max_area), max_flats=_reparse(e.max_flats), rules=rules)


@dataclass(slots=True)
class Distribution:
    """Distribution of per-household amounts (fen): min, median, max and deciles (nearest rank)."""

    min: int
    median: Decimal
    max: int
    deciles: list[int]  # 10th ... 90th percentile

    @staticmethod
    def of(values: Arr) -> Distribution:
        """Distribution of an integer array (exact)."""
        v = np.sort(np.asarray(values, dtype=np.int64))
        n = int(v.shape[0])
        if n == 0:
            return Distribution(0, Decimal(0), 0, [0] * 9)
        mid = n // 2
        median = Decimal(int(v[mid])) if n % 2 else (Decimal(int(v[mid - 1])) + Decimal(int(v[mid]))) / 2
        # nearest rank: the smallest value with at least p% of values at or below it
        deciles = [int(v[max(0, -(-p * n // 10) - 1)]) for p in range(1, 10)]
        return Distribution(int(v[0]), median, int(v[-1]), deciles)


@dataclass(slots=True)
class WhatIf:
    """The effect of changed parameters on a project."""

    option: str
    base: BulkResult
    new: BulkResult
    by_item: dict[str, tuple[int, int]]  # item -> (base total, new total), fen
    by_block: dict[str, tuple[int, int]]
    delta: Arr  # per household, fen
    distribution: Distribution  # of new per-household totals
    delta_distribution: Distribution

    @property
    def base_total(self) -> int:
        """Project budget before the change (fen)."""
        return sum(b for b, _ in self.by_item.values())

    @property
    def new_total(self) -> int:
        """Project budget after the change (fen)."""
        return sum(n for _, n in self.by_item.values())


def _block_sums(table: HouseholdTable, totals: Arr) -> list[int]:
    out = np.zeros(len(table.blocks), dtype=np.int64)
    np.add.at(out, table.block_idx, totals)
    return out.tolist()


def _sums(result: BulkResult, table: HouseholdTable) -> tuple[dict[str, int], list[int]]:
    """Per-item and per-block totals of ``result`` (fen)."""
    return {i: int(result.fen[i].sum()) for i in result.item_ids}, _block_sums(table, result.total)


# The sums of recent base results: the unchanged plan of a what-if page is the same result call after
# call (compensation/budget.py keeps it), and its sums took ~0.1 ms of CPU of every what-if on 2,300
# households (of ~0.2 ms for both results' sums, load 8). Entries hold
# their result and table (compared by identity); the results never change.
_BASE_SUMS: dict[tuple[int, int], tuple[BulkResult, HouseholdTable, tuple[dict[str, int], list[int]]]] = {}
_BASE_SUMS_MAX = 8


def _base_sums(base: BulkResult, table: HouseholdTable) -> tuple[dict[str, int], list[int]]:
    key = (id(base), id(table))
    with _DRAFTS_LOCK:
        hit = _BASE_SUMS.get(key)
    if hit is not None and hit[0] is base and hit[1] is table:
        return hit[2]
    sums = _sums(base, table)
    with _DRAFTS_LOCK:
        _BASE_SUMS[key] = (base, table, sums)
        while len(_BASE_SUMS) > _BASE_SUMS_MAX:
            del _BASE_SUMS[next(iter(_BASE_SUMS))]
    return sums


def whatif(
    checked: Checked,
    table: HouseholdTable,
    settings: list[str],
    option: str = "cash",
    as_of: date | None = None,
    group: GroupFacts | None = None,
    base: BulkResult | None = None,
    jit: bool | None = None,
) -> WhatIf:
    """Recompute ``table`` with ``settings`` applied and compare with the unchanged policy.

    Pass ``base`` (an earlier result of the unchanged policy) to skip recomputing it. ``jit`` is
    passed to :func:`evaluate_bulk`: changed values do not recompile a kernel (they are runtime
    arguments), so once the policy's kernel is compiled every what-if uses it.
    """
    if option not in checked.policy.options:
        raise EvaluationError("option", f"没有补偿方式“{option}”", f"no option '{option}'")
    g = group if group is not None else table.group_facts()
    if base is None:
        base = evaluate_bulk(checked, table, option, as_of, g, jit)
    changed = with_settings_cached(checked, settings, as_of)
    new = evaluate_bulk(changed, table, option, as_of, g, jit)
    (base_items, bb), (new_items, nb) = _base_sums(base, table), _sums(new, table)
    by_item = {i: (base_items.get(i, 0), n) for i, n in new_items.items()}
    by_block = dict(zip(table.blocks, zip(bb, nb, strict=True), strict=True))
    nt = new.total
    delta = nt - base.total
    return WhatIf(option, base, new, by_item, by_block, delta, Distribution.of(nt), Distribution.of(delta))
