"""Pure rules of the household file: vocabularies, field cleaning with Chinese messages, status transitions.

The same cleaners serve the edit forms, the JSON API and the census import, so a value is
judged the same way wherever it comes from.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from anju.core.ids import id_number_problem, normalize_id_number
from anju.core.text import text_problem
from anju.errors import Conflict

STRUCTURES = {"brick_concrete": "砖混", "brick_wood": "砖木", "simple": "简易", "steel_concrete": "钢混"}
USES = {"residential": "住宅", "non_residential": "非住宅", "business": "营业"}
DETERMINATIONS = {"legal": "合法", "temporary": "临建", "illegal": "违建", "pending": "待认定"}
TENANT_KINDS = {"person": "个人", "enterprise": "企业"}
# What a yes/no field of a form or the census template holds (a value, not page text).
YES, NO = "是", "否"
RELATIONS = ("户主", "配偶", "子女", "儿媳", "女婿", "孙子女", "父母", "祖父母", "兄弟姐妹", "其他")
# The household's stage (阶段) in the campaign; the campaign domain owns the transitions' use,
# their timeline (anju.campaign) and their display. Order matters: it is the order of the campaign.
STATUSES = {
    "pending": "未入户",
    "surveyed": "已调查",
    "valued": "已评估",
    "negotiating": "协商中",
    "signed": "已签约",
    "vacated": "已腾空",
    "demolished": "已拆除",
    "archived": "已归档",
}
SPECIAL_GROUPS = {
    "dibao": "低保",
    "disability_grade": "残疾",
    "serious_illness": "大病",
    "martyr_family": "烈属",
    "shidu": "失独",
    "only_child": "独生子女",
    "youfu": "优抚",
}

# Allowed status changes; signing, vacating and demolition workflows of later issues go through it.
STATUS_TRANSITIONS: dict[str, frozenset[str]] = {
    "pending": frozenset({"surveyed"}),
    "surveyed": frozenset({"valued", "negotiating", "signed"}),
    "valued": frozenset({"negotiating", "signed"}),
    "negotiating": frozenset({"signed"}),
    "signed": frozenset({"vacated"}),
    "vacated": frozenset({"demolished"}),
    "demolished": frozenset({"archived"}),
    "archived": frozenset(),
}

# The stages in the order a household goes through them (STATUS_TRANSITIONS only ever moves forward).
STAGE_ORDER: tuple[str, ...] = tuple(STATUSES)


def reached_counts(by_status: dict[str, int]) -> dict[str, int]:
    """Cumulative stage counts: a household counts for its own stage and every earlier one.

    已调查 is every household surveyed so far, those that have since been valued, signed, vacated,
    demolished or archived included, so that a number never reads as a step backwards when
    households move on. 未入户 (the first stage) is every household. Unknown statuses count for
    nothing.
    """
    out: dict[str, int] = {}
    running = 0
    for code in reversed(STAGE_ORDER):
        running += by_status.get(code, 0)
        out[code] = running
    return {code: out[code] for code in STAGE_ORDER}


# A recorded stage whose record is voided (a vacating acceptance or a demolition record entered in
# error) goes back to the stage before it, and its date in the file is cleared. Not a transition a
# person chooses: only the voiding of the record that set the stage asks for it. An agreement that
# ends (an approved cancellation, or a condition that failed) takes 已签约 back to 协商中.
STAGE_REVERSALS: dict[str, str] = {"signed": "negotiating", "vacated": "signed", "demolished": "vacated"}

MAX_BUILDING_AREA = Decimal("20000")  # ㎡; above this a census figure is a typo, not a house
MAX_HOMESTEAD_AREA = Decimal("5000")
_PHONE = re.compile(r"^(1[3-9]\d{9}|0\d{2,3}-?\d{7,8})$")
_CODE = re.compile(r"^[A-Za-z0-9_-]{1,32}$")


def check_transition(current: str, target: str) -> None:
    """Raise :class:`Conflict` unless ``current -> target`` is in :data:`STATUS_TRANSITIONS`."""
    if target not in STATUS_TRANSITIONS.get(current, frozenset()):
        raise Conflict(
            f"状态不能从“{STATUSES.get(current, current)}”变为“{STATUSES.get(target, target)}”",
            f"illegal status transition {current} -> {target}",
            code="illegal_transition",
        )


@dataclass(frozen=True, slots=True)
class FieldError:
    """A problem with one field; ``label`` is the Chinese field name shown to people."""

    field: str
    label: str
    message: str

    def text(self) -> str:
        """``字段：问题`` as shown in lists of errors."""
        return f"{self.label}：{self.message}"


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and value.strip() == "")


def _text(value: Any) -> str:
    if value.__class__ is str:  # most cells: skip the checks below
        return value.strip()
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # spreadsheet cells give 1.0 for "1"
    return str(value).strip()


def parse_decimal(value: Any, *, places: int = 2) -> Decimal:
    """Exact decimal from a form or cell value; more than ``places`` decimals is an error."""
    if isinstance(value, Decimal):
        d = value
    elif isinstance(value, int):
        d = Decimal(value)
    elif isinstance(value, float):
        d = Decimal(repr(value))  # spreadsheet numbers: their shortest repr is what the user typed
    else:
        try:
            d = Decimal(_text(value).replace(",", ""))
        except InvalidOperation as exc:
            raise ValueError("不是有效的数字") from exc
    if not d.is_finite():
        raise ValueError("不是有效的数字")
    q = Decimal(1).scaleb(-places)
    try:
        rounded = d.quantize(q)
    except InvalidOperation:  # more digits than the decimal context holds (28): no real figure
        raise ValueError("数值过大，请核对") from None
    if d != rounded:
        raise ValueError(f"最多保留{places}位小数")
    return rounded


def parse_int(value: Any) -> int:
    """Whole number from a form or cell value."""
    d = parse_decimal(value, places=0)
    return int(d)


def parse_date(value: Any) -> date:
    """Date from ``YYYY-MM-DD``, ``YYYY/MM/DD``, ``YYYY.MM.DD``, ``YYYYMMDD`` or a spreadsheet date."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = _text(value)
    for fmt in ("%Y-%m-%d", "%Y/%m/%d", "%Y.%m.%d", "%Y%m%d", "%Y年%m月%d日"):
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise ValueError("日期格式应为 YYYY-MM-DD")


def parse_bool(value: Any) -> bool:
    """是/否, Y/N, 1/0, true/false, ✓ and blank (false)."""
    if isinstance(value, bool):
        return value
    text = _text(value).lower()
    if text in ("", "否", "n", "no", "0", "false", "f", "无", "×"):
        return False
    if text in ("是", "y", "yes", "1", "true", "t", "有", "√", "✓", "on"):
        return True
    raise ValueError("应填“是”或“否”")


def _choice(options: Mapping[str, str]) -> Callable[[Any], str]:
    """Accept either the code (``brick_concrete``) or the Chinese label (``砖混``)."""
    by_label = {v: k for k, v in options.items()}

    def parse(value: Any) -> str:
        text = _text(value)
        if text in options:
            return text
        if text in by_label:
            return by_label[text]
        raise ValueError("应为 " + " / ".join(options.values()) + " 之一")

    return parse


@dataclass(frozen=True, slots=True)
class Field:
    """One cleanable field: its Chinese label, parser, whether required, and extra checks."""

    name: str
    label: str
    parse: Callable[[Any], Any]
    required: bool = False
    default: Any = None
    check: Callable[[Any], str | None] | None = None


def _text_max(n: int, *, multiline: bool = False) -> Callable[[Any], str]:
    """Free text of at most ``n`` characters without control characters (line breaks only if ``multiline``)."""

    def parse(value: Any) -> str:
        text = _text(value)
        problem = text_problem(text, max_len=n, multiline=multiline)
        if problem:
            raise ValueError(problem)
        return text

    return parse


def _range(lo: Decimal | int | None, hi: Decimal | int | None, unit: str = "") -> Callable[[Any], str | None]:
    def check(v: Any) -> str | None:
        if lo is not None and v < lo:
            return f"不能小于{lo}{unit}"
        if hi is not None and v > hi:
            return f"不能大于{hi}{unit}，请核对"
        return None

    return check


def _phone(value: Any) -> str:
    text = _text(value).replace(" ", "")
    if text and not _PHONE.match(text):
        raise ValueError("电话号码格式不正确（11位手机号或带区号的固话）")
    return text


def _code(value: Any) -> str:
    text = _text(value)
    if not _CODE.match(text):
        raise ValueError("户号只能由字母、数字、- 和 _ 组成，最长32位")
    return text


def _id_number(value: Any) -> str:
    text = normalize_id_number(_text(value))
    if not text:
        return ""
    problem = id_number_problem(text)
    if problem:
        raise ValueError(problem)
    return text


def _relation(value: Any) -> str:
    text = _text(value)
    if text not in RELATIONS:
        raise ValueError("应为 " + " / ".join(RELATIONS) + " 之一")
    return text


def _grade(value: Any) -> int | None:
    text = _text(value)
    if text in ("", "无", "否"):
        return None
    text = text.replace("级", "").replace("一", "1").replace("二", "2").replace("三", "3").replace("四", "4")
    grade = parse_int(text)
    if grade not in (1, 2, 3, 4):
        raise ValueError("残疾等级应为1-4级")
    return grade


def _year(value: Any) -> int:
    return parse_int(value)


def _optional_bool(value: Any) -> bool | None:
    if _blank(value) or _text(value) in ("待定", "未认定"):
        return None
    return parse_bool(value)


_THIS_YEAR = date.today().year

HOUSEHOLD_FIELDS = (
    Field("code", "户号", _code, required=True),
    Field("head_name", "户主姓名", _text_max(64), required=True),
    Field("address", "房屋坐落", _text_max(255), required=True),
    Field("contact_phone", "联系电话", _phone, default=""),
    Field("remark", "备注", _text_max(1000, multiline=True), default=""),
)
MEMBER_FIELDS = (
    Field("name", "姓名", _text_max(64), required=True),
    Field("relation", "与户主关系", _relation, required=True),
    Field("id_number", "身份证号", _id_number, required=True),
    Field("phone", "联系电话", _phone, default=""),
    Field("dibao", "低保", parse_bool, default=False),
    Field("disability_grade", "残疾等级", _grade, default=None),
    Field("serious_illness", "大病", parse_bool, default=False),
    Field("martyr_family", "烈属", parse_bool, default=False),
    Field("shidu", "失独", parse_bool, default=False),
    Field("only_child", "独生子女", parse_bool, default=False),
    Field("youfu", "优抚", parse_bool, default=False),
    Field("resettlement_counted", "计入安置人口", _optional_bool, default=None),
    Field("resettlement_reason", "安置人口认定理由", _text_max(255), default=""),
)
BUILDING_FIELDS = (
    Field("certificate_no", "产权证号", _text_max(64), default=""),
    Field("structure", "结构", _choice(STRUCTURES), required=True),
    Field("use", "用途", _choice(USES), required=True),
    Field("floors", "层数", parse_int, default=None, check=_range(1, 60, "层")),
    Field("built_year", "建成年份", _year, default=None, check=_range(1900, _THIS_YEAR, "年")),
    Field(
        "legal_area", "合法面积(㎡)", parse_decimal, required=True, check=_range(0, MAX_BUILDING_AREA, "㎡")
    ),
    Field(
        "unregistered_area",
        "未登记面积(㎡)",
        parse_decimal,
        default=Decimal("0.00"),
        check=_range(0, MAX_BUILDING_AREA, "㎡"),
    ),
    Field("unregistered_determination", "未登记面积认定", _choice(DETERMINATIONS), default="pending"),
    Field("location", "位置", _text_max(255), default=""),
)
TENANT_FIELDS = (
    Field("name", "承租人", _text_max(128), required=True),
    Field("kind", "类型", _choice(TENANT_KINDS), required=True),
    Field("credential", "证件号/信用代码", _text_max(32), default=""),
    Field("contact_phone", "联系电话", _phone, default=""),
    Field("business", "经营内容", _text_max(128), default=""),
    Field(
        "area",
        "承租面积(㎡)",
        parse_decimal,
        default=Decimal("0.00"),
        check=_range(0, MAX_BUILDING_AREA, "㎡"),
    ),
    Field("lease_start_on", "租期起", parse_date, default=None),
    Field("lease_end_on", "租期止", parse_date, default=None),
)
HOMESTEAD_FIELDS = (
    Field("area", "宅基地面积(㎡)", parse_decimal, required=True, check=_range(0, MAX_HOMESTEAD_AREA, "㎡")),
    Field("approved_year", "批准年份", _year, default=None, check=_range(1950, _THIS_YEAR, "年")),
    Field("certificate_no", "宅基地证号", _text_max(64), default=""),
)
VALUATION_FIELDS = (
    Field("firm", "评估机构", _text_max(128), required=True),
    Field("report_no", "报告编号", _text_max(64), default=""),
    Field("valued_on", "评估日期", parse_date, default=None),
    Field(
        "assessed_unit_price", "评估单价(元/㎡)", parse_decimal, required=True, check=_range(0, 1000000, "元")
    ),
    Field("assessed_value", "评估金额(元)", parse_decimal, required=True, check=_range(0, 1000000000, "元")),
    Field(
        "decoration", "装修补偿(元)", parse_decimal, default=Decimal("0.00"), check=_range(0, 100000000, "元")
    ),
    Field("fixtures", "附属物(元)", parse_decimal, default=Decimal("0.00"), check=_range(0, 100000000, "元")),
)


def clean(
    fields: tuple[Field, ...], raw: Mapping[str, Any], *, partial: bool = False
) -> tuple[dict[str, Any], list[FieldError]]:
    """Parse and check ``raw`` against ``fields``; returns clean values and every problem found.

    With ``partial`` only the keys present in ``raw`` are cleaned (for updates).
    """
    out: dict[str, Any] = {}
    errors: list[FieldError] = []
    for f in fields:
        if partial and f.name not in raw:
            continue
        value = raw.get(f.name)
        if _blank(value):
            if f.required:
                errors.append(FieldError(f.name, f.label, "必填"))
            else:
                out[f.name] = f.default
            continue
        try:
            parsed = f.parse(value)
        except ValueError as exc:
            errors.append(FieldError(f.name, f.label, str(exc)))
            continue
        if f.check is not None and parsed is not None:
            problem = f.check(parsed)
            if problem:
                errors.append(FieldError(f.name, f.label, problem))
                continue
        out[f.name] = parsed
    return out, errors


def search_text(code: str, head_name: str, address: str, member_names: list[str]) -> str:
    """The lower-cased text a household is found by."""
    return " ".join([code, head_name, address, *member_names]).lower()[:1000]
