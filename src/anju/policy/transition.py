"""The ``transition`` block: monthly transition fees (临时安置费 / 过渡费) until the resettlement
flat is delivered, with grace months after delivery and a multiplier for late delivery.

Written as data in the policy::

    transition:
      label: 临时安置费（按月）
      options: [swap]                 # the options that are paid this way (default: [swap])
      monthly: sum(buildings, building.legal_area) * transition_rate   # 元/月, a formula of the household
      start: vacate_on                # vacate_on (腾空之日) | sign_on (签约之日)
      grace_months: 3                 # months still paid after delivery (装修过渡)
      late_multiplier: 2              # months after planned delivery + grace are paid x 2
      months: started                 # started: a started month counts whole | whole: only whole months
      ref: 方案第十一条

Months are calendar months counted from the start date ``s``: month ``k`` is
``[add_months(s, k-1), add_months(s, k))`` (:func:`anju.core.dates.add_months`, the day clamped to
the month's end). The fee runs from ``s`` up to ``end = actual delivery + grace_months`` (open
while the flat is not delivered); it is counted up to ``as_of`` (inclusive) when that comes first.

* ``months: started`` — a month is paid when it has begun before the end (its first day is
  before ``end`` and not after ``as_of``); a month is late (multiplied) when its part inside
  the fee period reaches beyond ``due = planned delivery + grace_months``.
* ``months: whole`` — a month is paid only when it lies wholly before the end (and has fully
  elapsed by ``as_of``); it is late only when it starts on or after ``due``.

A flat delivered on or before its planned date never has late months, under either convention.
The monthly fee is rounded once (the policy's rounding); a late month pays
``round(monthly x late_multiplier)``. Everything is exact :class:`~decimal.Decimal` and fen.

This module holds the definitions, their reading (called by :mod:`anju.policy.model`), their
checking (called by :mod:`anju.policy.check`) and the evaluation (:func:`transition_fees`).
"""

from __future__ import annotations

import decimal
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from anju.core.dates import add_months
from anju.core.money import format_yuan, round_to_fen
from anju.policy.errors import EvaluationError
from anju.policy.suggest import did_you_mean
from anju.policy.units import MONTH, YUAN

if TYPE_CHECKING:
    from anju.policy.check import Checked, _Checker
    from anju.policy.facts import GroupFacts, Household
    from anju.policy.model import Formula, Src, _Reader

STARTS: dict[str, str] = {"vacate_on": "腾空之日", "sign_on": "签约之日"}
MONTH_CONVENTIONS: dict[str, str] = {
    "started": "不满一个月的按一个月计（已开始的月份计入）",
    "whole": "只计满月（不满一个月的不计）",
}
KEYS = {"label", "options", "monthly", "start", "grace_months", "late_multiplier", "months", "ref"}
MAX_GRACE_MONTHS = 120


@dataclass(slots=True)
class TransitionRules:
    """The ``transition`` block as read."""

    label: str
    options: tuple[str, ...]
    monthly: Formula
    start: str  # "vacate_on" | "sign_on"
    grace_months: int
    late_multiplier: Decimal
    months: str  # "started" | "whole"
    ref: str
    src: Src


# ----------------------------------------------------------------------------- reading


def read_transition(r: _Reader, value: Any, options: tuple[str, ...]) -> TransitionRules | None:
    """Read the top-level ``transition`` block; every mistake becomes a problem with its place."""
    path: tuple[Any, ...] = ("transition",)
    if not isinstance(value, dict):
        r.err(
            path,
            "type",
            "transition 应为映射（monthly / start / grace_months ...）",
            "transition must be a mapping",
        )
        return None
    r.unknown_keys(value, KEYS, path)
    ok = True
    monthly = r.formula(value.get("monthly"), (*path, "monthly"))
    if monthly is None:
        r.err(
            path,
            "missing",
            "过渡费 transition 缺少每月金额 monthly（公式，元/月）",
            "transition needs monthly",
        )
        ok = False
    start = str(value.get("start", "vacate_on"))
    if start not in STARTS:
        r.err(
            (*path, "start"),
            "transition",
            f"起算日 start 应为 {' 或 '.join(f'{k}（{v}）' for k, v in STARTS.items())}，却是“{start}”",
            f"start must be one of {', '.join(STARTS)}",
        )
        ok = False
    grace_raw = value.get("grace_months", 0)
    grace = 0
    if (
        isinstance(grace_raw, bool)
        or not isinstance(grace_raw, int)
        or not 0 <= grace_raw <= MAX_GRACE_MONTHS
    ):
        r.err(
            (*path, "grace_months"),
            "number",
            f"交房后过渡月数 grace_months 应为 0 到 {MAX_GRACE_MONTHS} 的整数",
            f"grace_months must be a whole number from 0 to {MAX_GRACE_MONTHS}",
        )
        ok = False
    else:
        grace = grace_raw
    mult = r.decimal(value.get("late_multiplier", 1), (*path, "late_multiplier"), "逾期倍数 late_multiplier")
    if mult is not None and not Decimal(1) <= mult <= Decimal(10):
        r.err(
            (*path, "late_multiplier"),
            "number",
            "逾期倍数 late_multiplier 应在 1 到 10 之间（如 2 表示双倍，1.5 表示增加50%）",
            "late_multiplier must be from 1 to 10",
        )
        mult = None
    if mult is None:
        ok = False
    months = str(value.get("months", "started"))
    if months not in MONTH_CONVENTIONS:
        r.err(
            (*path, "months"),
            "transition",
            f"计月方式 months 应为 started（{MONTH_CONVENTIONS['started']}）或 whole（{MONTH_CONVENTIONS['whole']}），"
            f"却是“{months}”",
            "months must be started or whole",
        )
        ok = False
    raw_opts = value.get("options", ["swap"])
    opts: tuple[str, ...] = ()
    if not isinstance(raw_opts, list) or not raw_opts:
        r.err((*path, "options"), "type", "options 应为补偿方式列表，如 [swap]", "options must be a list")
        ok = False
    else:
        opts = tuple(str(o) for o in raw_opts)
        for i, o in enumerate(opts):
            if o not in options:
                zh, en = did_you_mean(o, options)
                r.err(
                    (*path, "options", i),
                    "option",
                    f"没有补偿方式“{o}”{zh}（可用：{'、'.join(options)}）",
                    f"no option '{o}'{en}",
                )
                ok = False
    if not ok or monthly is None or mult is None:
        return None
    return TransitionRules(
        label=str(value.get("label") or "临时安置费"),
        options=opts,
        monthly=monthly,
        start=start,
        grace_months=grace,
        late_multiplier=mult,
        months=months,
        ref=str(value.get("ref", "")),
        src=r.src(path),
    )


# ----------------------------------------------------------------------------- checking


def check_transition(c: _Checker, rules: TransitionRules) -> None:
    """The monthly fee must come out in 元/月 (e.g. ㎡ x 元/㎡/月) and use only items of the
    options the block applies to."""
    c.deps = set()
    t = c.check_formula(rules.monthly, None)
    if t is None:
        return
    c.formula = rules.monthly
    try:
        want = YUAN / MONTH
        if t.kind != "num" or t.unit != want:
            got = t.unit if t.kind == "num" else t.kind
            c.err(
                rules.monthly.node,
                "unit",
                f"每月过渡费 monthly 应为 元/月（如 面积 × 元/㎡/月），公式得出的是 {got}",
                f"transition monthly must be 元/月, the formula gives {got}",
            )
        bad = [d for d in sorted(c.deps) if any(o not in c.items[d].options for o in rules.options)]
        if bad:
            c.err(
                rules.monthly.node,
                "option",
                f"每月过渡费 monthly 引用了不属于 {'、'.join(rules.options)} 的项目：{'、'.join(bad)}",
                f"transition monthly uses item(s) outside its options: {', '.join(bad)}",
            )
    finally:
        c.formula = None


# ----------------------------------------------------------------------------- evaluation


@dataclass(frozen=True, slots=True)
class TransitionMonth:
    """One month of transition fee: its number (1, 2, ...), its first and last day, whether it is
    late (multiplied) and its amount in fen."""

    number: int
    first_day: date
    last_day: date
    late: bool
    amount_fen: int


@dataclass(slots=True)
class TransitionFees:
    """Transition fees of one household up to a date: months, amounts, total and a trace in Chinese.

    ``start`` is ``None`` when the start date is not known yet (no months). ``end`` is the day
    after the last day paid for (``actual delivery + grace``), ``None`` while not delivered.
    ``final`` tells that no further month will be added (delivered and the end reached by
    ``as_of``)."""

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

    @property
    def normal_months(self) -> int:
        """How many months are paid at the normal rate."""
        return sum(1 for m in self.months if not m.late)

    @property
    def late_months(self) -> int:
        """How many months are paid with the late multiplier."""
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
) -> list[tuple[int, date, date, bool]]:
    """The months paid, as (number, first day, last day, late), under ``convention``
    (``started`` | ``whole``; see the module's docstring). Pure date arithmetic, no money."""
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
) -> TransitionFees:
    """The transition fees of ``household`` by ``as_of`` under the policy's ``transition`` block.

    ``start_on`` overrides the start date taken from the facts (``household.vacate_on`` or
    ``sign_on`` as the block says). ``evaluated_on`` is the date the monthly formula is evaluated
    at (the agreement's frozen date; default ``as_of``). Raises :class:`EvaluationError` when the
    policy has no ``transition`` block or ``option`` is not one it pays."""
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
    ev = ScalarEvaluator(checked, household, evaluated_on or as_of, group, trace=False)
    ev.evaluate(option)
    with decimal.localcontext(EXACT):
        monthly: Decimal = ev.run(rules.monthly, None)
        late_value = monthly * rules.late_multiplier
    meta = checked.policy.meta
    with decimal.localcontext(ROUNDING):
        monthly_fen = round_to_fen(monthly, meta.rounding_mode, meta.rounding_unit)
        late_fen = round_to_fen(late_value, meta.rounding_mode, meta.rounding_unit)
    start = start_on if start_on is not None else getattr(household, rules.start)
    due = add_months(planned_delivery, rules.grace_months)
    end = add_months(actual_delivery, rules.grace_months) if actual_delivery is not None else None
    trace = [
        f"{rules.label}：每月 {format(monthly, 'f')} 元 → {format_yuan(monthly_fen)} 元"
        f"（{rules.monthly.text}）",
        f"逾期月份按 {format(rules.late_multiplier, 'f')} 倍：每月 {format_yuan(late_fen)} 元",
        f"计划交房 {planned_delivery.isoformat()}，加交房后过渡 {rules.grace_months} 个月，"
        f"{due.isoformat()} 起的月份为逾期",
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
        )
    ]
    final = end is not None and end <= as_of + timedelta(days=1)
    out = TransitionFees(rules.label, start, due, end, as_of, monthly_fen, late_fen, months, final, trace)
    trace.append(
        f"正常月份 {out.normal_months} 个 × {format_yuan(monthly_fen)} 元 + 逾期月份 {out.late_months} 个 × "
        f"{format_yuan(late_fen)} 元 = {format_yuan(out.total_fen)} 元"
    )
    return out
