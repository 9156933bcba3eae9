"""The editable DOCX template of the dispatch report (docxtpl / Jinja tags inside a Word file).

No binary is kept in the repository: :func:`build_template` writes the built-in template with
python-docx (cached under ``<data_dir>/cache/``, one file per :data:`TEMPLATE_VERSION`). An office
that wants its own layout (letterhead, fonts, wording, order of sections) writes a copy with
``anju dispatch template -o FILE``, edits it in Word or WPS, and puts it at
``<data_dir>/templates/dispatch_report.docx``: from then on every download uses it; removing it
brings back the built-in one.

The data the tags read is :func:`anju.reporting.rules.document` (all text): ``title``, ``project``,
``report_on_text``, ``status_label``, ``headline.*``, ``records``, ``blocks``, ``teams``,
``stalled``, ``overdue``, ``concerns``, ``commentary`` (paragraphs), ``issued_by``, ``issued_at``,
``numbers_sha256``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from anju.config import get_settings

TEMPLATE_NAME = "dispatch_report.docx"
BODY_FONT = "宋体"
HEADING_FONT = "黑体"


TEMPLATE_VERSION = 2  # raise when the built-in layout changes, so that caches are rebuilt


def custom_template_path() -> Path:
    """Where an office's own template goes."""
    return get_settings().data_dir / "templates" / TEMPLATE_NAME


def template_path() -> Path:
    """The template in use: the office's own when present, else the built-in one (built on first use)."""
    custom = custom_template_path()
    if custom.is_file():
        return custom
    built = get_settings().data_dir / "cache" / f"dispatch_report-v{TEMPLATE_VERSION}.docx"
    if not built.is_file():
        built.parent.mkdir(parents=True, exist_ok=True)
        tmp = built.with_suffix(f".{os.getpid()}.tmp")
        build_template(tmp)
        os.replace(tmp, built)
    return built


def _east_asian(run_or_style: Any, name: str) -> None:
    """Set the East Asian font too (python-docx sets only the Latin one)."""
    from docx.oxml.ns import qn

    rpr = run_or_style.element.get_or_add_rPr()
    fonts = rpr.find(qn("w:rFonts"))
    if fonts is None:
        fonts = rpr.makeelement(qn("w:rFonts"), {})
        rpr.append(fonts)
    fonts.set(qn("w:eastAsia"), name)


def _table(
    doc: Any, headers: list[str], loop: str, cells: list[str], widths: list[float] | None = None
) -> None:
    """A table: a header row, then one row per item (docxtpl ``{%tr for ... %}`` rows)."""
    from docx.shared import Cm

    table = doc.add_table(rows=4, cols=len(headers))
    table.style = "Table Grid"
    for i, h in enumerate(headers):
        cell = table.rows[0].cells[i]
        cell.text = ""
        run = cell.paragraphs[0].add_run(h)
        run.bold = True
    table.rows[1].cells[0].text = "{%tr for " + loop + " %}"
    for i, c in enumerate(cells):
        table.rows[2].cells[i].text = c
    table.rows[3].cells[0].text = "{%tr endfor %}"
    if widths:
        for row in table.rows:
            for i, w in enumerate(widths):
                row.cells[i].width = Cm(w)


def build_template(path: Path) -> None:
    """Write the built-in template to ``path``."""
    from docx import Document
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.shared import Cm, Pt

    doc = Document()
    section = doc.sections[0]
    section.page_width, section.page_height = Cm(21.0), Cm(29.7)
    section.left_margin = section.right_margin = Cm(2.2)
    section.top_margin = section.bottom_margin = Cm(2.0)
    normal = doc.styles["Normal"]
    normal.font.name = BODY_FONT
    normal.font.size = Pt(11)
    _east_asian(normal, BODY_FONT)
    for level in (1, 2):
        style = doc.styles[f"Heading {level}"]
        style.font.name = HEADING_FONT
        _east_asian(style, HEADING_FONT)

    title = doc.add_paragraph()
    title.alignment = WD_ALIGN_PARAGRAPH.CENTER
    run = title.add_run("{{ title }}")
    run.bold = True
    run.font.size = Pt(18)
    _east_asian(run, HEADING_FONT)
    sub = doc.add_paragraph("{{ project }} · 通报日期 {{ report_on_text }} · {{ status_label }}")
    sub.alignment = WD_ALIGN_PARAGRAPH.CENTER

    doc.add_heading("一、总体进度", level=2)
    doc.add_paragraph(
        "截至{{ report_on_text }}，项目共 {{ headline.households }} 户，已签约 {{ headline.signed }} 户，"
        "签约率 {{ headline.sign_rate }}；当日签约 {{ headline.signed_on_day }} 户，"
        "前一日 {{ headline.signed_prev_day }} 户（{{ headline.signed_change }}）。"
    )
    doc.add_paragraph(
        "已腾空 {{ headline.vacated }} 户（{{ headline.vacate_rate }}），已拆除 {{ headline.demolished }} 户"
        "（{{ headline.demolish_rate }}），已付款 {{ headline.paid }} 户（{{ headline.pay_rate }}）。"
    )
    doc.add_paragraph(
        "攻坚第 {{ headline.days_since_launch }} 天。倒排计划：签约目标 {{ headline.target }} 户，"
        "距截止日 {{ headline.deadline_on }} 还有 {{ headline.days_left }} 天，尚余 {{ headline.remaining }} 户未签约，"
        "每日需签约 {{ headline.need_per_day }} 户；近 7 日实际每日 {{ headline.actual_per_day }} 户"
        "（{{ headline.on_track }}）。"
    )
    doc.add_paragraph(
        "纪录：最后一户签约于 {{ records.last_signed_at }}{% if records.completed_blocks %}；已全部签约的片区："
        "{% for b in records.completed_blocks %}{{ b.name }}（{{ b.completed_on }}，第 {{ b.days }} 天）"
        "{% if not loop.last %}、{% endif %}{% endfor %}{% endif %}。"
    )

    doc.add_heading("二、各片区进度", level=2)
    _table(
        doc,
        ["片区", "户数", "已签约", "签约率", "当日签约", "已腾空", "已拆除", "已付款"],
        "b in blocks",
        [
            "{{ b.label }}",
            "{{ b.households }}",
            "{{ b.signed }}",
            "{{ b.sign_rate }}",
            "{{ b.signed_on_day }}",
            "{{ b.vacated }}",
            "{{ b.demolished }}",
            "{{ b.paid }}",
        ],
    )

    doc.add_heading("三、专班排名（亮榜）", level=2)
    _table(
        doc,
        ["级别", "名次", "专班", "包户数", "已签约", "签约率", "当日签约", "近7日签约"],
        "t in teams",
        [
            "{{ t.level }}",
            "{{ t.rank }}",
            "{{ t.name }}",
            "{{ t.households }}",
            "{{ t.signed }}",
            "{{ t.sign_rate }}",
            "{{ t.signed_on_day }}",
            "{{ t.signed_last7 }}",
        ],
    )

    doc.add_heading("四、久未走访户", level=2)
    doc.add_paragraph(
        "{{ stalled.days }} 天以上未走访的共 {{ stalled.total }} 户，列出 {{ stalled.shown }} 户："
    )
    _table(
        doc,
        ["户号", "户主", "专班", "包户责任人", "未走访"],
        "s in stalled['items']",
        ["{{ s.code }}", "{{ s.head_name }}", "{{ s.team }}", "{{ s.person }}", "{{ s.days }}"],
    )

    doc.add_heading("五、逾期未办事项", level=2)
    doc.add_paragraph("逾期的下一步工作共 {{ overdue.total }} 项，列出 {{ overdue.shown }} 项：")
    _table(
        doc,
        ["户号", "户主", "专班", "责任人", "事项", "期限", "逾期"],
        "o in overdue['items']",
        [
            "{{ o.code }}",
            "{{ o.head_name }}",
            "{{ o.team }}",
            "{{ o.person }}",
            "{{ o.step }}",
            "{{ o.due_on }}",
            "{{ o.days }}",
        ],
    )

    doc.add_heading("六、群众诉求", level=2)
    doc.add_paragraph(
        "{% for c in concerns %}{{ c.label }} {{ c.visits }} 次（{{ c.households }} 户）"
        "{% if not loop.last %}；{% endif %}{% else %}（无）{% endfor %}"
    )

    doc.add_heading("七、指挥长讲评", level=2)
    doc.add_paragraph("{%p for para in commentary %}")
    doc.add_paragraph("{{ para }}")
    doc.add_paragraph("{%p endfor %}")

    foot = doc.add_paragraph(
        "{% if issued_by %}签发人：{{ issued_by }}　签发时间：{{ issued_at }}　{% endif %}数据指纹：{{ numbers_sha256[:16] }}"
    )
    for r in foot.runs:
        r.font.size = Pt(8)
    doc.save(str(path))
