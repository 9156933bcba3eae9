"""Scalar evaluator part: exact decimal contexts and the results (steps, certificate lines,
items, subtotals, :class:`Result`), with :func:`fmt`."""

from __future__ import annotations

import decimal
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from anju.core.money import RoundingMode, format_yuan
from anju.policy.check import Checked, Ty
from anju.policy.facts import LABELS_ZH
from anju.policy.wording import subtotal_sentence

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
