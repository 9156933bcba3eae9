"""Code generator part: its state, runtime arguments, loop blocks, emitted statements and scales,
and the recursion's entry (``ev``) with comparisons and ``if``."""

from __future__ import annotations

import weakref
from collections.abc import Callable
from datetime import date
from typing import TYPE_CHECKING, Any

import numpy as np

from anju.core.money import RoundingMode
from anju.policy.check import Checked, dec_scale
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
from anju.policy.facts import GroupFacts
from anju.policy.jit.builder.values import Lut, ValueReader
from anju.policy.jit.helpers import I64, Overflow, Unsupported, V, _Loop
from anju.policy.model import Formula
from anju.policy.resolve import Resolved
from anju.policy.table import LIMIT, Arr, Elements, GroupIndex, HouseholdTable, _scaled, group_index


class BuilderBase:
    """The generator's state, its arguments, blocks and emitted statements, and the recursion's entry (``ev``)."""

    sum_groups: tuple[tuple[int, ...], ...] = ()
    # Bounds of parameter values taken this many times larger (at least 1 unit), set before build:
    # see BuilderNames.value_arg.
    headroom: int = 1

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
        self.vr = ValueReader(checked.policy, self.as_of, self.paths, self.r)
        # Arguments made from parameter and tier values: name -> (kind, name, scale), the bound
        # the source was generated for, a table's layout; and the parameters whose values shaped
        # the source or other arguments (anju.policy.jit.prepared re-makes the former only).
        self.value_args: dict[str, tuple[str, str, int]] = {}
        self.value_bounds: dict[str, int] = {}
        self.luts: dict[str, Lut] = {}
        self.shape_names: set[str] = set()
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

    if TYPE_CHECKING:
        # Implemented by the other parts of the class (see the final class's bases).

        def name(self, n: Name, el: str | None) -> V: ...

        def loopvar(self, obj: str) -> str: ...

        def element_loop(self, e: Elements, start: str, count: str) -> str: ...

        def max_count(self, e: Elements) -> int: ...

        def elements(self, obj: str) -> Elements: ...

        def clock_ords(self, name: str) -> list[int]: ...

        def index(self, n: Index, el: str | None) -> V: ...

        def call(self, n: Call, el: str | None) -> V: ...

        def div_round(self, x: V, d: int, mode: RoundingMode, scale: int, bound: int) -> V: ...


# ----------------------------------------------------------------------------- code generation


_PER_ARRAYS: dict[tuple[Any, ...], tuple[tuple[Any, ...], Any]] = {}


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
