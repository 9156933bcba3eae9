"""Code generator part: names, declared facts, subtotals, fields of household objects and their
element loops, parameters, clocks, tiers and table/band lookups."""

from __future__ import annotations

from typing import Any

import numpy as np

from anju.core.dates import DayCount
from anju.policy.declared import NO_WORD
from anju.policy.expr import Index, Name
from anju.policy.facts import EVENT_DATES
from anju.policy.jit.builder.core import (
    _ELEMENT_COLS,
    BuilderBase,
    _in_range,
    _offsets_ok,
    _per_arrays,
)
from anju.policy.jit.helpers import I64, Overflow, Unsupported, V
from anju.policy.table import LIMIT, Arr, Elements, _absmax


class BuilderNames(BuilderBase):
    """Names, facts, fields, element loops, parameters, clocks, tiers and lookups."""

    def name(self, n: Name, el: str | None) -> V:
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
                saved_loop, saved_text = self.loop, self.text
                self.loop = None
                try:
                    d = self.c.policy.derived[name]
                    self.derived[name] = self.run(d.formula, None)
                finally:
                    self.loop, self.text = saved_loop, saved_text
            return self.derived[name]
        if kind == "item":
            return self.items[ref[1]]
        if kind == "fact":
            return self.fact(ref[1])
        if kind == "subtotal":
            return self.subtotal(ref[1])
        if kind == "option":
            return self.lit(self.code(self.option))
        raise Unsupported(kind)

    def fact(self, fid: str) -> V:
        """A declared fact of household ``i``, or of the loop's building / member for a building-
        or member-level fact (a runtime column: values never reach the source)."""
        d = self.c.policy.facts[fid]
        vals, _ = self.t.fact_column(d)
        lv = "hh" if d.level == "household" else d.level
        at = "u(i)" if lv == "hh" else self.loopvar(lv)
        if d.type == "category":
            words = vals.tolist()
            codes = np.asarray([self.code(NO_WORD if w is None else w) for w in words], dtype=I64)
            a = self.arg(("fact", fid), lambda: codes)
            return self.coded(self.emit(f"{a}[{at}]", lv), codes)
        a = self.arg(("fact", fid), lambda: vals)
        if d.numeric:
            return self.emit(f"{a}[{at}]", lv, d.places, _absmax(vals))
        return self.emit(f"{a}[{at}]", lv)

    def subtotal(self, name: str) -> V:
        """A subtotal: the sum of its items computed so far in this household's pass."""
        parts = [self.items[i] for i in self.c.subtotal_leaves[name] if i in self.items]
        if not parts:
            return self.lit(0, 2)
        return self.emit(" + ".join(p.code for p in parts), "hh", 2, sum(p.bound for p in parts))

    # -- facts

    def loopvar(self, obj: str) -> str:
        if self.loop is None or self.loop.el != obj:
            raise Unsupported(obj)
        return "u(j)"  # the loop's offsets were checked (element_loop)

    def coded(self, v: V, col: Arr) -> V:
        """``v`` read from ``col``; noted as a valid vocabulary code when every value of the
        column is one (checked once per array)."""
        if col.dtype == I64 and _in_range(col, 0, len(self.t.vocab)):
            self.codes_ok.add(v.code)
        return v

    def element_loop(self, e: Elements, start: str, count: str) -> str:
        """The header of a loop over the elements of household ``i``.

        The elements' columns are read unchecked and unsigned inside the loop, so offsets that
        leave the columns are refused here (the numpy evaluator then answers)."""
        if self.n and not _offsets_ok(e):
            raise Unsupported("element offsets out of range")
        return f"for j in range({start}[u(i)], {start}[u(i)] + {count}[u(i)]):"

    def field(self, obj: str, attr: str) -> V:
        t = self.t
        if obj == "household":
            if attr == "block":
                codes = [self.code(b) for b in t.blocks]
                v = self.emit(self.per_block(("block_code",), codes), "hh")
                self.codes_ok.add(v.code)
                return v
            if attr in ("chosen_flats_area", "purchase_total"):
                col = getattr(t, attr)
                a = self.arg(("hh", attr), lambda: col)
                return self.emit(f"{a}[u(i)]", "hh", 2, _absmax(col))
            arrays = {
                "kind": t.kind,
                "sign_on": t.sign_on,
                "vacate_on": t.vacate_on,
                "has_homestead": t.has_homestead,
            }
            if attr in EVENT_DATES:
                a = self.arg(("hh", attr), lambda: t.event(attr))
                return self.emit(f"{a}[u(i)]", "hh")
            if attr not in arrays:
                raise Unsupported(attr)
            a = self.arg(("hh", attr), lambda: arrays[attr])
            return self.coded(self.emit(f"{a}[u(i)]", "hh"), arrays[attr])
        if obj == "homestead":
            col = t.homestead_area if attr == "area" else t.homestead_year
            a = self.arg(("hh", "homestead", attr), lambda: col)
            return self.emit(f"{a}[u(i)]", "hh", 2 if attr == "area" else 0, _absmax(col))
        e = self.elements(obj)
        j = self.loopvar(obj)
        if (obj, attr) == ("flat", "ready"):  # 现房/期房 on the calculation date
            ready = t.flat_ready(self.as_of)
            a = self.arg(("flat", "ready", self.as_of), lambda: ready)
            return self.coded(self.emit(f"{a}[{j}]", obj), ready)
        if attr not in e.cols:
            raise Unsupported(attr)
        a = self.arg((obj, attr), lambda: e.cols[attr])
        scales = _ELEMENT_COLS[obj]
        if attr in scales:
            bound = 4 if (obj, attr) == ("member", "disability_grade") else self.col_bound(e, attr)
            return self.emit(f"{a}[{j}]", obj, scales[attr], bound)
        return self.coded(self.emit(f"{a}[{j}]", obj), e.cols[attr])

    @staticmethod
    def col_bound(e: Elements, attr: str) -> int:
        b = e.bounds.get(attr)
        return _absmax(e.cols[attr]) if b is None else int(b)

    def max_count(self, e: Elements) -> int:
        """Most elements of one household (bounds of sums and counts); cached per count array."""
        if not self.n:
            return 0
        return int(_per_arrays("max", (e.count,), (), lambda: int(e.count.max())))

    def elements(self, obj: str) -> Elements:
        return {
            "building": self.t.buildings,
            "member": self.t.members,
            "tenant": self.t.tenants,
            "flat": self.t.flats,
        }[obj]

    # -- parameters, clocks, tiers (one value per block)

    def variants(self, name: str, get: Any, has_overrides: bool) -> tuple[list[Any], Arr]:
        """The distinct values of a parameter/clock over the table's blocks, and each block's row."""
        return self.vr.variants(name, get, has_overrides)

    def per_block_rows(self, key: tuple[Any, ...], vals: list[int], rows: Arr) -> str:
        arr = self.arg(key, lambda: np.asarray(vals, dtype=I64)[rows])
        return f"{arr}[{self.block_index()}]"

    def value_arg(self, key: tuple[str, str, int], make: Any, bound: int) -> tuple[str, int]:
        """The argument holding the values of parameter/tier ``key`` = (kind, name, scale), and the
        bound the source is generated for: the values' own, or with :attr:`headroom` a multiple of
        it, so that a what-if changing values only reuses the source while they stay within it
        (anju.policy.jit.prepared). The source never depends on a bound (bounds only decide whether
        a kernel may be made at all), so the headroom never changes what a kernel computes."""
        name = self.arg(key, make)
        if self.headroom > 1:
            bound = max(bound, 10 ** key[2]) * self.headroom
            if bound > LIMIT:
                raise Overflow(key[1])
        self.value_args[name] = key
        self.value_bounds[name] = max(bound, self.value_bounds.get(name, 0))
        return name, bound

    def param(self, name: str, scale: int) -> V:
        p = self.c.policy.params[name]
        if p.kind == "category":
            self.shape_names.add(name)  # its words are codes of the table's vocabulary
            vals, rows = self.variants(name, lambda path: self.r.param(name, path), bool(p.overrides))
            v = self.emit(self.per_block_rows(("param", name), [self.code(v) for v in vals], rows), "hh")
            self.codes_ok.add(v.code)
            return v
        if p.kind != "scalar":
            raise Unsupported(p.kind)
        arr, bound = self.vr.param(name, scale)
        a, bound = self.value_arg(("param", name, scale), lambda: arr, bound)
        return self.emit(f"{a}[{self.block_index()}]", "hh", scale, bound)

    def clock_rows(self, name: str) -> tuple[list[int], Arr]:
        c = self.c.policy.clocks[name]
        vals, rows = self.variants(name, lambda path: self.r.clock(name, path), bool(c.overrides))
        return [d.toordinal() for d in vals], rows

    def clock_ords(self, name: str) -> list[int]:
        vals, rows = self.clock_rows(name)
        return [vals[int(r)] for r in rows]

    def clock(self, name: str) -> V:
        return self.emit(self.per_block_rows(("clock", name), *self.clock_rows(name)), "hh")

    def tier(self, name: str, scale: int) -> V:
        t = self.c.policy.tiers[name]
        ev = self.arg(("hh", t.event), lambda: self.t.sign_on if t.event == "sign_on" else self.t.vacate_on)
        clock = self.per_block_rows(("clock", t.clock), *self.clock_rows(t.clock))
        values, bound = self.vr.tier(name, scale)
        tv, bound = self.value_arg(("tier", name, scale), lambda: values, bound)
        plus = " + 1" if t.count is DayCount.CLOCK_DAY_IS_DAY_1 else ""
        e = self.emit(f"{ev}[u(i)]", "hh")
        day = self.emit(f"{e.code} - {clock}{plus}", "hh")
        # The first window that contains the day wins (bulk applies them in reverse with np.where):
        # select the window's position, then load its value once.
        expr = str(len(t.windows))
        for k in range(len(t.windows) - 1, -1, -1):
            w = t.windows[k].window
            conds = [f"({e.code} != 0)"]
            if w.after is not None:
                conds.append(f"({day.code} > {int(w.after)})")
            if w.upto is not None:
                conds.append(f"({day.code} <= {int(w.upto)})")
            expr = f"sel({' & '.join(conds)}, {k}, {expr})"
        pos = self.emit(expr, "hh")
        return self.emit(f"{tv}[u({pos.code})]", "hh", scale, bound)  # pos <= len(windows)

    def lookup_table(self, name: str, scale: int) -> tuple[list[str], int, bool]:
        """Arguments of table ``name``: lookup rows per block, presence, strides, default and one
        map (vocabulary code -> position) per key; built once per builder."""
        key = ("lut", name, scale)
        if key in self._luts:
            return self._luts[key]
        p = self.c.policy.params[name]
        lut = self.vr.lut(name, scale)
        values, bound = self.value_arg(key, lut.values, lut.bound)
        self.luts[values] = lut
        size = len(self.vocab)
        names = [
            values,
            self.arg((*key, "present"), lut.present),
            self.arg((*key, "strides"), lambda: np.asarray(lut.strides or [1], dtype=I64)),
            self.arg((*key, "default"), lambda: np.asarray([lut.width], dtype=I64)),
        ]
        for i, d in enumerate(lut.dims):
            m = np.full(size, -1, dtype=I64)
            for j, w in enumerate(d):
                m[self.vocab[w]] = j
            names.append(self.arg((*key, "map", i), lambda m=m: m))
        self._luts[key] = (names, bound, p.default is not None)
        return names, bound, p.default is not None

    def index(self, n: Index, el: str | None) -> V:
        name = n.ref[1]
        scale = n.ty.scale
        keys = [self.ev(k, el) for k in n.keys]
        (lut_a, pres_a, stride_a, default_a, *maps), bound, has_default = self.lookup_table(name, scale)
        lv = self.level_of(*keys)
        lv = "hh" if lv == "const" else lv
        blk = self.block_index()
        parts = []
        miss_terms = []
        for i, k in enumerate(keys):
            key_ok = k.code in self.codes_ok or (k.value is not None and 0 <= k.value < len(self.vocab))
            local = self.emit(f"{maps[i]}[{f'u({k.code})' if key_ok else k.code}]", lv)
            miss_terms.append(f"({local.code} < 0)")
            parts.append(f"imax({local.code}, 0) * {stride_a}[{i}]")
        miss = self.emit(" | ".join(miss_terms) if miss_terms else "False", lv)
        flat = self.emit(" + ".join(parts) if parts else "0", lv)
        if not has_default:
            # A flag per lookup, tested once at the end of the household (a store inside the
            # loops would keep the compiler from reusing loaded values across them).
            bad = self.tmp_name("q")
            self.body.append(f"{bad} = False")
            # flat < width: every map holds -1 or a position below its dimension's size
            self.block(lv).append(f"{bad} |= {miss.code} | (not {pres_a}[{blk}, u({flat.code})])")
            self.bad.append(bad)
            return self.emit(f"{lut_a}[{blk}, u({flat.code})]", lv, scale, bound)
        # The default sits in the extra last column of every row.
        pos = self.emit(f"sel({miss.code}, {default_a}[0], {flat.code})", lv)
        return self.emit(f"{lut_a}[{blk}, u({pos.code})]", lv, scale, bound)  # pos <= width
