"""Reading household facts from spreadsheets (python-calamine) and writing results (XlsxWriter).

Layout (the same columns in an .xlsx workbook or in CSV files):

* ``households`` (sheet, or ``NAME.csv``): code, block_code, block_chain (``片区/村``), kind,
  sign_on, vacate_on, agreement_effective_on, delivery_planned_on, delivery_actual_on, move_back_on,
  flags (comma separated), homestead_area, homestead_approved_year
* ``members`` (sheet, or ``NAME_members.csv``): household, name, relation, dibao, disability_grade,
  serious_illness, martyr_family, shidu, only_child, youfu, resettlement_counted
* ``buildings`` (sheet, or ``NAME_buildings.csv``): household, certificate_no, structure, use, floors,
  built_year, legal_area, unregistered_area, unregistered_determination, assessed_unit_price,
  assessed_value, decoration, fixtures (money in yuan)
* ``tenants`` (optional): household, name, kind, area, business

The census template (入户调查表: sheets 户, 成员, 房屋, ...) and the ledger export (台账: sheets 台账,
家庭成员, 房屋) are read too, by their Chinese headers (:mod:`anju.policy.workbooks`).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path

from anju.core.money import fen_to_yuan
from anju.policy.bulk import BulkResult
from anju.policy.declared import FactDecl
from anju.policy.facts import Household, ProjectKind
from anju.policy.workbooks import HouseholdsFileError, read_households_file

__all__ = ["HouseholdsFileError", "read_households", "write_results"]


def read_households(
    path: str | Path, *, kind: ProjectKind = ProjectKind.STATE_LAND, facts: Mapping[str, FactDecl] | None = None
) -> list[Household]:
    """Household facts from a workbook or CSV files: this layout (see the module docstring), the census
    template (入户调查表) or the ledger export (台账); see :mod:`anju.policy.workbooks`.

    Raises :class:`~anju.policy.workbooks.HouseholdsFileError` naming file, sheet, row and column.
    """
    return read_households_file(path, kind=kind, facts=facts)


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
