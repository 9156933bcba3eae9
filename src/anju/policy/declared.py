"""Household facts declared by the policy (the ``facts:`` block).

A plan names the facts it needs beyond the built-in ones, each with a type, a unit, a Chinese
label and whether it is required::

    facts:
      ac_units:      {label: 空调数量, type: count, unit: 台, required: true, ref: 第十二条}
      reward_area:   {label: 认定奖励面积, type: number, unit: ㎡, places: 2}
      unit_price:    {label: 重置成新价, type: money, unit: 元/㎡, required: true}
      agreed_on:     {label: 约定交房日, type: date}
      business:      {label: 实际经营, type: yesno}
      grade:         {label: 装修档次, type: category, choices: [简易, 普通, 精装]}

Formulas read them as ``fact.ac_units``. Types and what a formula sees:

* ``number``: an exact decimal with a unit (``㎡``, ``元/㎡``, ``月``, ``人`` ...), at most ``places``
  decimals (default 2, at most 4); ``count``: a whole number; its unit is a unit of the language
  (``人``, ``月``) or a counter word (量词, e.g. ``台``, ``块``) that only shows on the sheet (the value
  is then a plain number); ``money``: yuan to the fen (unit ``元`` or ``元/㎡`` ...);
* ``date``: a date; ``yesno``: a condition; ``category``: one of ``choices``.

A missing optional fact reads as 0 / no / no date / no category (``known(fact.x)`` tells); a
household that lacks a *required* fact is not computed at all: the engine says
"缺少方案要求的事实：空调数量" instead.

Values are stored outside the engine as text (:func:`to_text`) and typed here
(:func:`parse_value`), so that the household domain does not need the policy to keep them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from anju.policy.facts import canonical
from anju.policy.units import ONE, Unit, UnitSyntaxError, parse_unit

if TYPE_CHECKING:
    from anju.policy.facts import Household
    from anju.policy.model import Src, _Reader

TYPES: dict[str, str] = {
    "number": "数值",
    "count": "整数",
    "money": "金额",
    "date": "日期",
    "yesno": "是/否",
    "category": "类别",
}
KEYS = {"label", "type", "unit", "places", "required", "ref", "level", "choices", "min", "max", "help"}
LEVELS = {"household": "每户", "building": "每证（每处房屋）", "member": "每位家庭成员"}
# Where a fact of each level is read in formulas: ``fact.ID``, ``building.fact.ID``, ``member.fact.ID``.
LEVEL_OBJECT = {"household": "", "building": "building", "member": "member"}
MAX_PLACES = 4
_ID = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_COUNTER = re.compile(r"^[\u4e00-\u9fff]{1,3}$")
_YUAN_INDEX = 0  # 元 is the first base unit (anju.policy.units.BASES)

FactValue = Decimal | bool | date | str
# The word a missing category fact has in the bulk evaluators' vocabularies: equal to no choice and
# no literal, and unknown to every table (which then gives its default, as the scalar evaluator does).
NO_WORD = "\x00"


class FactValueError(ValueError):
    """A value that does not fit its declaration; ``message_zh`` names the fact by its label."""

    def __init__(self, message_zh: str, message_en: str) -> None:
        self.message_zh = message_zh
        self.message_en = message_en
        super().__init__(f"{message_zh} / {message_en}")


@dataclass(frozen=True, slots=True)
class FactDecl:
    """One declared fact: what it is, how it is written and checked, and where the plan says so."""

    id: str
    label: str
    type: str  # one of TYPES
    unit: Unit  # the unit formulas see (ONE for a counter word)
    unit_text: str  # as written: 台, ㎡, 元/㎡ ... ("" when none)
    places: int  # decimals of a number (count 0, money 2)
    required: bool
    choices: tuple[str, ...] = ()
    ref: str = ""
    level: str = "household"
    minimum: Decimal | None = None
    maximum: Decimal | None = None
    help: str = ""
    src: Src | None = field(default=None, repr=False, compare=False)

    @property
    def numeric(self) -> bool:
        """Whether formulas see a number."""
        return self.type in ("number", "count", "money")

    @property
    def type_zh(self) -> str:
        """The type in Chinese (数值 / 整数 / 金额 ...)."""
        return TYPES[self.type]

    def unit_label(self) -> str:
        """The unit as shown beside an input or a value ("" when none)."""
        return self.unit_text

    @property
    def name_en(self) -> str:
        """How an English message names the fact: ``空调数量 (ac_units)`` (the label is the policy's
        content, written in Chinese; the id is what an English reader can search for)."""
        return f"{self.label} ({self.id})" if self.label and self.label != self.id else self.id


def read_facts(r: _Reader, value: Any) -> dict[str, FactDecl]:
    """Read the top-level ``facts`` block; every mistake becomes a problem with its place."""
    path: tuple[Any, ...] = ("facts",)
    out: dict[str, FactDecl] = {}
    for fid, spec in r.mapping(value, path, "facts").items():
        decl = _read_one(r, str(fid), spec, (*path, fid))
        if decl is not None:
            out[decl.id] = decl
    return out


def _read_one(r: _Reader, fid: str, spec: Any, path: tuple[Any, ...]) -> FactDecl | None:
    if not _ID.match(fid):
        r.key_err(
            path[:-1],
            path[-1],
            "fact",
            f"事实编号“{fid}”只能由字母、数字和下划线组成，且不以数字开头",
            f"fact id '{fid}' must be letters, digits and underscores, not starting with a digit",
        )
        return None
    if not isinstance(spec, dict):
        r.err(
            path,
            "fact",
            f"事实“{fid}”应为映射（label / type / unit / required ...）",
            f"fact '{fid}' must be a mapping (label / type / unit / required ...)",
        )
        return None
    r.unknown_keys(spec, KEYS, path)
    ok = True
    label = str(spec.get("label") or "").strip()
    if not label:
        r.err(path, "fact", f"事实“{fid}”缺少中文名称 label", f"fact '{fid}' needs a label")
        ok = False
    ftype = str(spec.get("type", ""))
    if ftype not in TYPES:
        r.err(
            (*path, "type"),
            "fact",
            f"事实“{fid}”的类型 type 应为 {' / '.join(f'{k}（{v}）' for k, v in TYPES.items())}，却是“{ftype}”",
            f"fact '{fid}': type must be one of {', '.join(TYPES)}",
        )
        return None
    level = str(spec.get("level", "household"))
    if level not in LEVELS:
        r.err(
            (*path, "level"),
            "fact",
            f"事实“{fid}”的层级 level 应为 household（每户）、building（每证）或 member（每位成员），却是“{level}”",
            f"fact '{fid}': level must be household, building or member",
        )
        ok = False
    required = spec.get("required", False)
    if not isinstance(required, bool):
        r.err(
            (*path, "required"),
            "fact",
            f"事实“{fid}”的 required 应为 true 或 false",
            f"fact '{fid}': required must be true or false",
        )
        required = False
    unit_text = "" if spec.get("unit") is None else str(spec.get("unit")).strip()
    unit = ONE
    if ftype in ("number", "count", "money"):
        if ftype == "money" and not unit_text:
            unit_text = "元"
        try:
            unit, pct = parse_unit(unit_text)
            if pct:
                r.err(
                    (*path, "unit"),
                    "fact",
                    f"事实“{fid}”不能以 % 为单位，请写成 number 的比例或用参数",
                    f"fact '{fid}': % is not a unit for a fact",
                )
                ok = False
        except UnitSyntaxError:
            if ftype == "count" and _COUNTER.match(unit_text):
                unit = ONE  # a counter word (量词): shown on the sheet, a plain number to formulas
            else:
                r.err(
                    (*path, "unit"),
                    "unit",
                    f"事实“{fid}”的单位“{unit_text}”不认识",
                    f"fact '{fid}': unknown unit '{unit_text}'",
                )
                ok = False
        if ftype == "money" and unit.exps[_YUAN_INDEX] != 1:
            r.err(
                (*path, "unit"),
                "unit",
                f"金额事实“{fid}”的单位应为 元 或 元/…（如 元/㎡），却是“{unit_text}”",
                f"money fact '{fid}' must be in 元 or 元/…",
            )
            ok = False
    elif unit_text:
        r.err(
            (*path, "unit"), "fact", f"{TYPES[ftype]}类型的事实“{fid}”没有单位", f"a {ftype} fact has no unit"
        )
        ok = False
    places = {"count": 0, "money": 2}.get(ftype, 0)
    if ftype == "number":
        raw_places = spec.get("places", 2)
        if (
            isinstance(raw_places, bool)
            or not isinstance(raw_places, int)
            or not 0 <= raw_places <= MAX_PLACES
        ):
            r.err(
                (*path, "places"),
                "fact",
                f"事实“{fid}”的小数位数 places 应为 0 到 {MAX_PLACES} 的整数",
                f"fact '{fid}': places must be a whole number from 0 to {MAX_PLACES}",
            )
            ok = False
        else:
            places = raw_places
    elif "places" in spec:
        r.err(
            (*path, "places"),
            "fact",
            f"只有 number 类型的事实可以写 places（“{fid}”是{TYPES[ftype]}）",
            f"only number facts take places ('{fid}' is a {ftype})",
        )
        ok = False
    choices: tuple[str, ...] = ()
    if ftype == "category":
        raw = spec.get("choices")
        if not isinstance(raw, list) or not raw or any(isinstance(c, dict | list) for c in raw):
            r.err(
                (*path, "choices"),
                "fact",
                f"类别事实“{fid}”需要可选值列表 choices，如 [简易, 普通, 精装]",
                f"category fact '{fid}' needs a list of choices",
            )
            ok = False
        else:
            choices = tuple(canonical(str(c)) for c in raw)
            if len(set(choices)) != len(choices):
                r.err(
                    (*path, "choices"),
                    "fact",
                    f"类别事实“{fid}”的可选值重复",
                    f"category fact '{fid}' repeats a choice",
                )
                ok = False
    elif "choices" in spec:
        r.err(
            (*path, "choices"),
            "fact",
            f"只有 category 类型的事实可以写 choices（“{fid}”是{TYPES[ftype]}）",
            f"only category facts take choices ('{fid}' is a {ftype})",
        )
        ok = False
    bounds: dict[str, Decimal | None] = {
        "min": Decimal(0) if ftype in ("number", "count", "money") else None,
        "max": None,
    }
    for key in ("min", "max"):
        if key in spec:
            if ftype not in ("number", "count", "money"):
                r.err((*path, key), "fact", f"只有数值类事实可以写 {key}", f"only numeric facts take {key}")
                ok = False
                continue
            bounds[key] = r.decimal(spec.get(key), (*path, key), f"事实“{fid}”的 {key}")
    lo, hi = bounds["min"], bounds["max"]
    if lo is not None and hi is not None and hi < lo:
        r.err(path, "fact", f"事实“{fid}”的 max 小于 min", f"fact '{fid}': max is below min")
        ok = False
    if not ok:
        return None
    return FactDecl(
        id=fid,
        label=label,
        type=ftype,
        unit=unit,
        unit_text=unit_text,
        places=places,
        required=required,
        choices=choices,
        ref=str(spec.get("ref", "") or ""),
        level=level,
        minimum=lo,
        maximum=hi,
        help=str(spec.get("help", "") or ""),
        src=r.src(path),
    )


# ----------------------------------------------------------------------------- values


def _blank(raw: Any) -> bool:
    return raw is None or (isinstance(raw, str) and not raw.strip())


def parse_value(decl: FactDecl, raw: Any) -> FactValue | None:
    """The typed value of ``raw`` (text from a form or a file, or a YAML/JSON value) for ``decl``;
    ``None`` when blank. Raises :class:`FactValueError` naming the fact by its label."""
    if _blank(raw):
        return None
    label = decl.label
    # English names the fact by its label (the policy's own words) and its id
    name = decl.name_en
    t = decl.type
    if t == "yesno":
        if isinstance(raw, bool):
            return raw
        text = str(raw).strip().lower()
        if text in ("1", "true", "yes", "y", "是", "有", "1.0"):
            return True
        if text in ("0", "false", "no", "n", "否", "无", "0.0"):
            return False
        raise FactValueError(
            f"{label}应填“是”或“否”，却是“{raw}”", f"{name}: yes or no is expected, got {raw!r}"
        )
    if t == "date":
        if isinstance(raw, datetime):
            return raw.date()
        if isinstance(raw, date):
            return raw
        try:
            return date.fromisoformat(str(raw).strip()[:10])
        except ValueError:
            raise FactValueError(
                f"{label}应为日期（如 2025-06-30），却是“{raw}”",
                f"{name}: a date is expected (YYYY-MM-DD), got {raw!r}",
            ) from None
    if t == "category":
        value = canonical(str(raw))
        if value not in decl.choices:
            from anju.policy.facts import LABELS_ZH

            shown = "、".join(LABELS_ZH.get(c, c) for c in decl.choices)
            raise FactValueError(
                f"{label}只能是{shown}之一，却是“{raw}”",
                f"{name}: one of {', '.join(LABELS_ZH.get(c, c) for c in decl.choices)} is expected, got {raw!r}",
            )
        return value
    if isinstance(raw, bool):
        raise FactValueError(f"{label}应为数字，却是“{raw}”", f"{name}: a number is expected")
    text = repr(raw) if isinstance(raw, float) else str(raw)
    text = text.replace(",", "").replace("，", "").strip()
    if decl.unit_text and text.endswith(decl.unit_text):
        text = text[: -len(decl.unit_text)].strip()
    try:
        d = Decimal(text)
    except (InvalidOperation, ValueError):
        d = Decimal("NaN")
    unit = f" {decl.unit_text}" if decl.unit_text else ""
    if not d.is_finite():
        raise FactValueError(f"{label}应为数字，却是“{raw}”", f"{name}: a number is expected, got {raw!r}")
    if abs(d) >= Decimal(10) ** 13:  # before any rounding: a huge exponent would not fit the context
        raise FactValueError(f"{label}过大：“{raw}”", f"{name}: the number is too large")
    if d != d.quantize(Decimal(1).scaleb(-decl.places)) if decl.places else d != d.to_integral_value():
        what = "整数" if decl.places == 0 else f"最多 {decl.places} 位小数的数"
        what_en = "a whole number is expected" if decl.places == 0 else f"at most {decl.places} decimals"
        raise FactValueError(f"{label}应为{what}，却是“{raw}”", f"{name}: {what_en}, got {raw!r}")
    if decl.minimum is not None and d < decl.minimum:
        raise FactValueError(
            f"{label}不能小于 {_plain(decl.minimum)}{unit}，却是“{raw}”",
            f"{name}: must be at least {_plain(decl.minimum)}{unit}",
        )
    if decl.maximum is not None and d > decl.maximum:
        raise FactValueError(
            f"{label}不能大于 {_plain(decl.maximum)}{unit}，却是“{raw}”",
            f"{name}: must be at most {_plain(decl.maximum)}{unit}",
        )
    return d.quantize(Decimal(1).scaleb(-decl.places))


def _plain(d: Decimal) -> str:
    return format(d.normalize(), "f")


def to_text(decl: FactDecl, value: FactValue | None) -> str | None:
    """The stored text of a typed value (``None`` stays ``None``): decimals as written with their
    places, ``true``/``false``, ISO dates, category identifiers."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value.quantize(Decimal(1).scaleb(-decl.places)), "f")
    return str(value)


def display(decl: FactDecl, value: FactValue | None) -> str:
    """A value as people read it: ``3 台``, ``12.50 ㎡``, ``是``, ``2025年6月30日``, ``精装``; "" when none."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, date):
        return f"{value.year}年{value.month}月{value.day}日"
    if isinstance(value, Decimal):
        text = f"{value:,.{decl.places}f}"
        return f"{text} {decl.unit_text}" if decl.unit_text else text
    from anju.policy.facts import LABELS_ZH

    return LABELS_ZH.get(value, value)


def lenient(decl: FactDecl, raw: Any) -> FactValue | None:
    """The typed value, or ``None`` when blank or not valid for the declaration (a value entered
    under an earlier version of the plan that no longer fits counts as missing)."""
    try:
        return parse_value(decl, raw)
    except FactValueError:
        return None


def household_values(decls: Mapping[str, FactDecl], household: Household) -> dict[str, FactValue | None]:
    """Every household-level declared fact of ``household``, typed (``None`` when missing or no
    longer valid)."""
    return {fid: lenient(d, household.facts.get(fid)) for fid, d in decls.items() if d.level == "household"}


def of_level(decls: Mapping[str, FactDecl], level: str) -> dict[str, FactDecl]:
    """The declarations of one level (household / building / member), in declaration order."""
    return {fid: d for fid, d in decls.items() if d.level == level}


def building_place(certificate_no: str, index: int) -> tuple[str, str]:
    """How a building is named to people: ``证 X1`` (or ``第 2 处房屋`` without a number)."""
    if certificate_no.strip():
        return f"证 {certificate_no}", f"certificate {certificate_no}"
    return f"第 {index + 1} 处房屋", f"building {index + 1}"


def member_place(name: str, index: int) -> tuple[str, str]:
    """How a member is named to people: ``成员 张某`` (or ``第 2 位成员`` without a name)."""
    if name.strip():
        return f"成员 {name}", f"member {name}"
    return f"第 {index + 1} 位成员", f"member {index + 1}"


@dataclass(frozen=True, slots=True)
class Lacking:
    """A required fact a household lacks, and where: for a building- or member-level fact, the
    buildings (by certificate) or members (by name) that lack it."""

    decl: FactDecl
    places_zh: tuple[str, ...] = ()
    places_en: tuple[str, ...] = ()

    @property
    def id(self) -> str:
        """The fact's id."""
        return self.decl.id

    @property
    def label(self) -> str:
        """The fact's label, with the buildings / members that lack it: ``临街位置（证 X1、证 X2）``."""
        if not self.places_zh:
            return self.decl.label
        return f"{self.decl.label}（{'、'.join(self.places_zh)}）"

    @property
    def label_en(self) -> str:
        """The fact's label and id with the places in English: ``临街位置 (frontage) (certificate X1)``."""
        if not self.places_en:
            return self.decl.name_en
        return f"{self.decl.name_en} ({', '.join(self.places_en)})"


def missing_required(decls: Mapping[str, FactDecl], household: Household) -> list[Lacking]:
    """The required facts ``household`` lacks (or holds a value that does not fit), in declaration
    order; a building- or member-level one names each building / member that lacks it."""
    out: list[Lacking] = []
    for fid, d in decls.items():
        if not d.required:
            continue
        if d.level == "household":
            if lenient(d, household.facts.get(fid)) is None:
                out.append(Lacking(d))
            continue
        places: list[tuple[str, str]] = []
        if d.level == "building":
            for k, b in enumerate(household.buildings):
                if lenient(d, b.facts.get(fid)) is None:
                    places.append(building_place(b.certificate_no, k))
        else:
            for k, m in enumerate(household.members):
                if lenient(d, m.facts.get(fid)) is None:
                    places.append(member_place(m.name, k))
        if places:
            out.append(Lacking(d, tuple(p[0] for p in places), tuple(p[1] for p in places)))
    return out


def missing_message(missing: list[Lacking]) -> tuple[str, str]:
    """``缺少方案要求的事实：空调数量、临街位置（证 X1）`` and its English twin."""
    return (
        "缺少方案要求的事实：" + "、".join(d.label for d in missing),
        "missing facts the policy requires: " + ", ".join(d.label_en for d in missing),
    )
