"""Census import part: the specification of the workbook: its sheets and columns, each with the field
that cleans its cells (see the package docstring).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from anju.household import rules

__all__ = [
    "BATCH",
    "CSV_SHEET",
    "NOTES_SHEET",
    "PREVIEW_ROWS",
    "SHEETS",
    "SHEET_BY_KEY",
    "Column",
    "Progress",
    "SheetSpec",
]


Progress = Callable[[str, int, int], None]
"""``progress(phase, done, total)``; phase is a Chinese label (读取 / 校验 / 写入)."""

BATCH = 5000


PREVIEW_ROWS = 20
CSV_SHEET = "households"


def _no_progress(_phase: str, _done: int, _total: int) -> None:
    return None


def _status(value: Any) -> str:
    text = rules._text(value)
    if text in rules.STATUSES:
        return text
    for code, label in rules.STATUSES.items():
        if text == label:
            return code
    raise ValueError("应为 " + " / ".join(rules.STATUSES.values()) + " 之一")


def _order(value: Any) -> int:
    n = rules.parse_int(value)
    if n < 1 or n > 999:
        raise ValueError("应为1-999的整数")
    return n


def _key_code(value: Any) -> str:
    return rules._text(value)


_HH_CODE = rules.Field("household_code", "户号", _key_code, required=True)
_EXTRA_HOUSEHOLD = (
    rules.Field("block", "所属区块", rules._text_max(128), default=""),
    rules.Field("status", "状态", _status, default="surveyed"),
    rules.Field("sign_on", "签约日期", rules.parse_date, default=None),
    rules.Field("vacate_on", "腾空日期", rules.parse_date, default=None),
)
_BUILDING_ORDER = rules.Field("building_order", "房屋序号", _order, default=None)
_MONTHLY_RENT = rules.Field(
    "monthly_rent",
    "月租金(元)",
    rules.parse_decimal,
    default=Decimal("0.00"),
    check=rules._range(0, 10000000, "元"),
)
_VALUATION_CERT = rules.Field("certificate_no", "产权证号", rules._text_max(64), default="")


@dataclass(frozen=True, slots=True)
class Column:
    """One template column: the cleaning field, its width and dropdown choices."""

    field: rules.Field
    width: float = 12
    choices: tuple[str, ...] = ()
    text: bool = False  # cell format "@" so Excel keeps long digit strings intact
    note: str = ""

    @property
    def header(self) -> str:
        """The Chinese header as written in the template."""
        return self.field.label


@dataclass(frozen=True, slots=True)
class SheetSpec:
    """One sheet of the census workbook."""

    key: str
    title: str
    columns: tuple[Column, ...]
    required: bool
    note: str

    @property
    def fields(self) -> tuple[rules.Field, ...]:
        """The cleaning fields of every column, in order."""
        return tuple(c.field for c in self.columns)


def _f(fields: tuple[rules.Field, ...], name: str) -> rules.Field:
    return next(f for f in fields if f.name == name)


_YESNO = ("是", "否")
_STRUCT = tuple(rules.STRUCTURES.values())
_USE = tuple(rules.USES.values())
_DET = tuple(rules.DETERMINATIONS.values())
_M = rules.MEMBER_FIELDS
_B = rules.BUILDING_FIELDS
_T = rules.TENANT_FIELDS
_HS = rules.HOMESTEAD_FIELDS
_V = rules.VALUATION_FIELDS
_H = rules.HOUSEHOLD_FIELDS

_KEY_NOTE = "与“户”表的户号一致"

SHEETS: tuple[SheetSpec, ...] = (
    SheetSpec(
        "households",
        "户",
        (
            Column(_f(_H, "code"), 14, text=True, note="字母、数字、- 或 _，项目内唯一"),
            Column(_f(_H, "head_name"), 12),
            Column(_f(_H, "address"), 34),
            Column(_EXTRA_HOUSEHOLD[0], 22, note="区块编号、名称或路径（如 李家村/一组），须已在项目中建立"),
            Column(_f(_H, "contact_phone"), 15, text=True),
            Column(_EXTRA_HOUSEHOLD[1], 10, tuple(rules.STATUSES.values()), note="不填为“已调查”"),
            Column(_EXTRA_HOUSEHOLD[2], 12, note="YYYY-MM-DD；已签约及以后状态必填"),
            Column(_EXTRA_HOUSEHOLD[3], 12, note="YYYY-MM-DD"),
            Column(_f(_H, "remark"), 30),
        ),
        True,
        "每户一行。",
    ),
    SheetSpec(
        "members",
        "成员",
        (
            Column(_HH_CODE, 14, text=True, note=_KEY_NOTE),
            Column(_f(_M, "name"), 10),
            Column(_f(_M, "relation"), 12, rules.RELATIONS),
            Column(_f(_M, "id_number"), 22, text=True, note="18位，须以文本格式填写"),
            Column(_f(_M, "phone"), 15, text=True),
            Column(_f(_M, "dibao"), 6, _YESNO),
            Column(_f(_M, "disability_grade"), 9, ("1级", "2级", "3级", "4级"), note="无残疾不填"),
            Column(_f(_M, "serious_illness"), 6, _YESNO),
            Column(_f(_M, "martyr_family"), 6, _YESNO),
            Column(_f(_M, "shidu"), 6, _YESNO),
            Column(_f(_M, "only_child"), 9, _YESNO),
            Column(_f(_M, "youfu"), 6, _YESNO),
            Column(_f(_M, "resettlement_counted"), 13, ("是", "否", "待定")),
            Column(_f(_M, "resettlement_reason"), 24),
        ),
        False,
        "每人一行，户主一般列第一行。",
    ),
    SheetSpec(
        "buildings",
        "房屋",
        (
            Column(_HH_CODE, 14, text=True, note=_KEY_NOTE),
            Column(_BUILDING_ORDER, 9, note="本户内第几处房屋，不填按出现顺序编号"),
            Column(_f(_B, "certificate_no"), 18, text=True),
            Column(_f(_B, "structure"), 8, _STRUCT),
            Column(_f(_B, "use"), 8, _USE),
            Column(_f(_B, "floors"), 6),
            Column(_f(_B, "built_year"), 9),
            Column(_f(_B, "legal_area"), 13),
            Column(_f(_B, "unregistered_area"), 14),
            Column(_f(_B, "unregistered_determination"), 14, _DET),
            Column(_f(_B, "location"), 20),
        ),
        False,
        "每处房屋（每本证）一行；面积单位为平方米，最多两位小数。",
    ),
    SheetSpec(
        "tenants",
        "承租人",
        (
            Column(_HH_CODE, 14, text=True, note=_KEY_NOTE),
            Column(_f(_T, "name"), 20),
            Column(_f(_T, "kind"), 8, tuple(rules.TENANT_KINDS.values())),
            Column(_f(_T, "credential"), 22, text=True),
            Column(_f(_T, "contact_phone"), 15, text=True),
            Column(_f(_T, "business"), 16),
            Column(_f(_T, "area"), 13),
            Column(_MONTHLY_RENT, 12),
            Column(_f(_T, "lease_start_on"), 12),
            Column(_f(_T, "lease_end_on"), 12),
        ),
        False,
        "可选；承租个人或企业。",
    ),
    SheetSpec(
        "homesteads",
        "宅基地",
        (
            Column(_HH_CODE, 14, text=True, note=_KEY_NOTE),
            Column(_f(_HS, "area"), 15),
            Column(_f(_HS, "approved_year"), 10),
            Column(_f(_HS, "certificate_no"), 20, text=True),
        ),
        False,
        "可选；集体土地项目每户至多一行。",
    ),
    SheetSpec(
        "valuations",
        "评估",
        (
            Column(_HH_CODE, 14, text=True, note=_KEY_NOTE),
            Column(_BUILDING_ORDER, 9, note="与“房屋”表的房屋序号一致；或填产权证号"),
            Column(_VALUATION_CERT, 18, text=True, note="与“房屋”表的产权证号一致"),
            Column(_f(_V, "firm"), 20),
            Column(_f(_V, "report_no"), 16, text=True),
            Column(_f(_V, "valued_on"), 12),
            Column(_f(_V, "assessed_unit_price"), 15),
            Column(_f(_V, "assessed_value"), 15),
            Column(_f(_V, "decoration"), 13),
            Column(_f(_V, "fixtures"), 12),
        ),
        False,
        "可选；评估机构的分户评估结果，每处房屋至多一行。",
    ),
)
SHEET_BY_KEY = {s.key: s for s in SHEETS}
_SHEET_ORDER = {s.title: i for i, s in enumerate(SHEETS)}
NOTES_SHEET = "填写说明"


def _norm_header(text: Any) -> str:
    s = rules._text(text).replace(" ", "").replace("\u3000", "").replace("*", "").replace("＊", "")
    s = (
        s.replace("（", "(")
        .replace("）", ")")
        .replace("m²", "㎡")
        .replace("m2", "㎡")
        .replace("平方米", "㎡")
    )
    return s.lower()
