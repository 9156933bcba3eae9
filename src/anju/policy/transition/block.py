"""The ``transition`` block as read from the policy and checked (see the package docstring and
docs/policy-language.md §7.2); the evaluation is in :mod:`anju.policy.transition.fees`."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from anju.policy.suggest import did_you_mean
from anju.policy.units import MONTH, YUAN

if TYPE_CHECKING:
    from anju.policy.check import _Checker
    from anju.policy.check.types import Ty
    from anju.policy.model import Formula, Src, _Reader

STARTS: dict[str, str] = {"vacate_on": "腾空之日", "sign_on": "签约之日"}
MONTH_CONVENTIONS: dict[str, str] = {
    "started": "不满一个月的按一个月计（已开始的月份计入）",
    "whole": "只计满月（不满一个月的不计）",
}
KEYS = {
    "label",
    "options",
    "monthly",
    "start",
    "grace_months",
    "late_multiplier",
    "late_monthly",
    "due",
    "when",
    "months",
    "ref",
}
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
    # 元/月 for an overdue month instead of ``monthly x late_multiplier`` (None: the multiplier)
    late_monthly: Formula | None = None
    # the first overdue day instead of ``planned delivery + grace_months`` (None: that)
    due: Formula | None = None
    # a block-level condition: when false the block pays nothing (None: always)
    when: Formula | None = None


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
    late_monthly = r.formula(value.get("late_monthly"), (*path, "late_monthly"))
    if late_monthly is not None and "late_multiplier" in value:
        r.err(
            (*path, "late_monthly"),
            "transition",
            "逾期月份的金额只能用一种写法：late_monthly（每月金额公式）与 late_multiplier（倍数）不能同时给出",
            "give either late_monthly (a formula) or late_multiplier, not both",
        )
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
        late_monthly=late_monthly,
        due=r.formula(value.get("due"), (*path, "due")),
        when=r.formula(value.get("when"), (*path, "when")),
    )


# ----------------------------------------------------------------------------- checking


def check_transition(c: _Checker, rules: TransitionRules) -> None:
    """The monthly fees (``monthly``, ``late_monthly``) must come out in 元/月 (e.g. ㎡ x 元/㎡/月),
    ``due`` must be a date and ``when`` a condition; all may use only items of the options the
    block applies to."""
    for f, what in ((rules.monthly, "monthly"), (rules.late_monthly, "late_monthly")):
        if f is not None:
            _check_part(c, rules, f, what, "num")
    if rules.due is not None:
        _check_part(c, rules, rules.due, "due", "date")
    if rules.when is not None:
        _check_part(c, rules, rules.when, "when", "bool")


_WHAT_ZH = {
    "monthly": "每月过渡费 monthly",
    "late_monthly": "逾期月份的每月过渡费 late_monthly",
    "due": "逾期起点 due",
    "when": "适用条件 when",
}


def _check_part(c: _Checker, rules: TransitionRules, f: Formula, what: str, kind: str) -> None:
    c.deps = set()
    t = c.check_formula(f, None)
    if t is None:
        return
    c.formula = f
    try:
        _check_kind(c, f, t, what, kind)
        bad = [d for d in sorted(c.deps) if any(o not in c.items[d].options for o in rules.options)]
        if bad:
            c.err(
                f.node,
                "option",
                f"{_WHAT_ZH[what]} 引用了不属于 {'、'.join(rules.options)} 的项目：{'、'.join(bad)}",
                f"transition {what} uses item(s) outside its options: {', '.join(bad)}",
            )
    finally:
        c.formula = None


def _check_kind(c: _Checker, f: Formula, t: Ty, what: str, kind: str) -> None:
    from anju.policy.check.types import _KIND_ZH

    if kind == "num":
        want = YUAN / MONTH
        if t.kind != "num" or t.unit != want:
            got = t.unit if t.kind == "num" else _KIND_ZH[t.kind]
            c.err(
                f.node,
                "unit",
                f"{_WHAT_ZH[what]} 应为 元/月（如 面积 × 元/㎡/月），公式得出的是 {got}",
                f"transition {what} must be 元/月, the formula gives {got}",
            )
    elif t.kind != kind:
        want_zh = "日期（如 add_months(household.vacate_on, 18)）" if kind == "date" else "条件（真/假）"
        c.err(
            f.node,
            "type",
            f"{_WHAT_ZH[what]} 应为{want_zh}，公式得出的是{_KIND_ZH[t.kind]}",
            f"transition {what} must be a {'date' if kind == 'date' else 'condition'}",
        )
