"""The built-in DOCX templates of the agreements (货币补偿协议, 产权调换协议) and the placeholders
every template may use.

No binary is kept in the repository: :func:`build_template` writes a template with python-docx,
with docxtpl (Jinja) tags in its text. An office downloads it, edits wording, letterhead and
layout in WPS or Word, and uploads it back; the upload is checked against :data:`FIELDS` (see
:mod:`anju.agreement.service.documents`), so a misspelt placeholder is refused with its name
instead of printing an empty line on a legal document.

Every value is text, already formatted (amounts with thousands separators, dates in Chinese):
a template never computes. Lists (``items``, ``instalments``) are looped with docxtpl's table-row
tags: ``{%tr for item in items %}`` ... ``{%tr endfor %}``.
"""

from __future__ import annotations

import io
from functools import lru_cache
from typing import Any

BODY_FONT = "宋体"
HEADING_FONT = "黑体"

# Placeholder -> what it holds. A nested dict is an object (``household.address``); a one-element
# list holds the fields of each element of a list (``{% for item in items %}{{ item.label }}``).
# Keys never shadow a dict method (items, keys, values, get...): Jinja's ``a.b`` tries the attribute
# first.
FIELDS: dict[str, Any] = {
    "title": "协议名称（货币补偿协议 / 产权调换协议）",
    "agreement_no": "协议编号",
    "sign_no": "签约顺序号",
    "sign_on": "签约日期（如 2026年12月5日）",
    "status": "协议状态（已生效 / 待生效 ...）",
    "revision": "协议版本号（签约为 1，每次批准的变更加 1）",
    "option": "安置方式（货币补偿 / 产权调换）",
    "project": {
        "name": "征收项目名称",
        "code": "项目编号",
        "district": "所在街道（乡镇）",
        "decision_no": "征收决定文号",
        "legal_basis": "法律依据",
    },
    "party_a": {"name": "甲方（征收部门）名称"},
    "party_b": {"name": "乙方（被征收人）姓名"},
    "household": {
        "code": "户编号",
        "head_name": "户主姓名",
        "address": "房屋坐落",
        "block": "所属片区",
        "members": "家庭人口（人）",
        "resettlement": "安置人口（人）",
        "legal_area": "合法面积（㎡）",
        "unregistered_area": "未登记面积（㎡）",
        "certificates": "房屋权证号（顿号分隔）",
    },
    "items": [
        {
            "no": "序号",
            "label": "补偿项目",
            "amount": "金额（元）",
            "capital": "金额大写",
            "basis": "计算依据（中文说明，含本户数字；多行以“；”连接）",
            "formula": "计算依据（同 basis，旧模板使用的名称）",
        }
    ],
    "subtotals": [
        {
            "label": "小计名称（如 房屋补偿小计）",
            "amount": "小计金额（元，不另计入补偿总额）",
            "capital": "小计金额大写",
            "items": "小计所含项目（顿号分隔）",
        }
    ],
    "not_applicable": "不适用的补偿项目（顿号分隔，无则为空）",
    "total": "补偿总额（元）",
    "total_capital": "补偿总额大写（如 壹佰万元整）",
    "payment_terms": "付款方式（一段文字）",
    "instalments": [
        {
            "no": "序号",
            "kind": "付款节点（签约后支付 / 腾空验收后支付 ...）",
            "purpose": "用途",
            "amount": "金额（元）",
            "capital": "金额大写",
            "due": "应付日期或条件",
            "status": "状态",
        }
    ],
    "payee": {"name": "收款人", "bank": "开户行", "account": "账号（无权查看个人信息时为部分隐藏）"},
    "condition": "附生效条件（无则为空）",
    "swap_terms": "产权调换的安置房条款（货币补偿为空）",
    "policy": {
        "name": "补偿安置方案名称",
        "version": "方案版本",
        "hash": "方案内容指纹（前 16 位）",
        "legal_ref": "方案依据",
    },
    "as_of": "计算日期",
}

TEMPLATE_VERSION = 1  # raise when the built-in layout changes


def field_names(schema: dict[str, Any] | None = None, prefix: str = "") -> list[tuple[str, str]]:
    """Every placeholder as (``household.address``, description), lists as ``items[].label``."""
    out: list[tuple[str, str]] = []
    for key, value in (schema if schema is not None else FIELDS).items():
        name = prefix + key
        if isinstance(value, dict):
            out += field_names(value, name + ".")
        elif isinstance(value, list):
            out.append((name, "列表，逐行循环：{%tr for x in " + name + " %} … {%tr endfor %}"))
            out += field_names(value[0], name + "[].")
        else:
            out.append((name, str(value)))
    return out


def _east_asian(run_or_style: Any, name: str) -> None:
    """Set the East Asian font too (python-docx sets only the Latin one)."""
    from docx.oxml.ns import qn

    rpr = run_or_style.element.get_or_add_rPr()
    fonts = rpr.find(qn("w:rFonts"))
    if fonts is None:
        fonts = rpr.makeelement(qn("w:rFonts"), {})
        rpr.append(fonts)
    fonts.set(qn("w:eastAsia"), name)


def _loop_table(doc: Any, headers: list[str], loop: str, cells: list[str], widths: list[float]) -> None:
    """A table: a header row, then one row per element (docxtpl ``{%tr for ... %}`` rows)."""
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.shared import Cm

    table = doc.add_table(rows=4, cols=len(headers))
    table.style = "Table Grid"
    for i, h in enumerate(headers):
        cell = table.rows[0].cells[i]
        cell.text = ""
        cell.paragraphs[0].add_run(h).bold = True
    table.rows[1].cells[0].text = "{%tr for " + loop + " %}"
    for i, c in enumerate(cells):
        table.rows[2].cells[i].text = c
        if "amount" in c:
            table.rows[2].cells[i].paragraphs[0].alignment = WD_ALIGN_PARAGRAPH.RIGHT
    table.rows[3].cells[0].text = "{%tr endfor %}"
    for row in table.rows:
        for i, w in enumerate(widths):
            row.cells[i].width = Cm(w)


def _clause(doc: Any, heading: str, *paragraphs: str) -> None:
    p = doc.add_paragraph()
    run = p.add_run(heading)
    run.bold = True
    _east_asian(run, HEADING_FONT)
    for text in paragraphs:
        doc.add_paragraph(text)


def build_template(option: str) -> bytes:
    """The built-in template of ``option`` (cash or swap) as DOCX bytes."""
    from docx import Document
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.shared import Cm, Pt

    doc = Document()
    section = doc.sections[0]
    section.page_width, section.page_height = Cm(21.0), Cm(29.7)
    section.left_margin = section.right_margin = Cm(2.5)
    section.top_margin = section.bottom_margin = Cm(2.2)
    normal = doc.styles["Normal"]
    normal.font.name = BODY_FONT
    normal.font.size = Pt(11)
    _east_asian(normal, BODY_FONT)
    footer = section.footer.paragraphs[0]
    footer.text = "协议编号 {{ agreement_no }} · 方案第 {{ policy.version }} 版（{{ policy.hash }}）"
    footer.alignment = WD_ALIGN_PARAGRAPH.CENTER
    for r in footer.runs:
        r.font.size = Pt(8)

    title = doc.add_paragraph()
    title.alignment = WD_ALIGN_PARAGRAPH.CENTER
    run = title.add_run("{{ project.name }}\n{{ title }}")
    run.bold = True
    run.font.size = Pt(18)
    _east_asian(run, HEADING_FONT)
    no = doc.add_paragraph("协议编号：{{ agreement_no }}　　签约顺序号：第 {{ sign_no }} 号")
    no.alignment = WD_ALIGN_PARAGRAPH.RIGHT

    doc.add_paragraph("甲方（房屋征收部门）：{{ party_a.name }}")
    doc.add_paragraph("乙方（被征收人）：{{ party_b.name }}　　户编号：{{ household.code }}")
    doc.add_paragraph("被征收房屋坐落：{{ household.address }}（{{ household.block }}）")
    doc.add_paragraph(
        "根据{{ project.legal_basis }}、征收决定（{{ project.decision_no }}）和"
        "《{{ policy.name }}》（第 {{ policy.version }} 版），甲乙双方在平等自愿的基础上，"
        "就乙方房屋征收补偿事宜达成如下协议："
    )

    _clause(
        doc,
        "第一条　被征收房屋情况",
        "乙方家庭人口 {{ household.members }} 人（安置人口 {{ household.resettlement }} 人），"
        "房屋权证 {{ household.certificates }}，合法面积 {{ household.legal_area }} ㎡，"
        "未登记面积 {{ household.unregistered_area }} ㎡。",
    )
    _clause(doc, "第二条　补偿安置方式", "乙方选择{{ option }}。")
    if option == "swap":
        doc.add_paragraph("{{ swap_terms }}")
    _clause(doc, "第三条　补偿项目及金额", "按上述方案计算（计算日期 {{ as_of }}），乙方应得补偿如下：")
    _loop_table(
        doc,
        ["序号", "补偿项目", "计算依据", "金额（元）"],
        "item in items",
        ["{{ item.no }}", "{{ item.label }}", "{{ item.basis }}", "{{ item.amount }}"],
        [1.3, 4.0, 7.2, 3.5],
    )
    doc.add_paragraph(
        "{% if not_applicable %}不适用的项目：{{ not_applicable }}。{% endif %}"
        "{% if subtotals %}其中{% for s in subtotals %}{{ s.label }} {{ s.amount }} 元；{% endfor %}"
        "以上小计不另计入总额。{% endif %}"
        "补偿总额人民币 {{ total }} 元（大写：{{ total_capital }}）。"
    )
    _clause(doc, "第四条　付款方式", "{{ payment_terms }}")
    _loop_table(
        doc,
        ["序号", "付款节点", "金额（元）", "应付日期"],
        "p in instalments",
        ["{{ p.no }}", "{{ p.kind }}", "{{ p.amount }}", "{{ p.due }}"],
        [1.3, 6.0, 4.0, 4.7],
    )
    doc.add_paragraph("收款人：{{ payee.name }}　开户行：{{ payee.bank }}　账号：{{ payee.account }}")
    _clause(
        doc,
        "第五条　搬迁与交验",
        "乙方应在约定期限内腾空房屋并交甲方验收；腾空验收后支付的款项在验收合格后支付。",
    )
    doc.add_paragraph("{%p if condition %}")
    _clause(doc, "第六条　生效条件", "{{ condition }}")
    doc.add_paragraph("{%p endif %}")
    _clause(
        doc,
        "{% if condition %}第七条{% else %}第六条{% endif %}　其他",
        "本协议未尽事宜，按上述方案及有关法律法规执行。本协议一式四份，甲方三份，乙方一份，"
        "{% if condition %}自生效条件成就之日起生效{% else %}自双方签字（盖章）之日起生效{% endif %}。",
    )

    doc.add_paragraph("")
    sign = doc.add_table(rows=4, cols=2)
    rows = [
        ("甲方（盖章）：{{ party_a.name }}", "乙方（签字、捺印）："),
        ("经办人：", "收款人：{{ payee.name }}"),
        ("复核人：", ""),
        ("签约日期：{{ sign_on }}", "签约日期：{{ sign_on }}"),
    ]
    for r, (left, right) in enumerate(rows):
        sign.rows[r].cells[0].text = left
        sign.rows[r].cells[1].text = right
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


@lru_cache(maxsize=4)
def default_template(option: str) -> bytes:
    """The built-in template of ``option``, built once per process."""
    return build_template(option)
