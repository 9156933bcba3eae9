"""The calculation sheet in words: each item's basis in Chinese with the family's own numbers.

The scalar evaluator (:mod:`anju.policy.scalar`) records, while it evaluates a formula with its
trace on, the value of every node and what a tier, a band or a sign rate looked up (a *hit*). This
module turns that into the lines a family reads, e.g. ``合法面积 98.60 ㎡ × 房屋重置价 1,000 元/㎡ =
98,600.00 元`` or ``2025年4月10日签约，为签约期开始（2025年4月1日）当日起第 10 日，落在“30日内”``:
parameters, tiers, clocks and derived quantities are named by their labels (the English half of a
bilingual label and a trailing remark in brackets are left out; a missing label becomes a generic
word by unit, never the identifier), percentages are shown as %, floors and caps in words, only the
branch that was taken, and no line twice. It is pure: it reads the checked policy and the values,
nothing else. The formula view (the trace's steps) stays for policy authors.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from anju.core.dates import DayCount, DayWindow
from anju.core.money import RoundingMode, RoundingUnit, format_yuan
from anju.policy.check import Checked
from anju.policy.expr import Binary, Bool, BoolOp, Call, Compare, If, Index, Name, Node, Not, Num, Str, Unary
from anju.policy.facts import LABELS_ZH, Household
from anju.policy.model import Tier, TierWindow
from anju.policy.units import Unit

FIELD_LABELS: dict[tuple[str, str], str] = {
    ("household", "block"): "所在区块",
    ("household", "kind"): "项目类型",
    ("household", "sign_on"): "签约日期",
    ("household", "vacate_on"): "腾空日期",
    ("household", "has_homestead"): "有宅基地",
    ("household", "agreement_effective_on"): "协议生效日期",
    ("household", "delivery_planned_on"): "计划交房日期",
    ("household", "delivery_actual_on"): "实际交房日期",
    ("household", "move_back_on"): "回迁日期",
    ("homestead", "area"): "宅基地面积",
    ("homestead", "approved_year"): "宅基地批准年份",
    ("building", "legal_area"): "合法面积",
    ("building", "unregistered_area"): "未登记面积",
    ("building", "structure"): "结构",
    ("building", "use"): "用途",
    ("building", "unregistered_determination"): "未登记建筑认定",
    ("building", "floors"): "层数",
    ("building", "built_year"): "建成年份",
    ("building", "assessed_unit_price"): "评估单价",
    ("building", "assessed_value"): "评估价值",
    ("building", "decoration"): "装修评估价",
    ("building", "fixtures"): "附属物评估价",
    ("member", "dibao"): "低保",
    ("member", "disabled"): "残疾",
    ("member", "disability_grade"): "残疾等级",
    ("member", "serious_illness"): "大病",
    ("member", "martyr_family"): "烈属",
    ("member", "shidu"): "失独",
    ("member", "only_child"): "独生子女",
    ("member", "youfu"): "优抚对象",
    ("member", "resettlement_counted"): "计入安置人口",
    ("tenant", "area"): "承租面积",
    ("tenant", "kind"): "承租人类别",
    ("flat", "area"): "房源建筑面积",
    ("flat", "price"): "房源单价",
    ("flat", "purchase_total"): "房源购房款",
    ("flat", "building"): "楼栋",
    ("flat", "floor"): "楼层",
    ("flat", "type"): "户型",
    ("flat", "code"): "房号",
    ("household", "chosen_flats_area"): "所选安置房总面积",
    ("household", "purchase_total"): "所选安置房购房款合计",
}
COLLECTION_WORDS = {"members": "家庭成员", "buildings": "各证", "tenants": "各承租人", "flats": "所选安置房"}
ROUNDING_WORDS = {
    RoundingMode.HALF_UP: "四舍五入",
    RoundingMode.HALF_DOWN: "五舍六入",
    RoundingMode.HALF_EVEN: "四舍六入五成双",
    RoundingMode.DOWN: "舍去尾数",
    RoundingMode.UP: "进一",
}
ROUNDING_UNIT_WORDS = {RoundingUnit.FEN: "分", RoundingUnit.JIAO: "角", RoundingUnit.YUAN: "元"}
_COMPARE_WORDS = {">=": "不低于", ">": "高于", "<=": "不超过", "<": "低于", "==": "为", "!=": "不是"}
_NEGATED = {">=": "<", ">": "<=", "<=": ">", "<": ">=", "==": "!=", "!=": "=="}
_PREC = {"+": 1, "-": 1, "*": 2, "/": 2}
_OPS = {"+": " + ", "-": " − ", "*": " × ", "/": " ÷ "}
# known(household.X): what happened on that date (``已于…签约`` / ``尚未交房``)
_EVENT_WORDS = {
    "sign_on": "签约",
    "vacate_on": "腾空",
    "agreement_effective_on": "协议生效",
    "delivery_planned_on": "计划交房",
    "delivery_actual_on": "交房",
    "move_back_on": "回迁",
}
_ASCII_LETTER = re.compile(r"[A-Za-z]")
_CJK = re.compile(r"[\u4e00-\u9fff]")
_REMARK = re.compile(r"（[^（）]*）$")


# --------------------------------------------------------------------------- what the evaluator records


@dataclass(frozen=True, slots=True)
class TierHit:
    """A date-window tier looked up for the household's event date."""

    tier: Tier
    event_on: date | None
    clock_on: date
    day: int | None
    window: TierWindow | None
    value: Decimal


@dataclass(frozen=True, slots=True)
class BandHit:
    """A numeric band looked up: the argument, its unit, and the band (``None``: none, the default)."""

    param: str
    x: Decimal
    x_unit: Unit
    window: DayWindow | None
    value: Decimal


@dataclass(frozen=True, slots=True)
class RateHit:
    """A sign or vacate rate of a block (or the whole project) as of a date."""

    what: str  # "sign" | "vacate"
    scope: str
    as_of: date | None
    rate: Decimal
    basis: str = "household"  # "household" | "certificate" | "area"


@dataclass(frozen=True, slots=True)
class MeasureHit:
    """An office-set group measure of a block (or the whole project) in force on a date."""

    label: str
    scope: str
    as_of: date | None
    value: Decimal  # as formulas read it (a % as a fraction)
    percent: bool
    unit: Unit


@dataclass(frozen=True, slots=True)
class PickHit:
    """A max / min / first over a collection: how many elements there were and were selected."""

    total: int
    selected: int


Hit = TierHit | BandHit | RateHit | PickHit | MeasureHit


# --------------------------------------------------------------------------- numbers and labels


def date_text(d: date) -> str:
    """``2025年4月10日``."""
    return f"{d.year}年{d.month}月{d.day}日"


def _group(text: str) -> str:
    """Thousands separators for the integer part of a plain decimal text."""
    sign = "-" if text.startswith("-") else ""
    body = text.lstrip("-")
    whole, dot, frac = body.partition(".")
    return f"{sign}{int(whole):,}{dot}{frac}"


def _plain(value: Decimal) -> str:
    """A decimal without exponent or trailing zeros (``12.50`` -> ``12.5``, ``1E+3`` -> ``1000``)."""
    text = format(value.normalize(), "f")
    return text


def money(value: Decimal | int) -> str:
    """Yuan with thousands separators and 2 decimals (more only where the exact value has them)."""
    v = Decimal(value)
    if (v * 100) % 1 == 0:
        return format_yuan(int(v * 100)) + " 元"
    return _group(_plain(v)) + " 元"


def percent(value: Decimal) -> str:
    """``0.105`` -> ``10.5%``."""
    return _plain(value * 100) + "%"


def quantity(value: Any, unit: Unit | None = None, pct: bool = False, exact: bool = False) -> str:
    """A value with its unit as people write it: rates, areas, persons, percentages; a standard in
    元 without decimals when it is whole (``2,000 元``). ``exact``: as recorded, decimals kept
    (a household's figures: ``12.00 ㎡``, ``8,000.00 元``)."""
    if isinstance(value, bool):
        return "是" if value else "否"
    if value is None:
        return "无"
    if isinstance(value, date):
        return date_text(value)
    if isinstance(value, str):
        return LABELS_ZH.get(value, value)
    if not isinstance(value, Decimal):
        value = Decimal(value)
    if pct:
        return percent(value)
    u = str(unit) if unit is not None and not unit.dimensionless else ""
    if u == "元" and (exact or value % 1):
        return money(value)
    text = _group(format(value, "f")) if exact else _group(_plain(value))
    return f"{text} {u}" if u else text


def clean_label(label: str, name: str, fallback: str, remark: bool = False) -> str:
    """A label fit for the sheet: the Chinese part of a bilingual label, without a trailing remark
    in brackets (kept with ``remark``); ``fallback`` when there is none (never the identifier)."""
    text = label.strip()
    if not text or text == name:
        return fallback
    m = _ASCII_LETTER.search(text)
    if m is not None:
        text = text[: m.start()].strip(" ,，/:：;；")
    if not _CJK.search(text):
        return fallback
    if remark:
        return text
    short = _REMARK.sub("", text).strip()
    return short if _CJK.search(short) else text


def generic_word(unit: Unit | None, pct: bool = False) -> str:
    """A generic Chinese word for a quantity of this unit (a label's fallback)."""
    if pct:
        return "比例"
    u = str(unit) if unit is not None else ""
    if u.startswith("元/"):
        return "单价"
    if u == "元":
        return "金额"
    if u == "㎡":
        return "面积"
    if u == "月":
        return "期限"
    if u == "人":
        return "人数"
    return "方案标准"


def window_text(w: DayWindow, unit: str = "") -> str:
    """A band or window in words: ``超过 2 人、不超过 3 人``."""
    sp = f" {unit}" if unit else ""
    if w.after is None and w.upto is None:
        return "不限"
    if w.after is None:
        return f"不超过 {w.upto}{sp}"
    if w.upto is None:
        return f"超过 {w.after}{sp}"
    return f"超过 {w.after}{sp}、不超过 {w.upto}{sp}"


# --------------------------------------------------------------------------- the renderer


class Wording:
    """Renders formulas of one checked policy for one household, from recorded node values and hits.

    ``values`` and ``hits`` are the evaluator's records of the evaluation just made; ``extra``
    collects the explanation lines (tiers, bands, derived quantities) a phrase calls for.
    """

    def __init__(self, checked: Checked, household: Household) -> None:
        self.c = checked
        self.p = checked.policy
        self.h = household
        self.values: Mapping[Node, Any] = {}
        self.hits: Mapping[Node, Hit] = {}
        self.extra: list[str] = []

    # -- labels

    def param_label(self, name: str) -> str:
        p = self.p.params[name]
        return clean_label(p.label, name, generic_word(p.unit, p.percent))

    def tier_label(self, name: str) -> str:
        t = self.p.tiers[name]
        return clean_label(t.label, name, "奖励标准")

    def clock_label(self, name: str) -> str:
        return clean_label(self.p.clocks[name].label, name, "方案日期")

    def derived_label(self, name: str) -> str:
        return clean_label(self.p.derived[name].label, name, "计算量")

    def item_label(self, name: str) -> str:
        return clean_label(self.c.items[name].label, name, "相关补偿")

    def subtotal_label(self, name: str) -> str:
        return clean_label(self.c.subtotals[name].label, name, "小计")

    def field_label(self, obj: str, attr: str) -> str:
        return FIELD_LABELS.get((obj, attr), "登记数据")

    # -- values

    def val(self, n: Node) -> Any:
        return self.values.get(n)

    def qty(self, n: Node, value: Any = None) -> str:
        """The node's value with its unit; computed amounts in 元 with 2 decimals."""
        v = self.val(n) if value is None else value
        ty = n.ty
        unit = ty.unit if ty is not None and getattr(ty, "kind", "") == "num" else None
        if isinstance(n, Num):
            return quantity(v if v is not None else n.value, n.unit, False)
        field = isinstance(n, Name) and bool(n.ref) and n.ref[0] == "field"
        standard = isinstance(n, Name) and bool(n.ref) and n.ref[0] == "param"
        # A household's figures keep their decimals (98.60 ㎡, and sums of them); standards do not.
        exact = field or (unit is not None and str(unit) == "㎡" and not standard)
        if unit is not None and str(unit) == "元" and not isinstance(n, Name):
            return money(v) if isinstance(v, Decimal) else quantity(v, unit)
        return quantity(v, unit, False, exact)

    def percentish(self, n: Node) -> bool:
        """Whether a quantity is a rate or a percentage (a number beside it is then shown as %)."""
        if isinstance(self.hits.get(n), RateHit):
            return True
        hit = self.hits.get(n)
        if isinstance(hit, MeasureHit):
            return hit.percent
        if isinstance(n, Name) and n.ref and n.ref[0] == "param":
            return self.p.params[n.ref[1]].percent
        return is_rate(self.c, n, "")  # tiers in %, derived rates, max(rate, 0) ...

    def side(self, n: Node, other: Node) -> str:
        """One side of a comparison: a plain number beside a rate is a percentage (``100%``)."""
        if isinstance(n, Num) and n.unit is not None and n.unit.dimensionless and self.percentish(other):
            return percent(n.value)
        return self.phrase(n)

    # -- phrases (expressions with their values)

    def phrase(self, n: Node, outer: int = 0) -> str:
        """The expression in words with its values; ``outer`` is the binding of the context."""
        if isinstance(n, Binary):
            prec = _PREC[n.op]
            if n.op == "+":
                terms = self._addends(n)
                text = " + ".join(self.phrase(t, prec + 1) for t in terms)
                inner = prec if len(terms) > 1 else 99
            else:
                text = self.phrase(n.left, prec) + _OPS[n.op] + self.phrase(n.right, prec + 1)
                inner = prec
            return f"（{text}）" if inner < outer else text
        if isinstance(n, Unary):
            return "−" + self.phrase(n.operand, 3)
        if isinstance(n, Num):
            return self._num(n)
        if isinstance(n, Str):
            return LABELS_ZH.get(n.value, n.value)
        if isinstance(n, Bool):
            return "是" if n.value else "否"
        if isinstance(n, Name):
            return self._name(n)
        if isinstance(n, Index):
            return self._index(n)
        if isinstance(n, Call):
            text = self._call(n)
            return f"（{text}）" if outer >= 2 and n.func in ("min", "max", "clamp") else text
        if isinstance(n, If):
            for cond, branch in n.branches:
                if self.val(cond):
                    return f"{self.phrase(branch, outer)}（{self.condition(cond, True)}）"
            reasons = "，".join(self.condition(c, False) for c, _ in n.branches)
            return f"{self.phrase(n.orelse, outer)}（{reasons}）"
        if isinstance(n, Compare | BoolOp | Not):
            return self.condition(n, bool(self.val(n)))
        return self.qty(n)

    def _addends(self, n: Node) -> list[Node]:
        """The terms of a sum; those worth 0 are left out when any is not (the family sees what counts)."""
        terms: list[Node] = []

        def flat(x: Node) -> None:
            if isinstance(x, Binary) and x.op == "+":
                flat(x.left)
                flat(x.right)
            else:
                terms.append(x)

        flat(n)
        kept = [t for t in terms if not (isinstance(self.val(t), Decimal) and self.val(t) == 0)]
        return kept or terms[:1]

    def _num(self, n: Num) -> str:
        return quantity(n.value, n.unit, False) if n.unit is not None else _plain(n.value)

    def _name(self, n: Name) -> str:
        ref: tuple[Any, ...] = n.ref or ("?",)
        kind = ref[0]
        v = self.val(n)
        if kind == "field":
            label = self.field_label(ref[1], ref[2])
            if isinstance(v, bool):
                return label if v else f"非{label}"
            return f"{label} {self.qty(n)}"
        if kind == "param":
            p = self.p.params[ref[1]]
            return f"{self.param_label(ref[1])} {quantity(v, p.unit, p.percent)}"
        if kind == "clock":
            return (
                f"{self.clock_label(ref[1])}（{date_text(v)}）"
                if isinstance(v, date)
                else self.clock_label(ref[1])
            )
        if kind == "tier":
            t = self.p.tiers[ref[1]]
            hit = self.hits.get(n)
            if isinstance(hit, TierHit):
                self.extra.append(self.tier_line(hit))
            return f"{self.tier_label(ref[1])} {quantity(v, t.unit, '%' in t.unit_text)}"
        if kind == "derived":
            name = ref[1]
            d = self.p.derived[name]
            if d.formula.node is not None and not isinstance(d.formula.node, Name | Call | Num):
                at = len(self.extra)  # the quantity's own line before the lines its parts call for
                line = f"{self.derived_label(name)}：{self.phrase(d.formula.node)} = {self.qty(n)}"
                self.extra.insert(at, line)
            return f"{self.derived_label(name)} {self.qty(n)}"
        if kind == "item":
            return f"{self.item_label(ref[1])} {money(v) if isinstance(v, Decimal) else self.qty(n)}"
        if kind == "fact":
            return self.fact_phrase(ref[1], v)
        if kind == "subtotal":
            return f"{self.subtotal_label(ref[1])} {money(v) if isinstance(v, Decimal) else self.qty(n)}"
        if kind == "option":
            return f"补偿方式“{self.p.options.get(str(v), v)}”"
        return self.qty(n)

    def fact_label(self, fid: str) -> str:
        d = self.p.facts[fid]
        return clean_label(d.label, fid, "方案事实", remark=True)

    def fact_phrase(self, fid: str, v: Any) -> str:
        """A declared fact with its value as recorded: ``空调数量 3 台``, ``认定奖励面积 12.50 ㎡``."""
        d = self.p.facts[fid]
        label = self.fact_label(fid)
        if isinstance(v, bool):
            return label if v else f"非{label}"
        if v is None:
            return f"{label}（未登记）"
        if isinstance(v, date):
            return f"{label}（{date_text(v)}）"
        if isinstance(v, Decimal):
            text = _group(format(v.quantize(Decimal(1).scaleb(-d.places)), "f"))
            if d.unit_text == "元":
                return f"{label} {money(v)}"
            return f"{label} {text} {d.unit_text}" if d.unit_text else f"{label} {text}"
        return f"{label} {quantity(v)}"

    def _index(self, n: Index) -> str:
        name = n.ref[1] if n.ref else n.name.parts[0]
        p = self.p.params[name]
        dims = [clean_label(k, k, "") for k in p.keys]
        keys = []
        for i, k in enumerate(n.keys):
            kv = self.val(k)
            shown = quantity(kv) if kv is not None else self.phrase(k)
            dim = dims[i] if i < len(dims) else ""
            keys.append(f"{dim}{shown}" if dim and dim not in shown else shown)
        return f"{self.param_label(name)}（{'，'.join(keys)}）{quantity(self.val(n), p.unit, p.percent)}"

    def _call(self, n: Call) -> str:
        f = n.func
        a = n.args
        v = self.val(n)
        hit = self.hits.get(n)
        if isinstance(hit, BandHit):
            p = self.p.params[hit.param]
            band = self._band_label(hit)
            x = quantity(hit.x, hit.x_unit)
            self.extra.append(
                f"{self.label_only(a[0])} {x}，落在“{band}”这一档，{self.param_label(hit.param)} "
                f"{quantity(hit.value, p.unit, p.percent)}"
            )
            return f"{self.param_label(hit.param)} {quantity(v, p.unit, p.percent)}"
        if isinstance(hit, RateHit):
            return self.rate_text(hit)
        if isinstance(hit, MeasureHit):
            return self.measure_text(hit)
        if isinstance(n.ref, tuple) and n.ref[0] == "pick":
            return self._pick(n)
        if f in ("days_between", "months_between", "add_months"):
            return self._date_call(n)
        if f == "max" and len(a) == 2 and any(isinstance(x, Num) and x.value == 0 for x in a):
            other = a[1] if isinstance(a[0], Num) and a[0].value == 0 else a[0]
            inner = self.phrase(other)
            return f"{inner} = {self.qty(n)}" if self.val(n) != 0 else f"{inner}，不足按 0 计"
        if f in ("min", "max"):
            word = "较小者" if f == "min" else "较大者"
            return f"{' 与 '.join(self.phrase(x) for x in a)} 取{word} {self.qty(n)}"
        if f == "clamp":
            return f"{self.phrase(a[0])}，限定在 {self.phrase(a[1])} 至 {self.phrase(a[2])} 之间，取 {self.qty(n)}"
        if f == "floor":
            return f"{self.phrase(a[0], 3)} 取整数部分 {self.qty(n)}"
        if f == "round":
            return f"{self.phrase(a[0], 3)} 保留 {self._num(a[1]) if isinstance(a[1], Num) else ''} 位小数 {self.qty(n)}"
        if f == "abs":
            return f"{self.phrase(a[0], 3)} 的绝对值 {self.qty(n)}"
        if f in ("sum", "count"):
            coll = a[0].parts[0] if isinstance(a[0], Name) else "members"
            where = n.kwargs.get("where")
            who = COLLECTION_WORDS.get(coll, "各项")
            cond = f"中{self.label_only(where)}的" if where is not None else ""
            if f == "count":
                return f"{who}{cond} {self.qty(n)}"
            what = self.label_only(a[1])
            what = f"“{what}”" if isinstance(a[1], Binary) else what
            return f"{who}{cond}{what}合计 {self.qty(n)}"
        if f == "points_above":
            return f"超出{self.label_only(a[1])}的整百分点数 {self.qty(n)}"
        if f in ("any", "known", "flag"):
            return self.condition(n, bool(v))
        if f == "date":
            return date_text(v) if isinstance(v, date) else "日期"
        return self.qty(n)

    def _date_text(self, n: Node) -> str:
        v = self.val(n)
        label = self.label_only(n) if isinstance(n, Name) else ""
        label = "" if label == "相应数量" else label
        shown = date_text(v) if isinstance(v, date) else "（日期未知）"
        return f"{label}（{shown}）" if label else shown

    def _date_call(self, n: Call) -> str:
        """``自A（2025年6月1日）至B（2026年1月15日）共 8 月（不满一月按一月计）``."""
        a, b = n.args
        if n.func == "add_months":
            v = self.val(n)
            return f"{self._date_text(a)}后 {self.qty(b)} 即 {date_text(v) if isinstance(v, date) else '（日期未知）'}"
        on = bool(n.ref[1]) if n.ref else False
        if n.func == "days_between":
            conv = "首尾两日都计" if on else "不计首日"
        else:
            conv = "不满一月按一月计" if on else "只计满月"
        return f"自{self._date_text(a)}至{self._date_text(b)}共 {self.qty(n)}（{conv}）"

    def _pick(self, n: Call) -> str:
        """``各证中层数高于1的合法面积最大者 70.00 ㎡`` / ``按层数从高到低，家庭成员中第一位的…``."""
        f = n.func
        coll = n.args[0].parts[0] if isinstance(n.args[0], Name) else ""
        who = COLLECTION_WORDS.get(coll, "各项")
        where = n.kwargs.get("where")
        cond = f"中{self.label_only(where)}的" if where is not None else "中"
        what = self.label_only(n.args[1])
        if f == "first":
            order = n.kwargs.get("order")
            desc = isinstance(n.kwargs.get("desc"), Bool)
            by = (
                f"按{self.label_only(order)}{'从高到低' if desc else '从低到高'}，"
                if order is not None
                else ""
            )
            text = f"{by}{who}{cond}第一个的{what} {self.qty(n)}"
        else:
            text = f"{who}{cond}{what}{'最大' if f == 'max' else '最小'}者 {self.qty(n)}"
        hit = self.hits.get(n)
        if isinstance(hit, PickHit) and hit.selected == 0:
            none = (
                f"{who}中没有{self.label_only(where)}的（共 {hit.total} 个）"
                if where is not None
                else f"没有{who}"
            )
            return f"{none}，按 {self.qty(n)} 计"
        return text

    def _band_label(self, hit: BandHit) -> str:
        if hit.window is None:
            return "其他"
        raw = (
            (self.p.raw or {}).get("parameters", {}).get(hit.param, {})
            if isinstance(self.p.raw, dict)
            else {}
        )
        for spec in [raw, *(raw.get("dated") or [])] if isinstance(raw, dict) else []:
            for b in (spec.get("bands") or []) if isinstance(spec, dict) else []:
                if not isinstance(b, dict) or not b.get("label"):
                    continue
                if (b.get("after"), b.get("upto")) == (hit.window.after, hit.window.upto):
                    label = clean_label(str(b["label"]), "", "", remark=True)
                    if label:
                        return label
        return window_text(hit.window, str(hit.x_unit) if not hit.x_unit.dimensionless else "")

    def rate_text(self, hit: RateHit) -> str:
        if hit.scope == "project":
            where = "全项目"
        elif hit.scope == "block":
            where = "本区块"
        else:
            where = f"本{hit.scope}" if _CJK.search(hit.scope) else "本区块"
        what = "签约率" if hit.what == "sign" else "腾空率"
        when = f"截至{date_text(hit.as_of)}" if hit.as_of is not None else "截至期限"
        by = {"certificate": "（按证数计）", "area": "（按合法面积计）"}.get(hit.basis, "")
        return f"{where}{when}的{what}{by} {percent(hit.rate)}"

    def measure_text(self, hit: MeasureHit) -> str:
        """An office-set measure in words: where, as of when, its value and who set it."""
        if hit.scope == "project":
            where = "全项目"
        else:
            where = f"本{hit.scope}" if _CJK.search(hit.scope) else "本区块"
        when = f"截至{date_text(hit.as_of)}" if hit.as_of is not None else "截至期限"
        shown = percent(hit.value) if hit.percent else quantity(hit.value, hit.unit)
        return f"{where}{when}的{hit.label}（办公室认定） {shown}"

    def tier_line(self, hit: TierHit) -> str:
        t = hit.tier
        unit_pct = "%" in t.unit_text
        event = "签约" if t.event == "sign_on" else "腾空"
        value = quantity(hit.value, t.unit, unit_pct)
        label = self.tier_label(t.name)
        if hit.event_on is None or hit.day is None:
            return f"尚未{event}，{label}按 {value}计"
        start = "次日" if t.count is DayCount.NEXT_DAY_IS_DAY_1 else "当日"
        clock = f"{self.clock_label(t.clock)}（{date_text(hit.clock_on)}）"
        if hit.day < 1:
            head = f"{date_text(hit.event_on)}{event}，早于{clock}"
        else:
            head = f"{date_text(hit.event_on)}{event}，为{clock}{start}起第 {hit.day} 日"
        if hit.window is None:
            return f"{head}，不在任何奖励时段内，{label}按 {value}计"
        window = clean_label(hit.window.label, "", window_text(hit.window.window, "日"), remark=True)
        return f"{head}，落在“{window}”，{label} {value}"

    # -- labels only (inside aggregates and conditions on each element)

    def label_only(self, n: Node) -> str:
        """The expression in words without values (for what is summed or counted per element)."""
        if isinstance(n, Binary):
            return self.label_only(n.left) + _OPS[n.op] + self.label_only(n.right)
        if isinstance(n, Name):
            ref: tuple[Any, ...] = n.ref or ("?",)
            if ref[0] == "field":
                return self.field_label(ref[1], ref[2])
            if ref[0] == "param":
                return self.param_label(ref[1])
            if ref[0] == "derived":
                return self.derived_label(ref[1])
            if ref[0] == "tier":
                return self.tier_label(ref[1])
            if ref[0] == "item":
                return self.item_label(ref[1])
            if ref[0] == "subtotal":
                return self.subtotal_label(ref[1])
            if ref[0] == "clock":
                return self.clock_label(ref[1])
            if ref[0] == "fact":
                return self.fact_label(ref[1])
            if ref[0] == "option":
                return "补偿方式"
        if isinstance(n, Index):
            return self.param_label(n.ref[1] if n.ref else n.name.parts[0])
        if isinstance(n, Num):
            return self._num(n)
        if isinstance(n, Str):
            return LABELS_ZH.get(n.value, n.value)
        if isinstance(n, Compare):
            left, right = self.label_only(n.left), self.label_only(n.right)
            return f"{left}{_COMPARE_WORDS[n.op]}{right}"
        if isinstance(n, BoolOp):
            return self.label_only(n.left) + ("且" if n.op == "and" else "或") + self.label_only(n.right)
        if isinstance(n, Not):
            return "非" + self.label_only(n.operand)
        if isinstance(n, Call) and n.args:
            return self.label_only(n.args[0])
        return "相应数量"

    # -- conditions (with the truth they had)

    def condition(self, n: Node, truth: bool) -> str:
        """A condition in words, as it turned out: ``用途为住宅，不是营业``, ``本片区…签约率 90% 不低于 …``."""
        if isinstance(n, Compare):
            op = n.op if truth else _NEGATED[n.op]
            left_v = self.val(n.left)
            if isinstance(n.left, Name) and n.left.ref == ("option",) and isinstance(n.right, Str):
                shown, expected = (
                    self.p.options.get(str(left_v), str(left_v)),
                    self.p.options.get(n.right.value, n.right.value),
                )
                same = (n.op == "==") == truth
                return f"补偿方式为{shown}" if same else f"补偿方式为{shown}，不是{expected}"
            if isinstance(left_v, str) and isinstance(n.left, Name):
                label = self.label_only(n.left)
                shown = quantity(left_v)
                expected = self.phrase(n.right)
                if n.op == "==":
                    return f"{label}为{shown}" if truth else f"{label}为{shown}，不是{expected}"
                return f"{label}为{shown}，不是{expected}" if truth else f"{label}为{shown}"
            return f"{self.side(n.left, n.right)} {_COMPARE_WORDS[op]} {self.side(n.right, n.left)}"
        if isinstance(n, BoolOp):
            lt, rt = bool(self.val(n.left)), bool(self.val(n.right))
            if n.op == "and":
                if truth:
                    return f"{self.condition(n.left, True)}，且{self.condition(n.right, True)}"
                parts = [self.condition(x, t) for x, t in ((n.left, lt), (n.right, rt)) if not t]
                return "；".join(parts)
            if truth:
                parts = [self.condition(x, t) for x, t in ((n.left, lt), (n.right, rt)) if t]
                return "；".join(parts)
            return f"{self.condition(n.left, False)}，且{self.condition(n.right, False)}"
        if isinstance(n, Not):
            return self.condition(n.operand, not truth)
        if isinstance(n, Call):
            f = n.func
            if f == "any":
                coll = n.args[0].parts[0] if isinstance(n.args[0], Name) else "members"
                who = COLLECTION_WORDS.get(coll, "各项")
                where = n.kwargs.get("where")
                what = self.label_only(where) if where is not None else "登记"
                return f"{who}中{'有' if truth else '没有'}{what}的"
            if f == "known":
                arg = n.args[0]
                ref = arg.ref if isinstance(arg, Name) else None
                if ref and ref[0] == "field" and ref[1] == "household":
                    event = _EVENT_WORDS.get(ref[2], "腾空")
                    day = getattr(self.h, ref[2], None)
                    return f"已于{date_text(day)}{event}" if truth and day else f"尚未{event}"
                return f"{'有' if truth else '没有'}{self.label_only(arg)}"
            if f == "flag":
                flag = n.args[0].value if isinstance(n.args[0], Str) else ""
                return f"{'有' if truth else '没有'}“{flag}”标记"
        if isinstance(n, Name) and n.ref and n.ref[0] == "field":
            label = self.field_label(n.ref[1], n.ref[2])
            return label if truth else f"非{label}"
        if isinstance(n, Name) and n.ref and n.ref[0] == "fact":
            label = self.fact_label(n.ref[1])
            return label if truth else f"非{label}"
        if isinstance(n, Bool):
            return "总是适用" if n.value else "不适用"
        return "条件成立" if truth else "条件不成立"

    # -- whole lines

    def amount_line(self, node: Node, raw: Decimal) -> list[str]:
        """The item's main line, ``… = X 元``, and the explanation lines it calls for."""
        self.extra = []
        if (
            isinstance(node, Name)
            and node.ref
            and node.ref[0] == "tier"
            and isinstance(self.hits.get(node), TierHit)
        ):
            self.phrase(node)
            return list(self.extra)  # the tier's line says it all
        if isinstance(node, Binary) and node.op == "+":
            terms = self._addends(node)
            if len(terms) == 1:
                node = terms[0]
        if isinstance(node, If):
            line = self._if_line(node, raw)
        else:
            text = self.phrase(node)
            line = text if self._single(node) else f"{text} = {money(raw)}"
        return [line, *self.extra]

    def _single(self, node: Node) -> bool:
        """A formula of one term shows its value already (no ``= X`` after it)."""
        if isinstance(node, Num):
            return True
        if isinstance(node, Binary | Unary | If):
            return False
        v = self.val(node)
        return isinstance(v, Decimal) and node.ty is not None and str(node.ty.unit) == "元"

    def _if_line(self, node: If, raw: Decimal) -> str:
        for cond, branch in node.branches:
            if self.val(cond):
                reason = self.condition(cond, True)
                return self._then(reason, branch, raw)
        reason = "；".join(self.condition(c, False) for c, _ in node.branches)
        return self._then(reason, node.orelse, raw)

    def _then(self, reason: str, branch: Node, raw: Decimal) -> str:
        if isinstance(branch, Num) or self._single(branch):
            return f"{reason}，计 {money(raw)}"
        if isinstance(branch, If):
            return f"{reason}；{self._if_line(branch, raw)}"
        return f"{reason}，{self.phrase(branch)} = {money(raw)}"

    def floor_line(self, node: Node, value: Decimal) -> str:
        """A floor that lifted the amount: ``低于最低标准，按不低于 … 计 X 元``."""
        self.extra = []
        return f"低于最低标准，按“不低于{self.phrase(node)}”计 {money(value)}"

    def cap_line(self, node: Node, value: Decimal) -> str:
        """A cap that lowered the amount."""
        self.extra = []
        return f"超过最高标准，按“不超过{self.phrase(node)}”计 {money(value)}"

    def not_applicable(self, node: Node | None) -> str:
        """Why the item (or a certificate's part) does not apply."""
        if node is None:
            return "不适用"
        return f"不适用：{self.condition(node, False)}"


def subtotal_sentence(
    checked: Checked, name: str, parts: list[str], item_fen: Mapping[str, int], option: str, amount: int
) -> str:
    """A subtotal in words: ``房屋补偿小计 = 房屋价值 1,000.00 元 + 装修补偿 200.00 元 = 1,200.00 元``
    (``parts``: the items and subtotals it lists that are present under ``option``)."""

    def label(p: str) -> str:
        if p in checked.subtotals:
            return clean_label(checked.subtotals[p].label, p, "小计")
        return clean_label(checked.items[p].label, p, "相关补偿")

    terms = []
    for p in parts:
        fen = (
            sum(item_fen.get(i, 0) for i in checked.subtotal_items(p, option))
            if p in checked.subtotals
            else item_fen.get(p, 0)
        )
        terms.append(f"{label(p)} {format_yuan(fen)} 元")
    return f"{label(name)} = {' + '.join(terms) or '0'} = {format_yuan(amount)} 元"


def rounding_line(mode: RoundingMode, unit: RoundingUnit, fen: int) -> str:
    """Rounding that changed the amount: ``四舍五入到分，计 X 元``."""
    return f"{ROUNDING_WORDS[mode]}到{ROUNDING_UNIT_WORDS[unit]}，计 {format_yuan(fen)} 元"


def certificate_lines(no: str, lines: list[str], several: bool) -> list[str]:
    """A certificate's lines, prefixed with its number when the household has several."""
    if not several:
        return lines
    return [f"证 {no}：{lines[0]}", *lines[1:]] if lines else []


def unique(lines: list[str]) -> list[str]:
    """Lines in order, each once."""
    seen: set[str] = set()
    out = []
    for line in lines:
        if line and line not in seen:
            seen.add(line)
            out.append(line)
    return out


__all__ = [
    "BandHit",
    "Hit",
    "MeasureHit",
    "RateHit",
    "TierHit",
    "Wording",
    "certificate_lines",
    "clean_label",
    "date_text",
    "money",
    "quantity",
    "rounding_line",
    "unique",
]


def is_rate(checked: Checked, n: Node, text: str) -> bool:
    """Whether a dimensionless number is a rate, shown as a percentage in traces: a parameter or
    tier given in %, a sign or vacate rate, a literal written with %, and min/max/if/... of those.

    ``text`` is the formula ``n`` belongs to (a literal's ``%`` is only in the text).
    """
    ty = n.ty
    if ty is None or ty.kind != "num" or not ty.unit.dimensionless:
        return False
    p = checked.policy
    if isinstance(n, Num):
        return text[n.start : n.end].rstrip().endswith("%")
    if isinstance(n, Name) and n.ref is not None:
        kind, name = n.ref[0], n.ref[-1]
        if kind == "param":
            return p.params[name].percent
        if kind == "tier":
            return "%" in p.tiers[name].unit_text
        if kind == "derived":
            d = p.derived[name].formula
            return d.node is not None and is_rate(checked, d.node, d.text)
        return False
    if isinstance(n, Index) and n.ref is not None:
        return p.params[n.ref[1]].percent
    if isinstance(n, Unary):
        return is_rate(checked, n.operand, text)
    if isinstance(n, Call):
        if n.ref is not None and n.ref[0] == "bands":
            return p.params[n.func].percent
        if n.func in ("sign_rate", "vacate_rate"):
            return True
        if n.func in ("min", "max", "clamp", "abs", "round"):
            parts = n.args[:1] if n.func == "round" else n.args
            return _all_rates(checked, parts, text)
        return False
    if isinstance(n, If):
        return _all_rates(checked, [v for _, v in n.branches] + [n.orelse], text)
    if isinstance(n, Binary) and n.op in "+-":
        return _all_rates(checked, [n.left, n.right], text)
    return False


def _all_rates(checked: Checked, nodes: list[Node], text: str) -> bool:
    """Every one a rate or a plain 0 (``max(rate, 0)``), and at least one a rate."""
    rates = [is_rate(checked, x, text) for x in nodes]
    return any(rates) and all(
        r or (isinstance(x, Num) and x.value == 0) for x, r in zip(nodes, rates, strict=True)
    )
