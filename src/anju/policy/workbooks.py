"""Household facts from the workbooks users already have: the census template (入户调查表) and the
ledger export (台账), besides the engine's own layout (:mod:`anju.policy.io`).

Every problem is a :class:`HouseholdsFileError` naming the file, the sheet, the Excel row and the
column (header and letter), so that the command line can print it instead of a traceback.

The engine is pure (it imports nothing of Anju but ``anju.core``), so the Chinese headers of the two
layouts are listed here; a unit test compares them with the census template's and the ledger's own
headers, so that a renamed column fails there rather than in a user's hands.

Neither layout carries the project's kind (国有土地 / 集体土地 / 棚户区): the caller passes it
(``--kind``), state land by default. A member whose 计入安置人口 is 待定 is not counted, as in the
compensation domain.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from anju.policy.declared import FactDecl, parse_value, to_text
from anju.policy.facts import (
    ALIASES,
    Determination,
    Household,
    ProjectKind,
    Structure,
    TenantKind,
    Use,
    _area_in,
    _bool,
    _date,
    _fen,
    _opt_int,
    canonical,
    household_from_dict,
)

__all__ = [
    "CENSUS",
    "ENGINE",
    "LEDGER",
    "HouseholdsFileError",
    "column_letter",
    "layout_of",
    "read_households_file",
]


class HouseholdsFileError(ValueError):
    """A households file that cannot be read, with where: file, sheet, row (1-based as in Excel), column."""

    def __init__(
        self,
        file: Path,
        message: str,
        *,
        sheet: str = "",
        row: int | None = None,
        column: str = "",
        col: int = -1,
    ) -> None:
        self.file, self.sheet, self.row, self.column, self.message = file, sheet, row, column, message
        where = [f"文件 {file.name}"]
        if sheet:
            where.append(f"工作表“{sheet}”")
        if row is not None:
            where.append(f"第 {row} 行")
        if column:
            where.append(f"“{column}”列" + (f"（{column_letter(col)} 列）" if col >= 0 else ""))
        super().__init__("，".join(where) + "：" + message)


def column_letter(index: int) -> str:
    """0 -> A, 25 -> Z, 26 -> AA (Excel's column names)."""
    out = ""
    n = index + 1
    while n:
        n, r = divmod(n - 1, 26)
        out = chr(65 + r) + out
    return out


def _norm(text: Any) -> str:
    s = "" if text is None else str(text)
    for a, b in ((" ", ""), ("\u3000", ""), ("*", ""), ("＊", ""), ("（", "("), ("）", ")"), ("m²", "㎡")):
        s = s.replace(a, b)
    return s.strip()


def _cell(v: Any) -> Any:
    if isinstance(v, float):
        # Spreadsheet numbers arrive as binary floats; their shortest repr is the typed decimal.
        return str(int(v)) if v == int(v) else repr(v)
    if isinstance(v, datetime):
        return v.date()
    if isinstance(v, str):
        return v.strip()
    return v


# ---------------------------------------------------------------- cell converters (value -> fact value)
def _text(v: Any) -> str:
    return "" if v is None else str(v)


def _required_text(v: Any) -> str:
    t = _text(v)
    if not t:
        raise ValueError("不能为空")
    return t


def _choice(enum: Any, default: str) -> Callable[[Any], str]:
    allowed = " / ".join(k for k, x in ALIASES.items() if x in {e.value for e in enum})

    def convert(v: Any) -> str:
        t = _text(v)
        if not t:
            return default
        c = canonical(t)
        if c not in {e.value for e in enum}:
            raise ValueError(f"“{t}”不是可选值（{allowed}）")
        return c

    return convert


def _yes_no(v: Any) -> bool:
    try:
        return _bool(v)
    except ValueError:
        raise ValueError(f"“{v}”应为 是 / 否") from None


def _counted(v: Any) -> bool:
    # blank or pending (待定) is not counted, as the compensation domain reads the census's None
    t = _text(v)
    return False if t in ("", "待定", "未认定") else _yes_no(t)


def _optional_area(v: Any) -> str | None:
    return None if _text(v) == "" else _area(v)


def _grade(v: Any) -> int | None:
    t = _text(v).removesuffix("级").strip()
    if not t or t in ("无", "否"):
        return None
    try:
        n = _opt_int(t)
    except ValueError:
        n = None
    if n not in (1, 2, 3, 4):
        raise ValueError(f"“{v}”应为 1级-4级")
    return n


def _int(v: Any) -> int | None:
    try:
        return _opt_int(v)
    except ValueError:
        raise ValueError(f"“{v}”应为整数") from None


def _area(v: Any) -> str:
    try:
        return str(_area_in(v if v not in (None, "") else None))
    except (ValueError, TypeError, InvalidOperation):
        raise ValueError(f"“{v}”应为面积（平方米，最多两位小数）") from None


def _money(v: Any) -> str | None:
    try:
        fen = _fen(v)
    except (ValueError, InvalidOperation):
        raise ValueError(f"“{v}”应为金额（元，最多两位小数）") from None
    return None if fen is None else str(Decimal(fen) / 100)


def _day(v: Any) -> date | None:
    try:
        return _date(v)
    except ValueError:
        raise ValueError(f"“{v}”应为日期 YYYY-MM-DD") from None


Converter = Callable[[Any], Any]


@dataclass(frozen=True)
class _Table:
    """One sheet of a layout: the sheet's name, header -> (fact key, converter), and the required headers."""

    sheet: str
    columns: Mapping[str, tuple[str, Converter]]
    key: str = "户号"  # the header that names the household (the header row is the first holding it)
    optional: bool = False


_MEMBER_GROUPS = {
    "低保": "dibao",
    "大病": "serious_illness",
    "烈属": "martyr_family",
    "失独": "shidu",
    "独生子女": "only_child",
    "优抚": "youfu",
}
_BUILDING = {
    "产权证号": ("certificate_no", _text),
    "结构": ("structure", _choice(Structure, "brick_concrete")),
    "用途": ("use", _choice(Use, "residential")),
    "层数": ("floors", _int),
    "建成年份": ("built_year", _int),
    "合法面积(㎡)": ("legal_area", _area),
    "未登记面积(㎡)": ("unregistered_area", _area),
    "未登记面积认定": ("unregistered_determination", _choice(Determination, "pending")),
}
_VALUATION = {
    "评估单价(元/㎡)": ("assessed_unit_price", _money),
    "评估金额(元)": ("assessed_value", _money),
    "装修补偿(元)": ("decoration", _money),
    "附属物(元)": ("fixtures", _money),
}
_HOUSEHOLD = {
    "户号": ("code", _required_text),
    "所属区块": ("block", _text),
    "签约日期": ("sign_on", _day),
    "腾空日期": ("vacate_on", _day),
}
_MEMBER = {
    "户号": ("household", _required_text),
    "姓名": ("name", _text),
    "与户主关系": ("relation", _text),
    **{label: (key, _yes_no) for label, key in _MEMBER_GROUPS.items()},
    "计入安置人口": ("resettlement_counted", _counted),
}

_ENGINE_CHILD = {"household": ("household", _required_text)}
#: The engine's own layout (see :mod:`anju.policy.io`): English headers, one row per household.
ENGINE: dict[str, _Table] = {
    "households": _Table(
        "households",
        {
            "code": ("code", _required_text),
            "block_code": ("block_code", _text),
            "block_chain": ("block_chain", _text),
            "kind": ("kind", _choice(ProjectKind, "state_land")),
            "sign_on": ("sign_on", _day),
            "vacate_on": ("vacate_on", _day),
            # the event dates after signing (facts.EVENT_DATES)
            "agreement_effective_on": ("agreement_effective_on", _day),
            "delivery_planned_on": ("delivery_planned_on", _day),
            "delivery_actual_on": ("delivery_actual_on", _day),
            "move_back_on": ("move_back_on", _day),
            "flags": ("flags", _text),
            "homestead_area": ("homestead_area", _optional_area),
            "homestead_approved_year": ("homestead_approved_year", _int),
        },
        key="code",
    ),
    "members": _Table(
        "members",
        {
            **_ENGINE_CHILD,
            "name": ("name", _text),
            "relation": ("relation", _text),
            **{key: (key, _yes_no) for key in _MEMBER_GROUPS.values()},
            "disability_grade": ("disability_grade", _grade),
            "resettlement_counted": ("resettlement_counted", _yes_no),
        },
        key="household",
        optional=True,
    ),
    "buildings": _Table(
        "buildings",
        {
            **_ENGINE_CHILD,
            **{key: (key, convert) for key, convert in _BUILDING.values()},
            **{key: (key, convert) for key, convert in _VALUATION.values()},
        },
        key="household",
        optional=True,
    ),
    "tenants": _Table(
        "tenants",
        {
            **_ENGINE_CHILD,
            "name": ("name", _text),
            "kind": ("kind", _choice(TenantKind, "person")),
            "area": ("area", _area),
            "business": ("business", _text),
        },
        key="household",
        optional=True,
    ),
    # the selected resettlement flats (price per ㎡ and purchase total in yuan)
    "flats": _Table(
        "flats",
        {
            **_ENGINE_CHILD,
            "code": ("code", _text),
            "area": ("area", _area),
            "building": ("building", _text),
            "floor": ("floor", _int),
            "type": ("type", _text),
            "price": ("price", _money),
            "purchase_total": ("purchase_total", _money),
            "ready": ("ready", _text),
            "delivered_on": ("delivered_on", _day),
            "rise": ("rise", _text),
        },
        key="household",
        optional=True,
    ),
}

#: The census template (入户调查表): 户 / 成员 / 房屋 / 承租人 / 宅基地 / 评估.
CENSUS: dict[str, _Table] = {
    "households": _Table("户", _HOUSEHOLD),
    "members": _Table("成员", {**_MEMBER, "残疾等级": ("disability_grade", _grade)}, optional=True),
    "buildings": _Table(
        "房屋",
        {"户号": ("household", _required_text), "房屋序号": ("order", _int), **_BUILDING},
        optional=True,
    ),
    "tenants": _Table(
        "承租人",
        {
            "户号": ("household", _required_text),
            "承租人": ("name", _text),
            "类型": ("kind", _choice(TenantKind, "person")),
            "经营内容": ("business", _text),
            "承租面积(㎡)": ("area", _area),
        },
        optional=True,
    ),
    "homesteads": _Table(
        "宅基地",
        {
            "户号": ("household", _required_text),
            "宅基地面积(㎡)": ("area", _area),
            "批准年份": ("approved_year", _int),
            "宅基地证号": ("certificate_no", _text),
        },
        optional=True,
    ),
    "valuations": _Table(
        "评估",
        {
            "户号": ("household", _required_text),
            "房屋序号": ("order", _int),
            "产权证号": ("certificate_no", _text),
            **_VALUATION,
        },
        optional=True,
    ),
}

#: The ledger export (台账): 台账 / 家庭成员 / 房屋 (valuations are columns of 房屋).
LEDGER: dict[str, _Table] = {
    "households": _Table("台账", _HOUSEHOLD),
    "members": _Table("家庭成员", {**_MEMBER, "残疾": ("disability_grade", _grade)}, optional=True),
    "buildings": _Table(
        "房屋",
        {"户号": ("household", _required_text), "序号": ("order", _int), **_BUILDING, **_VALUATION},
        optional=True,
    ),
}


# ---------------------------------------------------------------- reading
@dataclass
class _Row:
    number: int  # Excel row number
    values: dict[str, Any]  # fact key -> converted value


Grid = list[list[Any]]


def _open_workbook(path: Path) -> Any:
    from python_calamine import CalamineWorkbook

    try:
        return CalamineWorkbook.from_path(str(path))
    except Exception as exc:  # calamine raises its own error types for every kind of bad file
        raise HouseholdsFileError(path, f"不是可读取的 xlsx 工作簿（{type(exc).__name__}）") from None


def _read_csv(path: Path) -> Grid:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            with path.open(encoding=encoding, newline="") as fh:
                return [list(r) for r in csv.reader(fh)]
        except UnicodeDecodeError:
            continue
    raise HouseholdsFileError(path, "无法识别文件编码（应为 UTF-8 或 GB18030）")


def _read_sheet(path: Path, sheet: str, grid: Grid, table: _Table) -> list[_Row]:
    key = _norm(table.key)
    header_at = next((i for i, r in enumerate(grid[:10]) if any(_norm(c) == key for c in r)), None)
    if header_at is None:
        raise HouseholdsFileError(path, f"找不到表头行（前 10 行中须有“{table.key}”列）", sheet=sheet)
    headers = [_norm(c) for c in grid[header_at]]
    known = {_norm(h): h for h in table.columns}
    where = {known[h]: j for j, h in enumerate(headers) if h in known}
    out = []
    code_col = where[table.key]
    for i, raw in enumerate(grid[header_at + 1 :], start=header_at + 2):
        cells = [_cell(c) for c in raw]
        if all(c in ("", None) for c in cells):
            continue
        if code_col < len(cells) and cells[code_col] in ("合计", "总计"):  # the ledger's total row
            continue
        values: dict[str, Any] = {}
        for header, j in where.items():
            name, convert = table.columns[header]
            try:
                values[name] = convert(cells[j] if j < len(cells) else None)
            except (ValueError, TypeError, InvalidOperation) as exc:
                raise HouseholdsFileError(path, str(exc), sheet=sheet, row=i, column=header, col=j) from None
        out.append(_Row(i, values))
    return out


def _assemble(
    path: Path, layout: dict[str, _Table], tables: dict[str, tuple[str, list[_Row]]], kind: ProjectKind
) -> list[Household]:
    first, household_rows = tables["households"]
    by_code: dict[str, dict[str, Any]] = {}
    rows_of: dict[str, int] = {}
    for r in household_rows:
        d = dict(r.values)
        code = d["code"]
        if code in by_code:
            raise HouseholdsFileError(
                path,
                f"户号“{code}”重复（第 {rows_of[code]} 行已有）",
                sheet=first,
                row=r.number,
                column=layout["households"].key,
            )
        if "block" in d:  # census and ledger: one path column 片区/村/组
            parts = [p.strip() for p in str(d.pop("block") or "").replace(">", "/").split("/") if p.strip()]
            d["block_code"], d["block_chain"] = (parts[-1] if parts else ""), tuple(parts[:-1])
            d["kind"] = kind.value
        declared = {k[5:]: d.pop(k) for k in [k for k in d if k.startswith("fact:")]}
        if any(v is not None for v in declared.values()):
            d["facts"] = {k: v for k, v in declared.items() if v is not None}
        area, year = d.pop("homestead_area", None), d.pop("homestead_approved_year", None)
        if area is not None:
            d["homestead"] = {"area": area, "approved_year": year}
        d.update(members=[], buildings=[], tenants=[])
        by_code[code], rows_of[code] = d, r.number

    def owner(name: str, r: _Row) -> dict[str, Any]:
        code = r.values.pop("household")
        if code not in by_code:
            sheet = tables[name][0]
            raise HouseholdsFileError(
                path, f"户号“{code}”在“{first}”表中不存在", sheet=sheet, row=r.number, column=layout[name].key
            )
        return by_code[code]

    for r in tables.get("members", ("", []))[1]:
        owner("members", r)["members"].append(_element_facts(r.values))
    buildings: dict[tuple[str, int], dict[str, Any]] = {}
    for r in tables.get("buildings", ("", []))[1]:
        h = owner("buildings", r)
        _element_facts(r.values)
        order = r.values.pop("order", None) or len(h["buildings"]) + 1
        h["buildings"].append(r.values)
        buildings[(h["code"], order)] = r.values
    for r in tables.get("valuations", ("", []))[1]:
        h = owner("valuations", r)
        order, cert = r.values.pop("order", None), r.values.pop("certificate_no", "")
        target = buildings.get((h["code"], order)) if order else None
        if target is None and cert:
            target = next((b for b in h["buildings"] if b.get("certificate_no") == cert), None)
        if target is None:
            raise HouseholdsFileError(
                path,
                f"户号“{h['code']}”没有房屋序号 {order or '（空）'} / 产权证号“{cert}”的房屋",
                sheet=tables["valuations"][0],
                row=r.number,
                column="房屋序号",
            )
        target.update({k: v for k, v in r.values.items() if v is not None})
    for r in tables.get("tenants", ("", []))[1]:
        owner("tenants", r)["tenants"].append(r.values)
    for r in tables.get("flats", ("", []))[1]:
        owner("flats", r).setdefault("flats", []).append(r.values)
    for r in tables.get("homesteads", ("", []))[1]:
        owner("homesteads", r)["homestead"] = r.values
    out = []
    for code, d in by_code.items():
        try:
            out.append(household_from_dict(d))
        except (ValueError, TypeError, KeyError, InvalidOperation) as exc:
            raise HouseholdsFileError(path, f"户号“{code}”：{exc}", sheet=first, row=rows_of[code]) from None
    return out


def _element_facts(values: dict[str, Any]) -> dict[str, Any]:
    """A member's or building's row with its declared-fact columns (``fact:ID``) moved under ``facts``."""
    declared = {k[5:]: values.pop(k) for k in [k for k in values if k.startswith("fact:")]}
    if any(v is not None for v in declared.values()):
        values["facts"] = {k: v for k, v in declared.items() if v is not None}
    return values


def _fact_converter(decl: FactDecl) -> Converter:
    def convert(v: Any) -> Any:
        return to_text(decl, parse_value(decl, v))  # FactValueError is a ValueError: reported with its cell

    return convert


def _widened(layout: dict[str, _Table], facts: Mapping[str, FactDecl] | None) -> dict[str, _Table]:
    """``layout`` whose households sheet also reads the declared facts' columns (kept as ``fact:ID``,
    handed to the household as its facts): headed by the label with or without the unit, or ``fact.ID``;
    building- and member-level facts likewise on the buildings and members sheets."""
    if not facts:
        return layout
    out = dict(layout)
    for sheet, level in (("households", "household"), ("buildings", "building"), ("members", "member")):
        extra: dict[str, tuple[str, Converter]] = {}
        for d in facts.values():
            if d.level != level:
                continue
            for header in (f"{d.label}({d.unit_text})" if d.unit_text else d.label, d.label, "fact." + d.id):
                extra.setdefault(header, ("fact:" + d.id, _fact_converter(d)))
        if extra and sheet in out:
            t = out[sheet]
            out[sheet] = replace(t, columns={**t.columns, **extra})
    return out


def _from_workbook(path: Path, layout: dict[str, _Table], kind: ProjectKind) -> list[Household]:
    wb = _open_workbook(path)
    names = list(wb.sheet_names)
    tables: dict[str, tuple[str, list[_Row]]] = {}
    for name, table in layout.items():
        if table.sheet in names:
            grid = wb.get_sheet_by_name(table.sheet).to_python()
            tables[name] = (table.sheet, _read_sheet(path, table.sheet, grid, table))
        elif not table.optional:
            raise HouseholdsFileError(path, f"找不到工作表“{table.sheet}”（现有：{'、'.join(names)}）")
    return _assemble(path, layout, tables, kind)


def _from_csv(path: Path, kind: ProjectKind, layout: dict[str, _Table] | None = None) -> list[Household]:
    """``NAME.csv`` with the households, ``NAME_members.csv`` ... beside it (the engine's layout)."""
    layout = layout or ENGINE
    tables: dict[str, tuple[str, list[_Row]]] = {}
    for name, table in layout.items():
        f = path if name == "households" else path.with_name(f"{path.stem}_{name}{path.suffix}")
        if f.exists():
            tables[name] = (f.name, _read_sheet(f, f.name, _read_csv(f), table))
    return _assemble(path, layout, tables, kind)


def layout_of(path: Path) -> str:
    """Which layout a workbook has: ``engine``, ``census`` or ``ledger`` (by its sheet names)."""
    names = set(_open_workbook(path).sheet_names)
    for layout, tables in (("engine", ENGINE), ("census", CENSUS), ("ledger", LEDGER)):
        if tables["households"].sheet in names:
            return layout
    raise HouseholdsFileError(
        path,
        "找不到户数据工作表：应为入户调查表（“户”）、台账（“台账”）或 households"
        f"（现有：{'、'.join(sorted(names)) or '无'}）",
    )


def read_households_file(
    path: str | Path,
    *,
    kind: ProjectKind = ProjectKind.STATE_LAND,
    facts: Mapping[str, FactDecl] | None = None,
) -> list[Household]:
    """Households from the census template, the ledger export or the engine's own layout (xlsx or csv).

    ``kind`` is the project's kind for the two layouts that do not carry it (census, ledger).
    ``facts``: the policy's declared facts, read from the households sheet's columns headed by
    their label (with or without the unit: ``空调数量(台)``) or by ``fact.ID``; a bad cell is an error.
    Raises :class:`HouseholdsFileError` naming file, sheet, row and column.
    """
    p = Path(path)
    if not p.exists():
        raise HouseholdsFileError(p, "文件不存在")
    if not p.is_file():
        raise HouseholdsFileError(p, "不是文件")
    suffix = p.suffix.lower()
    if suffix == ".csv":
        return _from_csv(p, kind, _widened(ENGINE, facts))
    if suffix not in (".xlsx", ".xlsm", ".xls", ".ods"):
        raise HouseholdsFileError(p, "应为 .xlsx 工作簿或 .csv 文件")
    layouts = {"engine": ENGINE, "census": CENSUS, "ledger": LEDGER}
    return _from_workbook(p, _widened(layouts[layout_of(p)], facts), kind)
