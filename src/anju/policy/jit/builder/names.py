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
    _OVERRIDE_ROWS,
    BuilderBase,
    _in_range,
    _offsets_ok,
    _per_arrays,
)
from anju.policy.jit.helpers import I64, Overflow, Unsupported, V
from anju.policy.table import LIMIT, Arr, Elements, _absmax, _scaled


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
        nb = max(1, len(self.paths))
        if not has_overrides or not self.paths:
            return [get(())], np.zeros(nb, dtype=I64)
        _keys, rows, paths = self.override_rows(name)
        return [get(path) for path in paths], rows

    def override_rows(self, name: str) -> tuple[list[tuple[str, ...]], Arr, list[tuple[str, ...]]]:
        """Distinct override keys of ``name`` over the blocks, each block's key, and one path per key.

        Cached per (block paths, overriding blocks): what-if recomputations reuse it."""
        c = self.c.policy.clocks.get(name)
        blocks = frozenset(c.overrides if c is not None else self.r.overrides[name])
        ck = (id(self.paths), blocks)
        hit = _OVERRIDE_ROWS.get(ck)
        if hit is not None and hit[0] is self.paths:
            cached: tuple[list[tuple[str, ...]], Arr, list[tuple[str, ...]]] = hit[1]
            return cached
        memo: dict[tuple[str, ...], int] = {}
        keys: list[tuple[str, ...]] = []
        paths: list[tuple[str, ...]] = []
        rows = np.zeros(max(1, len(self.paths)), dtype=I64)
        for b, path in enumerate(self.paths):
            k = tuple(x for x in path if x in blocks)
            if k not in memo:
                memo[k] = len(keys)
                keys.append(k)
                paths.append(path)
            rows[b] = memo[k]
        if len(_OVERRIDE_ROWS) > 64:
            _OVERRIDE_ROWS.clear()
        _OVERRIDE_ROWS[ck] = (self.paths, (keys, rows, paths))
        return keys, rows, paths

    def per_block_rows(self, key: tuple[Any, ...], vals: list[int], rows: Arr) -> str:
        arr = self.arg(key, lambda: np.asarray(vals, dtype=I64)[rows])
        return f"{arr}[{self.block_index()}]"

    def param(self, name: str, scale: int) -> V:
        p = self.c.policy.params[name]
        vals, rows = self.variants(name, lambda path: self.r.param(name, path), bool(p.overrides))
        if p.kind == "category":
            v = self.emit(self.per_block_rows(("param", name), [self.code(v) for v in vals], rows), "hh")
            self.codes_ok.add(v.code)
            return v
        if p.kind != "scalar":
            raise Unsupported(p.kind)
        ints = [_scaled(v, scale) for v in vals]
        bound = max(abs(x) for x in ints)
        if bound > LIMIT:
            raise Overflow(name)
        return self.emit(self.per_block_rows(("param", name, scale), ints, rows), "hh", scale, bound)

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
        values = [_scaled(w.value, scale) for w in t.windows] + [_scaled(t.otherwise, scale)]
        bound = max(abs(v) for v in values)
        if bound > LIMIT:
            raise Overflow(name)
        tv = self.arg(("tier", name, scale), lambda: np.asarray(values, dtype=I64))
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
        tables, row_of_block = self.variants(name, lambda path: self.r.param(name, path), bool(p.overrides))
        dims: list[list[str]] = [[] for _ in p.keys]
        for table in tables:
            for k in table:
                for i, w in enumerate(k):
                    if w not in dims[i]:
                        dims[i].append(w)
        strides = [1] * len(dims)
        for i in range(len(dims) - 2, -1, -1):
            strides[i] = strides[i + 1] * max(1, len(dims[i + 1]))
        width = strides[0] * max(1, len(dims[0])) if dims else 1
        default = _scaled(p.default, scale) if p.default is not None else 0
        # One row per distinct table (override variant), then the row of every block.
        lut_rows: list[list[int]] = []
        present_rows: list[list[bool]] = []
        for table in tables:
            lut = [default] * (width + 1)
            pres = [False] * (width + 1)
            for k, v in table.items():
                pos = sum(dims[i].index(w) * strides[i] for i, w in enumerate(k))
                lut[pos] = _scaled(v, scale)
                pres[pos] = True
            lut_rows.append(lut)
            present_rows.append(pres)
        bound = max([abs(x) for row in lut_rows for x in row] + [0])
        if bound > LIMIT:
            raise Overflow(name)
        size = len(self.vocab)
        names = [
            self.arg((*key, "values"), lambda: np.asarray(lut_rows, dtype=I64)[row_of_block]),
            self.arg((*key, "present"), lambda: np.asarray(present_rows, dtype=bool)[row_of_block]),
            self.arg((*key, "strides"), lambda: np.asarray(strides or [1], dtype=I64)),
            self.arg((*key, "default"), lambda: np.asarray([width], dtype=I64)),
        ]
        for i, d in enumerate(dims):
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
