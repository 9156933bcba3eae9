"""Helpers shared by the signing pages: a calculation as the sheet partial shows it.

The sheet partial (``compensation/_sheet_items.html``) is the compensation calculation sheet's item
table; a live calculation (the desk, before signing) and a frozen snapshot (an agreement) are both
turned into the same plain data here, so a family sees the same sheet before and after signing.
"""

from __future__ import annotations

from dataclasses import asdict, is_dataclass
from datetime import date
from typing import Any

from anju.core.money import format_yuan, to_chinese_capital
from anju.policy.scalar import SubtotalResult, subtotals_after


def sheet_lines(items: list[Any]) -> list[dict[str, Any]]:
    """Items (the engine's ``ItemResult`` objects, or their JSON as a snapshot keeps them) as
    sheet lines: label, applies, amount (yuan text), basis in words, formula, steps, notes, certificates."""
    out = []
    for raw in items:
        it: dict[str, Any] = asdict(raw) if is_dataclass(raw) and not isinstance(raw, type) else dict(raw)
        out.append(
            {
                "id": it.get("id", ""),
                "label": it.get("label", ""),
                "applies": bool(it.get("applies", True)),
                "amount": format_yuan(int(it.get("amount_fen") or 0)),
                "amount_fen": int(it.get("amount_fen") or 0),
                "formula": it.get("formula", ""),
                "steps": [
                    {"text": s.get("text", ""), "value": s.get("value", ""), "note": s.get("note", "")}
                    for s in it.get("steps") or []
                ],
                "notes": list(it.get("notes") or []),
                "certificates": [
                    {
                        "no": c.get("certificate_no", ""),
                        "amount": format_yuan(int(c.get("amount_fen") or 0)),
                        "notes": "；".join(c.get("notes") or []),
                    }
                    for c in it.get("certificates") or []
                    if c.get("applies", True)
                ],
                "ref": it.get("ref", ""),
                "basis": [str(b) for b in it.get("basis") or []],
            }
        )
    return out


def sheet_data(
    *,
    items: list[Any],
    total_fen: int,
    option_label: str,
    as_of: date,
    policy_name: str,
    policy_version: int,
    policy_ref: str = "",
    policy_hash: str = "",
    warnings: list[str] | None = None,
    subtotals: list[SubtotalResult] | None = None,
) -> dict[str, Any]:
    """What the sheet partial shows: the items (each with the subtotal lines that follow it), the
    total and its capital form (大写), the policy."""
    lines = sheet_lines(items)
    after = subtotals_after([str(it["id"]) for it in lines], list(subtotals or []))
    for it in lines:
        it["subtotals_after"] = [
            {"id": st.id, "label": st.label, "amount": format_yuan(st.amount_fen), "basis": list(st.basis)}
            for st in after.get(str(it["id"]), [])
        ]
    return {
        "option": option_label,
        "as_of": as_of.isoformat(),
        "policy": {
            "name": policy_name,
            "version": policy_version,
            "legal_ref": policy_ref,
            "hash": policy_hash[:16],
        },
        "items": lines,
        "total": format_yuan(total_fen),
        "total_fen": total_fen,
        "total_capital": to_chinese_capital(total_fen),
        "warnings": list(warnings or []),
    }
