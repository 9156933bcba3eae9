"""Fused bulk kernels: a checked policy compiled, per option, into one numba loop over households.

The numpy evaluator (:mod:`anju.policy.bulk`) makes about a hundred whole-array passes over a
project. This module instead writes the Python source of ONE function per (policy structure,
option) -- households in a ``prange`` loop, certificates / members / tenants walked through the
table's start/count offsets, every item computed in scaled int64 with the same scales, the same
bounds and the same rounding as the numpy evaluator -- and compiles it with numba.

Safety of the generated code: it is built only from names this module creates (``a3``, ``t17``,
...) and integer literals taken from the checked syntax trees; user text (parameter names,
categories, flags, block codes) never reaches the source. Every generated module is parsed again
and checked against a short allow-list of node types, names and constants before it is compiled.

What does not change the source: parameter values, table entries, tier and band values, clock
dates, group rates and category codes are passed as runtime arrays. A what-if that changes values
therefore reuses the compiled kernel; the kernel cache is keyed by the generated source, which is a
function of the formula trees, their scales, the rounding modes and the option only.

Fallback to the numpy evaluator (``None`` from :func:`try_evaluate`): numba missing or disabled
(``ANJU_POLICY_JIT=0``), a construct the generator does not handle, any intermediate value whose
bound (computed up front exactly like the numpy evaluator's, from data and parameter bounds) could
leave the int64 range, or a lookup the kernel reports as failing (the numpy evaluator then raises
the proper error).
"""

from __future__ import annotations

import ast
import importlib
import os
import re
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np

from anju.core.dates import DayCount
from anju.core.money import RoundingMode, unit_fen
from anju.policy.bulk import (
    LIMIT,
    Arr,
    BulkResult,
    Elements,
    GroupIndex,
    HouseholdTable,
    _absmax,
    _scaled,
    group_index,
)
from anju.policy.check import Checked, dec_scale
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
from anju.policy.facts import GroupFacts
from anju.policy.model import Formula, Item
from anju.policy.resolve import Resolved

numba: Any  # numba is optional: without it every evaluation uses the numpy evaluator
try:
    numba = importlib.import_module("numba")
    HAVE_NUMBA = True
except ImportError:  # pragma: no cover - exercised only where numba is not installed
    numba = None
    HAVE_NUMBA = False

I64 = np.int64

#: Below this many households the automatic choice keeps the numpy evaluator unless a kernel for
#: the policy is already compiled (compiling costs seconds; small projects are fast either way).
AUTO_MIN_HOUSEHOLDS = 1000


def enabled() -> bool:
    """Whether kernels may be used: numba importable and ``ANJU_POLICY_JIT`` is not ``0``."""
    return HAVE_NUMBA and os.environ.get("ANJU_POLICY_JIT", "1").strip().lower() not in ("0", "false", "no", "off")


class Unsupported(Exception):
    """The generator cannot express this policy as a kernel (the numpy evaluator is used)."""


class Overflow(Exception):
    """Some intermediate value could leave int64 (the numpy evaluator switches to exact Python ints)."""


# ----------------------------------------------------------------------------- rounding helpers
# ``x / d`` rounded to an integer, ``d > 0`` (a literal in the kernel); the same results as
# bulk.div_round. Every mode is symmetric about zero (ties go away from zero, towards zero or to
# the even neighbour; "down" truncates, "up" rounds away from zero), so the quotient is taken of
# the magnitude and the sign put back: an unsigned division by a constant compiles to a multiply
# and a shift, without the sign fix-ups of a floor division (measured: a third of the cost).
# Written without branches (bool arithmetic): household data is random, branches mispredict.
# |x| <= LIMIT and 2 * d <= LIMIT, so no step leaves int64.


def _dr_half_up(x: int, d: int) -> np.int64:
    m = 0 - (x < 0)  # all ones when negative
    a = (x ^ m) - m
    q = np.int64(np.uint64(a + d // 2) // np.uint64(d))
    return (q ^ m) - m


def _dr_half_down(x: int, d: int) -> np.int64:
    m = 0 - (x < 0)  # all ones when negative
    a = (x ^ m) - m
    q = np.int64(np.uint64(a + (d - 1) // 2) // np.uint64(d))
    return (q ^ m) - m


def _dr_half_even(x: int, d: int) -> np.int64:
    m = 0 - (x < 0)  # all ones when negative
    a = (x ^ m) - m
    q = np.int64(np.uint64(a) // np.uint64(d))
    r2 = (a - q * d) * 2
    q = q + np.int64((r2 > d) | ((r2 == d) & ((q & 1) == 1)))
    return (q ^ m) - m


def _dr_down(x: int, d: int) -> np.int64:
    m = 0 - (x < 0)  # all ones when negative
    a = (x ^ m) - m
    q = np.int64(np.uint64(a) // np.uint64(d))
    return (q ^ m) - m


def _dr_up(x: int, d: int) -> np.int64:
    m = 0 - (x < 0)  # all ones when negative
    a = (x ^ m) - m
    q = np.int64(np.uint64(a + d - 1) // np.uint64(d))
    return (q ^ m) - m


def _u(x: int) -> int:
    """An index known to be in range, as unsigned: numba then skips the negative-index wraparound
    (three instructions and a load per subscript in the hot loops)."""
    return np.uint64(x)  # type: ignore[return-value]


# Selections are written as bit masks, never as ``a if c else b``: numba lowers a conditional
# expression to branches, which mispredict on random household data and keep LLVM from merging
# loads.


def _sel(c: bool, a: int, b: int) -> int:
    m = 0 - c  # all ones when c
    return (a & m) | (b & ~m)


def _bsel(c: bool, a: bool, b: bool) -> bool:
    return (c & a) | ((not c) & b)


def _imax(a: int, b: int) -> int:
    m = 0 - (a > b)
    return (a & m) | (b & ~m)


def _imin(a: int, b: int) -> int:
    m = 0 - (a < b)
    return (a & m) | (b & ~m)


_MINMAX = {"imax": _imax, "imin": _imin, "sel": _sel, "bsel": _bsel, "u": _u}

_HELPERS = {
    RoundingMode.HALF_UP: ("dr_half_up", _dr_half_up),
    RoundingMode.HALF_DOWN: ("dr_half_down", _dr_half_down),
    RoundingMode.HALF_EVEN: ("dr_half_even", _dr_half_even),
    RoundingMode.DOWN: ("dr_down", _dr_down),
    RoundingMode.UP: ("dr_up", _dr_up),
}


# ----------------------------------------------------------------------------- code generation


@dataclass(slots=True)
class V:
    """An emitted value: a Python expression (a temporary or a literal), its level, scale and bound."""

    code: str
    level: str  # "const" | "hh" | "building" | "member" | "tenant"
    scale: int = 0
    bound: int = 0
    value: int | None = None  # the integer of a numeric literal


class _Loop:
    """The body of a loop over the elements of one household."""

    def __init__(self, el: str) -> None:
        self.el = el
        self.body: list[Any] = []
        self.cse: dict[tuple[str, str | None], V] = {}


@dataclass(slots=True)
class LoopStmt:
    """``for j in <the elements of household i>: body`` (loops over the same elements are fused)."""

    el: str
    header: str
    body: list[Any]


# (what, ids of the arrays, arguments) -> (weak references to the arrays, value): facts about a
# table's arrays, computed once (the arrays of a table are not changed in place).
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
    return bool(_per_arrays("range", (arr,), (lo, hi),
                            lambda: arr.size == 0 or (int(arr.min()) >= lo and int(arr.max()) < hi)))


def _offsets_ok(e: Elements) -> bool:
    """Whether every household's slice ``start:start + count`` lies inside the element columns
    (checked once per offset arrays)."""

    def check() -> bool:
        size = min([e.size, *(c.shape[0] for c in e.cols.values())])
        return e.start.size == 0 or (
            int(e.start.min()) >= 0 and int(e.count.min()) >= 0 and int((e.start + e.count).max()) <= size)

    return bool(_per_arrays("offsets", (e.start, e.count), (), check))


_ELEMENT_COLS = {
    "building": {"legal_area": 2, "unregistered_area": 2, "assessed_unit_price": 2, "assessed_value": 2,
                 "decoration": 2, "fixtures": 2, "floors": 0, "built_year": 0},
    "member": {"disability_grade": 0},
    "tenant": {"area": 2},
}
_MONEY_COLS = ("assessed_unit_price", "assessed_value", "decoration", "fixtures")


class Builder:
    """Writes the kernel source of one option and gathers its runtime arguments and value bounds.

    The walk mirrors :class:`anju.policy.bulk.BulkEvaluator` node for node (scales, alignment,
    rounding), so a kernel result equals the numpy evaluator's to the fen.
    """

    def __init__(self, checked: Checked, table: HouseholdTable, option: str, as_of: date | None = None,
                 group: GroupFacts | None = None) -> None:
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
        # Lookup maps are sized by the vocabulary: every word must have its code before the walk.
        self._vocab_size = len(self.vocab)

    def _formulas(self) -> list[Formula]:
        p = self.c.policy
        out: list[Formula] = [d.formula for d in p.derived.values()]
        for it in p.items:
            out += [f for f in (it.formula, it.when, it.floor, it.cap, it.household_floor, it.household_cap) if f]
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
            out = self.emit(f"{fn}({c.code}, {v.code}, {out.code})", lv, v.scale if kind == "num" else 0,
                            max(v.bound, out.bound))
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
        raise Unsupported(kind)

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
            arrays = {"kind": t.kind, "sign_on": t.sign_on, "vacate_on": t.vacate_on,
                      "has_homestead": t.has_homestead}
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
        return {"building": self.t.buildings, "member": self.t.members, "tenant": self.t.tenants}[obj]

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
        if n.ref is not None and n.ref[0] == "bands":
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
            return self.div_round(x, 10 ** (x.scale - places), self.mode, places, x.bound // 10 ** (x.scale - places) + 1)
        if f in ("sum", "count", "any"):
            return self.aggregate(n, f)
        if f in ("sign_rate", "vacate_rate"):
            return self.rate(n, f)
        if f == "points_above":
            r = self.ev(a[0], el)
            th = self.ev(a[1], el)
            s = max(r.scale, th.scale)
            r, th = self.align(r, s), self.align(th, s)
            lv = self.level_of(r, th)
            if (r.bound + th.bound) * 100 > LIMIT or s > 18:
                raise Overflow("points_above")
            diff = self.emit(f"{r.code} - {th.code}", lv, s, r.bound + th.bound)
            return self.emit(f"sel({diff.code} > 0, ({diff.code} * 100) // {10**s}, 0)", lv, 0,
                             (r.bound + th.bound) * 100 // 10**s + 1)
        if f == "known":
            ref = a[0].ref
            if ref[1] == "household":
                arr = self.t.sign_on if ref[2] == "sign_on" else self.t.vacate_on
                col = self.arg(("hh", ref[2]), lambda: arr)
                return self.emit(f"{col}[u(i)] != 0", "hh")
            e = self.t.buildings
            col = self.arg(("building", ref[2] + "_known"), lambda: e.cols[ref[2] + "_known"])
            return self.emit(f"{col}[{self.loopvar('building')}]", "building")
        if f == "flag":
            name = a[0].value  # type: ignore[attr-defined]
            flag_arr = self.t.flags.get(name)
            col = self.arg(("flag", name), lambda: flag_arr if flag_arr is not None else np.zeros(self.n, dtype=bool))
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
        ppm = [gi.rate_ppm(code, o, event) for code, o in zip(codes, ords, strict=False)]
        if not ppm:
            ppm = [0]
        return self.emit(self.per_block(("rate", self.tmp_name("u")), ppm), "hh", 6, 1_000_000)

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

    def build(self) -> str:
        """Generate the kernel source; raises :class:`Unsupported` or :class:`Overflow`."""
        if self.option not in self.c.policy.options:
            raise Unsupported("option")
        self.arg(("strcodes",), lambda: np.zeros(0, dtype=I64))
        for k, it in enumerate(self.c.items_for(self.option)):
            self.item(k, it)
        if self.bad:
            self.body.append((f"if {' | '.join(self.bad)}:", ["err[u(i)] = 1"]))
        self.args[0] = np.asarray(self._strs or [0], dtype=I64)
        if len(self.vocab) != self._vocab_size:
            raise AssertionError("vocabulary grew after the lookup maps were built")
        return _source(len(self.args), self.body)


# frozen household statements -> kernel source: what-if recomputations and repeated evaluations
# of one policy structure generate the same statements (values are arguments), so the passes
# below run once per structure.
_SOURCES: dict[tuple[Any, ...], str] = {}


def _freeze(stmts: list[Any]) -> tuple[Any, ...]:
    return tuple(("loop", s.el, s.header, _freeze(s.body)) if isinstance(s, LoopStmt)
                 else ("if", s[0], _freeze(s[1])) if isinstance(s, tuple) else s for s in stmts)


def _source(n_args: int, body: list[Any]) -> str:
    """The kernel source for household statements ``body`` (loops fused, repeats removed)."""
    key = (n_args, _freeze(body))
    hit = _SOURCES.get(key)
    if hit is not None:
        return hit
    params = ", ".join(["n", *[f"a{k}" for k in range(n_args)], "out_fen", "out_app", "err"])
    lines = [f"def kernel({params}):", "    for i in prange(n):"]
    _render(drop_repeated_flags(value_numbering(fuse(body))), 2, lines)
    source = "\n".join(lines) + "\n"
    if len(_SOURCES) > 64:
        _SOURCES.clear()
    _SOURCES[key] = source
    return source


def _render(stmts: list[Any], depth: int, out: list[str]) -> None:
    pad = "    " * depth
    if not stmts:
        out.append(pad + "pass")
    for s in stmts:
        if isinstance(s, LoopStmt):
            out.append(pad + s.header)
            _render(s.body, depth + 1, out)
        elif isinstance(s, tuple):
            out.append(pad + s[0])
            _render(s[1], depth + 1, out)
        else:
            out.append(pad + s)


_VAR = re.compile(r"\b(?:[tvpq][0-9]+|blk)\b")
_DEF = re.compile(r"^([tvpq][0-9]+|blk) *(?:\+=|\|=|=)")


def _defs_uses(s: Any, defs: set[str], uses: set[str]) -> None:
    if isinstance(s, LoopStmt):
        for x in s.body:
            _defs_uses(x, defs, uses)
    elif isinstance(s, tuple):
        uses.update(_VAR.findall(s[0]))
        for x in s[1]:
            _defs_uses(x, defs, uses)
    else:
        m = _DEF.match(s)
        if m:
            defs.add(m.group(1))
        uses.update(_VAR.findall(s if m is None or "+=" in s or "|=" in s else s[m.end():]))


def _subst(text: str, subst: dict[str, str]) -> str:
    if not subst:
        return text
    return _VAR.sub(lambda m: subst.get(m.group(0), m.group(0)), text)


def value_numbering(stmts: list[Any]) -> list[Any]:
    """Drop a temporary whose expression repeats an earlier one in scope (after loops are fused,
    two items often compute the same certificate values).

    Only single assignments take part: accumulators (``+=``, ``|=``) are never merged and no
    expression that reads one is reused.
    """
    multi: set[str] = set()
    counts: dict[str, int] = {}

    def scan(xs: list[Any]) -> None:
        for s in xs:
            if isinstance(s, LoopStmt):
                scan(s.body)
            elif isinstance(s, tuple):
                scan(s[1])
            else:
                m = _DEF.match(s)
                if m:
                    counts[m.group(1)] = counts.get(m.group(1), 0) + 1
                    if "+=" in s[: m.end()] or "|=" in s[: m.end()]:
                        multi.add(m.group(1))

    scan(stmts)
    multi |= {k for k, c in counts.items() if c > 1}

    def block(xs: list[Any], seen: dict[str, str], subst: dict[str, str]) -> list[Any]:
        out: list[Any] = []
        for s in xs:
            if isinstance(s, LoopStmt):
                out.append(LoopStmt(s.el, _subst(s.header, subst), block(s.body, dict(seen), subst)))
            elif isinstance(s, tuple):
                out.append((_subst(s[0], subst), block(s[1], dict(seen), subst)))
            else:
                m = _DEF.match(s)
                name = m.group(1) if m else None
                if m is None or name in multi or "=" in s[m.start(1) + len(name or ""): m.end() - 1]:
                    out.append(_subst(s, subst))
                    continue
                assert name is not None
                rhs = _subst(s[m.end():].strip(), subst)
                if any(v in multi for v in _VAR.findall(rhs)):
                    out.append(f"{name} = {rhs}")
                    continue
                prev = seen.get(rhs)
                if prev is not None:
                    subst[name] = prev
                    continue
                seen[rhs] = name
                out.append(f"{name} = {rhs}")
        return out

    return block(stmts, {}, {})


_FLAG = re.compile(r"^q[0-9]+ \|= (.*)\Z")  # lookup-failure flags only (p: applicability)


def drop_repeated_flags(stmts: list[Any]) -> list[Any]:
    """Drop a lookup-failure flag update whose expression an earlier flag of the same block
    already takes in (two items looking up the same table entry).

    Every flag only ends up in the household's final ``if p | q ...: err = 1``, and after value
    numbering the same lookup reads the same temporaries, so one update per expression is enough.
    """
    out: list[Any] = []
    seen: set[str] = set()
    for s in stmts:
        if isinstance(s, LoopStmt):
            out.append(LoopStmt(s.el, s.header, drop_repeated_flags(s.body)))
        elif isinstance(s, tuple):
            out.append((s[0], drop_repeated_flags(s[1])))
        else:
            m = _FLAG.match(s)
            if m is not None and m.group(1) in seen:
                continue
            if m is not None:
                seen.add(m.group(1))
            out.append(s)
    return out


def fuse(stmts: list[Any]) -> list[Any]:
    """Reorder household statements so that loops over the same elements run as one loop.

    Straight-line statements are emitted as soon as their inputs exist; then every loop whose
    inputs exist is merged with the other ready loops over the same elements. Fewer loops mean
    fewer passes over the certificates / members and fewer mispredicted loop exits.
    """
    info = []
    last_def: dict[str, list[int]] = {}
    for k, s in enumerate(stmts):
        defs: set[str] = set()
        uses: set[str] = set()
        _defs_uses(s, defs, uses)
        deps = {d for u in uses for d in last_def.get(u, ()) if d != k}
        for d in defs:
            last_def.setdefault(d, []).append(k)
        info.append(deps)
    done: set[int] = set()
    remaining = list(range(len(stmts)))
    out: list[Any] = []
    while remaining:
        progress = True
        while progress:
            progress = False
            rest = []
            for k in remaining:
                if not isinstance(stmts[k], LoopStmt) and info[k] <= done:
                    out.append(stmts[k])
                    done.add(k)
                    progress = True
                else:
                    rest.append(k)
            remaining = rest
        ready = [k for k in remaining if isinstance(stmts[k], LoopStmt) and info[k] <= done]
        if not ready:
            if remaining:
                raise AssertionError("statement dependencies form a cycle")
            break
        kinds: dict[str, list[int]] = {}
        for k in ready:
            kinds.setdefault(stmts[k].el, []).append(k)
        for group in kinds.values():
            first = stmts[group[0]]
            out.append(LoopStmt(first.el, first.header, [x for k in group for x in stmts[k].body]))
        done.update(ready)
        remaining = [k for k in remaining if k not in done]
    return out


# ----------------------------------------------------------------------------- validation and compilation

_ALLOWED_NODES = (
    ast.Module, ast.FunctionDef, ast.arguments, ast.arg, ast.For, ast.If, ast.Assign, ast.AugAssign, ast.Pass,
    ast.Name, ast.Load, ast.Store, ast.Constant, ast.BinOp, ast.UnaryOp, ast.BoolOp, ast.Compare, ast.IfExp,
    ast.Call, ast.Subscript, ast.Tuple, ast.Add, ast.Sub, ast.Mult, ast.FloorDiv, ast.USub, ast.Not, ast.And,
    ast.Or, ast.BitAnd, ast.BitOr, ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE,
)
_FIXED_NAMES = {"kernel", "n", "i", "j", "blk", "out_fen", "out_app", "err", "prange", "range", "abs",
                *_MINMAX, *(h for h, _ in _HELPERS.values())}
_NAME_RE = re.compile(r"^[a-z][a-z_0-9]*\Z")


def validate(source: str, names: set[str]) -> None:
    """Check generated source: allowed syntax only, names this module created, integer/bool constants."""
    tree = ast.parse(source)
    allowed = _FIXED_NAMES | names
    for node in ast.walk(tree):
        if not isinstance(node, _ALLOWED_NODES):
            raise AssertionError(f"generated code contains {type(node).__name__}")
        if isinstance(node, ast.Name) and (node.id not in allowed or not _NAME_RE.match(node.id)):
            raise AssertionError(f"generated code uses unknown name {node.id!r}")
        if isinstance(node, ast.arg) and node.arg not in allowed:
            raise AssertionError(f"generated code has unknown argument {node.arg!r}")
        if isinstance(node, ast.Constant) and type(node.value) not in (int, bool):
            raise AssertionError("generated code contains a non-integer constant")
        if isinstance(node, ast.Call) and not (isinstance(node.func, ast.Name) and node.func.id in _FIXED_NAMES):
            raise AssertionError("generated code calls something unexpected")


_LLVM_TUNED = False


def _tune_llvm() -> None:
    """Keep LLVM from turning the kernels' branch-free selections back into branches.

    x86's cmov converter rewrites a select on a loop-carried chain (our per-household sums) into
    a branch, and CodeGenPrepare turns a select of a loaded value into a branch; on random
    household data both mispredict (measured: ~30% slower). The options are process-wide LLVM
    settings; they are only set on x86-64 with an LLVM version they are known to exist in
    (an unknown option would make LLVM abort).
    """
    global _LLVM_TUNED
    if _LLVM_TUNED:
        return
    _LLVM_TUNED = True
    if os.environ.get("ANJU_POLICY_JIT_LLVM_TUNE", "1") == "0":
        return
    try:
        import platform

        ll: Any = importlib.import_module("llvmlite.binding")
        if platform.machine().lower() not in ("x86_64", "amd64") or not 14 <= ll.llvm_version_info[0] <= 22:
            return
        ll.set_option("anju", "-x86-cmov-converter=false")
        ll.set_option("anju", "-disable-cgp-select2branch")
    except Exception:  # pragma: no cover - tuning is optional
        return


_KERNELS: dict[tuple[str, bool], Any] = {}
_COMPILE_LOCK = threading.RLock()
# Kernel calls are serialised: numba's workqueue threading layer (used when OpenMP/TBB are
# missing) must not be entered from two threads at once. Each call is short.
_RUN_LOCK = threading.Lock()
_BACKGROUND: set[tuple[str, bool]] = set()
#: JIT compile time per kernel (seconds), measured on its first compilation.
compile_seconds: dict[tuple[str, bool], float] = {}


def _dispatcher(source: str, names: set[str], parallel: bool) -> Any:
    key = (source, parallel)
    with _COMPILE_LOCK:
        hit = _KERNELS.get(key)
        if hit is not None:
            return hit
        assert numba is not None
        validate(source, names)
        _tune_llvm()
        helpers = {name: numba.njit(inline="always", cache=False, error_model="numpy")(fn)
                   for name, fn in [*_HELPERS.values(), *_MINMAX.items()]}
        namespace: dict[str, Any] = {"prange": numba.prange if parallel else range, **helpers}
        # The source was generated by Builder and checked by validate(): no user text in it.
        exec(compile(source, "<anju-policy-kernel>", "exec"), namespace)
        fn = numba.njit(parallel=parallel, cache=False, nogil=True, error_model="numpy", boundscheck=False)(
            namespace["kernel"])
        _KERNELS[key] = fn
        return fn


def compile_kernel(p: Prepared, n: int, parallel: bool = True) -> Any:
    """The compiled kernel of ``p`` (compiled now if needed; cached in-process by its source)."""
    fn = _dispatcher(p.source, p.names, parallel)
    if fn.signatures:
        return fn
    with _COMPILE_LOCK:
        if not fn.signatures:
            assert numba is not None
            k = len(p.items)
            sig = tuple(numba.typeof(x) for x in (
                n, *p.args, np.empty((1, k), dtype=I64), np.empty((1, 1), dtype=bool), np.empty(1, dtype=np.uint8)))
            t0 = time.perf_counter()
            fn.compile(sig)
            compile_seconds[(p.source, parallel)] = time.perf_counter() - t0
    return fn


#: Seconds a background compilation waits before it starts. Compiling holds the GIL for seconds:
#: started at once, it slowed the very request that asked for it (the numpy answer of a first
#: what-if on the 2,300-household demo took 5.2 s instead of 1.5 s).
COMPILE_DELAY = 1.5


def compile_in_background(p: Prepared, n: int, parallel: bool = True, delay: float = COMPILE_DELAY) -> None:
    """Compile the kernel of ``p`` in a daemon thread (once), starting after ``delay`` seconds so
    that the request that asked for it is answered (by numpy) first."""
    key = (p.source, parallel)
    with _COMPILE_LOCK:
        if key in _BACKGROUND:
            return
        _BACKGROUND.add(key)

    def work() -> None:
        try:
            compile_kernel(p, n, parallel)
        except Exception:  # pragma: no cover - the numpy evaluator keeps serving
            _BACKGROUND.discard(key)

    timer = threading.Timer(delay, work)
    timer.name = "anju-policy-jit"
    timer.daemon = True
    timer.start()


@dataclass(slots=True)
class Prepared:
    """A kernel ready to run on one table: the source, its arguments and the item ids."""

    source: str
    names: set[str]
    args: list[Any]
    items: list[Item]
    app_cols: list[int | None]  # per item: column of ``out_app``, None when it always applies
    n_app: int


def prepare(checked: Checked, table: HouseholdTable, option: str, as_of: date | None = None,
            group: GroupFacts | None = None) -> Prepared | str:
    """Generate the kernel for ``option``; returns the reason as text when it cannot be used."""
    try:
        b = Builder(checked, table, option, as_of, group)
        source = b.build()
    except Unsupported as exc:
        return f"unsupported: {exc}"
    except Overflow as exc:
        return f"int64 overflow risk: {exc}"
    except EvaluationError as exc:  # the numpy evaluator raises it again with its context
        return f"evaluation error: {exc}"
    return Prepared(source, b.names, b.args, checked.items_for(option), b.app_cols, b.n_app)


def is_compiled(p: Prepared, parallel: bool = True) -> bool:
    """Whether the kernel of ``p`` has already been compiled in this process."""
    k = _KERNELS.get((p.source, parallel))
    return k is not None and bool(k.signatures)


class _Lease:
    """Owner of the arrays made from one pooled buffer; the buffer returns to the pool when it dies.

    numpy makes an array from ``__array_interface__`` with this object as its base, and every
    view of that array keeps it alive, so the lease dies only when the last result array has gone.
    """

    __slots__ = ("__array_interface__", "__weakref__", "buffer")

    def __init__(self, buffer: Arr) -> None:
        self.buffer = buffer
        self.__array_interface__ = buffer.__array_interface__


class OutputPool:
    """Recycles the kernels' output buffers between calls.

    A what-if or benchmark evaluates the same project again and again; a fresh 100 MB output per
    call of a 1,000,000-household project costs about 20 ms of first-touch page faults alone. A
    buffer is handed out again only after every array made from it (the :class:`BulkResult`'s
    columns and any view of them) has been released, so a result never changes under its holder.
    The kernel writes every output element of every household, so nothing of a previous call
    remains visible. Small buffers are not pooled.
    """

    MIN_BYTES = 1 << 20
    KEEP = 2  # free buffers kept per shape

    def __init__(self) -> None:
        self._free: dict[tuple[tuple[int, ...], str], list[Arr]] = {}
        self._lock = threading.Lock()

    def take(self, shape: tuple[int, ...], dtype: Any) -> Arr:
        """An uninitialised array of ``shape`` and ``dtype`` (recycled when one is free)."""
        dt = np.dtype(dtype)
        if int(np.prod(shape)) * dt.itemsize < self.MIN_BYTES:
            return np.empty(shape, dtype=dt)
        key = (tuple(shape), dt.str)
        with self._lock:
            free = self._free.get(key)
            buffer = free.pop() if free else None
        if buffer is None:
            buffer = np.empty(shape, dtype=dt)
        lease = _Lease(buffer)
        weakref.finalize(lease, self._give_back, key, buffer)
        out: Arr = np.asarray(lease)
        return out

    def _give_back(self, key: tuple[tuple[int, ...], str], buffer: Arr) -> None:
        with self._lock:
            free = self._free.setdefault(key, [])
            if len(free) < self.KEEP:
                free.append(buffer)

    def clear(self) -> None:
        """Drop every free buffer."""
        with self._lock:
            self._free.clear()


_OUTPUTS = OutputPool()


def run(p: Prepared, table: HouseholdTable, option: str, parallel: bool = True) -> BulkResult | None:
    """Run a prepared kernel (compiling it first if needed).

    Returns ``None`` when a table lookup failed in some household: the numpy evaluator then
    raises the error with its message."""
    n = table.n
    k = len(p.items)
    fn = compile_kernel(p, n, parallel)
    out_fen = _OUTPUTS.take((n, k), I64)
    out_app = _OUTPUTS.take((n, max(1, p.n_app)), np.dtype(bool))
    err = np.zeros(n, dtype=np.uint8)
    with _RUN_LOCK:
        fn(n, *p.args, out_fen, out_app, err)
    if n and err.any():
        return None
    ids = [it.id for it in p.items]
    always = np.broadcast_to(np.True_, (n,))  # read-only, no memory: items that always apply
    fen: dict[str, Arr] = {it.id: out_fen[:, q] for q, it in enumerate(p.items)}
    app: dict[str, Arr] = {it.id: always if c is None else out_app[:, c] for it, c in zip(p.items, p.app_cols, strict=True)}
    return BulkResult(option, table.codes, ids, {it.id: it.label for it in p.items}, fen, app)


def try_evaluate(checked: Checked, table: HouseholdTable, option: str, as_of: date | None = None,
                 group: GroupFacts | None = None, parallel: bool = True,
                 auto: bool = False) -> tuple[BulkResult | None, str]:
    """Evaluate with a kernel when possible: ``(result, "kernel")`` or ``(None, reason)``.

    With ``auto`` a request never waits for a compilation: a kernel not compiled yet is compiled
    in a background thread (for tables of at least :data:`AUTO_MIN_HOUSEHOLDS` households) and
    this call returns ``None`` so that the numpy evaluator answers.
    """
    if not enabled():
        return None, "disabled"
    if table.n == 0:
        return None, "empty table"
    p = prepare(checked, table, option, as_of, group)
    if isinstance(p, str):
        return None, p
    if auto and not is_compiled(p, parallel):
        if table.n >= AUTO_MIN_HOUSEHOLDS:
            compile_in_background(p, table.n, parallel)
            return None, "kernel compiling in the background"
        return None, "small table, kernel not compiled"
    res = run(p, table, option, parallel)
    if res is None:
        return None, "lookup failed in kernel"
    return res, "kernel"


def set_threads(k: int) -> None:
    """Number of threads kernels use (at most the number of cores numba sees)."""
    if numba is not None:
        numba.set_num_threads(max(1, min(k, numba.config.NUMBA_NUM_THREADS)))
