"""Census import part: the template workbook (and workbooks of given rows) with a 填写说明 sheet."""

from __future__ import annotations

import io
from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any, BinaryIO

from anju.household.census.policy_facts import fact_columns
from anju.household.census.spec import NOTES_SHEET, SHEETS, SheetSpec
from anju.policy.declared import FactDecl

__all__ = [
    "template_bytes",
    "write_workbook",
]


def _display_width(text: str) -> float:
    return sum(2.1 if ord(ch) > 0x2E80 else 1.1 for ch in text) + 2


def write_workbook(
    target: Path | BinaryIO,
    rows: Mapping[str, Iterable[Mapping[str, Any]]] | None = None,
    *,
    validation_rows: int = 5000,
    policy_facts: Mapping[str, FactDecl] | None = None,
) -> None:
    """Write the census template (with ``rows`` of data keyed by field name, if given).

    Formatted headers (required ones red with ``*``), a comment on each header, dropdowns for
    every closed vocabulary, frozen header row and key column, Chinese widths, text-formatted
    identity and code columns, and a 填写说明 sheet. Data is streamed (constant memory).
    ``policy_facts``: the facts the project's policy declares, as columns of the 户 sheet.
    """
    sheets = _sheets(policy_facts)
    import xlsxwriter

    # text stays text (no formulas, links or numbers made from strings), as in the ledger
    wb = xlsxwriter.Workbook(
        target,
        {
            "constant_memory": True,
            "strings_to_numbers": False,
            "strings_to_formulas": False,
            "strings_to_urls": False,
        },
    )
    head = wb.add_format(
        {
            "bold": True,
            "bg_color": "#F2DCDB",
            "border": 1,
            "align": "center",
            "valign": "vcenter",
            "text_wrap": True,
        }
    )
    head_req = wb.add_format(
        {
            "bold": True,
            "bg_color": "#F2DCDB",
            "border": 1,
            "align": "center",
            "valign": "vcenter",
            "text_wrap": True,
            "font_color": "#C00000",
        }
    )
    text_fmt = wb.add_format({"num_format": "@"})
    rows = rows or {}
    for spec in sheets:
        ws = wb.add_worksheet(spec.title)
        ws.set_row(0, 30)
        for j, col in enumerate(spec.columns):
            width = max(col.width, _display_width(col.header))
            ws.set_column(j, j, width, text_fmt if col.text else None)
            label = col.header + ("*" if col.field.required else "")
            ws.write_string(0, j, label, head_req if col.field.required else head)
            note = col.note or ("必填" if col.field.required else "")
            if col.choices:
                note = (note + "；" if note else "") + "可选：" + "、".join(col.choices)
            if note:
                ws.write_comment(0, j, note, {"x_scale": 1.6})
            if col.choices:
                ws.data_validation(
                    1,
                    j,
                    validation_rows,
                    j,
                    {
                        "validate": "list",
                        "source": list(col.choices),
                        "error_title": "输入有误",
                        "error_message": "请从下拉列表中选择：" + "、".join(col.choices),
                        "error_type": "warning",
                    },
                )
        ws.freeze_panes(1, 1)
        r = 1
        names = [c.field.name for c in spec.columns]
        text_cols = {i for i, c in enumerate(spec.columns) if c.text}
        for data in rows.get(spec.key, ()):
            for j, name in enumerate(names):
                v = data.get(name)
                if v is None or v == "":
                    continue
                if j in text_cols or isinstance(v, str):
                    ws.write_string(r, j, str(v))
                elif isinstance(v, bool):
                    ws.write_string(r, j, "是" if v else "否")
                elif isinstance(v, int | Decimal):
                    ws.write_number(r, j, v)
                elif isinstance(v, date):
                    ws.write_string(r, j, v.isoformat())
                else:
                    ws.write(r, j, v)
            r += 1
        if r > 1:
            ws.autofilter(0, 0, r - 1, len(spec.columns) - 1)
    notes = wb.add_worksheet(NOTES_SHEET)
    notes.set_column(0, 0, 10)
    notes.set_column(1, 1, 20)
    notes.set_column(2, 2, 8)
    notes.set_column(3, 3, 70)
    title = wb.add_format({"bold": True, "font_size": 14})
    notes.write_string(0, 0, "入户调查表填写说明", title)
    lines = [
        "1. 每个工作表第一行为表头，请勿修改表头文字；红色带 * 的列必填。",
        "2. “成员”“房屋”“承租人”“宅基地”“评估”各表通过“户号”与“户”表关联。",
        "3. 身份证号、电话、户号、证号请以文本格式填写，避免末位丢失。",
        "4. 面积单位为平方米，金额单位为元，最多两位小数；日期格式 YYYY-MM-DD。",
        "5. 导入时逐行逐格校验，任何一处有误则整份文件不导入，并列出每处错误的表、行、列。",
        "6. 也可只导入 CSV 文件（仅含“户”表各列，UTF-8 或 GB18030 编码）。",
    ]
    for i, line in enumerate(lines):
        notes.write_string(i + 1, 0, line)
    r = len(lines) + 2
    notes.write_row(r, 0, ["工作表", "列", "必填", "说明"], head)
    r += 1
    for spec in sheets:
        for col in spec.columns:
            explain = col.note
            if col.choices:
                explain = (explain + "；" if explain else "") + "可选：" + "、".join(col.choices)
            notes.write_row(r, 0, [spec.title, col.header, "是" if col.field.required else "", explain])
            r += 1
    wb.close()


def _sheets(policy_facts: Mapping[str, FactDecl] | None) -> tuple[SheetSpec, ...]:
    if not policy_facts:
        return SHEETS
    level = {"households": "household", "buildings": "building", "members": "member"}
    return tuple(
        replace(s, columns=s.columns + fact_columns(policy_facts, level[s.key])) if s.key in level else s
        for s in SHEETS
    )


def template_bytes(policy_facts: Mapping[str, FactDecl] | None = None) -> bytes:
    """The empty census template as xlsx bytes (with the columns of the policy's declared facts)."""
    buf = io.BytesIO()
    write_workbook(buf, policy_facts=policy_facts)
    return buf.getvalue()
