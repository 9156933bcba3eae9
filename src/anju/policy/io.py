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
* ``flats`` (optional): the selected resettlement flats: household, code, area, building, floor, type,
  price (元/㎡), purchase_total (元)

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
from anju.policy.swap import SwapSettlement
from anju.policy.workbooks import HouseholdsFileError, read_households_file

__all__ = ["HouseholdsFileError", "read_households", "write_results"]


def read_households(
    path: str | Path,
    *,
    kind: ProjectKind = ProjectKind.STATE_LAND,
    facts: Mapping[str, FactDecl] | None = None,
) -> list[Household]:
    """Household facts from a workbook or CSV files: this layout (see the module docstring), the census
    template (入户调查表) or the ledger export (台账); see :mod:`anju.policy.workbooks`.

    Raises :class:`~anju.policy.workbooks.HouseholdsFileError` naming file, sheet, row and column.
    """
    return read_households_file(path, kind=kind, facts=facts)


def write_results(
    path: str | Path,
    results: dict[str, BulkResult],
    households: list[Household],
    settlements: Mapping[str, SwapSettlement | str] | None = None,
) -> None:
    """Write one sheet per option: one row per household, one column per item, the subtotals (never
    part of the total), then the total (元)."""
    import xlsxwriter

    # text stays text: no formulas, links or numbers made from strings (household codes, names)
    wb = xlsxwriter.Workbook(
        str(path), {"strings_to_formulas": False, "strings_to_urls": False, "strings_to_numbers": False}
    )
    money = wb.add_format({"num_format": "#,##0.00"})
    head = wb.add_format({"bold": True, "text_wrap": True})
    for option, res in results.items():
        ws = wb.add_worksheet(option)
        subs = list(res.subtotals)
        cols = [
            "户号 code",
            "片区 block",
            *[f"{res.labels[i]} {i}" for i in res.item_ids],
            *[f"{res.subtotal_labels.get(s, s)} {s}" for s in subs],
            "合计 total",
        ]
        for j, c in enumerate(cols):
            ws.write_string(0, j, c, head)
        total = res.total
        for r, h in enumerate(households, start=1):
            ws.write_string(r, 0, h.code)
            ws.write_string(r, 1, "/".join(h.block_path))
            for j, i in enumerate(res.item_ids, start=2):
                ws.write_number(r, j, _yuan(int(res.fen[i][r - 1])), money)
            for j, sid in enumerate(subs, start=2 + len(res.item_ids)):
                ws.write_number(r, j, _yuan(int(res.subtotals[sid][r - 1])), money)
            ws.write_number(r, len(cols) - 1, _yuan(int(total[r - 1])), money)
        ws.set_column(0, 1, 14)
        ws.set_column(2, len(cols) - 1, 16)
        ws.freeze_panes(1, 2)
    if settlements:
        ws = wb.add_worksheet("settlement")
        cols = [
            "户号 code",
            "应安置面积 entitled ㎡",
            "所选面积 selected ㎡",
            "补偿款 credit",
            "购房款 flats cost",
            "退还 refund",
            "差价 balance（正数该户补交）",
            "说明 note",
        ]
        for j, c in enumerate(cols):
            ws.write_string(0, j, c, head)
        for r, (code, s) in enumerate(settlements.items(), start=1):
            ws.write_string(r, 0, code)
            if isinstance(s, str):
                ws.write_string(r, 7, s)
                continue
            ws.write_string(r, 1, str(s.entitled_area))
            ws.write_string(r, 2, str(s.selected_area))
            for j, fen in enumerate((s.credit_fen, s.flats_cost_fen, s.refund_fen, s.balance_fen), start=3):
                ws.write_number(r, j, _yuan(fen), money)
            ws.write_string(r, 7, "；".join(s.notes))
        ws.set_column(0, 7, 16)
    try:
        wb.close()
    except xlsxwriter.exceptions.FileCreateError as exc:  # a missing folder, a directory, no permission
        cause = exc.args[0] if exc.args and isinstance(exc.args[0], OSError) else OSError(str(exc))
        raise cause from exc


def _yuan(fen: int) -> Decimal:
    # XlsxWriter stores numbers as IEEE doubles; any fen amount below 2**53 fen survives exactly
    # to the fen when shown with two decimals.
    return fen_to_yuan(fen)
