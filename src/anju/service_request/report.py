"""The monthly report of the five-order loop (诉求办理月报): the month's indicators by community,
grid and department with a short text, as DOCX (docxtpl over a template built with python-docx)
and PDF (typst). Computed each time from the history; nothing is stored."""

from __future__ import annotations

import io
import os
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from anju.config import get_settings
from anju.core import typst_pdf
from anju.core.dates import to_shanghai
from anju.service_request import indicators as ind

__all__ = ["document", "docx", "pdf"]

TYPST_TEMPLATE = (
    Path(__file__).resolve().parent.parent / "templates" / "service_request" / "monthly_report.typ"
)
TEMPLATE_VERSION = 1
SECTIONS = (("community", "二、各社区"), ("grid", "三、各网格"), ("department", "四、各部门"))


def _pct(value: Decimal | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def _num(value: Decimal | None) -> str:
    return "—" if value is None else str(value)


def _row(r: ind.Row) -> dict[str, str]:
    return {
        "name": r.name,
        "received": str(r.received),
        "accepted": str(r.accepted),
        "closed": str(r.closed),
        "due": str(r.due),
        "closure_rate": _pct(r.closure_rate),
        "on_time_rate": _pct(r.on_time_rate),
        "reopen_rate": _pct(r.reopen_rate),
        "postpone_rate": _pct(r.postpone_rate),
        "mean_rating": _num(r.mean_rating),
        "satisfied_share": _pct(r.satisfied_share),
        "avg_hours": _num(r.avg_handling_hours),
    }


def document(db: Session, *, month: str, now: datetime) -> dict[str, Any]:
    """The report's printed text: title, summary paragraphs and one table per grouping."""
    year, mon = (int(x) for x in ind.parse_month(month).split("-"))
    tables = {}
    total: ind.Row | None = None
    for group, _ in SECTIONS:
        result = ind.indicators(db, group=group, month=month)
        tables[group] = [_row(r) for r in result.rows] + [_row(result.total)]
        total = result.total
    assert total is not None
    t = total
    summary = [
        f"{year} 年 {mon} 月共受理居民诉求 {t.received} 件（立案派遣 {t.accepted} 件），办结 {t.closed} 件。"
        f"本月应结案 {t.due} 件，已结案 {t.due_closed} 件，结案率 {_pct(t.closure_rate)}；"
        f"按期结案 {t.due_on_time} 件，按期结案率 {_pct(t.on_time_rate)}。",
        f"返工（验单未通过重新办理）{t.reopened} 件，返工率 {_pct(t.reopen_rate)}；"
        f"经批准延期 {t.postponed} 件，延期率 {_pct(t.postpone_rate)}。",
        f"居民评价 {t.rated} 件，平均 {_num(t.mean_rating)} 分，满意率 {_pct(t.satisfied_share)}；"
        f"办结诉求平均用时 {_num(t.avg_handling_hours)} 小时。",
    ]
    return {
        "title": f"{year} 年 {mon} 月居民诉求办理情况月报",
        "month": month,
        "month_text": f"{year} 年 {mon} 月",
        "generated_at": to_shanghai(now).strftime("%Y-%m-%d %H:%M"),
        "summary": summary,
        "sections": [{"title": title, "rows": tables[group]} for group, title in SECTIONS],
        "note": "结案率 = 已结案 ÷ 应结案（截止日在本月的诉求，不含不予受理与合并）；按期结案率 = 截止日前结案 ÷ 应结案；"
        "返工率 = 本月返工 ÷ 本月办结；延期率 = 经批准延期 ÷ 应结案；满意 = 4 分及以上。均由办理记录自动计算。",
    }


def pdf(db: Session, *, month: str, now: datetime) -> bytes:
    """The report as PDF (typst)."""
    return typst_pdf.render_pdf(TYPST_TEMPLATE, document(db, month=month, now=now))


HEADERS = [
    "名称",
    "受理",
    "立案",
    "办结",
    "应结案",
    "结案率",
    "按期结案率",
    "返工率",
    "延期率",
    "平均评分",
    "满意率",
    "平均用时(时)",
]
CELLS = ["name", "received", "accepted", "closed", "due", "closure_rate", "on_time_rate", "reopen_rate",
         "postpone_rate", "mean_rating", "satisfied_share", "avg_hours"]  # fmt: skip


def _template_path() -> Path:
    built = get_settings().data_dir / "cache" / f"request_monthly_report-v{TEMPLATE_VERSION}.docx"
    if not built.is_file():
        built.parent.mkdir(parents=True, exist_ok=True)
        tmp = built.with_suffix(f".{os.getpid()}.tmp")
        _build_template(tmp)
        os.replace(tmp, built)
    return built


def _east_asian(run_or_style: Any, name: str) -> None:
    from docx.oxml.ns import qn

    rpr = run_or_style.element.get_or_add_rPr()
    fonts = rpr.find(qn("w:rFonts"))
    if fonts is None:
        fonts = rpr.makeelement(qn("w:rFonts"), {})
        rpr.append(fonts)
    fonts.set(qn("w:eastAsia"), name)


def _build_template(path: Path) -> None:
    """The built-in DOCX template: docxtpl tags in a Word file written with python-docx."""
    from docx import Document
    from docx.enum.section import WD_ORIENT
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.shared import Cm, Pt

    doc = Document()
    section = doc.sections[0]
    section.orientation = WD_ORIENT.LANDSCAPE
    section.page_width, section.page_height = Cm(29.7), Cm(21.0)
    section.left_margin = section.right_margin = Cm(1.8)
    normal = doc.styles["Normal"]
    normal.font.name = "宋体"
    normal.font.size = Pt(10.5)
    _east_asian(normal, "宋体")
    title = doc.add_paragraph()
    title.alignment = WD_ALIGN_PARAGRAPH.CENTER
    run = title.add_run("{{ title }}")
    run.bold = True
    run.font.size = Pt(18)
    _east_asian(run, "黑体")
    doc.add_paragraph("生成时间 {{ generated_at }}").alignment = WD_ALIGN_PARAGRAPH.CENTER
    doc.add_heading("一、总体情况", level=2)
    doc.add_paragraph("{% for p in summary %}{{ p }}{% if not loop.last %}\n{% endif %}{% endfor %}")
    doc.add_paragraph("{%p for s in sections %}")
    doc.add_paragraph("{{ s.title }}")
    table = doc.add_table(rows=4, cols=len(HEADERS))
    table.style = "Table Grid"
    for i, h in enumerate(HEADERS):
        table.rows[0].cells[i].paragraphs[0].add_run(h).bold = True
    table.rows[1].cells[0].text = "{%tr for r in s.rows %}"
    for i, c in enumerate(CELLS):
        table.rows[2].cells[i].text = "{{ r." + c + " }}"
    table.rows[3].cells[0].text = "{%tr endfor %}"
    doc.add_paragraph("{%p endfor %}")
    doc.add_paragraph("说明：{{ note }}")
    doc.save(str(path))


def docx(db: Session, *, month: str, now: datetime) -> bytes:
    """The report as DOCX (docxtpl)."""
    from docxtpl import DocxTemplate

    template = DocxTemplate(str(_template_path()))
    template.render(document(db, month=month, now=now), autoescape=True)
    out = io.BytesIO()
    template.save(out)
    return out.getvalue()
