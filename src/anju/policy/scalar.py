"""The scalar evaluator: one household, one option, exact ``Decimal`` arithmetic, full trace.

This is the family's calculation sheet (算账单): for every item it records the formula, the values
substituted, the tier or branch taken, the floors and caps applied and the rounding step.
"""

from __future__ import annotations

import decimal
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from anju.core.dates import day_number
from anju.core.money import RoundingMode, format_yuan, round_to_fen
from anju.policy.check import COLLECTIONS, Checked, Ty, rate_basis
from anju.policy.datecalc import add_months_d, days_between_d, months_between_d
from anju.policy.declared import lenient, missing_message, missing_required
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
)
from anju.policy.facts import (
    BASIS_LABELS_ZH,
    EVENT_DATES,
    LABELS_ZH,
    Building,
    ChosenFlat,
    GroupFacts,
    Household,
    Member,
    Tenant,
)
from anju.policy.measures import PLACES
from anju.policy.model import Formula, Item
from anju.policy.resolve import Resolved
from anju.policy.wording import (
    BandHit,
    MeasureHit,
    PickHit,
    RateHit,
    TierHit,
    Wording,
    certificate_lines,
    is_rate,
    percent,
    rounding_line,
    subtotal_sentence,
    unique,
)

# Exact arithmetic: any inexact result is a bug (the checker only allows exact operations).
EXACT = decimal.Context(
    prec=80,
    rounding=decimal.ROUND_HALF_EVEN,
    traps=[decimal.Inexact, decimal.InvalidOperation, decimal.Overflow, decimal.DivisionByZero],
)

# Rounding is inexact by nature: it runs under a context that does not trap Inexact.
ROUNDING = decimal.Context(prec=80, traps=[decimal.InvalidOperation])

_DEC_MODES = {
    RoundingMode.HALF_UP: decimal.ROUND_HALF_UP,
    RoundingMode.HALF_DOWN: decimal.ROUND_HALF_DOWN,
    RoundingMode.HALF_EVEN: decimal.ROUND_HALF_EVEN,
    RoundingMode.DOWN: decimal.ROUND_DOWN,
    RoundingMode.UP: decimal.ROUND_UP,
}


@dataclass(slots=True)
class Step:
    """One line of a trace: a piece of the formula and what it was worth."""

    text: str
    value: str
    note: str = ""


@dataclass(slots=True)
class CertificateLine:
    """The part of a per-certificate item for one certificate."""

    certificate_no: str
    applies: bool
    raw: Decimal
    amount_fen: int
    notes: list[str] = field(default_factory=list)


@dataclass(slots=True)
class ItemResult:
    """One item of the calculation sheet."""

    id: str
    label: str
    applies: bool
    amount_fen: int
    formula: str
    per: str = "household"
    raw: Decimal | None = None  # exact value before floor/cap and rounding (per-household items)
    steps: list[Step] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # floor / cap / rounding
    certificates: list[CertificateLine] = field(default_factory=list)
    ref: str = ""
    basis: list[str] = field(default_factory=list)  # the basis in Chinese words (anju.policy.wording)


@dataclass(slots=True)
class SubtotalResult:
    """A subtotal line of the calculation sheet (never part of the total)."""

    id: str
    label: str
    amount_fen: int
    items: list[str]  # the item ids it adds up under this option (nested subtotals expanded)
    parts: list[str]  # what the policy lists: item and subtotal ids (those absent here left out)
    ref: str = ""
    basis: list[str] = field(default_factory=list)


@dataclass(slots=True)
class Result:
    """The evaluation of one household under one option."""

    household: str
    option: str
    as_of: date
    items: list[ItemResult]
    warnings: list[str] = field(default_factory=list)
    subtotals: list[SubtotalResult] = field(default_factory=list)

    @property
    def total_fen(self) -> int:
        """Sum of all items, in fen."""
        return sum(i.amount_fen for i in self.items)

    def amounts(self) -> dict[str, int]:
        """Item id -> amount in fen (items that do not apply are 0)."""
        return {i.id: i.amount_fen for i in self.items}

    def subtotal_amounts(self) -> dict[str, int]:
        """Subtotal id -> amount in fen (the subtotals with an item under this option)."""
        return {s.id: s.amount_fen for s in self.subtotals}

    def subtotals_after(self) -> dict[str, list[SubtotalResult]]:
        """Item id -> the subtotal lines printed right after it (see :func:`subtotals_after`)."""
        return subtotals_after([it.id for it in self.items], self.subtotals)


def subtotals_after(item_ids: list[str], subtotals: list[SubtotalResult]) -> dict[str, list[SubtotalResult]]:
    """Item id -> the subtotal lines printed right after it: a subtotal follows the last of its items
    in sheet order, an inner subtotal before the one that contains it (``subtotals`` inner first)."""
    position = {i: k for k, i in enumerate(item_ids)}
    out: dict[str, list[SubtotalResult]] = {}
    for st in subtotals:
        last = max(st.items, key=lambda i: position.get(i, -1))
        out.setdefault(last, []).append(st)
    return out


def subtotal_results(
    checked: Checked, option: str, item_fen: dict[str, int], words: bool = True
) -> list[SubtotalResult]:
    """The subtotal lines of ``option`` from item amounts (fen), inner before outer; ``words`` adds
    each line's basis in words. Used on a fresh evaluation and on a signed snapshot's items alike."""
    lines = []
    for sid in checked.subtotal_order:
        ids = list(checked.subtotal_items(sid, option))
        if not ids:
            continue
        st = checked.subtotals[sid]
        present = [
            p
            for p in st.parts
            if p in item_fen or (p in checked.subtotals and checked.subtotal_items(p, option))
        ]
        amount = sum(item_fen.get(i, 0) for i in ids)
        basis = [subtotal_sentence(checked, sid, present, item_fen, option, amount)] if words else []
        lines.append(SubtotalResult(sid, st.label, amount, ids, present, st.ref, basis))
    return lines


def fmt(value: Any, ty: Ty | None = None) -> str:
    """Show a value with its unit for a trace."""
    if isinstance(value, bool):
        return "是 true" if value else "否 false"
    if value is None:
        return "（无 none）"
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str):
        zh = LABELS_ZH.get(value)
        return f"{zh}（{value}）" if zh else value
    if isinstance(value, Decimal):
        unit = ""
        if ty is not None and ty.kind == "num" and not ty.unit.dimensionless:
            unit = " " + str(ty.unit)
        if ty is not None and str(ty.unit) == "元" and (value * 100) % 1 == 0:
            return format_yuan(int(value * 100)) + " 元"
        text = format(value.normalize(), "f") if value % 1 == 0 else format(value, "f")
        return text + unit
    return str(value)


class ScalarEvaluator:
    """Evaluates one household. Create one per (checked policy, household, as_of, group facts)."""

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

    def note(self, n: Node, value: Any, note: str = "") -> None:
        if self.steps is not None and self.formula is not None:
            self.steps.append(
                Step(self.prefix + self.formula.text[n.start : n.end], self.shown(n, value), note)
            )

    def shown(self, n: Node, value: Any) -> str:
        """A node's value for the trace: a rate as a percentage (``0.085`` -> ``8.5%``), else with its unit."""
        if isinstance(value, Decimal) and self.formula is not None and is_rate(self.c, n, self.formula.text):
            return percent(value)
        return fmt(value, n.ty)

    def call_note(self, n: Call, args: list[Any], out: Any, note: str = "") -> None:
        """The value of a function call with the values of its arguments: ``points_above(90%, 85%) = 5``."""
        if self.steps is None or self.formula is None:
            return
        shown = ", ".join(self.shown(a, v) for a, v in zip(n.args, args, strict=False))
        self.note(n, out, f"{n.func}({shown}) = {self.shown(n, out)}{note}")

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

    def name(self, n: Name, el: Any) -> Any:
        ref = n.ref
        kind = ref[0]
        if kind == "field":
            v = self.field(ref[1], ref[2], el)
            self.note(n, v)
            return v
        if kind == "param":
            v = self.r.param(ref[1], self.path)
            if self.steps is not None:
                p = self.c.policy.params[ref[1]]
                self.note(n, v, f"{p.label}{'（' + p.ref + '）' if p.ref else ''}")
            return v
        if kind == "clock":
            return self.r.clock(ref[1], self.path)
        if kind == "tier":
            return self.tier(n, ref[1], el)
        if kind == "derived":
            name = ref[1]
            if name not in self.derived:
                saved_f, saved_s = self.formula, self.steps
                self.steps = None
                d = self.c.policy.derived[name]
                self.derived[name] = self.run(d.formula, None)
                self.formula, self.steps = saved_f, saved_s
            v = self.derived[name]
            self.note(n, v, self.c.policy.derived[name].label)
            return v
        if kind == "fact":
            v = self.fact(ref[1])
            if self.steps is not None:
                decl = self.c.policy.facts[ref[1]]
                self.note(n, v, f"{decl.label}{'（' + decl.ref + '）' if decl.ref else ''}")
            return v
        if kind == "option":
            self.note(n, self.option, self.c.policy.options.get(self.option, ""))
            return self.option
        if kind == "item":
            fen = self.item_fen.get(ref[1])
            if fen is None:
                raise EvaluationError(
                    "item-order", f"项目“{ref[1]}”尚未计算", f"item '{ref[1]}' not evaluated yet"
                )
            v = Decimal(fen).scaleb(-2)
            self.note(n, v, self.c.items[ref[1]].label)
            return v
        if kind == "subtotal":
            v = self.subtotal_value(ref[1])
            if self.steps is not None:
                option = self.option or ""
                parts = "、".join(self.c.subtotal_items(ref[1], option)) if option else ""
                self.note(n, v, f"{self.c.subtotals[ref[1]].label}（小计：{parts}）")
            return v
        raise AssertionError(ref)

    def field(self, obj: str, attr: str, el: Any) -> Any:
        h = self.h
        if obj == "household":
            if attr == "block":
                return h.block_code
            if attr == "kind":
                return h.kind.value
            if attr == "sign_on":
                return h.sign_on
            if attr == "vacate_on":
                return h.vacate_on
            if attr == "has_homestead":
                return h.homestead is not None
            if attr == "chosen_flats_area":
                return h.chosen_flats_area
            if attr == "purchase_total":
                return Decimal(h.purchase_total_fen).scaleb(-2)
            if attr in EVENT_DATES:
                return getattr(h, attr)
        if obj == "homestead":
            if h.homestead is None:
                return Decimal(0)
            if attr == "area":
                return h.homestead.area
            return Decimal(h.homestead.approved_year or 0)
        if obj == "building":
            b: Building = el
            if attr in ("legal_area", "unregistered_area"):
                return getattr(b, attr)
            if attr in ("structure", "use", "unregistered_determination"):
                return getattr(b, attr).value
            if attr in ("floors", "built_year"):
                return Decimal(getattr(b, attr))
            fen = getattr(b, attr + "_fen")
            if fen is None:
                self.warn(f"证 {b.certificate_no} 缺少 {attr}，按 0 计 / missing {attr}, taken as 0")
                return Decimal(0)
            return Decimal(fen).scaleb(-2)
        if obj == "member":
            m: Member = el
            if attr == "disabled":
                return m.disability_grade is not None
            if attr == "disability_grade":
                return Decimal(m.disability_grade or 0)
            return getattr(m, attr)
        if obj == "tenant":
            t: Tenant = el
            return t.area if attr == "area" else t.kind.value
        if obj == "flat":
            return self.flat_field(el, attr)
        raise AssertionError((obj, attr))

    def fact(self, fid: str) -> Any:
        """A declared fact's typed value; a missing optional one reads as 0 / no / none."""
        d = self.c.policy.facts[fid]
        v = lenient(d, self.h.facts.get(fid))
        if v is not None:
            return v
        if d.numeric:
            self.warn(f"缺少{d.label}，按 0 计 / missing {fid}, taken as 0")
            return Decimal(0)
        return False if d.type == "yesno" else None

    def flat_field(self, f: ChosenFlat, attr: str) -> Any:
        """A field of a selected flat (a missing price reads as 0, with a warning)."""
        if attr == "area":
            return f.area
        if attr == "floor":
            return Decimal(f.floor)
        if attr in ("building", "code"):
            return getattr(f, attr)
        if attr == "type":
            return f.flat_type
        fen = getattr(f, attr + "_fen")
        if fen is None:
            self.warn(f"房源 {f.code} 缺少 {attr}，按 0 计 / flat {f.code}: missing {attr}, taken as 0")
            return Decimal(0)
        return Decimal(fen).scaleb(-2)

    def warn(self, text: str) -> None:
        if text not in self.warnings:
            self.warnings.append(text)

    def tier(self, n: Node, name: str, el: Any) -> Decimal:
        t = self.c.policy.tiers[name]
        event = self.h.sign_on if t.event == "sign_on" else self.h.vacate_on
        clock = self.r.clock(t.clock, self.path)
        if self.values is not None:
            day_n = None if event is None else day_number(clock, event, t.count)
            hit = None if day_n is None else next((w for w in t.windows if w.window.contains(day_n)), None)
            self.hits[n] = TierHit(t, event, clock, day_n, hit, t.otherwise if hit is None else hit.value)
        if event is None:
            self.note(
                n,
                t.otherwise,
                f"{t.label}：无{'签约' if t.event == 'sign_on' else '腾空'}日期，取 otherwise / no event date",
            )
            return t.otherwise
        day = day_number(clock, event, t.count)
        for w in t.windows:
            if w.window.contains(day):
                self.note(
                    n,
                    w.value,
                    f"{t.label}：{event} 为自 {clock} 起第 {day} 日（{t.count.value}），落在“{w.label}” / day {day}",
                )
                return w.value
        self.note(
            n, t.otherwise, f"{t.label}：第 {day} 日不在任何窗口内，取 otherwise / day {day} in no window"
        )
        return t.otherwise

    def index(self, n: Index, el: Any) -> Decimal:
        name = n.ref[1]
        keys = tuple(self.ev(k, el) for k in n.keys)
        table = self.r.param(name, self.path)
        v = table.get(keys)
        if v is None:
            p = self.c.policy.params[name]
            if p.default is None:
                raise EvaluationError(
                    "table-key",
                    f"表格“{name}”没有 {' / '.join(keys)} 这一项",
                    f"table '{name}' has no entry {' / '.join(keys)}",
                )
            v = p.default
        if self.steps is not None:
            p = self.c.policy.params[name]
            self.note(
                n, v, f"{p.label}[{' / '.join(fmt(k) for k in keys)}]{'（' + p.ref + '）' if p.ref else ''}"
            )
        return v  # type: ignore[no-any-return]

    def scope_block(self, scope: str) -> str | None:
        if scope == "project":
            return None
        if scope == "block":
            return self.h.block_code
        levels = self.c.policy.meta.block_levels
        i = levels.index(scope)
        if i >= len(self.path):
            raise EvaluationError(
                "scope",
                f"户 {self.h.code} 没有“{scope}”层级的片区",
                f"household {self.h.code} has no block at level '{scope}'",
            )
        return self.path[i]

    def call(self, n: Call, el: Any) -> Any:
        f = n.func
        a = n.args
        if isinstance(n.ref, tuple) and n.ref[0] == "bands":
            x = self.ev(a[0], el)
            p = self.c.policy.params[f]
            bands = self.r.param(f, self.path)
            for w, v in bands:
                if w.contains(int(x)):
                    self.note(n, v, f"{p.label}：{fmt(x, a[0].ty)} 落在分档 ({w.after}, {w.upto}]")
                    if self.values is not None:
                        self.hits[n] = BandHit(f, x, a[0].ty.unit, w, v)
                    return v
            out_v = p.default if p.default is not None else Decimal(0)
            if self.values is not None:
                self.hits[n] = BandHit(f, x, a[0].ty.unit, None, out_v)
            return out_v
        if isinstance(n.ref, tuple) and n.ref[0] == "pick":
            return self.pick(n, el)
        if f in ("min", "max"):
            vals = [self.ev(x, el) for x in a]
            picked = min(vals) if f == "min" else max(vals)
            self.call_note(
                n, vals, picked, "，取较小者 / the smaller" if f == "min" else "，取较大者 / the larger"
            )
            return picked
        if f == "clamp":
            x, lo, hi = (self.ev(y, el) for y in a)
            clamped = min(max(x, lo), hi)
            self.call_note(n, [x, lo, hi], clamped, "，限定在上下限内 / clamped" if clamped != x else "")
            return clamped
        if f == "floor":
            x = self.ev(a[0], el)
            with decimal.localcontext(ROUNDING):
                out_floor = x.to_integral_value(rounding=decimal.ROUND_FLOOR)
            self.call_note(n, [x], out_floor, "，取整数部分 / whole part")
            return out_floor
        if f == "abs":
            x = self.ev(a[0], el)
            self.call_note(n, [x], abs(x))
            return abs(x)
        if f == "round":
            x = self.ev(a[0], el)
            places = int(a[1].value)  # type: ignore[attr-defined]
            with decimal.localcontext(ROUNDING):
                out_round = x.quantize(Decimal(1).scaleb(-places), rounding=_DEC_MODES[self.mode])
            self.call_note(n, [x, a[1].value], out_round)  # type: ignore[attr-defined]
            return out_round
        if f in ("sum", "count", "any"):
            coll = a[0].ref[1]
            elems = {
                "member": self.h.members,
                "building": self.h.buildings,
                "tenant": self.h.tenants,
                "flat": self.h.flats,
            }[coll]
            where = n.kwargs.get("where")
            total = Decimal(0)
            cnt = 0
            saved = self.steps
            self.steps = None
            for e in elems:
                if where is not None and not self.ev(where, e):
                    continue
                cnt += 1
                if f == "sum":
                    total += self.ev(a[1], e)
            self.steps = saved
            out: Any = total if f == "sum" else (Decimal(cnt) if f == "count" else cnt > 0)
            self.note(n, out)
            return out
        if f in ("sign_rate", "vacate_rate"):
            scope = a[0].value  # type: ignore[attr-defined]
            as_of = self.ev(a[1], el)
            if self.group is None:
                raise EvaluationError(
                    "group",
                    "计算签约率/腾空率需要片区统计数据（group facts）",
                    "sign/vacate rates need group facts",
                )
            block = self.scope_block(scope)
            basis = rate_basis(n)
            ppm = (
                0
                if as_of is None
                else self.group.rate_ppm(block, as_of, "sign" if f == "sign_rate" else "vacate", basis)
            )
            rate = Decimal(ppm).scaleb(-6)
            if self.values is not None:
                self.hits[n] = RateHit("sign" if f == "sign_rate" else "vacate", scope, as_of, rate, basis)
            if self.steps is not None:
                what = "签约率" if f == "sign_rate" else "腾空率"
                by = "" if basis == "household" else f"（按{BASIS_LABELS_ZH[basis]}）"
                self.note(n, rate, f"{block or '全项目'} 截至 {as_of} 的{what}{by} = {percent(rate)}")
            return rate
        if f == "measure":
            return self.measure_call(n, el)
        if f == "points_above":
            r = self.ev(a[0], el)
            t = self.ev(a[1], el)
            points = (
                (((r - t) * 100).to_integral_value(rounding=decimal.ROUND_FLOOR)) if r > t else Decimal(0)
            )
            self.call_note(n, [r, t], points, " 个整百分点 / whole points above")
            return points
        if f == "known":
            ref = a[0].ref
            if ref[0] == "fact":
                return lenient(self.c.policy.facts[ref[1]], self.h.facts.get(ref[1])) is not None
            if ref[1] == "household":
                is_known = getattr(self.h, ref[2]) is not None
            else:
                is_known = getattr(el, ref[2] + "_fen") is not None
            self.note(n, is_known, "有此事实 / known" if is_known else "缺少此事实 / missing")
            return is_known
        if f == "flag":
            has_flag = a[0].value in self.h.flags  # type: ignore[attr-defined]
            self.note(n, has_flag)
            return has_flag
        if f == "date":
            return n.ref
        if f in ("days_between", "months_between", "add_months"):
            return self.date_call(n, el)
        raise AssertionError(f)

    def date_call(self, n: Call, el: Any) -> Any:
        """Date arithmetic (anju.policy.datecalc); the trace shows the call with its dates."""
        f = n.func
        a = self.ev(n.args[0], el)
        b = self.ev(n.args[1], el)
        if f == "add_months":
            try:
                out: Any = add_months_d(a, int(b))
            except (ValueError, OverflowError):
                raise EvaluationError(
                    "date-range",
                    f"户 {self.h.code}：{fmt(a)} 加 {b} 个月超出日期范围",
                    f"household {self.h.code}: {a} plus {b} months is out of range",
                ) from None
            self.note(n, out, f"add_months({fmt(a)}, {fmt(b)}) = {fmt(out)}")
            return out
        on = bool(n.ref[1])
        if f == "days_between":
            out = Decimal(days_between_d(a, b, on))
            conv = "首尾两日都计" if on else "不计首日、计末日"
            unit = "日"
        else:
            out = Decimal(months_between_d(a, b, on))
            conv = "不满一月按一月计" if on else "只计满月"
            unit = "月"
        why = "，日期未知按 0 计 / unknown date" if a is None or b is None else ""
        self.note(n, out, f"{f}({fmt(a)}, {fmt(b)}) = {out} {unit}（{conv}{why}）")
        return out

    def pick(self, n: Call, el: Any) -> Any:
        """``max`` / ``min`` / ``first`` over a collection; ``else=`` when nothing is selected."""
        f = n.func
        inner = n.ref[1]
        plural = next(k for k, v in COLLECTIONS.items() if v == inner)
        where = n.kwargs.get("where")
        order = n.kwargs.get("order")
        desc = bool(getattr(n.kwargs.get("desc"), "value", False))
        saved = self.steps
        self.steps = None
        found: list[tuple[Any, Any, int]] = []  # (value, order key, position)
        elems = getattr(self.h, plural)
        for pos, e in enumerate(elems):
            if where is not None and not self.ev(where, e):
                continue
            key = self.ev(order, e) if order is not None else Decimal(0)
            found.append((self.ev(n.args[1], e), key, pos))
        self.steps = saved
        if self.values is not None:
            self.hits[n] = PickHit(len(elems), len(found))
        if not found:
            out = self.ev(n.kwargs["else"], el)
            self.note(n, out, f"{f}：{len(elems)} 个元素中没有符合条件的，取 else / none selected")
            return out
        if f == "max":
            out = max(v for v, _, _ in found)
        elif f == "min":
            out = min(v for v, _, _ in found)
        else:
            # the first by the order (ties keep the collection's own order), else the first element
            best = found[0]
            for cand in found[1:]:
                if (cand[1] > best[1]) if desc else (cand[1] < best[1]):
                    best = cand
            out = best[0]
        self.note(n, out, f"{f}：{len(elems)} 个元素中符合条件 {len(found)} 个 / {len(found)} selected")
        return out

    def measure_call(self, n: Call, el: Any) -> Decimal:
        """``measure(id, scope, as_of)``: the office-set value in force, or an error naming it."""
        m = self.c.policy.measures[n.args[0].value]  # type: ignore[attr-defined]
        scope = n.args[1].value  # type: ignore[attr-defined]
        as_of = self.ev(n.args[2], el)
        block = self.scope_block(scope)
        where = "全项目" if block is None else f"{scope} {block}"
        value = None
        if self.group is not None and as_of is not None:
            value = self.group.measure_value(m.id, block, as_of)
        if value is None:
            when = f"截至 {as_of}" if as_of is not None else "（截止日期未知）"
            raise EvaluationError(
                "measure",
                f"户 {self.h.code} 缺少办公室录入的指标“{m.label}”（{where}，{when}没有生效的记录），暂不能计算",
                f"household {self.h.code}: the office has recorded no value of measure '{m.id}' for "
                f"{'the project' if block is None else block} in force on {as_of}",
            )
        if value != value.quantize(Decimal(1).scaleb(-PLACES)):
            raise EvaluationError(
                "measure",
                f"指标“{m.label}”的记录值 {value} 超过 {PLACES} 位小数",
                f"measure '{m.id}' value {value} has more than {PLACES} decimals",
            )
        out = m.engine_value(value)
        if self.values is not None:
            self.hits[n] = MeasureHit(m.label, scope, as_of, out, m.percent, m.unit)
        if self.steps is not None:
            shown = f"{format(value, 'f')}{'%' if m.percent else m.unit_text}"
            self.note(n, out, f"{where} 截至 {as_of} 的{m.label}（办公室录入）= {shown}")
        return out


def evaluate(
    checked: Checked,
    household: Household,
    option: str,
    as_of: date | None = None,
    group: GroupFacts | None = None,
    trace: bool = True,
) -> Result:
    """Evaluate one household under one option: items, total and trace.

    ``as_of`` picks the dated parameter values in force (default: the policy's effective date).
    ``group`` gives the block facts needed by sign/vacate rates.
    """
    when = as_of or checked.policy.meta.effective_on
    return ScalarEvaluator(checked, household, when, group, trace=trace).evaluate(option)
