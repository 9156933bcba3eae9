"""Scalar evaluator part: its state, options and items, bounds, rounding to the fen and the
recursion's entry (``ev``)."""

from __future__ import annotations

import decimal
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from anju.core.money import format_yuan, round_to_fen
from anju.policy.check import Checked
from anju.policy.declared import missing_message, missing_required
from anju.policy.errors import EvaluationError
from anju.policy.expr import Binary, Bool, BoolOp, Call, Compare, If, Index, Name, Node, Not, Num, Str, Unary
from anju.policy.facts import GroupFacts, Household
from anju.policy.model import Formula, Item
from anju.policy.resolve import Resolved
from anju.policy.scalar.results import (
    EXACT,
    ROUNDING,
    CertificateLine,
    ItemResult,
    Result,
    Step,
    SubtotalResult,
    fmt,
    subtotal_results,
)
from anju.policy.wording import Wording, certificate_lines, rounding_line, unique


class ScalarEvaluatorBase:
    """The evaluator's state, items, bounds, rounding and the recursion's entry (``ev``)."""

    def __init__(
        self,
        checked: Checked,
        household: Household,
        as_of: date,
        group: GroupFacts | None = None,
        resolved: Resolved | None = None,
        trace: bool = True,
    ) -> None:
        self.c = checked
        self.h = household
        self.path = household.block_path
        self.as_of = as_of
        self.group = group
        self.r = resolved or Resolved(checked.policy, as_of)
        self.trace = trace
        self.item_fen: dict[str, int] = {}
        self.derived: dict[str, Any] = {}
        self.steps: list[Step] | None = None
        self.formula: Formula | None = None
        self.warnings: list[str] = []
        self.mode = checked.policy.meta.rounding_mode
        self.option = ""  # the option being evaluated ("" before evaluate(); subtotals add up its items)
        self.prefix = ""
        # With the trace on: every node's value and each tier / band / rate looked up, for the wording.
        self.values: dict[Node, Any] | None = {} if trace else None
        self.hits: dict[Node, Any] = {}
        self.words: Wording | None = None
        if trace:
            self.words = Wording(checked, household)
            self.words.values = self.values if self.values is not None else {}
            self.words.hits = self.hits

    # -- items

    def evaluate(self, option: str) -> Result:
        """Evaluate every item of ``option``."""
        if option not in self.c.policy.options:
            raise EvaluationError(
                "option",
                f"没有补偿方式“{option}”",
                f"no option '{option}' (have: {', '.join(self.c.policy.options)})",
            )
        missing = missing_required(self.c.policy.facts, self.h)
        if missing:
            zh, en = missing_message(missing)
            raise EvaluationError("missing-fact", zh, f"household {self.h.code}: {en}")
        results = []
        self.option = option
        self.derived = {}  # a derived value may read the option
        with decimal.localcontext(EXACT):
            for it in self.c.items_for(option):
                res = self.item(it)
                self.item_fen[it.id] = res.amount_fen
                results.append(res)
        return Result(self.h.code, option, self.as_of, results, self.warnings, self.subtotal_lines(option))

    def subtotal_lines(self, option: str) -> list[SubtotalResult]:
        """The subtotals of ``option`` from the items just evaluated, inner before outer."""
        return subtotal_results(self.c, option, self.item_fen, words=self.words is not None)

    def subtotal_value(self, name: str) -> Decimal:
        """A subtotal's amount (yuan) from the items evaluated so far (the checker orders them first)."""
        total = 0
        for i in self.c.subtotal_leaves[name]:
            fen = self.item_fen.get(i)
            if fen is None:
                if self.option and self.option in self.c.items[i].options:
                    raise EvaluationError("item-order", f"项目“{i}”尚未计算", f"item '{i}' not evaluated yet")
                continue
            total += fen
        return Decimal(total).scaleb(-2)

    def item(self, it: Item) -> ItemResult:
        steps: list[Step] = []
        self.steps = steps if self.trace else None
        res = ItemResult(it.id, it.label, False, 0, it.formula.text, it.per, steps=steps, ref=it.ref)
        words = self.words
        basis: list[str] = []
        if it.per == "household":
            applies = True if it.when is None else bool(self.run(it.when, None))
            res.applies = applies
            if not applies:
                if self.trace:
                    res.notes.append(
                        f"不适用：条件 {it.when.text if it.when else ''} 不成立 / not applicable"
                    )
                if words is not None:
                    res.basis = [words.not_applicable(it.when.node if it.when else None)]
                return res
            raw = self.run(it.formula, None)
            res.raw = raw
            if words is not None and it.formula.node is not None:
                basis += words.amount_line(it.formula.node, raw)
            value = self.bound(it.floor, it.cap, raw, None, res.notes, basis)
            res.amount_fen = self.round_money(value, it, res.notes, basis)
            res.basis = unique(basis)
            return res
        total = 0
        any_applies = False
        several = len(self.h.buildings) > 1
        for b in self.h.buildings:
            self.prefix = f"[证 {b.certificate_no}] "
            applies = True if it.when is None else bool(self.run(it.when, b))
            line = CertificateLine(b.certificate_no, applies, Decimal(0), 0)
            cert_basis: list[str] = []
            if applies:
                any_applies = True
                raw = self.run(it.formula, b)
                line.raw = raw
                if words is not None and it.formula.node is not None:
                    cert_basis += words.amount_line(it.formula.node, raw)
                value = self.bound(it.floor, it.cap, raw, b, line.notes, cert_basis)
                line.amount_fen = self.round_money(value, it, line.notes, cert_basis)
                total += line.amount_fen
            elif words is not None:
                cert_basis.append(words.not_applicable(it.when.node if it.when else None))
            basis += certificate_lines(b.certificate_no, cert_basis, several)
            res.certificates.append(line)
        self.prefix = ""
        res.applies = any_applies
        if not any_applies:
            if words is not None:
                res.basis = unique(basis) if several else unique(basis)[:1]
            return res
        if words is not None and sum(1 for c in res.certificates if c.applies) > 1:
            basis.append(f"各证合计 {format_yuan(total)} 元")
        if it.household_floor is None and it.household_cap is None:
            res.amount_fen = total
            res.basis = unique(basis)
            return res
        value = Decimal(total).scaleb(-2)
        bounded = self.bound(it.household_floor, it.household_cap, value, None, res.notes, basis)
        res.amount_fen = self.round_money(bounded, it, res.notes, basis) if bounded != value else total
        res.basis = unique(basis)
        return res

    def bound(
        self,
        floor: Formula | None,
        cap: Formula | None,
        value: Decimal,
        el: Any,
        notes: list[str],
        basis: list[str] | None = None,
    ) -> Decimal:
        if floor is not None:
            f = self.run(floor, el)
            if value < f:
                if self.trace:
                    notes.append(f"保底：{fmt(value)} < {fmt(f)}，按保底 {fmt(f)} / floor applied")
                if self.words is not None and basis is not None and floor.node is not None:
                    basis.append(self.words.floor_line(floor.node, f))
                value = f
        if cap is not None:
            c = self.run(cap, el)
            if value > c:
                if self.trace:
                    notes.append(f"封顶：{fmt(value)} > {fmt(c)}，按封顶 {fmt(c)} / cap applied")
                if self.words is not None and basis is not None and cap.node is not None:
                    basis.append(self.words.cap_line(cap.node, c))
                value = c
        return value

    def round_money(self, value: Decimal, it: Item, notes: list[str], basis: list[str] | None = None) -> int:
        with decimal.localcontext(ROUNDING):
            fen = round_to_fen(value, it.rounding_mode, it.rounding_unit)
        if self.trace:
            notes.append(
                f"舍入：{format(value, 'f')} 元 -> {format_yuan(fen)} 元（{it.rounding_mode.value}，到{it.rounding_unit.value}）"
                f" / rounding"
            )
            if basis is not None and Decimal(fen).scaleb(-2) != value:
                basis.append(rounding_line(it.rounding_mode, it.rounding_unit, fen))
        return fen

    def run(self, f: Formula, el: Any) -> Any:
        self.formula = f
        assert f.node is not None
        return self.ev(f.node, el)

    # -- expressions

    def ev(self, n: Node, el: Any) -> Any:
        v = self._ev(n, el)
        if self.values is not None:
            self.values[n] = v
        return v

    def _ev(self, n: Node, el: Any) -> Any:
        if isinstance(n, Num):
            return n.value
        if isinstance(n, Str):
            return n.value
        if isinstance(n, Bool):
            return n.value
        if isinstance(n, Name):
            return self.name(n, el)
        if isinstance(n, Binary):
            a = self.ev(n.left, el)
            if n.op == "/":
                return a * n.ref
            b = self.ev(n.right, el)
            if n.op == "+":
                return a + b
            if n.op == "-":
                return a - b
            return a * b
        if isinstance(n, Unary):
            return -self.ev(n.operand, el)
        if isinstance(n, Compare):
            a = self.ev(n.left, el)
            b = self.ev(n.right, el)
            if n.left.ty.kind == "date" and (a is None or b is None):
                return False
            op = n.op
            if op == "==":
                return a == b
            if op == "!=":
                return a != b
            if op == "<":
                return a < b
            if op == "<=":
                return a <= b
            if op == ">":
                return a > b
            return a >= b
        if isinstance(n, BoolOp):
            a = self.ev(n.left, el)
            b = self.ev(n.right, el)
            return (a and b) if n.op == "and" else (a or b)
        if isinstance(n, Not):
            return not self.ev(n.operand, el)
        if isinstance(n, If):
            for i, (cond, val) in enumerate(n.branches):
                if self.ev(cond, el):
                    self.note(cond, True, f"取第{i + 1}个分支 / branch {i + 1} taken")
                    return self.ev(val, el)
            self.note(n.orelse, "else", "取 else 分支 / else branch taken")
            return self.ev(n.orelse, el)
        if isinstance(n, Index):
            return self.index(n, el)
        if isinstance(n, Call):
            return self.call(n, el)
        raise AssertionError(type(n))

    if TYPE_CHECKING:
        # Implemented by the other parts of the class (see the final class's bases).

        def note(self, n: Node, value: Any, note: str = "") -> None: ...

        def call_note(self, n: Call, args: list[Any], out: Any, note: str = "") -> None: ...

        def name(self, n: Name, el: Any) -> Any: ...

        def warn(self, text: str) -> None: ...

        def fact_raw(self, fid: str, el: Any) -> Any: ...

        def index(self, n: Index, el: Any) -> Decimal: ...

        def scope_block(self, scope: str) -> str | None: ...

        def call(self, n: Call, el: Any) -> Any: ...
