"""The numpy bulk evaluator: a whole project at once, vectorised over numpy int64 scaled integers.

Every number is held as an integer array ``v`` meaning ``v / 10**scale`` with the scale the
checker inferred, so every operation is exact. Each array carries an upper bound of its absolute
values; when an operation could leave the int64 range the operands switch to Python-integer
(object) arrays, which are slower but still exact. Results equal the scalar ``Decimal``
evaluator's to the fen (checked by a property test).

One class (:class:`BulkEvaluator`) of about 650 lines: its methods are one recursion over the
formula trees (``ev`` -> ``call`` -> ``aggregate`` -> ``ev``); splitting it would scatter that
recursion over files.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

import numpy as np

from anju.core.dates import DayCount
from anju.core.money import RoundingMode, unit_fen
from anju.policy.check import Checked, rate_basis
from anju.policy.datecalc import ORD_MAX, add_months_o, days_between_o, months_between_o
from anju.policy.declared import NO_WORD
from anju.policy.errors import EvaluationError
from anju.policy.expr import (
    Binary,
    Bool,
    BoolOp,
    Call,
    Compare,
    If,
    Index,
    Name,
    Node,
    Not,
    Num,
    Str,
    Unary,
    walk,
)
from anju.policy.facts import (
    EVENT_DATES,
    GroupFacts,
)
from anju.policy.measures import PLACES
from anju.policy.model import Formula, Item
from anju.policy.resolve import Resolved
from anju.policy.table import (
    BUILDING_MONEY_COLS,
    I64,
    LIMIT,
    Arr,
    BulkResult,
    Elements,
    HouseholdTable,
    _absmax,
    _scaled,
    group_index,
    mark_missing,
    subtotal_arrays,
)


@dataclass(slots=True)
class BV:
    """A bulk value: an array (or a Python constant) at a level, with scale and bound for numbers."""

    v: Any
    level: str  # "const" | "hh" | "building" | "member" | "tenant"
    scale: int = 0
    bound: int = 0


def div_round(x: Any, d: int, mode: RoundingMode) -> Any:
    """``x / d`` rounded to an integer with ``mode`` (``d > 0``), exactly as ``Decimal.quantize``."""
    if d == 1:
        return x
    q = x // d
    r = x - q * d
    r2 = r * 2
    if mode is RoundingMode.HALF_UP:
        up = (r2 > d) | ((r2 == d) & (x > 0))
    elif mode is RoundingMode.HALF_DOWN:
        up = (r2 > d) | ((r2 == d) & (x < 0))
    elif mode is RoundingMode.HALF_EVEN:
        up = (r2 > d) | ((r2 == d) & (q % 2 == 1))
    elif mode is RoundingMode.DOWN:
        up = (r > 0) & (x < 0)
    else:
        up = (r > 0) & (x > 0)
    if isinstance(up, np.ndarray):
        return q + up.astype(I64) if q.dtype != object else q + up.astype(object)
    return q + int(bool(up))


class BulkEvaluator:
    """Evaluates every household of a :class:`HouseholdTable` at once."""

    def __init__(
        self,
        checked: Checked,
        table: HouseholdTable,
        as_of: date | None = None,
        group: GroupFacts | None = None,
        resolved: Resolved | None = None,
    ) -> None:
        self.c = checked
        self.t = table
        self.n = table.n
        self.as_of = as_of or checked.policy.meta.effective_on
        self.r = resolved or Resolved(checked.policy, self.as_of)
        self.gi = group_index(group if group is not None else table.group_facts())
        self._cse: dict[tuple[str, str | None], BV] = {}
        self._text = ""
        self.vocab = dict(table.vocab)
        self.mode = checked.policy.meta.rounding_mode
        self.items: dict[str, BV] = {}
        self.derived: dict[str, BV] = {}
        self.option = ""
        self._variants: dict[str, tuple[list[Any], Arr | None]] = {}
        self._luts: dict[str, Any] = {}
        self.el: dict[str, Elements] = {
            "building": table.buildings,
            "member": table.members,
            "tenant": table.tenants,
            "flat": table.flats,
        }
        # Every literal and category word gets its code before any lookup table is built.
        p = checked.policy
        for name, prm in p.params.items():
            if prm.kind == "category":
                for e in [*prm.values, *[x for ov in prm.overrides.values() for x in ov]]:
                    self.code(e.value)
            if prm.kind == "table":
                for e in [*prm.values, *[x for ov in prm.overrides.values() for x in ov]]:
                    for k in e.value:
                        for w in k:
                            self.code(w)
            del name
        for o in p.options:  # ``option == 'swap'``
            self.code(o)
        for f in self._formulas():
            if f.node is not None:
                for nd in walk(f.node):
                    if isinstance(nd, Str):
                        self.code(nd.value)
        for decl in p.facts.values():  # a declared category's words, and its "none", too
            for w in (*decl.choices, NO_WORD) if decl.type == "category" else ():
                self.code(w)

    def _formulas(self) -> list[Formula]:
        p = self.c.policy
        out: list[Formula] = [d.formula for d in p.derived.values()]
        for it in p.items:
            out += [
                f for f in (it.formula, it.when, it.floor, it.cap, it.household_floor, it.household_cap) if f
            ]
        return out

    def code(self, word: str) -> int:
        """Integer code of a category word (added to the vocabulary if new)."""
        if word not in self.vocab:
            self.vocab[word] = len(self.vocab)
        return self.vocab[word]

    # -- levels, scales, bounds

    def lift(self, x: BV, level: str) -> BV:
        """Bring ``x`` to ``level`` (a constant stays a constant)."""
        if x.level == level or x.level == "const":
            return x
        if x.level == "hh" and level in self.el:
            return BV(x.v[self.el[level].hh], level, x.scale, x.bound)
        raise AssertionError((x.level, level))

    def full(self, x: BV, level: str) -> Arr:
        """``x`` as a full array at ``level``."""
        x = self.lift(x, level)
        if x.level == "const":
            size = self.n if level == "hh" else self.el[level].size
            if isinstance(x.v, bool | np.bool_):
                return np.full(size, bool(x.v), dtype=bool)
            if abs(int(x.v)) > LIMIT:
                return np.full(size, int(x.v), dtype=object)
            return np.full(size, int(x.v), dtype=I64)
        return x.v  # type: ignore[no-any-return]

    @staticmethod
    def level_of(*xs: BV) -> str:
        """The common level of operands (constants adapt; one element level at most)."""
        levels = {x.level for x in xs} - {"const"}
        elements = levels - {"hh"}
        if len(elements) > 1:
            raise AssertionError(levels)
        if elements:
            return elements.pop()
        return "hh" if levels else "const"

    @staticmethod
    def wide(v: Any) -> Any:
        """Switch to exact Python-integer arrays."""
        if isinstance(v, np.ndarray) and v.dtype != object and v.dtype != bool:
            return v.astype(object)
        if isinstance(v, np.integer):
            return int(v)
        return v

    def align(self, x: BV, scale: int) -> BV:
        """``x`` at a larger ``scale`` (exact multiplication by a power of ten)."""
        if x.scale == scale:
            return x
        k = 10 ** (scale - x.scale)
        bound = x.bound * k
        v = self.wide(x.v) if bound > LIMIT else x.v
        return BV(v * k, x.level, scale, bound)

    def pair(self, a: BV, b: BV) -> tuple[BV, BV, str]:
        lv = self.level_of(a, b)
        return self.lift(a, lv), self.lift(b, lv), lv

    # -- evaluation

    def ev(self, n: Node, el: str | None) -> BV:
        if isinstance(n, Num):
            s = n.ty.scale
            v = _scaled(n.value, s)
            return BV(v, "const", s, abs(v))
        if isinstance(n, Str):
            return BV(self.code(n.value), "const")
        if isinstance(n, Bool):
            return BV(n.value, "const")
        if isinstance(n, Name):
            return self.name(n, el)
        if isinstance(n, Unary):
            x = self.ev(n.operand, el)
            return BV(-x.v, x.level, x.scale, x.bound)
        if isinstance(n, Binary):
            a = self.ev(n.left, el)
            if n.op == "/":
                r = n.ref
                from anju.policy.check import dec_scale

                rs = dec_scale(r)
                b = BV(_scaled(r, rs), "const", rs, abs(_scaled(r, rs)))
                return self.mul(a, b)
            b = self.ev(n.right, el)
            if n.op == "*":
                return self.mul(a, b)
            s = max(a.scale, b.scale)
            a, b = self.align(a, s), self.align(b, s)
            a, b, lv = self.pair(a, b)
            bound = a.bound + b.bound
            av, bv = (self.wide(a.v), self.wide(b.v)) if bound > LIMIT else (a.v, b.v)
            return BV(av + bv if n.op == "+" else av - bv, lv, s, bound)
        if isinstance(n, Compare):
            return self.compare(n, el)
        if isinstance(n, BoolOp):
            a, b, lv = self.pair(self.ev(n.left, el), self.ev(n.right, el))
            if lv == "const":
                return BV((bool(a.v) and bool(b.v)) if n.op == "and" else (bool(a.v) or bool(b.v)), lv)
            f = np.logical_and if n.op == "and" else np.logical_or
            return BV(f(a.v, b.v), lv)
        if isinstance(n, Not):
            x = self.ev(n.operand, el)
            return BV((not x.v) if x.level == "const" else ~x.v, x.level)
        if isinstance(n, If):
            return self.if_(n, el)
        if isinstance(n, Index | Call):
            # The language is pure: the same text in the same context has the same value.
            key = (self._text[n.start : n.end], el)
            hit = self._cse.get(key)
            if hit is None:
                hit = self.index(n, el) if isinstance(n, Index) else self.call(n, el)
                self._cse[key] = hit
            return hit
        raise AssertionError(type(n))

    def run(self, f: Formula, el: str | None) -> BV:
        """Evaluate a formula (keeps its text for common-subexpression reuse)."""
        saved = self._text
        self._text = f.text
        try:
            assert f.node is not None
            return self.ev(f.node, el)
        finally:
            self._text = saved

    def mul(self, a: BV, b: BV) -> BV:
        a, b, lv = self.pair(a, b)
        bound = a.bound * b.bound
        av, bv = (self.wide(a.v), self.wide(b.v)) if bound > LIMIT else (a.v, b.v)
        return BV(av * bv, lv, a.scale + b.scale, bound)

    def compare(self, n: Compare, el: str | None) -> BV:
        a = self.ev(n.left, el)
        b = self.ev(n.right, el)
        kind = n.left.ty.kind
        if kind == "num":
            s = max(a.scale, b.scale)
            a, b = self.align(a, s), self.align(b, s)
            if max(a.bound, b.bound) > LIMIT:
                a, b = BV(self.wide(a.v), a.level), BV(self.wide(b.v), b.level)
        a, b, lv = self.pair(a, b)
        op = n.op
        x, y = a.v, b.v
        if op == "==":
            out = x == y
        elif op == "!=":
            out = x != y
        elif op == "<":
            out = x < y
        elif op == "<=":
            out = x <= y
        elif op == ">":
            out = x > y
        else:
            out = x >= y
        if kind == "date":
            known = (x != 0) & (y != 0)
            out = out & known
        if lv == "const":
            return BV(bool(out), lv)
        return BV(np.asarray(out, dtype=bool), lv)

    def if_(self, n: If, el: str | None) -> BV:
        conds = [self.ev(c, el) for c, _ in n.branches]
        vals = [self.ev(v, el) for _, v in n.branches]
        other = self.ev(n.orelse, el)
        kind = n.ty.kind
        if kind == "num":
            s = n.ty.scale
            vals = [self.align(v, s) for v in vals]
            other = self.align(other, s)
        # Constant conditions pick their branch without touching arrays.
        out = other
        for c, v in reversed(list(zip(conds, vals, strict=True))):
            if c.level == "const":
                out = v if bool(c.v) else out
                continue
            lv = self.level_of(c, v, out)
            cv = self.full(c, lv)
            vv = self.lift(v, lv)
            ov = self.lift(out, lv)
            bound = max(vv.bound, ov.bound)
            xv, yv = vv.v, ov.v
            if (
                bound > LIMIT
                or (isinstance(xv, np.ndarray) and xv.dtype == object)
                or (isinstance(yv, np.ndarray) and yv.dtype == object)
            ):
                xv, yv = self.wide(xv), self.wide(yv)
                if not isinstance(xv, np.ndarray):
                    xv = np.full(cv.shape[0], xv, dtype=object)
            out = BV(np.where(cv, xv, yv), lv, vv.scale if kind == "num" else 0, bound)
        return out

    def name(self, n: Name, el: str | None) -> BV:
        ref = n.ref
        kind = ref[0]
        if kind == "field":
            return self.field(ref[1], ref[2])
        if kind == "param":
            return self.param(ref[1], n.ty.scale)
        if kind == "clock":
            return self.clock(ref[1])
        if kind == "tier":
            return self.tier(ref[1], n.ty.scale)
        if kind == "derived":
            name = ref[1]
            if name not in self.derived:
                d = self.c.policy.derived[name]
                self.derived[name] = self.run(d.formula, None)
            return self.derived[name]
        if kind == "item":
            return self.items[ref[1]]
        if kind == "fact":
            return self.fact(ref[1])
        if kind == "subtotal":
            return self.subtotal(ref[1])
        if kind == "option":
            return BV(self.code(self.option), "const")
        raise AssertionError(ref)

    def fact(self, fid: str) -> BV:
        """A declared fact over the households (a missing one reads as 0 / no / none)."""
        d = self.c.policy.facts[fid]
        vals, _ = self.t.fact_column(d)
        if d.numeric:
            return BV(vals, "hh", d.places, _absmax(vals))
        if d.type == "category":
            codes = np.asarray([self.code(NO_WORD if w is None else w) for w in vals.tolist()], dtype=I64)
            return BV(codes, "hh")
        return BV(vals, "hh")

    def subtotal(self, name: str) -> BV:
        """A subtotal: the sum of its items evaluated so far under this option (exact)."""
        parts = [self.items[i] for i in self.c.subtotal_leaves[name] if i in self.items]
        bound = sum(p.bound for p in parts)
        wide = bound > LIMIT or any(isinstance(p.v, np.ndarray) and p.v.dtype == object for p in parts)
        acc: Any = np.zeros(self.n, dtype=object if wide else I64)
        for p in parts:
            acc = acc + (self.wide(p.v) if wide else p.v)
        return BV(acc, "hh", 2, bound)

    def field(self, obj: str, attr: str) -> BV:
        t = self.t
        if obj == "household":
            if attr == "block":
                codes = np.asarray([self.vocab[b] for b in t.blocks], dtype=I64)
                return BV(codes[t.block_idx], "hh")
            if attr in ("chosen_flats_area", "purchase_total"):
                col = getattr(t, attr)
                return BV(col, "hh", 2, _absmax(col))
            if attr in EVENT_DATES:
                return BV(t.event(attr), "hh")
            arr = {
                "kind": t.kind,
                "sign_on": t.sign_on,
                "vacate_on": t.vacate_on,
                "has_homestead": t.has_homestead,
            }[attr]
            return BV(arr, "hh")
        if obj == "homestead":
            if attr == "area":
                return BV(t.homestead_area, "hh", 2, _absmax(t.homestead_area))
            return BV(t.homestead_year, "hh", 0, _absmax(t.homestead_year))
        e = self.el[obj]
        if obj == "flat":
            if attr in ("area", "price", "purchase_total"):
                return BV(e.cols[attr], obj, 2, e.bounds[attr])
            if attr == "floor":
                return BV(e.cols[attr], obj, 0, e.bounds[attr])
            return BV(e.cols[attr], obj)
        if obj == "building":
            if attr in ("legal_area", "unregistered_area") or attr in BUILDING_MONEY_COLS:
                return BV(e.cols[attr], obj, 2, e.bounds[attr])
            if attr in ("floors", "built_year"):
                return BV(e.cols[attr], obj, 0, e.bounds[attr])
            return BV(e.cols[attr], obj)
        if obj == "member":
            if attr == "disability_grade":
                return BV(e.cols[attr], obj, 0, 4)
            return BV(e.cols[attr], obj)
        if attr == "area":
            return BV(e.cols["area"], obj, 2, e.bounds["area"])
        return BV(e.cols["kind"], obj)

    # -- parameters with per-block variants

    def variants(self, name: str, get: Any) -> tuple[list[Any], Arr | None]:
        """Distinct values of a parameter/clock over blocks and, if more than one, the variant per household."""
        if name not in self._variants:
            keys: dict[tuple[str, ...], int] = {}
            vals: list[Any] = []
            per_block = np.zeros(len(self.t.blocks), dtype=I64)
            for bi, path in enumerate(self.t.block_paths):
                k = self.r.override_key(name, path)
                if k not in keys:
                    keys[k] = len(vals)
                    vals.append(get(path))
                per_block[bi] = keys[k]
            if not vals:
                vals = [get(())]
            self._variants[name] = (vals, per_block[self.t.block_idx] if len(vals) > 1 else None)
        return self._variants[name]

    def param(self, name: str, scale: int) -> BV:
        p = self.c.policy.params[name]
        vals, var = self.variants(name, lambda path: self.r.param(name, path))
        if p.kind == "category":
            codes = [self.code(v) for v in vals]
            if var is None:
                return BV(codes[0], "const")
            return BV(np.asarray(codes, dtype=I64)[var], "hh")
        ints = [_scaled(v, scale) for v in vals]
        bound = max(abs(x) for x in ints)
        if var is None:
            return BV(ints[0], "const", scale, bound)
        arr = np.asarray(ints, dtype=object if bound > LIMIT else I64)
        return BV(arr[var], "hh", scale, bound)

    def clock(self, name: str) -> BV:
        vals, var = self.variants(name, lambda path: self.r.clock(name, path))
        ords = [d.toordinal() for d in vals]
        if var is None:
            return BV(ords[0], "const")
        return BV(np.asarray(ords, dtype=I64)[var], "hh")

    def tier(self, name: str, scale: int) -> BV:
        t = self.c.policy.tiers[name]
        event = self.t.sign_on if t.event == "sign_on" else self.t.vacate_on
        clock = self.clock(t.clock)
        day = event - clock.v
        if t.count is DayCount.CLOCK_DAY_IS_DAY_1:
            day = day + 1
        known = event != 0
        other = _scaled(t.otherwise, scale)
        out = np.full(self.n, other, dtype=I64)
        bound = abs(other)
        for w in reversed(t.windows):
            m = known.copy()
            if w.window.after is not None:
                m &= day > w.window.after
            if w.window.upto is not None:
                m &= day <= w.window.upto
            v = _scaled(w.value, scale)
            bound = max(bound, abs(v))
            out = np.where(m, v, out)
        return BV(out, "hh", scale, bound)

    def index(self, n: Index, el: str | None) -> BV:
        name = n.ref[1]
        p = self.c.policy.params[name]
        scale = n.ty.scale
        if name not in self._luts:
            vals, var = self.variants(name, lambda path: self.r.param(name, path))
            dims: list[list[str]] = [[] for _ in p.keys]
            for table in vals:
                for key in table:
                    for i, w in enumerate(key):
                        if w not in dims[i]:
                            dims[i].append(w)
            size = len(self.vocab)
            maps = []
            for d in dims:
                m = np.full(size, -1, dtype=I64)
                for j, w in enumerate(d):
                    m[self.vocab[w]] = j
                maps.append(m)
            strides = [1] * len(dims)
            for i in range(len(dims) - 2, -1, -1):
                strides[i] = strides[i + 1] * max(1, len(dims[i + 1]))
            width = strides[0] * max(1, len(dims[0])) if dims else 1
            default = _scaled(p.default, scale) if p.default is not None else 0
            lut = np.full((len(vals), width), default, dtype=object)
            present = np.zeros((len(vals), width), dtype=bool)
            for vi, table in enumerate(vals):
                for key, v in table.items():
                    pos = sum(dims[i].index(w) * strides[i] for i, w in enumerate(key))
                    lut[vi, pos] = _scaled(v, scale)
                    present[vi, pos] = True
            bound = max([abs(int(x)) for x in lut.ravel().tolist()] + [0])
            if bound <= LIMIT:
                lut = lut.astype(I64)
            self._luts[name] = (maps, strides, lut, present, var, bound)
        maps, strides, lut, present, var, bound = self._luts[name]
        keys = [self.ev(k, el) for k in n.keys]
        lv = self.level_of(*keys)
        flat: Any = 0
        missing: Any = False
        for i, k in enumerate(keys):
            k = self.lift(k, lv)
            local = maps[i][k.v]
            missing = missing | (local < 0)
            flat = flat + np.maximum(local, 0) * strides[i]
        if var is None:
            vidx: Any = 0
        else:
            lv = "hh" if lv == "const" else lv
            vidx = var if lv == "hh" else var[self.el[lv].hh]
        value = lut[vidx, flat]
        ok = present[vidx, flat]
        if p.default is None:
            bad = missing | ~ok
            if np.any(bad):
                raise EvaluationError(
                    "table-key",
                    f"表格“{name}”缺少部分键的取值",
                    f"table '{name}' lacks entries for some keys",
                )
        elif np.any(missing):
            # A key word the table does not know at all takes the default.
            value = np.where(missing, _scaled(p.default, scale), value)
        if lv == "const":
            return BV(int(value), "const", scale, bound)
        return BV(value, lv, scale, bound)

    def seg_sum(self, e: Elements, v: Arr, bound: int | None = None) -> Arr:
        """Sum of element values per household (exact; object arrays stay exact).

        With a known bound whose running total cannot overflow, a prefix sum is used (fast);
        otherwise ``reduceat`` over the non-empty households.
        """
        if e.size and v.dtype != object and bound is not None and bound * e.size <= LIMIT:
            cs = np.zeros(e.size + 1, dtype=I64)
            np.cumsum(v, out=cs[1:])
            return cs[e.start + e.count] - cs[e.start]  # type: ignore[no-any-return]
        out = np.zeros(self.n, dtype=v.dtype if v.dtype == object else I64)
        nz = e.count > 0
        if e.size:
            out[nz] = np.add.reduceat(v, e.start[nz])
        return out

    def call(self, n: Call, el: str | None) -> BV:
        f = n.func
        a = n.args
        if isinstance(n.ref, tuple) and n.ref[0] == "bands":
            x = self.ev(a[0], el)
            p = self.c.policy.params[f]
            scale = n.ty.scale
            bands = self.r.param(f, ())
            if p.overrides:
                raise EvaluationError(
                    "bands", "分档参数暂不支持按片区覆盖", "band parameters cannot be overridden per block"
                )
            default = _scaled(p.default, scale) if p.default is not None else 0
            bound = abs(default)
            out: Any = default
            for w, v in reversed(bands):
                m: Any = True
                if w.after is not None:
                    m = m & (x.v > w.after)
                if w.upto is not None:
                    m = m & (x.v <= w.upto)
                sv = _scaled(v, scale)
                bound = max(bound, abs(sv))
                out = np.where(m, sv, out) if x.level != "const" else (sv if m else out)
            return BV(out, x.level, scale, bound)
        if isinstance(n.ref, tuple) and n.ref[0] == "pick":
            return self.pick(n, el)
        if f in ("days_between", "months_between", "add_months"):
            return self.date_call(n, el)
        if f in ("min", "max", "clamp"):
            xs = [self.ev(y, el) for y in a]
            s = n.ty.scale
            xs = [self.align(x, s) for x in xs]
            lv = self.level_of(*xs)
            xs = [self.lift(x, lv) for x in xs]
            bound = max(x.bound for x in xs)
            vals = [x.v for x in xs]
            if lv == "const":
                if f == "clamp":
                    return BV(min(max(vals[0], vals[1]), vals[2]), lv, s, bound)
                return BV(min(vals) if f == "min" else max(vals), lv, s, bound)
            if any(isinstance(v, np.ndarray) and v.dtype == object for v in vals):
                vals = [self.wide(v) for v in vals]
            if f == "clamp":
                out = np.minimum(np.maximum(vals[0], vals[1]), vals[2])
            else:
                out = vals[0]
                for v in vals[1:]:
                    out = np.minimum(out, v) if f == "min" else np.maximum(out, v)
            return BV(out, lv, s, bound)
        if f == "floor":
            x = self.ev(a[0], el)
            return BV(x.v // 10**x.scale, x.level, 0, x.bound // 10**x.scale + 1)
        if f == "abs":
            x = self.ev(a[0], el)
            return BV(abs(x.v), x.level, x.scale, x.bound)
        if f == "round":
            x = self.ev(a[0], el)
            places = n.ty.scale
            if places >= x.scale:
                return self.align(x, places)
            return BV(
                div_round(x.v, 10 ** (x.scale - places), self.mode),
                x.level,
                places,
                x.bound // 10 ** (x.scale - places) + 1,
            )
        if f in ("sum", "count", "any"):
            inner = a[0].ref[1]
            e = self.el[inner]
            where = n.kwargs.get("where")
            mask = self.full(self.ev(where, inner), inner) if where is not None else None
            if f == "sum":
                x = self.ev(a[1], inner)
                col = self.full(x, inner)
                if mask is not None:
                    col = np.where(mask, col, 0)
                    if col.dtype != object and x.bound > LIMIT:
                        col = col.astype(object)
                maxc = int(e.count.max()) if self.n else 0
                bound = x.bound * max(1, maxc)
                if bound > LIMIT:
                    col = self.wide(col)
                return BV(self.seg_sum(e, col, x.bound), "hh", x.scale, bound)
            ones = mask.astype(I64) if mask is not None else np.ones(e.size, dtype=I64)
            cnt = self.seg_sum(e, ones, 1)
            if f == "count":
                return BV(cnt, "hh", 0, int(e.count.max()) if self.n else 0)
            return BV(cnt > 0, "hh")
        if f in ("sign_rate", "vacate_rate"):
            scope = a[0].value  # type: ignore[attr-defined]
            event = "sign" if f == "sign_rate" else "vacate"
            basis = rate_basis(n)
            as_of = self.ev(a[1], el)
            t = self.t
            if scope == "project":
                scope_codes: list[str | None] = [None]
                scope_hh: Any = 0
            else:
                if scope == "block":
                    per_block = [p[-1] for p in t.block_paths]
                else:
                    lvl = self.c.policy.meta.block_levels.index(scope)
                    for path in t.block_paths:
                        if lvl >= len(path):
                            raise EvaluationError(
                                "scope",
                                f"有户没有“{scope}”层级的片区",
                                f"some households have no block at level '{scope}'",
                            )
                    per_block = [p[lvl] for p in t.block_paths]
                uniq = sorted(set(per_block))
                scope_codes = list(uniq)
                sid = np.asarray([uniq.index(c) for c in per_block], dtype=I64)
                scope_hh = sid[t.block_idx] if len(uniq) > 1 else 0
            if as_of.level == "const" and not isinstance(scope_hh, np.ndarray):
                ppm = self.gi.rate_ppm(scope_codes[0], int(as_of.v), event, basis)
                return BV(ppm, "const", 6, ppm)
            if as_of.level == "const":
                per_scope = np.asarray(
                    [self.gi.rate_ppm(code, int(as_of.v), event, basis) for code in scope_codes], dtype=I64
                )
                return BV(per_scope[scope_hh], "hh", 6, 1_000_000)
            asv = (
                self.full(as_of, "hh") if as_of.level != "const" else np.full(self.n, int(as_of.v), dtype=I64)
            )
            sh = scope_hh if isinstance(scope_hh, np.ndarray) else np.zeros(self.n, dtype=I64)
            key = sh * (1 << 32) + asv
            uk, inv = np.unique(key, return_inverse=True)
            rates = np.asarray(
                [
                    self.gi.rate_ppm(scope_codes[int(k) >> 32], int(k) & 0xFFFFFFFF, event, basis)
                    for k in uk.tolist()
                ],
                dtype=I64,
            )
            out = rates[inv.reshape(-1)]
            return BV(out, "hh", 6, 1_000_000)
        if f == "measure":
            return self.measure_call(n, el)
        if f == "points_above":
            r = self.ev(a[0], el)
            th = self.ev(a[1], el)
            s = max(r.scale, th.scale)
            r, th = self.align(r, s), self.align(th, s)
            r, th, lv = self.pair(r, th)
            diff = r.v - th.v
            pts = (diff * 100) // 10**s
            if lv == "const":
                return BV(pts if diff > 0 else 0, lv, 0, abs(pts))
            return BV(np.where(diff > 0, pts, 0), lv, 0, (r.bound + th.bound) * 100 // 10**s + 1)
        if f == "known":
            ref = a[0].ref
            if ref[0] == "fact":
                return BV(self.t.fact_column(self.c.policy.facts[ref[1]])[1], "hh")
            if ref[1] == "household":
                return BV(self.t.event(ref[2]) != 0, "hh")
            if ref[1] == "flat":
                return BV(self.t.flats.cols[ref[2] + "_known"], "flat")
            return BV(self.t.buildings.cols[ref[2] + "_known"], "building")
        if f == "flag":
            name = a[0].value  # type: ignore[attr-defined]
            flag_arr = self.t.flags.get(name)
            return BV(False, "const") if flag_arr is None else BV(flag_arr, "hh")
        if f == "date":
            return BV(n.ref.toordinal(), "const")
        raise AssertionError(f)

    def date_call(self, n: Call, el: str | None) -> BV:
        """Date arithmetic on ordinals (0 = unknown), the same integer code as the kernels
        (anju.policy.datecalc)."""
        d, x, lv = self.pair(self.ev(n.args[0], el), self.ev(n.args[1], el))
        if n.func == "add_months":
            dv, xv = d.v, x.v
            if x.bound > 10**12:  # nonsense month counts still give the exact error below
                dv, xv = self.wide(dv), self.wide(xv)
            out = add_months_o(dv, xv)
            bad = (dv != 0) & ((out < 1) | (out > ORD_MAX))
            if np.any(bad):
                raise EvaluationError(
                    "date-range",
                    "add_months 的结果超出日期范围（公元1年至9999年）",
                    "add_months gives a date out of range (years 1 to 9999)",
                )
            if isinstance(out, np.ndarray) and out.dtype == object:
                out = out.astype(I64)
            return BV(out if lv != "const" else int(out), lv)
        on = int(bool(n.ref[1]))
        fn = days_between_o if n.func == "days_between" else months_between_o
        out = fn(d.v, x.v, on)
        return BV(out if lv != "const" else int(out), lv, 0, ORD_MAX)

    def pick(self, n: Call, el: str | None) -> BV:
        """``max`` / ``min`` / ``first`` over a collection, ``else=`` where nothing is selected.

        The elements of every household are sorted once (household, selected first, order key,
        position): each household's first element after sorting is its pick."""
        f = n.func
        inner = n.ref[1]
        e = self.el[inner]
        s = n.ty.scale
        num = n.ty.kind == "num"
        where = n.kwargs.get("where")
        mask = self.full(self.ev(where, inner), inner) if where is not None else np.ones(e.size, dtype=bool)
        x = self.ev(n.args[1], inner)
        if num:
            x = self.align(x, s)
        xv = self.full(x, inner)
        if f == "first":
            order = n.kwargs.get("order")
            if order is not None:
                key = self.full(self.ev(order, inner), inner)
                if key.dtype == object:  # rank exact big values instead of sorting objects
                    key = np.unique(key, return_inverse=True)[1].reshape(-1).astype(I64)
                if isinstance(n.kwargs.get("desc"), Bool):
                    key = -key
            else:
                key = np.zeros(e.size, dtype=I64)
        else:
            key = xv if xv.dtype != object else np.unique(xv, return_inverse=True)[1].reshape(-1).astype(I64)
            if f == "max":
                key = -key
        sorted_idx = np.lexsort((np.arange(e.size), key, ~mask, e.hh)) if e.size else np.zeros(0, dtype=I64)
        nz = e.count > 0
        has = np.zeros(self.n, dtype=bool)
        chosen = np.zeros(self.n, dtype=I64)
        if e.size:
            chosen[nz] = sorted_idx[e.start[nz]]
            has[nz] = mask[chosen[nz]]
        value = BV(xv[chosen] if e.size else np.zeros(self.n, dtype=xv.dtype), "hh", x.scale, x.bound)
        d = self.ev(n.kwargs["else"], el)
        if num:
            d = self.align(d, s)
        lv = self.level_of(d, value)
        hv, vv, dv = self.full(BV(has, "hh"), lv), self.lift(value, lv).v, self.lift(d, lv).v
        if any(isinstance(v, np.ndarray) and v.dtype == object for v in (vv, dv)):
            vv, dv = self.wide(vv), self.wide(dv)
        return BV(np.where(hv, vv, dv), lv, s if num else 0, max(x.bound, d.bound))

    # -- items

    def to_fen(self, x: BV, it: Item) -> BV:
        """Round a yuan value of scale ``s`` to fen with the item's mode and unit."""
        step = unit_fen(it.rounding_unit)
        s = x.scale
        if s >= 2:
            units = div_round(x.v, 10 ** (s - 2) * step, it.rounding_mode)
        else:
            units = div_round(x.v * 10 ** (2 - s), step, it.rounding_mode)
        fen = units * step if step != 1 else units
        bound = x.bound // 10 ** max(0, s - 2) * 10 ** max(0, 2 - s) + step
        return BV(fen, x.level, 2, bound)

    def bounded(self, x: BV, floor: Formula | None, cap: Formula | None, el: str | None) -> BV:
        for f, is_floor in ((floor, True), (cap, False)):
            if f is None:
                continue
            b = self.run(f, el)
            s = max(x.scale, b.scale)
            x2, b2 = self.align(x, s), self.align(b, s)
            x2, b2, lv = self.pair(x2, b2)
            bound = max(x2.bound, b2.bound)
            xv, bv = x2.v, b2.v
            if bound > LIMIT or any(isinstance(v, np.ndarray) and v.dtype == object for v in (xv, bv)):
                xv, bv = self.wide(xv), self.wide(bv)
            if lv == "const":
                out: Any = max(xv, bv) if is_floor else min(xv, bv)
            else:
                out = np.maximum(xv, bv) if is_floor else np.minimum(xv, bv)
            x = BV(out, lv, s, bound)
        return x

    def narrow(self, v: Arr) -> Arr:
        """Fen results back to int64 when they fit."""
        if v.dtype == object and _absmax(v) <= LIMIT:
            return v.astype(I64)
        return v

    def item(self, it: Item) -> tuple[Arr, Arr]:
        el = "building" if it.per == "certificate" else None
        lv = el or "hh"
        applies = BV(True, "const")
        if it.when is not None:
            applies = self.run(it.when, el)
        raw = self.run(it.formula, el)
        fen = self.to_fen(self.bounded(raw, it.floor, it.cap, el), it)
        app = self.full(applies, lv)
        vals = self.full(fen, lv)
        vals = np.where(app, vals, 0)
        if vals.dtype != object and fen.bound > LIMIT:
            vals = vals.astype(object)
        if el is None:
            return self.narrow(vals), app
        e = self.t.buildings
        total = self.seg_sum(e, vals, fen.bound)
        hh_app = self.seg_sum(e, app.astype(I64), 1) > 0
        if it.household_floor is not None or it.household_cap is not None:
            tb = BV(total, "hh", 2, _absmax(total))
            hf = self.to_fen(self.bounded(tb, it.household_floor, it.household_cap, None), it)
            total = np.where(hh_app, self.full(hf, "hh"), 0)
        return self.narrow(total), hh_app

    def evaluate(self, option: str) -> BulkResult:
        """Evaluate every household for ``option``."""
        if option not in self.c.policy.options:
            raise EvaluationError("option", f"没有补偿方式“{option}”", f"no option '{option}'")
        self.option = option
        self.derived = {}  # a derived value may read the option
        fen: dict[str, Arr] = {}
        app: dict[str, Arr] = {}
        self.items = {}
        self._cse = {}
        ids = []
        for it in self.c.items_for(option):
            v, a = self.item(it)
            fen[it.id] = v
            app[it.id] = a
            self.items[it.id] = BV(v, "hh", 2, _absmax(v))
            ids.append(it.id)
        labels = {it.id: it.label for it in self.c.items_for(option)}
        subs = subtotal_arrays(self.c, option, fen, self.n)
        sub_labels = {st.id: st.label for st in self.c.subtotals_for(option)}
        return mark_missing(self.c.policy.facts, self.t, BulkResult(
            option, self.t.codes, ids, labels, fen, app, subtotals=subs, subtotal_labels=sub_labels
        ))

    def scope_of_households(self, scope: str) -> tuple[list[str | None], Arr]:
        """The distinct block codes of ``scope`` ('project', 'block' or a level name) and, per
        household, the index of its code among them."""
        t = self.t
        if scope == "project":
            return [None], np.zeros(self.n, dtype=I64)
        if scope == "block":
            per_block = [p[-1] for p in t.block_paths]
        else:
            lvl = self.c.policy.meta.block_levels.index(scope)
            for path in t.block_paths:
                if lvl >= len(path):
                    raise EvaluationError(
                        "scope",
                        f"有户没有“{scope}”层级的片区",
                        f"some households have no block at level '{scope}'",
                    )
            per_block = [p[lvl] for p in t.block_paths]
        uniq = sorted(set(per_block))
        sid = np.asarray([uniq.index(c) for c in per_block], dtype=I64)
        return list(uniq), sid[t.block_idx] if len(sid) else np.zeros(self.n, dtype=I64)

    def measure_call(self, n: Call, el: str | None) -> BV:
        """``measure(id, scope, as_of)`` for every household: the office-set value in force for the
        household's block, as scaled integers; a missing value names the measure, block and a
        household (as the scalar evaluator does for that household)."""
        m = self.c.policy.measures[n.args[0].value]  # type: ignore[attr-defined]
        scope = n.args[1].value  # type: ignore[attr-defined]
        as_of = self.ev(n.args[2], el)
        codes, sh = self.scope_of_households(scope)
        asv = self.full(as_of, "hh") if as_of.level != "const" else np.full(self.n, int(as_of.v), dtype=I64)
        key = sh * (1 << 32) + asv
        uk, inv = np.unique(key, return_inverse=True)
        vals: list[int] = []
        k = 10**m.scale
        for j, kk in enumerate(uk.tolist()):
            code = codes[int(kk) >> 32]
            o = int(kk) & 0xFFFFFFFF
            v = self.gi.group.measure_value(m.id, code, date.fromordinal(o)) if o else None
            if v is None or v != v.quantize(Decimal(1).scaleb(-PLACES)):
                i = int(np.flatnonzero(inv.reshape(-1) == j)[0])
                where = "全项目" if code is None else f"{scope} {code}"
                raise EvaluationError(
                    "measure",
                    f"户 {self.t.codes[i]} 缺少办公室录入的指标“{m.label}”（{where}，"
                    f"截至 {date.fromordinal(o) if o else '（日期未知）'}没有生效的记录），暂不能计算",
                    f"household {self.t.codes[i]}: no value of measure '{m.id}' for "
                    f"{'the project' if code is None else code} in force",
                )
            vals.append(int(m.engine_value(v) * k))
        arr = np.asarray(vals, dtype=I64)[inv.reshape(-1)]
        bound = int(np.abs(arr).max()) if arr.size else 0
        if len(uk) == 1 and as_of.level == "const":
            return BV(vals[0], "const", m.scale, abs(vals[0]))
        return BV(arr, "hh", m.scale, bound)
