"""Sheet in words part: field labels, the hits the evaluator records (tiers, bands, rates,
measures, picks), and numbers, money, quantities, dates and labels as text; which numbers are rates (:func:`is_rate`)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from anju.core.dates import DayWindow
from anju.core.money import RoundingMode, RoundingUnit, format_yuan
from anju.policy.check import Checked
from anju.policy.expr import Binary, Call, If, Index, Name, Node, Num, Unary
from anju.policy.facts import LABELS_ZH
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
    ("flat", "ready"): "现房/期房",
    ("flat", "rise"): "楼型",
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
