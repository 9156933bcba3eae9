"""The evaluation of the ``transition`` block: the months paid by a date, normal and overdue, and
their amounts (see the package docstring)."""

from __future__ import annotations

import dataclasses
import decimal
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

from anju.core.dates import add_months
from anju.core.money import format_yuan, round_to_fen
from anju.policy.errors import EvaluationError
from anju.policy.transition.block import MONTH_CONVENTIONS, STARTS, TransitionRules

if TYPE_CHECKING:
    from anju.policy.check import Checked
    from anju.policy.facts import ChosenFlat, GroupFacts, Household
    from anju.policy.scalar import ScalarEvaluator

# A due date no month reaches: an unknown ``due`` (e.g. before vacating) gives no overdue months.
NEVER = date.max


@dataclass(frozen=True, slots=True)
class TransitionMonth:
    """One month of transition fee: its number (1, 2, ...), its first and last day, whether it is
    late (overdue) and its amount in fen."""

    number: int
    first_day: date
    last_day: date
    late: bool
    amount_fen: int


@dataclass(slots=True)
class TransitionFees:
    """Transition fees of one household up to a date: months, amounts, total and a trace in Chinese.

    ``start`` is ``None`` when the start date is not known yet (no months). ``due`` is the first
    overdue day (``None`` when unknown). ``end`` is the day after the last day paid for (``actual
    delivery + grace``), ``None`` while not delivered. ``final`` tells that no further month will be
    added (delivered and the end reached by ``as_of``). ``applies`` is false when the block's
    ``when`` condition does not hold; ``reason`` then says why in words (no months)."""

    label: str
    start: date | None
    due: date | None
    end: date | None
    as_of: date
    monthly_fen: int
    late_fen: int
    months: list[TransitionMonth]
    final: bool
    trace: list[str] = field(default_factory=list)
    applies: bool = True
    reason: str = ""

    @property
    def normal_months(self) -> int:
        """How many months are paid at the normal rate."""
        return sum(1 for m in self.months if not m.late)

    @property
    def late_months(self) -> int:
        """How many months are paid at the overdue rate."""
        return sum(1 for m in self.months if m.late)

    @property
    def total_fen(self) -> int:
        """The sum of every month's amount."""
        return sum(m.amount_fen for m in self.months)


def count_months(
    start: date,
    *,
    planned_delivery: date,
    actual_delivery: date | None,
    as_of: date,
    grace_months: int,
    convention: str,
    due: date | None = None,
) -> list[tuple[int, date, date, bool]]:
    """The months paid, as (number, first day, last day, late), under ``convention``
    (``started`` | ``whole``; see the package docstring). ``due`` is the first overdue day
    (default: ``planned_delivery + grace_months``). Pure date arithmetic, no money."""
    if due is None:
        due = add_months(planned_delivery, grace_months)
    end = add_months(actual_delivery, grace_months) if actual_delivery is not None else None
    stop = as_of + timedelta(days=1)  # as_of itself is a day of the period
    if end is not None and end < stop:
        stop = end
    out: list[tuple[int, date, date, bool]] = []
    k = 1
    while True:
        first, nxt = add_months(start, k - 1), add_months(start, k)
        if convention == "started":
            if first >= stop:
                break
            late = min(nxt, stop) > due
        else:
            if nxt > stop:
                break
            late = first >= due
        out.append((k, first, nxt - timedelta(days=1), late))
        k += 1
    return out


def _facts(
    rules: TransitionRules,
    household: Household,
    start_on: date | None,
    planned: date,
    actual: date | None,
    flats: tuple[ChosenFlat, ...] | None,
) -> Household:
    """The household's facts as the block sees them: its start date, the delivery dates given and
    the flats it holds now (an agreement's frozen facts predate vacating and delivery)."""
    changes: dict[str, object] = {"delivery_planned_on": planned, "delivery_actual_on": actual}
    if start_on is not None:
        changes[rules.start] = start_on
    if flats is not None:
        changes["flats"] = tuple(flats)
    if all(getattr(household, k) == v for k, v in changes.items()):
        return household
    return dataclasses.replace(household, **changes)  # type: ignore[arg-type]


def _reason(checked: Checked, household: Household, ev: ScalarEvaluator, rules: TransitionRules) -> str:
    """Why the block's ``when`` does not hold, in words (``不适用：…``)."""
    from anju.policy.wording import Wording

    w = Wording(checked, household)
    w.values = ev.values or {}
    w.hits = ev.hits
    return w.not_applicable(rules.when.node if rules.when is not None else None)


def transition_fees(
    checked: Checked,
    household: Household,
    *,
    planned_delivery: date,
    actual_delivery: date | None,
    as_of: date,
    start_on: date | None = None,
    group: GroupFacts | None = None,
    option: str = "swap",
    evaluated_on: date | None = None,
    flats: tuple[ChosenFlat, ...] | None = None,
) -> TransitionFees:
    """The transition fees of ``household`` by ``as_of`` under the policy's ``transition`` block.

    ``start_on`` overrides the start date taken from the facts (``household.vacate_on`` or
    ``sign_on`` as the block says), ``flats`` the flats the household holds; the facts' delivery
    dates are ``planned_delivery`` / ``actual_delivery``. ``evaluated_on`` is the date the block's
    formulas are evaluated at (the agreement's frozen date; default ``as_of``). Raises
    :class:`EvaluationError` when the policy has no ``transition`` block or ``option`` is not
    one it pays."""
    from anju.policy.scalar import EXACT, ROUNDING, ScalarEvaluator

    rules = checked.policy.transition
    if rules is None:
        raise EvaluationError(
            "no-transition", "本方案没有按月计算的过渡费规则（transition）", "no transition block"
        )
    if option not in rules.options:
        raise EvaluationError(
            "transition-option",
            f"补偿方式“{option}”不按月支付过渡费（适用：{'、'.join(rules.options)}）",
            f"option {option} has no monthly transition fee",
        )
    h = _facts(rules, household, start_on, planned_delivery, actual_delivery, flats)
    ev = ScalarEvaluator(checked, h, evaluated_on or as_of, group, trace=False)
    ev.evaluate(option)
    meta = checked.policy.meta
    start = getattr(h, rules.start)
    end = add_months(actual_delivery, rules.grace_months) if actual_delivery is not None else None
    with decimal.localcontext(EXACT):
        if rules.when is not None:
            ev.values = {}  # recorded for the words of a condition that does not hold
            if not ev.run(rules.when, None):
                reason = _reason(checked, h, ev, rules)
                trace = [f"{rules.label}：{reason}（{rules.when.text}），不支付、不列入付款计划"]
                return TransitionFees(
                    rules.label, start, None, end, as_of, 0, 0, [], end is not None, trace, False, reason
                )
            ev.values = None
        monthly: Decimal = ev.run(rules.monthly, None)
        late_value: Decimal = (
            ev.run(rules.late_monthly, None)
            if rules.late_monthly is not None
            else monthly * rules.late_multiplier
        )
        due: date | None = (
            ev.run(rules.due, None)
            if rules.due is not None
            else add_months(planned_delivery, rules.grace_months)
        )
    with decimal.localcontext(ROUNDING):
        monthly_fen = round_to_fen(monthly, meta.rounding_mode, meta.rounding_unit)
        late_fen = round_to_fen(late_value, meta.rounding_mode, meta.rounding_unit)
    trace = [
        f"{rules.label}：每月 {format(monthly, 'f')} 元 → {format_yuan(monthly_fen)} 元"
        f"（{rules.monthly.text}）",
        (
            f"逾期月份每月 {format(late_value, 'f')} 元 → {format_yuan(late_fen)} 元（{rules.late_monthly.text}）"
            if rules.late_monthly is not None
            else f"逾期月份按 {format(rules.late_multiplier, 'f')} 倍：每月 {format_yuan(late_fen)} 元"
        ),
        _due_line(rules, planned_delivery, due),
        f"计月方式：{MONTH_CONVENTIONS[rules.months]}",
    ]
    if actual_delivery is None:
        trace.append(f"尚未交房：计至 {as_of.isoformat()}（含）")
    else:
        trace.append(
            f"实际交房 {actual_delivery.isoformat()}，过渡费计至 {(end or as_of).isoformat()} 前一日"
            + (f"，本次计至 {as_of.isoformat()}（含）" if end is not None and as_of < end else "")
        )
    if start is None:
        trace.insert(0, f"起算日（{STARTS[rules.start]}）未知：尚无过渡费")
        return TransitionFees(rules.label, None, due, end, as_of, monthly_fen, late_fen, [], False, trace)
    trace.insert(0, f"起算日：{STARTS[rules.start]} {start.isoformat()}")
    months = [
        TransitionMonth(k, first, last, late, late_fen if late else monthly_fen)
        for k, first, last, late in count_months(
            start,
            planned_delivery=planned_delivery,
            actual_delivery=actual_delivery,
            as_of=as_of,
            grace_months=rules.grace_months,
            convention=rules.months,
            due=due if due is not None else NEVER,
        )
    ]
    final = end is not None and end <= as_of + timedelta(days=1)
    out = TransitionFees(rules.label, start, due, end, as_of, monthly_fen, late_fen, months, final, trace)
    trace.append(
        f"正常月份 {out.normal_months} 个 × {format_yuan(monthly_fen)} 元 + 逾期月份 {out.late_months} 个 × "
        f"{format_yuan(late_fen)} 元 = {format_yuan(out.total_fen)} 元"
    )
    return out


def _due_line(rules: TransitionRules, planned: date, due: date | None) -> str:
    if rules.due is None:
        return (
            f"计划交房 {planned.isoformat()}，加交房后过渡 {rules.grace_months} 个月，"
            f"{(due or planned).isoformat()} 起的月份为逾期"
        )
    if due is None:
        return f"逾期起点（{rules.due.text}）尚不能确定：暂无逾期月份"
    return f"逾期起点（{rules.due.text}）：{due.isoformat()} 起的月份为逾期"
