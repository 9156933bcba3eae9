"""Numpy evaluator part: names, declared facts, subtotals, fields of household objects,
parameters, clocks, tiers, table/band lookups and per-household sums of elements."""

from __future__ import annotations

from typing import Any

import numpy as np

from anju.core.dates import DayCount
from anju.policy.bulk.evaluator.core import BV, BulkEvaluatorBase
from anju.policy.declared import NO_WORD
from anju.policy.errors import EvaluationError
from anju.policy.expr import Index, Name
from anju.policy.facts import EVENT_DATES
from anju.policy.table import BUILDING_MONEY_COLS, I64, LIMIT, Arr, Elements, _absmax, _scaled


class BulkEvaluatorNames(BulkEvaluatorBase):
    """Names, facts, fields, parameters, clocks, tiers, lookups and sums of elements."""

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
        """A declared fact over the households, or over the buildings / members for a building- or
        member-level fact (a missing one reads as 0 / no / none)."""
        d = self.c.policy.facts[fid]
        vals, _ = self.t.fact_column(d)
        lv = "hh" if d.level == "household" else d.level
        if d.numeric:
            return BV(vals, lv, d.places, _absmax(vals))
        if d.type == "category":
            codes = np.asarray([self.code(NO_WORD if w is None else w) for w in vals.tolist()], dtype=I64)
            return BV(codes, lv)
        return BV(vals, lv)

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
            if attr == "ready":
                return BV(t.flat_ready(self.as_of), obj)
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
            if lv != "const" and np.any(bad):
                bad = bad & ~self.not_computed(lv)
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
