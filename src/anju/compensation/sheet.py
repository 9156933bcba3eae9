"""The household calculation sheet (算账单): data for the page and the PDF rendered with typst."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from anju.compensation.models import PolicyVersion
from anju.core import typst_pdf
from anju.core.dates import to_shanghai, today_shanghai, utcnow
from anju.core.money import format_yuan, to_chinese_capital
from anju.household.service import HouseholdFile
from anju.policy.check import Checked
from anju.policy.scalar import Result, SubtotalResult, subtotals_after

TYPST_TEMPLATE = Path(__file__).resolve().parent.parent / "templates" / "compensation" / "sheet.typ"


@dataclass(frozen=True, slots=True)
class SheetLine:
    """One item of the sheet as people read it."""

    id: str
    label: str
    applies: bool
    amount: str
    formula: str
    steps: list[dict[str, str]]
    notes: list[str]
    certificates: list[dict[str, str]]
    ref: str
    basis: list[str]


def sheet_data(
    *, pv: PolicyVersion, checked: Checked, file: HouseholdFile, project_name: str, result: Result
) -> dict[str, Any]:
    """Everything the calculation sheet shows, as plain JSON-able data."""
    options = checked.policy.options
    lines = [
        SheetLine(
            id=i.id,
            label=i.label,
            applies=i.applies,
            amount=format_yuan(i.amount_fen),
            formula=i.formula,
            steps=[{"text": s.text, "value": s.value, "note": s.note} for s in i.steps],
            notes=list(i.notes),
            certificates=[
                {"no": c.certificate_no, "amount": format_yuan(c.amount_fen), "notes": "；".join(c.notes)}
                for c in i.certificates
                if c.applies
            ],
            ref=i.ref,
            basis=list(i.basis),
        )
        for i in result.items
    ]
    h = file.household
    after = subtotals_after([i.id for i in result.items], result.subtotals)
    items = [_line_dict(line) for line in lines]
    for it in items:
        it["subtotals_after"] = [subtotal_dict(st) for st in after.get(it["id"], [])]
    return {
        "title": "征收补偿计算单",
        "project": project_name,
        "policy": {
            "name": pv.name,
            "version": pv.version,
            "legal_ref": pv.legal_ref,
            "hash": pv.content_hash[:16],
        },
        "household": {"code": h.code, "head": h.head_name, "address": h.address, "block": file.block_path},
        "facts": {
            "members": str(file.totals["members"]),
            "resettlement": str(file.totals["resettlement_members"]),
            "legal_area": f"{file.totals['legal_area']:,.2f}",
            "unregistered_area": f"{file.totals['unregistered_area']:,.2f}",
        },
        "option": options.get(result.option, result.option),
        "as_of": result.as_of.isoformat(),
        "items": items,
        "subtotals": [subtotal_dict(st) for st in result.subtotals],
        "total": format_yuan(result.total_fen),
        "total_capital": to_chinese_capital(result.total_fen),
        "warnings": list(result.warnings),
        "generated_at": to_shanghai(utcnow()).strftime("%Y-%m-%d %H:%M"),
        "today": today_shanghai().isoformat(),
    }


def subtotal_dict(st: SubtotalResult) -> dict[str, Any]:
    """A subtotal line of the sheet (小计 / 合计): shown after its last item, never in the total."""
    return {"id": st.id, "label": st.label, "amount": format_yuan(st.amount_fen), "basis": list(st.basis)}


def _line_dict(line: SheetLine) -> dict[str, Any]:
    return {
        "id": line.id,
        "label": line.label,
        "applies": line.applies,
        "amount": line.amount,
        "formula": line.formula,
        "steps": line.steps,
        "notes": line.notes,
        "certificates": line.certificates,
        "ref": line.ref,
        "basis": line.basis,
    }


def render_pdf(data: dict[str, Any]) -> bytes:
    """The calculation sheet as PDF (typst, CJK font)."""
    return typst_pdf.render_pdf(TYPST_TEMPLATE, data)
