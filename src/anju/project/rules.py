"""Pure vocabularies and checks of projects, blocks and parcels (no database, no web).

The same checks serve the JSON API, the set-up pages and ``anju project``: each cleaner returns the
clean values and every problem found, each problem naming its field in Chinese.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from anju.core.text import text_problem

PROJECT_KINDS = {
    "state_land": "国有土地上房屋征收",
    "collective_land": "集体土地征收",
    "shantytown": "棚户区改造",
}
PROJECT_STATUSES = {
    "survey": "调查登记",
    "planning": "方案征求意见",
    "decided": "征收决定",
    "signing": "签约期",
    "clearing": "腾空拆除",
    "closed": "已结束",
}
BLOCK_LEVELS = {"area": "片区", "village": "村", "group": "组", "block": "区块"}

CODE_PATTERN = "^[A-Za-z0-9_-]{1,32}$"
_CODE = re.compile(CODE_PATTERN)
MAX_TARGET_HOUSEHOLDS = 1_000_000
MAX_SORT = 1_000_000
MAX_LAND_AREA = Decimal("100000000")  # ㎡ (10,000 hectares): above this a parcel figure is a typo
MAX_PARCEL_CODE = 64
MAX_GEOJSON_FEATURES = 100_000
MAX_LISTED_ERRORS = 200


@dataclass(frozen=True, slots=True)
class FieldError:
    """A problem with one field; ``label`` is its Chinese name."""

    field: str
    label: str
    message: str
    kind: str = "invalid"  # or "date_order": well-formed dates out of order

    def text(self) -> str:
        """``字段：问题``."""
        return f"{self.label}：{self.message}"

    def detail(self) -> dict[str, str]:
        """The error as an API detail (``field`` and the Chinese message naming the field)."""
        return {"field": self.field, "message": self.text()}


# ---------------------------------------------------------------- parsers


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and value.strip() == "")


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else str(value).strip()


def _text_max(n: int, *, multiline: bool = False) -> Callable[[Any], str]:
    def parse(value: Any) -> str:
        if not isinstance(value, str):
            raise ValueError("应为文本")
        text = value.strip()
        problem = text_problem(text, max_len=n, multiline=multiline)
        if problem:
            raise ValueError(problem)
        return text

    return parse


def parse_code(value: Any) -> str:
    """A project or block code: letters, digits, ``-`` and ``_``, at most 32."""
    text = _text(value)
    if not _CODE.match(text):
        raise ValueError("只能由字母、数字、- 和 _ 组成，最长32位")
    return text


def parse_date(value: Any) -> date:
    """``YYYY-MM-DD`` (also ``YYYY/MM/DD``, ``YYYYMMDD``, ``YYYY年M月D日``) or a date."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if not isinstance(value, str):
        raise ValueError("日期格式应为 YYYY-MM-DD")
    text = value.strip()
    for fmt in ("%Y-%m-%d", "%Y/%m/%d", "%Y.%m.%d", "%Y%m%d", "%Y年%m月%d日"):
        try:
            parsed = datetime.strptime(text, fmt).date()
        except ValueError:
            continue
        if not 1900 <= parsed.year <= 2200:
            raise ValueError("年份应在1900至2200之间")
        return parsed
    raise ValueError("日期格式应为 YYYY-MM-DD")


def parse_int(value: Any) -> int:
    """A whole number (``12``, ``"12"``; not ``12.5``, not ``true``)."""
    if isinstance(value, bool):
        raise ValueError("应为整数")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    text = _text(value).replace(",", "")
    if not re.fullmatch(r"[+-]?\d{1,12}", text):
        raise ValueError("应为整数")
    return int(text)


def parse_decimal(value: Any, *, places: int = 2) -> Decimal:
    """An exact decimal with at most ``places`` decimals."""
    if isinstance(value, bool):
        raise ValueError("应为数字")
    try:
        d = Decimal(repr(value)) if isinstance(value, float) else Decimal(_text(value).replace(",", ""))
    except InvalidOperation:
        raise ValueError("应为数字") from None
    if not d.is_finite():
        raise ValueError("应为数字")
    try:
        rounded = d.quantize(Decimal(1).scaleb(-places))
    except InvalidOperation:
        raise ValueError("数值过大，请核对") from None
    if rounded != d:
        raise ValueError(f"最多保留{places}位小数")
    return rounded


def _choice(options: Mapping[str, str]) -> Callable[[Any], str]:
    """The code (``state_land``) or its Chinese label (``国有土地上房屋征收``)."""
    by_label = {v: k for k, v in options.items()}

    def parse(value: Any) -> str:
        text = _text(value)
        if text in options:
            return text
        if text in by_label:
            return by_label[text]
        raise ValueError("应为 " + " / ".join(options.values()) + " 之一")

    return parse


def _between(lo: int, hi: int, unit: str = "") -> Callable[[Any], Any]:
    def parse(value: Any) -> int:
        n = parse_int(value)
        if not lo <= n <= hi:
            raise ValueError(f"应在{lo}至{hi}{unit}之间")
        return n

    return parse


@dataclass(frozen=True, slots=True)
class Field:
    """One cleanable field: its Chinese label, parser, whether required, and its blank value."""

    name: str
    label: str
    parse: Callable[[Any], Any]
    required: bool = False
    blank: Any = None


PROJECT_FIELDS: tuple[Field, ...] = (
    Field("code", "项目编号", parse_code, required=True),
    Field("name", "项目名称", _text_max(128), required=True),
    Field("kind", "项目类型", _choice(PROJECT_KINDS), required=True),
    Field("status", "项目阶段", _choice(PROJECT_STATUSES), blank="survey"),
    Field("district", "所在区域", _text_max(128), blank=""),
    Field("description", "项目说明", _text_max(2000, multiline=True), blank=""),
    Field("decision_no", "征收决定文号", _text_max(128), blank=""),
    Field("legal_basis", "法律依据", _text_max(1000, multiline=True), blank=""),
    Field("signing_start_on", "签约期开始日", parse_date),
    Field("signing_end_on", "签约期结束日", parse_date),
    Field("launched_on", "攻坚启动日", parse_date),
    Field("deadline_on", "签约截止日", parse_date),
    Field("target_sign_rate", "目标签约率（%）", _between(1, 100, "%"), blank=100),
    Field("target_households", "目标签约户数", _between(1, MAX_TARGET_HOUSEHOLDS, "户")),
    Field("alert_no_visit_days", "未走访预警天数", _between(1, 90, "天"), blank=7),
)
PROJECT_LABELS = {f.name: f.label for f in PROJECT_FIELDS}
# Fields that stay as they are once the project exists (the code is how files and CLIs name it).
PROJECT_EDITABLE = tuple(f.name for f in PROJECT_FIELDS)

BLOCK_FIELDS: tuple[Field, ...] = (
    Field("code", "区块编号", parse_code, required=True),
    Field("name", "区块名称", _text_max(128), required=True),
    Field("level", "区块层级", _choice(BLOCK_LEVELS), required=True),
    Field("sort", "排序号", _between(0, MAX_SORT), blank=0),
)
BLOCK_LABELS = {f.name: f.label for f in BLOCK_FIELDS}


def clean(
    fields: tuple[Field, ...], raw: Mapping[str, Any], *, partial: bool = False
) -> tuple[dict[str, Any], list[FieldError]]:
    """Parse ``raw`` against ``fields``: the clean values and every problem found.

    With ``partial`` only the keys present in ``raw`` are cleaned (updates); a required field
    present but blank is still an error.
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
                out[f.name] = f.blank
            continue
        try:
            out[f.name] = f.parse(value)
        except ValueError as exc:
            errors.append(FieldError(f.name, f.label, str(exc)))
    return out, errors


def date_order_errors(values: Mapping[str, Any]) -> list[FieldError]:
    """The project's dates in order: signing start ≤ signing end ≤ deadline, launch ≤ deadline."""
    start, end = values.get("signing_start_on"), values.get("signing_end_on")
    launched, deadline = values.get("launched_on"), values.get("deadline_on")
    errors: list[FieldError] = []

    def later(name: str, a: date | None, b: date | None, a_label: str, b_label: str) -> None:
        if a is not None and b is not None and a > b:
            errors.append(
                FieldError(name, PROJECT_LABELS[name], f"{b} 不能早于{a_label}（{a}）", kind="date_order")
            )

    later("signing_end_on", start, end, "签约期开始日", "签约期结束日")
    later("deadline_on", end, deadline, "签约期结束日", "签约截止日")
    if end is None:
        later("deadline_on", start, deadline, "签约期开始日", "签约截止日")
    later("deadline_on", launched, deadline, "攻坚启动日", "签约截止日")
    return errors


def check_project(
    raw: Mapping[str, Any], *, current: Mapping[str, Any] | None = None
) -> tuple[dict[str, Any], list[FieldError]]:
    """Clean a new project (``current`` None) or a change to one (only the keys in ``raw``), and
    check the dates of the result in order."""
    values, errors = clean(PROJECT_FIELDS, raw, partial=current is not None)
    merged = {**(current or {}), **values}
    bad = {e.field for e in errors}
    errors += [e for e in date_order_errors(merged) if e.field not in bad]
    return values, errors


def check_block(raw: Mapping[str, Any], *, partial: bool = False) -> tuple[dict[str, Any], list[FieldError]]:
    """Clean a block's code, name, level and sort."""
    return clean(BLOCK_FIELDS, raw, partial=partial)


def parent_cycle(block_id: int, new_parent: int | None, parent_of: Mapping[int, int | None]) -> bool:
    """Whether putting ``block_id`` under ``new_parent`` makes a cycle (the parent is the block
    itself or one of its descendants). ``parent_of`` maps every block of the project to its parent."""
    seen: set[int] = set()
    node = new_parent
    while node is not None and node not in seen:
        if node == block_id:
            return True
        seen.add(node)
        node = parent_of.get(node)
    return False


# ---------------------------------------------------------------- GeoJSON parcels

DEFAULT_CODE_PROPERTIES = ("code", "宗地号", "宗地编号", "parcel_code")
DEFAULT_BLOCK_PROPERTIES = ("block_code", "block", "区块编号", "区块")
DEFAULT_HOUSEHOLD_PROPERTIES = ("household_code", "household", "户号")
DEFAULT_AREA_PROPERTIES = ("land_area", "area", "宗地面积", "面积")
# A feature whose ``kind`` (or ``类型``) property is one of these is a block's boundary, not a parcel.
KIND_PROPERTIES = ("kind", "类型")
BOUNDARY_KINDS = frozenset({"block", "boundary", "区块", "片区", "村", "组", "区块边界", "片区边界"})
GEOMETRY_TYPES = ("Polygon", "MultiPolygon")


@dataclass(frozen=True, slots=True)
class FeatureError:
    """A problem with one feature (1-based ``feature``), naming the property when there is one."""

    feature: int
    prop: str
    message: str

    def text(self) -> str:
        where = f"第{self.feature}个要素" if self.feature else "文件"
        return f"{where}{f'（属性“{self.prop}”）' if self.prop else ''}：{self.message}"

    def detail(self) -> dict[str, Any]:
        return {"feature": self.feature, "property": self.prop, "message": self.text()}


@dataclass(slots=True)
class ParcelFeature:
    """A parcel read from a feature: its code, block code, land area, household codes, geometry text."""

    feature: int
    code: str
    block_code: str
    land_area: Decimal | None
    household_codes: list[str]
    geometry: str


@dataclass(slots=True)
class BoundaryFeature:
    """A block boundary read from a feature."""

    feature: int
    block_code: str
    geometry: str


@dataclass(slots=True)
class ParsedParcels:
    """What a GeoJSON file holds: parcels, block boundaries, and every problem found."""

    parcels: list[ParcelFeature] = field(default_factory=list)
    boundaries: list[BoundaryFeature] = field(default_factory=list)
    errors: list[FeatureError] = field(default_factory=list)
    total_errors: int = 0

    def add(self, error: FeatureError) -> None:
        self.total_errors += 1
        if len(self.errors) < MAX_LISTED_ERRORS:
            self.errors.append(error)


def _positions_problem(coords: Any, depth: int) -> str | None:
    """Check nested coordinate arrays: ``depth`` 2 is a ring (positions), 3 a polygon, 4 a multipolygon."""
    if not isinstance(coords, list) or not coords:
        return "坐标应为非空数组"
    if depth == 2:
        if len(coords) < 4:
            return "多边形的每个环至少需要4个坐标点（首尾相同）"
        for pos in coords:
            if not isinstance(pos, list) or len(pos) < 2 or len(pos) > 3:
                return "坐标点应为 [经度, 纬度]"
            if any(
                isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v) for v in pos
            ):
                return "坐标应为数字"
            lon, lat = pos[0], pos[1]
            if not (-180 <= lon <= 180 and -90 <= lat <= 90):
                return f"坐标 [{lon}, {lat}] 超出经纬度范围（应为 WGS84 经纬度）"
        if coords[0][:2] != coords[-1][:2]:
            return "多边形的环应首尾闭合（第一个和最后一个坐标点相同）"
        return None
    for part in coords:
        problem = _positions_problem(part, depth - 1)
        if problem:
            return problem
    return None


def geometry_problem(geometry: Any) -> str | None:
    """What is wrong with a parcel geometry (a GeoJSON Polygon or MultiPolygon in WGS84), or ``None``."""
    if not isinstance(geometry, dict):
        return "缺少几何图形（geometry）"
    kind = geometry.get("type")
    if kind not in GEOMETRY_TYPES:
        return f"几何类型应为 Polygon 或 MultiPolygon，实为“{str(kind)[:40]}”"
    return _positions_problem(geometry.get("coordinates"), 3 if kind == "Polygon" else 4)


def _pick(props: Mapping[str, Any], chosen: str | None, defaults: tuple[str, ...]) -> tuple[str, Any]:
    """``(property name, value)`` of the configured property, or the first default present."""
    if chosen:
        return chosen, props.get(chosen)
    for name in defaults:
        if name in props and not _blank(props[name]):
            return name, props[name]
    return defaults[0], None


def _scalar_text(value: Any) -> str | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, str):
        return value.strip()
    return None


def _household_codes(value: Any) -> list[str] | None:
    """Codes from ``"H1"``, ``"H1,H2"`` (also ``，``、``;``) or ``["H1", "H2"]``; ``None`` if malformed."""
    if _blank(value):
        return []
    items: list[Any] = value if isinstance(value, list) else [value]
    out: list[str] = []
    for item in items:
        text = _scalar_text(item)
        if text is None:
            return None
        out += [c.strip() for c in re.split(r"[,，;；、\s]+", text) if c.strip()]
    return out


def parse_parcels(
    document: Any,
    *,
    code_property: str | None = None,
    block_property: str | None = None,
    household_property: str | None = None,
) -> ParsedParcels:
    """Read a GeoJSON FeatureCollection (already ``json.loads``-ed) into parcels and boundaries.

    Each feature is a parcel: its code from ``code_property`` (default: the first of
    :data:`DEFAULT_CODE_PROPERTIES` present), an optional block code, land area and household
    code(s), and a Polygon/MultiPolygon geometry kept as compact GeoJSON text. A feature whose
    ``kind``/``类型`` is one of :data:`BOUNDARY_KINDS` is the boundary of the block it names.
    Every problem is reported with its feature number (1-based) and property.
    """
    out = ParsedParcels()
    if not isinstance(document, dict) or document.get("type") != "FeatureCollection":
        out.add(FeatureError(0, "type", "应为 GeoJSON FeatureCollection（要素集合）"))
        return out
    features = document.get("features")
    if not isinstance(features, list):
        out.add(FeatureError(0, "features", "缺少要素列表（features）"))
        return out
    if not features:
        out.add(FeatureError(0, "features", "文件中没有任何要素"))
        return out
    if len(features) > MAX_GEOJSON_FEATURES:
        out.add(
            FeatureError(0, "features", f"要素不能超过{MAX_GEOJSON_FEATURES:,}个（现有{len(features):,}个）")
        )
        return out
    first_of: dict[str, int] = {}
    boundary_of: dict[str, int] = {}
    household_of: dict[str, int] = {}
    for n, feature in enumerate(features, start=1):
        if not isinstance(feature, dict) or feature.get("type") != "Feature":
            out.add(FeatureError(n, "", "应为 GeoJSON 要素（type 为 Feature）"))
            continue
        props = feature.get("properties") or {}
        if not isinstance(props, dict):
            out.add(FeatureError(n, "properties", "属性（properties）应为对象"))
            continue
        problem = geometry_problem(feature.get("geometry"))
        geometry = (
            None
            if problem
            else json.dumps(feature["geometry"], ensure_ascii=False, separators=(",", ":"), allow_nan=False)
        )
        if problem:
            out.add(FeatureError(n, "geometry", problem))
        kind_name, kind_value = _pick(props, None, KIND_PROPERTIES)
        block_name, block_value = _pick(props, block_property, DEFAULT_BLOCK_PROPERTIES)
        block_code = _scalar_text(block_value) or ""
        if block_value is not None and not _blank(block_value) and not _CODE.match(block_code):
            out.add(FeatureError(n, block_name, "区块编号只能由字母、数字、- 和 _ 组成，最长32位"))
            continue
        if _scalar_text(kind_value) in BOUNDARY_KINDS:
            if not block_code:
                out.add(
                    FeatureError(n, block_name, f"区块边界要素（{kind_name}={kind_value}）须注明区块编号")
                )
            elif block_code in boundary_of:
                out.add(
                    FeatureError(
                        n, block_name, f"区块“{block_code}”的边界与第{boundary_of[block_code]}个要素重复"
                    )
                )
            elif geometry is not None:
                boundary_of[block_code] = n
                out.boundaries.append(BoundaryFeature(n, block_code, geometry))
            continue
        code_name, code_value = _pick(props, code_property, DEFAULT_CODE_PROPERTIES)
        code = _scalar_text(code_value)
        if not code:
            names = (
                f"“{code_property}”"
                if code_property
                else "、".join(f"“{p}”" for p in DEFAULT_CODE_PROPERTIES)
            )
            out.add(FeatureError(n, code_name, f"缺少宗地号（属性{names}）"))
            continue
        problem = text_problem(code, max_len=MAX_PARCEL_CODE)
        if problem:
            out.add(FeatureError(n, code_name, f"宗地号{problem}"))
            continue
        if code in first_of:
            out.add(FeatureError(n, code_name, f"宗地号“{code}”与第{first_of[code]}个要素重复"))
            continue
        first_of[code] = n
        area_name, area_value = _pick(props, None, DEFAULT_AREA_PROPERTIES)
        area: Decimal | None = None
        if not _blank(area_value):
            try:
                area = parse_decimal(area_value)
            except ValueError as exc:
                out.add(FeatureError(n, area_name, f"宗地面积{exc}"))
                continue
            if not Decimal(0) <= area <= MAX_LAND_AREA:
                out.add(FeatureError(n, area_name, f"宗地面积应在0至{MAX_LAND_AREA:,}㎡之间，请核对"))
                continue
        household_name, household_value = _pick(props, household_property, DEFAULT_HOUSEHOLD_PROPERTIES)
        households = _household_codes(household_value)
        if households is None:
            out.add(FeatureError(n, household_name, "户号应为文本（多户用逗号分隔）或文本数组"))
            continue
        bad = next((h for h in households if not _CODE.match(h)), None)
        if bad is not None:
            out.add(
                FeatureError(n, household_name, f"户号“{bad[:40]}”只能由字母、数字、- 和 _ 组成，最长32位")
            )
            continue
        again = next((h for h in households if h in household_of), None)
        if again is not None:
            out.add(
                FeatureError(n, household_name, f"户号“{again}”已关联第{household_of[again]}个要素的宗地")
            )
            continue
        household_of.update(dict.fromkeys(households, n))
        # Kept even without a valid geometry, so that its block and households are checked too
        # (a file with any problem is never written).
        out.parcels.append(ParcelFeature(n, code, block_code, area, households, geometry or ""))
    return out
