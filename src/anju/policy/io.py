"""Reading household facts from spreadsheets (python-calamine) and writing results (XlsxWriter).

Layout (the same columns in an .xlsx workbook or in CSV files):

* ``households`` (sheet, or ``NAME.csv``): code, block_code, block_chain (``片区/村``), kind,
  sign_on, vacate_on, flags (comma separated), homestead_area, homestead_approved_year
* ``members`` (sheet, or ``NAME_members.csv``): household, name, relation, dibao, disability_grade,
  serious_illness, martyr_family, shidu, only_child, youfu, resettlement_counted
* ``buildings`` (sheet, or ``NAME_buildings.csv``): household, certificate_no, structure, use, floors,
  built_year, legal_area, unregistered_area, unregistered_determination, assessed_unit_price,
  assessed_value, decoration, fixtures (money in yuan)
* ``tenants`` (optional): household, name, kind, area, business
"""

from __future__ import annotations

import csv
from decimal import Decimal
from pathlib import Path
from typing import Any

from anju.core.money import fen_to_yuan
from anju.policy.bulk import BulkResult
from anju.policy.facts import Household, household_from_dict

SHEETS = ("households", "members", "buildings", "tenants")


def _cell(v: Any) -> Any:
    if isinstance(v, float):
        # Spreadsheet numbers arrive as binary floats; their shortest repr is the typed decimal.
        if v == int(v):
            return str(int(v))
        return repr(v)
    return v


def _rows_from_sheet(sheet: list[list[Any]]) -> list[dict[str, Any]]:
    if not sheet:
        return []
    head = [str(h).strip() for h in sheet[0]]
    out = []
    for row in sheet[1:]:
        if all(c in ("", None) for c in row):
            continue
        out.append({h: _cell(c) for h, c in zip(head, row, strict=False) if h})
    return out


def read_tables(path: str | Path) -> dict[str, list[dict[str, Any]]]:
    """The four tables of a households file, as lists of row mappings."""
    p = Path(path)
    tables: dict[str, list[dict[str, Any]]] = {k: [] for k in SHEETS}
    if p.suffix.lower() in (".xlsx", ".xls", ".ods"):
        from python_calamine import CalamineWorkbook

        wb = CalamineWorkbook.from_path(str(p))
        names = wb.sheet_names
        for k in SHEETS:
            if k in names:
                tables[k] = _rows_from_sheet(wb.get_sheet_by_name(k).to_python())
        if not tables["households"] and names:
            tables["households"] = _rows_from_sheet(wb.get_sheet_by_index(0).to_python())
        return tables
    for k in SHEETS:
        f = p if k == "households" else p.with_name(f"{p.stem}_{k}{p.suffix}")
        if f.exists():
            with f.open(encoding="utf-8-sig", newline="") as fh:
                tables[k] = [dict(r) for r in csv.DictReader(fh)]
    return tables


def read_households(path: str | Path) -> list[Household]:
    """Household facts from an .xlsx workbook or a set of CSV files (see the module docstring)."""
    t = read_tables(path)
    by_code: dict[str, dict[str, Any]] = {}
    for r in t["households"]:
        d = dict(r)
        if d.get("homestead_area") not in (None, ""):
            d["homestead"] = {"area": d.get("homestead_area"), "approved_year": d.get("homestead_approved_year")}
        d["members"], d["buildings"], d["tenants"] = [], [], []
        by_code[str(d["code"])] = d
    for k in ("members", "buildings", "tenants"):
        for r in t[k]:
            code = str(r.get("household", ""))
            if code not in by_code:
                raise ValueError(f"{k} 表中的户号“{code}”在 households 表中不存在 / unknown household {code!r} in {k}")
            by_code[code][k].append(r)
    return [household_from_dict(d) for d in by_code.values()]


def write_results(path: str | Path, results: dict[str, BulkResult], households: list[Household]) -> None:
    """Write one sheet per option: one row per household, one column per item, then the total (元)."""
    import xlsxwriter

    # text stays text: no formulas, links or numbers made from strings (household codes, names)
    wb = xlsxwriter.Workbook(
        str(path), {"strings_to_formulas": False, "strings_to_urls": False, "strings_to_numbers": False}
    )
    money = wb.add_format({"num_format": "#,##0.00"})
    head = wb.add_format({"bold": True, "text_wrap": True})
    for option, res in results.items():
        ws = wb.add_worksheet(option)
        cols = ["户号 code", "片区 block", *[f"{res.labels[i]} {i}" for i in res.item_ids], "合计 total"]
        for j, c in enumerate(cols):
            ws.write_string(0, j, c, head)
        total = res.total
        for r, h in enumerate(households, start=1):
            ws.write_string(r, 0, h.code)
            ws.write_string(r, 1, "/".join(h.block_path))
            for j, i in enumerate(res.item_ids, start=2):
                ws.write_number(r, j, _yuan(int(res.fen[i][r - 1])), money)
            ws.write_number(r, len(cols) - 1, _yuan(int(total[r - 1])), money)
        ws.set_column(0, 1, 14)
        ws.set_column(2, len(cols) - 1, 16)
        ws.freeze_panes(1, 2)
    wb.close()


def _yuan(fen: int) -> Decimal:
    # XlsxWriter stores numbers as IEEE doubles; any fen amount below 2**53 fen survives exactly
    # to the fen when shown with two decimals.
    return fen_to_yuan(fen)
