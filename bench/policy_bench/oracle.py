"""A hand-written numpy int64-fen evaluation of bench/policy_bench/policy.yaml: what a programmer
would write for this one plan without the engine, the baseline of "the whole evaluation".

Every item is one function of the household table returning fen per household (int64, exact:
scaled integers and explicit half-up rounding, as the plan says). Group measures are computed
here from the facts (the sign rate per 片区), the subtotals and the total from the items. To add an
item of policy_next.yaml: write its function, add it to ``ITEMS`` (and to a subtotal in
``SUBTOTALS``); the bench checks every item against the engine and the scalar evaluator.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import numpy as np

from anju.policy.table import HouseholdTable

I64 = np.int64
Arr = Any

START = date(2025, 4, 1).toordinal()  # clocks.signing_start
DEADLINE = date(2025, 6, 5).toordinal()  # clocks.sign_deadline

# house_rate[structure, zone] in yuan per m² (the override of 西片区 is applied in ``_rate``).
HOUSE_RATE = {
    "brick_concrete": (12000, 10500),
    "brick_wood": (9800, 8600),
    "simple": (2000, 1800),
    "steel_concrete": (12800, 11200),
}


def half_up(x: Arr, d: int) -> Arr:
    """``x / d`` rounded half away from zero (``d > 0``), int64."""
    q = (np.abs(x) + d // 2) // d
    return np.where(x < 0, -q, q)


def seg_sum(t: HouseholdTable, el: str, v: Arr) -> Arr:
    """Per-household sum of the element values ``v`` (exact int64 through a running sum)."""
    e = getattr(t, el)
    cs = np.zeros(v.shape[0] + 1, dtype=I64)
    np.cumsum(v, out=cs[1:])
    return cs[e.start + e.count] - cs[e.start]


class Ctx:
    """Per-table values shared by several items (computed once per evaluation)."""

    def __init__(self, t: HouseholdTable) -> None:
        self.t = t
        v = t.vocab
        b = t.buildings
        pian_names = sorted({p[0] for p in t.block_paths})
        pian_of_block = np.asarray([pian_names.index(p[0]) for p in t.block_paths], dtype=I64)
        self.pian = pian_of_block[t.block_idx]  # 片区 of each household
        east = pian_names.index("东片区") if "东片区" in pian_names else -1
        west = pian_names.index("西片区") if "西片区" in pian_names else -1
        zone_b = self.pian != east  # zone B everywhere but 东片区
        # rate per certificate: structure x zone, with the 西片区 override of 砖混 B
        rate_a = np.zeros(len(t.words) + 1, dtype=I64)
        rate_b = np.zeros(len(t.words) + 1, dtype=I64)
        for word, (a, bb) in HOUSE_RATE.items():
            rate_a[v[word]] = a
            rate_b[v[word]] = bb
        st = b.cols["structure"]
        hh = b.hh
        zb = zone_b[hh]
        rate = np.where(zb, rate_b[st], rate_a[st])
        west_bc = (self.pian[hh] == west) & zb & (st == v["brick_concrete"])
        self.rate = np.where(west_bc, 10800, rate)  # yuan/m²
        self.area = b.cols["legal_area"]  # m², scale 2
        self.use = b.cols["use"]
        self.area_sum = seg_sum(t, "buildings", self.area)
        self.house_cert = self.area * self.rate  # yuan scale 2 = fen

        # group measure from the facts: the sign rate per 片区 as of the deadline (millionths, truncated)
        total = np.bincount(self.pian, minlength=len(pian_names))
        signed = (t.sign_on != 0) & (t.sign_on <= DEADLINE)
        done = np.bincount(self.pian[signed], minlength=len(pian_names))
        self.sign_ppm = np.where(total > 0, done * 1_000_000 // np.maximum(total, 1), 0)[self.pian]


def house_value(c: Ctx) -> Arr:
    return seg_sum(c.t, "buildings", c.house_cert)


def relocation(c: Ctx) -> Arr:
    return np.maximum(c.area_sum * 15, 1000_00)


def transition(c: Ctx) -> Arr:
    return half_up(c.area_sum * 125 * 6, 10)  # 12.5 yuan/m²/month x 6 months: yuan scale 3


def business_loss(c: Ctx) -> Arr:
    raw = np.clip(c.house_cert * 8, 10000 * 10**4, 40000 * 10**4)  # x 8%: yuan scale 4
    fen = half_up(raw, 100)
    return seg_sum(c.t, "buildings", np.where(c.use == c.t.vocab["business"], fen, 0))


def cash_bonus(c: Ctx, hv: Arr) -> Arr:
    return half_up(hv * 105, 1000)  # 10.5%: yuan scale 5


def special_groups(c: Ctx) -> Arr:
    m = c.t.members.cols
    dibao = seg_sum(c.t, "members", m["dibao"].astype(I64))
    severe = seg_sum(c.t, "members", (m["disabled"] & (m["disability_grade"] <= 2)).astype(I64))
    return dibao * 5000_00 + severe * 8000_00


def sign_reward(c: Ctx) -> Arr:
    t = c.t
    day = t.sign_on - START + 1
    rate = np.where(day <= 30, 300, np.where(day <= 45, 150, 0))  # yuan/m²
    known = t.sign_on != 0
    hh = t.buildings.hh
    per = np.maximum(c.area * rate[hh], 20000_00)  # floor 20,000 yuan
    ok = known[hh] & (c.use == t.vocab["residential"])
    return seg_sum(t, "buildings", np.where(ok, per, 0))


def collective_sign(c: Ctx) -> Arr:
    ppm = c.sign_ppm
    points = np.where(ppm > 850_000, (ppm - 850_000) * 100 // 1_000_000, 0)
    return np.where(ppm >= 850_000, (5000 + 500 * points) * 100, 0)


#: item id -> function; ``cash_bonus`` reads ``house_value`` (listed after it).
ITEMS: dict[str, Callable[..., Arr]] = {
    "house_value": house_value,
    "relocation": relocation,
    "transition": transition,
    "business_loss": business_loss,
    "cash_bonus": cash_bonus,
    "special_groups": special_groups,
    "sign_reward": sign_reward,
    "collective_sign": collective_sign,
}

#: The subtotals of the plan (named groups of items); policy_next.yaml declares them in the language.
SUBTOTALS: dict[str, list[str]] = {
    "house_subtotal": ["house_value", "relocation", "transition", "business_loss"],
    "reward_subtotal": ["cash_bonus", "special_groups", "sign_reward", "collective_sign"],
}


# ---- policy_next.yaml: the items on the #12 features (month arithmetic, collection max, subtotals)

_EPOCH = date(1970, 1, 1).toordinal()


def _ymd(o: Arr) -> tuple[Arr, Arr, Arr]:
    """Year, month (1-12) and day of ordinal days ``o`` (int64 arrays)."""
    d = (o - _EPOCH).astype("datetime64[D]")
    m = d.astype("datetime64[M]")
    y = m.astype("datetime64[Y]")
    return (
        y.astype(I64) + 1970,
        (m - y.astype("datetime64[M]")).astype(I64) + 1,
        (d - m.astype("datetime64[D]")).astype(I64) + 1,
    )


def _days_in_month(y: Arr, m: Arr) -> Arr:
    first = ((y - 1970) * 12 + m - 1).astype("datetime64[M]")
    return ((first + 1).astype("datetime64[D]") - first.astype("datetime64[D]")).astype(I64)


def months_started(a: Arr, b: Arr) -> Arr:
    """``months_between(a, b, started=true)``: months begun from ``a`` to ``b`` (the k-th month is
    [add_months(a, k-1), add_months(a, k)), month ends clamped); 0 if either is unknown or b <= a."""
    ya, ma, da = _ymd(a)
    yb, mb, db = _ymd(b)
    k = (yb - ya) * 12 + (mb - ma)  # add_months(a, k) falls in b's month, on min(da, month length)
    k = k + (np.minimum(da, _days_in_month(yb, mb)) < db)
    return np.where((a != 0) & (b != 0) & (b > a), k, 0)


def transition_overdue(c: Ctx) -> Arr:
    t = c.t
    actual = t.event("delivery_actual_on")
    months = months_started(t.vacate_on, actual) + months_started(t.event("delivery_planned_on"), actual)
    return np.where(actual != 0, c.area_sum * 8 * months, 0)  # 8 yuan/m²/month: m² scale 2 = fen


def main_building_reward(c: Ctx) -> Arr:
    b = c.t.buildings
    v = np.where(c.use == c.t.vocab["residential"], c.area, 0)  # areas > 0: else=0 is the floor
    big = np.zeros(c.t.n, dtype=I64)
    has = b.count > 0
    big[has] = np.maximum.reduceat(v, b.start[has]) if v.size else 0
    return big * 50  # 50 yuan/m²


_FACTS: dict[int, tuple[HouseholdTable, dict[str, tuple[Arr, Arr]]]] = {}


def fact(t: HouseholdTable, fid: str) -> tuple[Arr, Arr]:
    """A declared count fact as (values, known), converted once per table (the engine keeps its
    typed columns per table too)."""
    hit = _FACTS.get(id(t))
    if hit is None or hit[0] is not t:
        hit = (t, {})
        _FACTS.clear()
        _FACTS[id(t)] = hit
    cols = hit[1]
    if fid not in cols:
        raw = t.facts_raw.get(fid) or [None] * t.n
        known = np.fromiter((x is not None for x in raw), dtype=bool, count=t.n)
        vals = np.fromiter((0 if x is None else x for x in raw), dtype=I64, count=t.n)
        cols[fid] = (vals, known)
    return cols[fid]


def appliance_move(c: Ctx) -> Arr:
    return fact(c.t, "ac_units")[0] * 300_00  # 300 yuan per unit (all within max: 20)


def agreed_transition(c: Ctx) -> Arr:
    months, known = fact(c.t, "agreed_months")
    return np.where(known, months * 600_00, 0)  # 600 yuan/month


def subtotal_reward(c: Ctx, items: dict[str, Arr]) -> Arr:
    hs = sum((items[i] for i in NEXT_SUBTOTALS["house_subtotal"]), np.zeros(c.t.n, dtype=I64))
    return half_up(hs, 100)  # 1% of the subtotal


NEXT_ITEMS: dict[str, Callable[..., Arr]] = {
    "transition_overdue": transition_overdue,
    "main_building_reward": main_building_reward,
    "appliance_move": appliance_move,
    "agreed_transition": agreed_transition,
    "subtotal_reward": subtotal_reward,
}
NEXT_SUBTOTALS: dict[str, list[str]] = {
    "house_subtotal": [
        *SUBTOTALS["house_subtotal"],
        "transition_overdue",
        "appliance_move",
        "agreed_transition",
    ],
    "reward_subtotal": [*SUBTOTALS["reward_subtotal"], "main_building_reward", "subtotal_reward"],
}
#: items whose function reads other items (``fn(c, items)``)
READS_ITEMS = {"cash_bonus", "subtotal_reward"}


def use_next() -> None:
    """Evaluate policy_next.yaml: its extra items and subtotals join the plan's."""
    ITEMS.update(NEXT_ITEMS)
    SUBTOTALS.update(NEXT_SUBTOTALS)


def evaluate(t: HouseholdTable) -> tuple[dict[str, Arr], dict[str, Arr], Arr]:
    """(items, subtotals, total): fen per household, exact."""
    c = Ctx(t)
    items: dict[str, Arr] = {}
    for name, fn in ITEMS.items():
        if name == "cash_bonus":
            items[name] = fn(c, items["house_value"])
        else:
            items[name] = fn(c, items) if name in READS_ITEMS else fn(c)
    subtotals = {
        name: sum((items[i] for i in ids), np.zeros(t.n, dtype=I64)) for name, ids in SUBTOTALS.items()
    }
    total = np.zeros(t.n, dtype=I64)
    for v in items.values():
        total += v
    return items, subtotals, total
