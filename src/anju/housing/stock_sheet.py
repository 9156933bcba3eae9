"""The developer's flat list (房源表) as a sheet: its columns, reading one row into a checked flat,
and writing the stock back out as xlsx. Pure (no database): the service reads the upload (after
its inspection), checks the rows against the estate, and writes.

Columns, by header name in any order under a header row within the first 20 rows (a header's
bracketed suffix such as ``建筑面积（㎡）`` is ignored): 楼栋, 单元, 楼层, 房号, 户型, 建筑面积,
套内面积, 公摊面积, 朝向, 价格档, and optionally 市场单价 (元/㎡) and 楼型 (多层 / 高层, the building's; one
value per building, blank = by its floors count). Required: 楼栋, 单元, 楼层, 房号,
建筑面积, 套内面积. A blank 公摊面积 is 建筑面积 − 套内面积; a given one must agree with them within
0.01 ㎡. A blank 价格档 is ``standard``.
"""

from __future__ import annotations

import io
import re
import unicodedata
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from anju.core import text
from anju.core.money import yuan_to_fen
from anju.housing import rules

# field -> (header, required)
COLUMNS: dict[str, tuple[str, bool]] = {
    "building": ("楼栋", True),
    "unit": ("单元", True),
    "floor": ("楼层", True),
    "number": ("房号", True),
    "flat_type": ("户型", False),
    "gross_area": ("建筑面积", True),
    "inner_area": ("套内面积", True),
    "shared_area": ("公摊面积", False),
    "orientation": ("朝向", False),
    "price_tier": ("价格档", False),
    "market_price": ("市场单价", False),
    "rise": ("楼型", False),
}
RISES = ("多层", "高层")
HEADERS: dict[str, str] = {
    **{header: key for key, (header, _) in COLUMNS.items()},
    "楼号": "building",
    "幢号": "building",
    "楼幢": "building",
    "单元号": "unit",
    "层": "floor",
    "所在楼层": "floor",
    "室号": "number",
    "房间号": "number",
    "户型编号": "flat_type",
    "套内建筑面积": "inner_area",
    "分摊面积": "shared_area",
    "公摊": "shared_area",
    "价格档次": "price_tier",
    "价格等级": "price_tier",
    "市场价": "market_price",
    "楼栋类型": "rise",
}
MAX_ROWS = 20_000
MAX_AREA = Decimal("10000")
AREA_TOLERANCE = Decimal("0.01")
MAX_FLOOR = 200
MAX_UNIT = 99
DEFAULT_TIER = "standard"
_LIMITS = {"building": 32, "number": 16, "flat_type": 16, "orientation": 16, "price_tier": 32}
_TIER = re.compile(r"^[^\s]{1,32}$")


@dataclass(frozen=True, slots=True)
class Problem:
    """A problem of the sheet: row number (as the spreadsheet shows it), column header, Chinese message."""

    row: int
    column: str
    message: str


@dataclass(frozen=True, slots=True)
class SheetRow:
    """A data row as read: its row number and each column's cell text (empty when absent)."""

    row: int
    cells: dict[str, str]


@dataclass(frozen=True, slots=True)
class FlatSpec:
    """A checked row: what one flat will be."""

    row: int
    code: str
    building: str
    unit: int
    floor: int
    number: str
    flat_type: str
    gross_area: Decimal
    inner_area: Decimal
    shared_area: Decimal
    orientation: str
    price_tier: str
    market_unit_price_fen: int | None
    rise: str = ""  # the building's 楼型 as the row gives it ("" = not given)


@dataclass(slots=True)
class Checked:
    """Every row checked: the flats, and every problem (row and column named)."""

    flats: list[FlatSpec] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether the sheet can be imported as a whole."""
        return not self.problems and bool(self.flats)


def cell_text(value: Any) -> str:
    """A cell as text: whole floats without ``.0`` (spreadsheets store 12 as 12.0), stripped."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def header_key(value: Any) -> str | None:
    """The field a header cell names (``建筑面积（㎡）`` -> ``gross_area``), or ``None``."""
    name = re.split(r"[（(]", unicodedata.normalize("NFKC", cell_text(value)))[0]
    return HEADERS.get(re.sub(r"[\s*＊]", "", name))


def problem(row: int, key: str, what: str) -> Problem:
    """A problem of ``row`` in the column of field ``key``: ``第 5 行“建筑面积”：…``."""
    column = COLUMNS[key][0] if key in COLUMNS else key
    return Problem(row, column, f"第 {row} 行“{column}”：{what}")


def rows_of(grid: list[list[Any]]) -> tuple[list[SheetRow], list[Problem]]:
    """The data rows of a sheet (header found in the first 20 rows), or the problems that stop the
    reading (no header, missing required columns, no data, too many rows)."""
    header_at, columns = None, {}
    for i, row in enumerate(grid[:20]):
        keys: dict[str, int] = {}
        for j, v in enumerate(row):
            k = header_key(v)
            if k is not None and k not in keys:
                keys[k] = j
        if "building" in keys and "number" in keys:
            header_at, columns = i, keys
            break
    if header_at is None:
        return [], [Problem(1, "楼栋", "找不到表头：第一张工作表的前 20 行中须有“楼栋”“房号”等列")]
    missing = [COLUMNS[k][0] for k, (_, req) in COLUMNS.items() if req and k not in columns]
    if missing:
        return [], [Problem(header_at + 1, m, f"第 {header_at + 1} 行表头缺少“{m}”列") for m in missing]
    out: list[SheetRow] = []
    for i, row in enumerate(grid[header_at + 1 :], start=header_at + 2):
        cells = {k: cell_text(row[j]) if j < len(row) else "" for k, j in columns.items()}
        if not any(cells.values()):
            continue
        if len(out) >= MAX_ROWS:
            return [], [Problem(i, "楼栋", f"房源表最多 {MAX_ROWS} 行，请分批导入")]
        out.append(SheetRow(i, cells))
    if not out:
        return [], [Problem(header_at + 2, "楼栋", "房源表中没有数据行")]
    return out, []


def _whole(value: str, low: int, high: int, suffixes: tuple[str, ...]) -> int | None:
    v = unicodedata.normalize("NFKC", value).strip().upper()
    for s in suffixes:
        v = v.removesuffix(s)
    if not v.isascii() or not re.fullmatch(r"[0-9]{1,3}", v):
        return None
    n = int(v)
    return n if low <= n <= high else None


def _area(value: str) -> Decimal | None:
    v = unicodedata.normalize("NFKC", value).strip().removesuffix("㎡").removesuffix("m2").strip()
    if not re.fullmatch(r"[0-9]{1,5}(\.[0-9]+)?", v):
        return None
    try:
        d = Decimal(v)
    except InvalidOperation:
        return None
    if d != d.quantize(Decimal("0.01")):
        return None
    return d.quantize(Decimal("0.01"))


def _text(row: int, key: str, value: str, problems: list[Problem]) -> str:
    v = unicodedata.normalize("NFKC", value).strip()
    issue = text.text_problem(v, max_len=_LIMITS[key])
    if issue:
        problems.append(problem(row, key, issue))
    return v


def check_row(r: SheetRow) -> tuple[FlatSpec | None, list[Problem]]:
    """One row checked on its own: the flat, or every problem of the row (each column named)."""
    c, n = r.cells, r.row
    problems: list[Problem] = []
    building = _text(n, "building", c.get("building", ""), problems)
    if not building:
        problems.append(problem(n, "building", "不能为空"))
    number = rules.clean_code(_text(n, "number", c.get("number", ""), problems))
    if not number:
        problems.append(problem(n, "number", "不能为空"))
    unit = _whole(c.get("unit", ""), 1, MAX_UNIT, ("单元",))
    if unit is None:
        problems.append(problem(n, "unit", f"“{c.get('unit', '')[:20]}”不是 1 至 {MAX_UNIT} 的单元号"))
    floor = _whole(c.get("floor", ""), 1, MAX_FLOOR, ("层", "F", "楼"))
    if floor is None:
        problems.append(problem(n, "floor", f"“{c.get('floor', '')[:20]}”不是 1 至 {MAX_FLOOR} 的楼层"))
    areas: dict[str, Decimal | None] = {}
    for key in ("gross_area", "inner_area", "shared_area"):
        raw = c.get(key, "")
        if not raw and key == "shared_area":
            areas[key] = None
            continue
        value = _area(raw) if raw else None
        if value is None or value > MAX_AREA or (value <= 0 and key != "shared_area"):
            what = "不能为空" if not raw else f"“{raw[:20]}”不是有效的面积（㎡，大于 0，最多两位小数）"
            problems.append(problem(n, key, what))
        areas[key] = value
    gross, inner, shared = areas["gross_area"], areas["inner_area"], areas.get("shared_area")
    if gross is not None and inner is not None:
        if inner > gross:
            problems.append(problem(n, "inner_area", f"套内面积 {inner}㎡ 大于建筑面积 {gross}㎡"))
        elif shared is None and c.get("shared_area", "") == "":
            shared = gross - inner
        elif shared is not None and abs(inner + shared - gross) > AREA_TOLERANCE:
            problems.append(
                problem(
                    n, "shared_area", f"套内面积 {inner}㎡ + 公摊面积 {shared}㎡ 不等于建筑面积 {gross}㎡"
                )
            )
    flat_type = rules.clean_code(_text(n, "flat_type", c.get("flat_type", ""), problems))
    orientation = _text(n, "orientation", c.get("orientation", ""), problems)
    tier = _text(n, "price_tier", c.get("price_tier", ""), problems) or DEFAULT_TIER
    if not _TIER.match(tier):
        problems.append(problem(n, "price_tier", "价格档不能含空格"))
    market: int | None = None
    raw_market = unicodedata.normalize("NFKC", c.get("market_price", "")).strip()
    if raw_market:
        try:
            market = yuan_to_fen(raw_market.replace("元", ""))
        except (ValueError, TypeError):
            market = 0
        if market <= 0 or market > 10**11:
            problems.append(
                problem(n, "market_price", f"“{raw_market[:20]}”不是有效的单价（元/㎡，最多两位小数）")
            )
    rise = unicodedata.normalize("NFKC", c.get("rise", "")).strip()
    if rise and rise not in RISES:
        problems.append(problem(n, "rise", f"“{rise[:20]}”不是可选的楼型（{'、'.join(RISES)}）"))
    if problems or unit is None or floor is None or gross is None or inner is None or shared is None:
        return None, problems
    return (
        FlatSpec(
            row=n,
            code=rules.flat_code(building, unit, number),
            building=building,
            unit=unit,
            floor=floor,
            number=number,
            flat_type=flat_type,
            gross_area=gross,
            inner_area=inner,
            shared_area=shared,
            orientation=orientation,
            price_tier=tier,
            market_unit_price_fen=market,
            rise=rise,
        ),
        [],
    )


def check_rows(rows: list[SheetRow], existing_codes: set[str]) -> Checked:
    """Every row checked, then against each other (a code twice) and against the estate's flats
    (``existing_codes``): every problem is reported, none stops the others."""
    out = Checked()
    first_row: dict[str, int] = {}
    rises: dict[str, tuple[str, int]] = {}  # building -> (楼型, first row giving it)
    for r in rows:
        spec, problems = check_row(r)
        out.problems.extend(problems)
        if spec is None:
            continue
        if spec.rise:
            had = rises.setdefault(spec.building, (spec.rise, r.row))
            if had[0] != spec.rise:
                out.problems.append(
                    problem(r.row, "rise", f"楼栋 {spec.building} 的楼型与第 {had[1]} 行（{had[0]}）不一致")
                )
                continue
        if spec.code in first_row:
            out.problems.append(
                problem(r.row, "number", f"房源 {spec.code} 与第 {first_row[spec.code]} 行重复")
            )
            continue
        first_row[spec.code] = r.row
        if spec.code in existing_codes:
            out.problems.append(
                problem(r.row, "number", f"房源 {spec.code} 已在该小区的房源中，不能重复导入")
            )
            continue
        out.flats.append(spec)
    return out


# --------------------------------------------------------------------------- export

EXPORT_HEADERS = (
    "房源编号",
    "楼栋",
    "单元",
    "楼层",
    "房号",
    "户型",
    "建筑面积",
    "套内面积",
    "公摊面积",
    "朝向",
    "价格档",
    "市场单价",
    "楼型",  # the building's as the office set it; blank: by its floors count (so it imports the same)
    "状态",
    "状态说明",
)


def workbook(rows: list[list[Any]]) -> bytes:
    """The stock as an xlsx: one sheet, the export headers (which import again as they are), text
    cells written as text (no formulas, links or numbers made from text)."""
    import xlsxwriter

    out = io.BytesIO()
    wb = xlsxwriter.Workbook(
        out,
        {
            "in_memory": True,
            "strings_to_formulas": False,
            "strings_to_urls": False,
            "strings_to_numbers": False,
        },
    )
    ws = wb.add_worksheet("房源")
    bold = wb.add_format({"bold": True})
    ws.write_row(0, 0, EXPORT_HEADERS, bold)
    for i, row in enumerate(rows, start=1):
        for j, value in enumerate(row):
            if isinstance(value, Decimal):
                ws.write_number(i, j, float(value))  # areas: 2 decimals, exact in a double's display
            elif isinstance(value, int):
                ws.write_number(i, j, value)
            else:
                ws.write_string(i, j, str(value))
    ws.freeze_panes(1, 0)
    ws.set_column(0, 0, 14)
    ws.set_column(1, len(EXPORT_HEADERS) - 1, 10)
    wb.close()
    return out.getvalue()
