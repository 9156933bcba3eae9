"""Fused kernels part: the code generator (:class:`Builder`): a checked policy and a household table
into the statements of one kernel, with every intermediate's scale and int64 bound.

One class of about 900 lines, kept in one module on purpose: its methods are one recursion over the
formula trees (``ev`` -> ``call`` -> ``aggregate`` -> ``ev``) that mirrors the numpy evaluator node
for node; splitting it would scatter that recursion over files.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any

import numpy as np

from anju.core.dates import DayCount
from anju.core.money import RoundingMode, unit_fen
from anju.policy.check import Checked, dec_scale, rate_basis
from anju.policy.datecalc import ORD_MAX
from anju.policy.declared import NO_WORD
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
from anju.policy.facts import EVENT_DATES, GroupFacts
from anju.policy.jit.helpers import _HELPERS, I64, LoopStmt, Overflow, Unsupported, V, _Loop
from anju.policy.jit.passes import _source
from anju.policy.measures import PLACES as MEASURE_PLACES
from anju.policy.model import Formula, Item
from anju.policy.resolve import Resolved
from anju.policy.table import (
    LIMIT,
    Arr,
    Elements,
    GroupIndex,
    HouseholdTable,
    _absmax,
    _scaled,
    group_index,
)

__all__ = [
    "Builder",
]


# ----------------------------------------------------------------------------- code generation


_PER_ARRAYS: dict[tuple[Any, ...], tuple[tuple[Any, ...], Any]] = {}
# (id(block paths), overriding blocks) -> (the paths list, (keys, row per block, a path per key))
_OVERRIDE_ROWS: dict[tuple[int, frozenset[str]], tuple[Any, Any]] = {}


def _per_arrays(what: str, arrays: tuple[Arr, ...], args: tuple[int, ...], compute: Callable[[], Any]) -> Any:
    """``compute()``, remembered while these very arrays live."""
    key = (what, *map(id, arrays), *args)
    hit = _PER_ARRAYS.get(key)
    if hit is not None and all(ref() is a for ref, a in zip(hit[0], arrays, strict=True)):
        return hit[1]
    value = compute()
    if len(_PER_ARRAYS) > 256:
        _PER_ARRAYS.clear()
    _PER_ARRAYS[key] = (tuple(weakref.ref(a) for a in arrays), value)
    return value


def _in_range(arr: Arr, lo: int, hi: int) -> bool:
    """Whether every value of ``arr`` lies in ``[lo, hi)`` (checked once per array)."""
    return bool(
        _per_arrays(
            "range", (arr,), (lo, hi), lambda: arr.size == 0 or (int(arr.min()) >= lo and int(arr.max()) < hi)
        )
    )


def _offsets_ok(e: Elements) -> bool:
    """Whether every household's slice ``start:start + count`` lies inside the element columns
    (checked once per offset arrays)."""

    def check() -> bool:
        size = min([e.size, *(c.shape[0] for c in e.cols.values())])
        return e.start.size == 0 or (
            int(e.start.min()) >= 0 and int(e.count.min()) >= 0 and int((e.start + e.count).max()) <= size
        )

    return bool(_per_arrays("offsets", (e.start, e.count), (), check))


_ELEMENT_COLS = {
    "building": {
        "legal_area": 2,
        "unregistered_area": 2,
        "assessed_unit_price": 2,
        "assessed_value": 2,
        "decoration": 2,
        "fixtures": 2,
        "floors": 0,
        "built_year": 0,
    },
    "member": {"disability_grade": 0},
    "tenant": {"area": 2},
    "flat": {"area": 2, "price": 2, "purchase_total": 2, "floor": 0},
}
_MONEY_COLS = ("assessed_unit_price", "assessed_value", "decoration", "fixtures")


class Builder:
    """Writes the kernel source of one option and gathers its runtime arguments and value bounds.

    The walk mirrors :class:`anju.policy.bulk.BulkEvaluator` node for node (scales, alignment,
    rounding), so a kernel result equals the numpy evaluator's to the fen.

    ``sum_groups`` (set before :meth:`build`): groups of item positions whose per-household sums
    the kernel writes in the same pass (``out_sum[g, i]``); group 0 is conventionally every item
    of the option (the household total), further groups are e.g. the policy's subtotals.
    """

    sum_groups: tuple[tuple[int, ...], ...] = ()

    def __init__(
        self,
        checked: Checked,
        table: HouseholdTable,
        option: str,
        as_of: date | None = None,
        group: GroupFacts | None = None,
    ) -> None:
        self.c = checked
        self.t = table
        self.n = table.n
        self.option = option
        self.as_of = as_of or checked.policy.meta.effective_on
        self.r = Resolved(checked.policy, self.as_of)
        self._group = group
        self._gi: GroupIndex | None = None
        self.mode = checked.policy.meta.rounding_mode
        self.vocab = dict(table.vocab)
        self.args: list[Any] = []
        self.arg_names: dict[tuple[Any, ...], str] = {}
        self.names: set[str] = set()
        self.ntmp = 0
        self.body: list[Any] = []  # household-level statements
        self.loop: _Loop | None = None
        self.cse: dict[tuple[str, str | None], V] = {}
        self.text = ""
        self.derived: dict[str, V] = {}
        self.items: dict[str, V] = {}
        self.helpers: set[str] = set()
        self.paths = table.block_paths
        self._block_var: str | None = None
        self._strs: list[int] = []
        self.bad: list[str] = []
        self._luts: dict[tuple[Any, ...], tuple[list[str], int, bool]] = {}
        self._str_index: dict[str, int] = {}
        self.app_cols: list[int | None] = []  # per item: its applicability column, None = always
        # Temporaries (and per-block reads) known to hold a vocabulary code: they index lookup
        # maps unsigned.
        self.codes_ok: set[str] = set()
        self.n_app = 0
        p = checked.policy
        for prm in p.params.values():
            if prm.kind == "category":
                for e in [*prm.values, *[x for ov in prm.overrides.values() for x in ov]]:
                    self.code(e.value)
            if prm.kind == "table":
                for e in [*prm.values, *[x for ov in prm.overrides.values() for x in ov]]:
                    for k in e.value:
                        for w in k:
                            self.code(w)
        for f in self._formulas():
            if f.node is not None:
                for nd in walk(f.node):
                    if isinstance(nd, Str):
                        self.code(nd.value)
        for code in table.blocks:
            self.code(code)
        for decl in p.facts.values():  # a declared category's words, and its "none", too
            for w in (*decl.choices, NO_WORD) if decl.type == "category" else ():
                self.code(w)
        for o in p.options:  # ``option == 'swap'``
            self.code(o)
        # Lookup maps are sized by the vocabulary: every word must have its code before the walk.
        self._vocab_size = len(self.vocab)

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

    @property
    def gi(self) -> GroupIndex:
        """The group index (built only when a sign/vacate rate is used)."""
        if self._gi is None:
            self._gi = group_index(self._group if self._group is not None else self.t.group_facts())
        return self._gi

    # -- names, arguments, statements

    def tmp_name(self, prefix: str = "t") -> str:
        self.ntmp += 1
        name = f"{prefix}{self.ntmp}"
        self.names.add(name)
        return name

    def arg(self, key: tuple[Any, ...], make: Any) -> str:
        """The kernel argument for ``key`` (created once with ``make()``)."""
        name = self.arg_names.get(key)
        if name is None:
            value = make()
            if isinstance(value, np.ndarray):
                if value.dtype == object:
                    raise Overflow(key)
                if value.dtype != bool and value.dtype != I64:
                    value = value.astype(I64)
                value = np.ascontiguousarray(value)
            name = f"a{len(self.args)}"
            self.names.add(name)
            self.args.append(value)
            self.arg_names[key] = name
        return name

    def block(self, level: str) -> list[Any]:
        if level in ("const", "hh") or self.loop is None:
            return self.body
        if level != self.loop.el:
            raise AssertionError((level, self.loop.el))
        return self.loop.body

    def emit(self, expr: str, level: str, scale: int = 0, bound: int = 0) -> V:
        """A new temporary holding ``expr`` at ``level``."""
        if bound > LIMIT:
            raise Overflow(expr)
        if level == "const":
            return V(f"({expr})", level, scale, bound)
        name = self.tmp_name()
        self.block(level).append(f"{name} = {expr}")
        return V(name, level, scale, bound)

    @staticmethod
    def lit(v: int | bool, scale: int = 0) -> V:
        if isinstance(v, bool):
            return V("True" if v else "False", "const")
        iv = int(v)
        if abs(iv) > LIMIT:
            raise Overflow(iv)
        return V(str(iv) if iv >= 0 else f"({iv})", "const", scale, abs(iv), iv)

    @staticmethod
    def level_of(*xs: V) -> str:
        levels = {x.level for x in xs} - {"const"}
        elements = levels - {"hh"}
        if len(elements) > 1:
            raise Unsupported(levels)
        if elements:
            return elements.pop()
        return "hh" if levels else "const"

    def block_index(self) -> str:
        """The household's block (per-block arrays are indexed with it)."""
        if self._block_var is None:
            a = self.arg(("block_idx",), lambda: self.t.block_idx)
            nb = min(len(self.t.blocks), len(self.paths))
            # Per-block arrays have a row for each of the table's blocks: a block index known to
            # be in range is used unsigned (no wraparound), any other keeps numpy's semantics.
            self._block_var = "u(blk)" if nb and _in_range(self.t.block_idx, 0, nb) else "blk"
            self.names.add("blk")
            self.body.insert(0, f"blk = {a}[u(i)]")
        return self._block_var

    def per_block(self, key: tuple[Any, ...], values: list[int]) -> str:
        """A per-block int64 argument read for the current household (hh level)."""
        arr = self.arg(key, lambda: np.asarray(values, dtype=I64))
        blk = self.block_index()
        return f"{arr}[{blk}]"

    # -- scale alignment

    def align(self, x: V, scale: int) -> V:
        if x.scale == scale:
            return x
        if scale - x.scale > 18:
            raise Overflow(scale)
        k = 10 ** (scale - x.scale)
        if x.value is not None:
            return self.lit(x.value * k, scale)
        return self.emit(f"{x.code} * {k}", x.level, scale, x.bound * k)

    def mul(self, a: V, b: V) -> V:
        lv = self.level_of(a, b)
        return self.emit(f"{a.code} * {b.code}", lv, a.scale + b.scale, a.bound * b.bound)

    # -- formulas

    def run(self, f: Formula, el: str | None) -> V:
        saved = self.text
        self.text = f.text
        try:
            assert f.node is not None
            return self.ev(f.node, el)
        finally:
            self.text = saved

    def ev(self, n: Node, el: str | None) -> V:
        if isinstance(n, Num):
            s = n.ty.scale
            return self.lit(_scaled(n.value, s), s)
        if isinstance(n, Str):
            return V(self.strcode(n.value), "hh")
        if isinstance(n, Bool):
            return self.lit(bool(n.value))
        if isinstance(n, Unary):
            x = self.ev(n.operand, el)
            return self.emit(f"-{x.code}", x.level, x.scale, x.bound)
        if isinstance(n, Binary):
            a = self.ev(n.left, el)
            if n.op == "/":
                rs = dec_scale(n.ref)
                return self.mul(a, self.lit(_scaled(n.ref, rs), rs))
            b = self.ev(n.right, el)
            if n.op == "*":
                return self.mul(a, b)
            s = max(a.scale, b.scale)
            a, b = self.align(a, s), self.align(b, s)
            op = "+" if n.op == "+" else "-"
            return self.emit(f"{a.code} {op} {b.code}", self.level_of(a, b), s, a.bound + b.bound)
        if isinstance(n, Compare):
            return self.compare(n, el)
        if isinstance(n, BoolOp):
            a = self.ev(n.left, el)
            b = self.ev(n.right, el)
            # both sides are always evaluated (the language has no side effects): no branches
            op = "&" if n.op == "and" else "|"
            return self.emit(f"({a.code} {op} {b.code})", self.level_of(a, b))
        if isinstance(n, Not):
            x = self.ev(n.operand, el)
            return self.emit(f"not {x.code}", x.level)
        if isinstance(n, If):
            return self.if_(n, el)
        if isinstance(n, Index | Call | Name):
            # The language is pure: the same text in the same context has the same value.
            key = (self.text[n.start : n.end], el)
            hit = self.loop.cse.get(key) if self.loop is not None else None
            if hit is None:
                hit = self.cse.get(key)
            if hit is None:
                if isinstance(n, Index):
                    hit = self.index(n, el)
                elif isinstance(n, Call):
                    hit = self.call(n, el)
                else:
                    hit = self.name(n, el)
                if hit.level in ("hh", "const"):
                    self.cse[key] = hit
                elif self.loop is not None:
                    self.loop.cse[key] = hit
            return hit
        raise Unsupported(type(n).__name__)

    def strcode(self, word: str) -> str:
        """A category word's code, read from an argument (codes depend on the table's vocabulary).

        All words live in argument ``a0``, filled in when the source is complete."""
        k = self._str_index.get(word)
        if k is None:
            k = self._str_index[word] = len(self._strs)
            self._strs.append(self.code(word))
        v = self.emit(f"a0[{k}]", "hh").code
        self.codes_ok.add(v)
        return v

    def compare(self, n: Compare, el: str | None) -> V:
        a = self.ev(n.left, el)
        b = self.ev(n.right, el)
        kind = n.left.ty.kind
        if kind == "num":
            s = max(a.scale, b.scale)
            a, b = self.align(a, s), self.align(b, s)
        lv = self.level_of(a, b)
        ops = {"==": "==", "!=": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
        expr = f"({a.code} {ops[n.op]} {b.code})"
        if kind == "date":
            expr = f"({expr} & ({a.code} != 0) & ({b.code} != 0))"
        return self.emit(expr, lv)

    def if_(self, n: If, el: str | None) -> V:
        conds = [self.ev(c, el) for c, _ in n.branches]
        vals = [self.ev(v, el) for _, v in n.branches]
        other = self.ev(n.orelse, el)
        kind = n.ty.kind
        if kind == "num":
            s = n.ty.scale
            vals = [self.align(v, s) for v in vals]
            other = self.align(other, s)
        out = other
        fn = "bsel" if kind == "bool" else "sel"
        for c, v in reversed(list(zip(conds, vals, strict=True))):
            lv = self.level_of(c, v, out)
            out = self.emit(
                f"{fn}({c.code}, {v.code}, {out.code})",
                lv,
                v.scale if kind == "num" else 0,
                max(v.bound, out.bound),
            )
        return out

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
        """A declared fact of household ``i`` (a runtime column: values never reach the source)."""
        d = self.c.policy.facts[fid]
        vals, _ = self.t.fact_column(d)
        if d.type == "category":
            words = vals.tolist()
            codes = np.asarray([self.code(NO_WORD if w is None else w) for w in words], dtype=I64)
            a = self.arg(("fact", fid), lambda: codes)
            return self.coded(self.emit(f"{a}[u(i)]", "hh"), codes)
        a = self.arg(("fact", fid), lambda: vals)
        if d.numeric:
            return self.emit(f"{a}[u(i)]", "hh", d.places, _absmax(vals))
        return self.emit(f"{a}[u(i)]", "hh")

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

    # -- functions

    def call(self, n: Call, el: str | None) -> V:
        f = n.func
        a = n.args
        if isinstance(n.ref, tuple) and n.ref[0] == "bands":
            x = self.ev(a[0], el)
            p = self.c.policy.params[f]
            scale = n.ty.scale
            if p.overrides:
                raise Unsupported("bands with overrides")
            bands = self.r.param(f, ())
            default = _scaled(p.default, scale) if p.default is not None else 0
            values = [_scaled(v, scale) for _, v in bands] + [default]
            bound = max(abs(v) for v in values)
            if bound > LIMIT:
                raise Overflow(f)
            bv = self.arg(("bands", f, scale), lambda: np.asarray(values, dtype=I64))
            lv = "hh" if x.level == "const" else x.level
            expr = str(len(bands))
            for k in range(len(bands) - 1, -1, -1):
                w = bands[k][0]
                conds = ["True"]
                if w.after is not None:
                    conds.append(f"({x.code} > {int(w.after)})")
                if w.upto is not None:
                    conds.append(f"({x.code} <= {int(w.upto)})")
                expr = f"sel({' & '.join(conds)}, {k}, {expr})"
            pos = self.emit(expr, lv)
            return self.emit(f"{bv}[u({pos.code})]", lv, scale, bound)  # pos <= len(bands)
        if isinstance(n.ref, tuple) and n.ref[0] == "pick":
            return self.pick(n, el)
        if f in ("days_between", "months_between", "add_months"):
            return self.date_call(n, el)
        if f in ("min", "max", "clamp"):
            s = n.ty.scale
            xs = [self.align(self.ev(y, el), s) for y in a]
            lv = self.level_of(*xs)
            bound = max(x.bound for x in xs)
            # branch-free min/max: the compared values are data and mispredict as branches
            if f == "clamp":
                expr = f"imin(imax({xs[0].code}, {xs[1].code}), {xs[2].code})"
            else:
                expr = xs[0].code
                for x in xs[1:]:
                    expr = f"i{f}({expr}, {x.code})"
            return self.emit(expr, lv, s, bound)
        if f == "floor":
            x = self.ev(a[0], el)
            if x.scale > 18:
                raise Overflow(x.scale)
            k = 10**x.scale
            return self.emit(f"{x.code} // {k}", x.level, 0, x.bound // k + 1)
        if f == "abs":
            x = self.ev(a[0], el)
            return self.emit(f"abs({x.code})", x.level, x.scale, x.bound)
        if f == "round":
            x = self.ev(a[0], el)
            places = n.ty.scale
            if places >= x.scale:
                return self.align(x, places)
            return self.div_round(
                x, 10 ** (x.scale - places), self.mode, places, x.bound // 10 ** (x.scale - places) + 1
            )
        if f in ("sum", "count", "any"):
            return self.aggregate(n, f)
        if f in ("sign_rate", "vacate_rate"):
            return self.rate(n, f)
        if f == "measure":
            return self.measure(n)
        if f == "points_above":
            r = self.ev(a[0], el)
            th = self.ev(a[1], el)
            s = max(r.scale, th.scale)
            r, th = self.align(r, s), self.align(th, s)
            lv = self.level_of(r, th)
            if (r.bound + th.bound) * 100 > LIMIT or s > 18:
                raise Overflow("points_above")
            diff = self.emit(f"{r.code} - {th.code}", lv, s, r.bound + th.bound)
            return self.emit(
                f"sel({diff.code} > 0, ({diff.code} * 100) // {10**s}, 0)",
                lv,
                0,
                (r.bound + th.bound) * 100 // 10**s + 1,
            )
        if f == "known":
            ref = a[0].ref
            if ref[0] == "fact":
                known = self.t.fact_column(self.c.policy.facts[ref[1]])[1]
                col = self.arg(("fact_known", ref[1]), lambda: known)
                return self.emit(f"{col}[u(i)]", "hh")
            if ref[1] == "household":
                arr = self.t.event(ref[2])
                col = self.arg(("hh", ref[2]), lambda: arr)
                return self.emit(f"{col}[u(i)] != 0", "hh")
            obj = ref[1]
            e = self.elements(obj)
            col = self.arg((obj, ref[2] + "_known"), lambda: e.cols[ref[2] + "_known"])
            return self.emit(f"{col}[{self.loopvar(obj)}]", obj)
        if f == "flag":
            name = a[0].value  # type: ignore[attr-defined]
            flag_arr = self.t.flags.get(name)
            col = self.arg(
                ("flag", name), lambda: flag_arr if flag_arr is not None else np.zeros(self.n, dtype=bool)
            )
            return self.emit(f"{col}[u(i)]", "hh")
        if f == "date":
            return self.lit(n.ref.toordinal())
        raise Unsupported(f)

    def aggregate(self, n: Call, f: str) -> V:
        inner = n.args[0].ref[1]
        e = self.elements(inner)
        start = self.arg((inner, "start"), lambda: e.start)
        count = self.arg((inner, "count"), lambda: e.count)
        maxc = self.max_count(e)
        saved = self.loop
        loop = _Loop(inner)
        self.loop = loop
        try:
            where = n.kwargs.get("where")
            mask = self.ev(where, inner) if where is not None else None
            x = self.ev(n.args[1], inner) if f == "sum" else None
        finally:
            self.loop = saved
        acc = self.tmp_name()
        if f == "sum":
            assert x is not None
            bound = x.bound * max(1, maxc)
            if bound > LIMIT:
                raise Overflow("sum")
            add = f"{acc} += {x.code}" if mask is None else f"{acc} += sel({mask.code}, {x.code}, 0)"
            result = V(acc, "hh", x.scale, bound)
        else:
            add = f"{acc} += 1" if mask is None else f"{acc} += {mask.code}"
            result = V(acc, "hh", 0, maxc)
        self.body.append(f"{acc} = 0")
        self.body.append(LoopStmt(inner, self.element_loop(e, start, count), [*loop.body, add]))
        if f == "any":
            return self.emit(f"{acc} > 0", "hh")
        return result

    def date_call(self, n: Call, el: str | None) -> V:
        """Date arithmetic on ordinals with the helpers of anju.policy.datecalc (inlined)."""
        d = self.ev(n.args[0], el)
        x = self.ev(n.args[1], el)
        lv = self.level_of(d, x)
        if n.func == "add_months":
            if x.bound > 12 * ORD_MAX:
                raise Unsupported("add_months by a month count beyond the calendar")
            r = self.emit(f"add_months_o({d.code}, {x.code})", lv)
            # a date out of range: the numpy evaluator raises the error with its message
            bad = self.tmp_name("q")
            self.body.append(f"{bad} = False")
            self.block(lv).append(f"{bad} |= ({d.code} != 0) & (({r.code} < 1) | ({r.code} > {ORD_MAX}))")
            self.bad.append(bad)
            return r
        fn = "days_between_o" if n.func == "days_between" else "months_between_o"
        return self.emit(f"{fn}({d.code}, {x.code}, {int(bool(n.ref[1]))})", lv, 0, ORD_MAX)

    def pick(self, n: Call, el: str | None) -> V:
        """``max`` / ``min`` / ``first`` over a collection: one loop keeping the best element so far
        (strict comparisons: ties keep the earlier element, as the numpy evaluator's stable sort)."""
        f = n.func
        inner = n.ref[1]
        e = self.elements(inner)
        start = self.arg((inner, "start"), lambda: e.start)
        count = self.arg((inner, "count"), lambda: e.count)
        s = n.ty.scale
        kind = n.ty.kind
        saved = self.loop
        loop = _Loop(inner)
        self.loop = loop
        try:
            where = n.kwargs.get("where")
            mask = self.ev(where, inner) if where is not None else None
            x = self.ev(n.args[1], inner)
            if kind == "num":
                x = self.align(x, s)
            order = n.kwargs.get("order")
            key = self.ev(order, inner) if order is not None else None
        finally:
            self.loop = saved
        d = self.ev(n.kwargs["else"], el)
        if kind == "num":
            d = self.align(d, s)
        acc, has, take = self.tmp_name(), self.tmp_name(), self.tmp_name()
        self.body.append(f"{acc} = {'False' if kind == 'bool' else '0'}")
        self.body.append(f"{has} = False")
        m = mask.code if mask is not None else "True"
        body = [*loop.body]
        if f in ("max", "min"):
            body.append(f"{take} = {m} & ((not {has}) | ({x.code} {'>' if f == 'max' else '<'} {acc}))")
        elif key is None:
            body.append(f"{take} = {m} & (not {has})")
        else:
            best = self.tmp_name()
            self.body.append(f"{best} = 0")
            cmp = ">" if isinstance(n.kwargs.get("desc"), Bool) else "<"
            body.append(f"{take} = {m} & ((not {has}) | ({key.code} {cmp} {best}))")
            body.append(f"{best} = sel({take}, {key.code}, {best})")
        fn = "bsel" if kind == "bool" else "sel"
        body.append(f"{acc} = {fn}({take}, {x.code}, {acc})")
        body.append(f"{has} = {has} | {m}")
        self.body.append(LoopStmt(inner, self.element_loop(e, start, count), body))
        lv = self.level_of(d, V(acc, "hh"))
        return self.emit(
            f"{fn}({has}, {acc}, {d.code})", lv, s if kind == "num" else 0, max(x.bound, d.bound)
        )

    def rate(self, n: Call, f: str) -> V:
        scope = n.args[0].value  # type: ignore[attr-defined]
        event = "sign" if f == "sign_rate" else "vacate"
        as_of = n.args[1]
        # The as-of date must be the same for a whole block (a clock or a literal date).
        if isinstance(as_of, Name) and as_of.ref is not None and as_of.ref[0] == "clock":
            ords = self.clock_ords(as_of.ref[1])
        elif isinstance(as_of, Call) and as_of.func == "date" and isinstance(as_of.ref, date):
            ords = [as_of.ref.toordinal()] * max(1, len(self.paths))
        else:
            raise Unsupported("rate as of a household date")
        if scope == "project":
            codes: list[str | None] = [None] * len(self.paths)
        elif scope == "block":
            codes = [p[-1] for p in self.paths]
        else:
            lvl = self.c.policy.meta.block_levels.index(scope)
            if any(lvl >= len(p) for p in self.paths):
                raise Unsupported("missing block level")  # the numpy evaluator raises the error
            codes = [p[lvl] for p in self.paths]
        gi = self.gi
        basis = rate_basis(n)
        ppm = [gi.rate_ppm(code, o, event, basis) for code, o in zip(codes, ords, strict=False)]
        if not ppm:
            ppm = [0]
        return self.emit(self.per_block(("rate", self.tmp_name("u")), ppm), "hh", 6, 1_000_000)

    def measure(self, n: Call) -> V:
        """An office-set group measure: its value per block as a runtime array (a changed value
        reuses the kernel). A missing value goes to the numpy evaluator, which names it."""
        m = self.c.policy.measures[n.args[0].value]  # type: ignore[attr-defined]
        scope = n.args[1].value  # type: ignore[attr-defined]
        as_of = n.args[2]
        if isinstance(as_of, Name) and as_of.ref is not None and as_of.ref[0] == "clock":
            ords = self.clock_ords(as_of.ref[1])
        elif isinstance(as_of, Call) and as_of.func == "date" and isinstance(as_of.ref, date):
            ords = [as_of.ref.toordinal()] * max(1, len(self.paths))
        else:
            raise Unsupported("measure as of a household date")
        if scope == "project":
            codes: list[str | None] = [None] * len(self.paths)
        else:
            lvl = self.c.policy.meta.block_levels.index(scope)
            if any(lvl >= len(p) for p in self.paths):
                raise Unsupported("missing block level")
            codes = [p[lvl] for p in self.paths]
        group = self.gi.group
        k = 10**m.scale
        vals: list[int] = []
        for code, o in zip(codes, ords, strict=False):
            v = group.measure_value(m.id, code, date.fromordinal(o)) if o else None
            if v is None or v != v.quantize(Decimal(1).scaleb(-MEASURE_PLACES)):
                raise Unsupported(f"measure {m.id} missing for {code}")
            vals.append(int(m.engine_value(v) * k))
        if not vals:
            vals = [0]
        bound = max(abs(x) for x in vals)
        if bound > LIMIT:
            raise Overflow(m.id)
        return self.emit(self.per_block(("measure", self.tmp_name("u")), vals), "hh", m.scale, bound)

    def div_round(self, x: V, d: int, mode: RoundingMode, scale: int, bound: int) -> V:
        if d == 1:
            return V(x.code, x.level, scale, bound)
        if 2 * d > LIMIT:
            raise Overflow(d)
        helper = _HELPERS[mode][0]
        self.helpers.add(helper)
        return self.emit(f"{helper}({x.code}, {d})", x.level, scale, bound)

    # -- items

    def to_fen(self, x: V, it: Item) -> V:
        step = unit_fen(it.rounding_unit)
        s = x.scale
        if s >= 2:
            if s - 2 > 17:
                raise Overflow(s)
            units = self.div_round(x, 10 ** (s - 2) * step, it.rounding_mode, 2, 0)
        else:
            units = self.div_round(self.align(x, 2), step, it.rounding_mode, 2, 0)
        bound = x.bound // 10 ** max(0, s - 2) * 10 ** max(0, 2 - s) + step
        if bound > LIMIT:
            raise Overflow("fen")
        if step != 1:
            return self.emit(f"{units.code} * {step}", x.level, 2, bound)
        return V(units.code, x.level, 2, bound)

    def bounded(self, x: V, floor: Formula | None, cap: Formula | None, el: str | None) -> V:
        for f, is_floor in ((floor, True), (cap, False)):
            if f is None:
                continue
            b = self.run(f, el)
            s = max(x.scale, b.scale)
            x2, b2 = self.align(x, s), self.align(b, s)
            fn = "imax" if is_floor else "imin"
            x = self.emit(f"{fn}({x2.code}, {b2.code})", self.level_of(x2, b2), s, max(x2.bound, b2.bound))
        return x

    def item(self, k: int, it: Item) -> None:
        if it.per == "certificate":
            e = self.t.buildings
            start = self.arg(("building", "start"), lambda: e.start)
            count = self.arg(("building", "count"), lambda: e.count)
            maxc = self.max_count(e)
            loop = _Loop("building")
            saved = self.loop
            self.loop = loop
            try:
                applies = self.run(it.when, "building") if it.when is not None else self.lit(True)
                raw = self.run(it.formula, "building")
                fen = self.to_fen(self.bounded(raw, it.floor, it.cap, "building"), it)
            finally:
                self.loop = saved
            total = self.tmp_name("v")
            app = self.tmp_name("p")
            self.body.append(f"{total} = 0")
            self.body.append(f"{app} = False")
            loop.body.append(f"{total} += sel({applies.code}, {fen.code}, 0)")
            loop.body.append(f"{app} |= {applies.code}")
            self.body.append(LoopStmt("building", self.element_loop(e, start, count), loop.body))
            tbound = fen.bound * max(1, maxc)
            if tbound > LIMIT:
                raise Overflow(it.id)
            result = V(total, "hh", 2, tbound)
            if it.household_floor is not None or it.household_cap is not None:
                hf = self.to_fen(self.bounded(result, it.household_floor, it.household_cap, None), it)
                result = self.emit(f"sel({app}, {hf.code}, 0)", "hh", 2, hf.bound)
            self.items[it.id] = result
            self.output(k, result.code, app)
            return
        applies = self.run(it.when, None) if it.when is not None else self.lit(True)
        raw = self.run(it.formula, None)
        fen = self.to_fen(self.bounded(raw, it.floor, it.cap, None), it)
        result = self.emit(f"sel({applies.code}, {fen.code}, 0)", "hh", 2, fen.bound)
        self.items[it.id] = result
        self.output(k, result.code, applies.code)

    def output(self, k: int, fen: str, applies: str) -> None:
        """Store item ``k`` of household ``i``: amounts household-major (one row of ``k`` items
        per household, written together), applicability only where it is not always true."""
        self.body.append(f"out_fen[u(i), {k}] = {fen}")
        if applies == "True":
            self.app_cols.append(None)
        else:
            self.body.append(f"out_app[u(i), {self.n_app}] = {applies}")
            self.app_cols.append(self.n_app)
            self.n_app += 1

    def group_sums(self) -> None:
        """Store the sums of :attr:`sum_groups` for household ``i`` (totals and subtotals in the
        items' pass: summing k columns of the household-major output afterwards took longer than
        the evaluation; bench/RESULTS.md, "Policy engine")."""
        items = self.c.items_for(self.option)
        for g, ks in enumerate(self.sum_groups):
            vals = [self.items[items[k].id] for k in ks]
            if sum(v.bound for v in vals) > LIMIT:
                raise Overflow(f"sum {g}")
            expr = " + ".join(v.code for v in vals) if vals else "0"
            self.body.append(f"out_sum[{g}, u(i)] = {expr}")

    def build(self) -> str:
        """Generate the kernel source; raises :class:`Unsupported` or :class:`Overflow`."""
        if self.option not in self.c.policy.options:
            raise Unsupported("option")
        self.arg(("strcodes",), lambda: np.zeros(0, dtype=I64))
        items = self.c.items_for(self.option)
        for k, it in enumerate(items):
            self.item(k, it)
        self.group_sums()
        if self.bad:
            self.body.append((f"if {' | '.join(self.bad)}:", ["err[u(i)] = 1"]))
        self.args[0] = np.asarray(self._strs or [0], dtype=I64)
        if len(self.vocab) != self._vocab_size:
            raise AssertionError("vocabulary grew after the lookup maps were built")
        return _source(len(self.args), self.body)
