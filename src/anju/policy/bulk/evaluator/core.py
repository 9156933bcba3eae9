"""Numpy evaluator part: bulk values (:class:`BV`), :func:`div_round`, the evaluator's state,
levels, scales and bounds, and the recursion's entry (``ev``) with comparisons and ``if``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

import numpy as np

from anju.core.money import RoundingMode
from anju.policy.check import Checked
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
from anju.policy.model import Formula
from anju.policy.resolve import Resolved
from anju.policy.table import I64, LIMIT, Arr, Elements, HouseholdTable, _scaled, group_index


class BulkEvaluatorBase:
    """The evaluator's state, levels, scales and bounds of bulk values, and the recursion's entry (``ev``)."""

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
        self._skip: Arr | None = None
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

    def not_computed(self, level: str) -> Arr:
        """Households (or their elements at ``level``) lacking a required declared fact: they are
        not computed (see :func:`anju.policy.table.mark_missing`), so a lookup does not fail there."""
        if self._skip is None:
            skip = np.zeros(self.n, dtype=bool)
            missing = self.t.missing_required(self.c.policy.facts) if self.c.policy.facts else {}
            if missing:
                skip[np.asarray(list(missing), dtype=I64)] = True
            self._skip = skip
        return self._skip if level == "hh" else self._skip[self.el[level].hh]

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

    if TYPE_CHECKING:
        # Implemented by the other parts of the class (see the final class's bases).

        def name(self, n: Name, el: str | None) -> BV: ...

        def index(self, n: Index, el: str | None) -> BV: ...

        def seg_sum(self, e: Elements, v: Arr, bound: int | None = None) -> Arr: ...

        def call(self, n: Call, el: str | None) -> BV: ...


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
