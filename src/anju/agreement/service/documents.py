"""Agreement documents: the DOCX from an editable template (docxtpl) and the PDF (typst, CJK font).

Both print the agreement as signed: the current snapshot's items and total (with its Chinese
capital form), the payment schedule, the condition, the policy version and content hash. The
household's name and address come from its file as it is now; every amount comes from the
snapshot, never from a new calculation.

Templates: each project may upload its own DOCX per option (cash, swap); the newest one not
retired is used, else the built-in one (:mod:`anju.agreement.docx_defaults`). An upload passes the
upload inspection (real type, archive bounds), then its Jinja tags are checked before it is kept:
placeholders outside :data:`~anju.agreement.docx_defaults.FIELDS` are refused with their names,
and so is anything that would let a template run code or grow without bound (calls, macros,
includes, arithmetic, unlisted filters, loops nested more than twice). Rendering runs in Jinja's
sandbox with the same restrictions, so a template is data, never code.
"""

from __future__ import annotations

import hashlib
import io
import re
import zipfile
from dataclasses import dataclass, replace
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from anju import uploads as upload_policy
from anju.agreement import docx_defaults, rules
from anju.agreement.models import Agreement, AgreementTemplate, Instalment
from anju.agreement.service.signing import (
    get_agreement,
    get_snapshot,
    items_with_basis,
    snapshot_facts,
)
from anju.audit import service as audit_service
from anju.compensation import service as compensation_service
from anju.core import typst_pdf
from anju.core import uploads as core_uploads
from anju.core.actor import Actor
from anju.core.dates import utcnow
from anju.core.money import format_yuan, to_chinese_capital
from anju.errors import Conflict, NotFound, ValidationFailed
from anju.household import service as household_service
from anju.identity.service import DataScope
from anju.project import service as project_service

__all__ = [
    "DOCX_TYPE",
    "TemplateInfo",
    "agreement_docx",
    "agreement_pdf",
    "check_template",
    "document_data",
    "document_file_name",
    "project_templates",
    "template_content",
    "template_fields",
    "upload_template",
]

DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
TYPST_TEMPLATE = Path(__file__).resolve().parents[2] / "templates" / "agreement" / "agreement.typ"
MiB = 1024 * 1024
MAX_TEMPLATE_BYTES = 10 * MiB
MAX_LOOP_DEPTH = 2
# Filters a template may use: formatting only, none that can pad or repeat text without bound.
ALLOWED_FILTERS = frozenset(
    {
        "default",
        "d",
        "e",
        "escape",
        "upper",
        "lower",
        "trim",
        "length",
        "count",
        "string",
        "first",
        "last",
        "join",
        "replace",
        "striptags",
        "title",
        "capitalize",
    }
)
_EXTERNAL_REL = re.compile(rb"<(?:\w+:)?Relationship\b[^>]*>", re.IGNORECASE)


def _fail(field: str, message: str, en: str, **extra: Any) -> ValidationFailed:
    return ValidationFailed(message, en, details=[{"field": field, "message": message, **extra}])


# --------------------------------------------------------------------------- document data


def _date_text(d: date | None) -> str:
    return f"{d.year}年{d.month}月{d.day}日" if d else ""


def _basis_text(item: dict[str, Any]) -> str:
    """An item's basis in words as one paragraph (lines joined with ；)."""
    return "；".join(str(b) for b in item.get("basis") or [])


def _mask_account(account: str) -> str:
    """Bank account numbers are personal data: only the last four digits for readers without
    PII_READ."""
    if len(account) <= 4:
        return "*" * len(account)
    return "*" * (len(account) - 4) + account[-4:]


def _area(value: Any) -> str:
    return f"{value:,.2f}"


def _due_text(inst: Instalment) -> str:
    if inst.due_on is not None:
        return _date_text(inst.due_on)
    return {
        "on_sign": "协议生效后",
        "after_vacate": "腾空验收合格后",
        "reward": "奖励条件成就后",
        "adjustment": "变更批准后",
        "collective": "集体奖励条件成就后",
    }.get(inst.kind, "—")


def _condition_text(session: Session, a: Agreement) -> str:
    if a.condition_kind == "none":
        return ""
    label = rules.CONDITION_KINDS.get(a.condition_kind, a.condition_kind)
    where = ""
    if a.condition_kind == "block_rate" and a.condition_block_id is not None:
        where = f"（{project_service.block_paths(session, a.project_id).get(a.condition_block_id, '')}）"
    rate = ""
    if a.condition_kind in ("block_rate", "project_rate"):
        rate = f"，签约率达到 {a.condition_rate_bp / 100:g}%"
    deadline = f"，期限至 {_date_text(a.condition_deadline_on)}" if a.condition_deadline_on else ""
    return f"本协议附生效条件：{label}{where}{rate}{deadline}。条件成就之日本协议生效；期限届满条件未成就的，本协议不生效。"


def _payment_terms(instalments: list[dict[str, str]]) -> str:
    if not instalments:
        return "本协议无应付款项。"
    parts = [f"{p['kind']}人民币 {p['amount']} 元（{p['capital']}）" for p in instalments]
    return "甲方按以下节点向乙方支付补偿款：" + "；".join(parts) + "。"


def document_data(
    session: Session, *, scope: DataScope, agreement_id: int, full_account: bool = False
) -> dict[str, Any]:
    """What an agreement document prints, as text (the DOCX placeholders and the PDF's data).

    ``full_account``: print the payee's account number in full (readers with PII_READ); else
    only its last four digits.
    """
    a = get_agreement(session, scope=scope, agreement_id=agreement_id)
    snap = get_snapshot(session, a)
    h = household_service.get_household(session, scope=scope, household_id=a.household_id)
    project = project_service.get_project(session, a.project_id)
    pv = compensation_service.get_version(session, a.project_id, snap.policy_version)
    f = snapshot_facts(snap)
    all_items = items_with_basis(session, a, snap)
    items = [i for i in all_items if i.get("applies", True)]
    skipped = [str(i["label"]) for i in all_items if not i.get("applies", True)]
    labels = {str(i.get("id", "")): str(i.get("label", "")) for i in all_items}
    not_applying = {str(i.get("id", "")) for i in all_items if not i.get("applies", True)}
    rows = session.scalars(
        select(Instalment)
        .where(Instalment.agreement_id == a.id, Instalment.status != "cancelled")
        .order_by(Instalment.sort, Instalment.id)
    )
    instalments = [
        {
            "no": str(n),
            "kind": rules.INSTALMENT_KINDS.get(p.kind, p.kind),
            "purpose": p.purpose,
            "amount": format_yuan(p.amount_fen),
            "capital": to_chinese_capital(p.amount_fen),
            "due": _due_text(p),
            "status": rules.INSTALMENT_STATUSES.get(p.status, p.status),
        }
        for n, p in enumerate(rows, start=1)
    ]
    option = rules.OPTIONS.get(a.option, a.option)
    party_a = f"{project.district or project.name}征迁办"
    block = project_service.block_paths(session, a.project_id).get(h.block_id, "") if h.block_id else ""
    return {
        "title": rules.OPTION_DOCUMENT_TITLES.get(a.option, "补偿协议"),
        "agreement_no": a.agreement_no,
        "sign_no": str(a.sign_no),
        "sign_on": _date_text(a.sign_on),
        "status": rules.STATUSES.get(a.status, a.status),
        "revision": str(snap.revision),
        "option": option,
        "project": {
            "name": project.name,
            "code": project.code,
            "district": project.district,
            "decision_no": project.decision_no or "见征收决定公告",
            "legal_basis": project.legal_basis or "有关法律法规",
        },
        "party_a": {"name": party_a},
        "party_b": {"name": h.head_name},
        "household": {
            "code": h.code,
            "head_name": h.head_name,
            "address": h.address,
            "block": block,
            "members": str(len(f.members)),
            "resettlement": str(sum(1 for m in f.members if m.resettlement_counted)),
            "legal_area": _area(sum((b.legal_area for b in f.buildings), start=0)),
            "unregistered_area": _area(sum((b.unregistered_area for b in f.buildings), start=0)),
            "certificates": "、".join(b.certificate_no for b in f.buildings if b.certificate_no) or "无",
        },
        "items": [
            {
                "no": str(n),
                "label": str(i["label"]),
                "amount": format_yuan(int(i["amount_fen"])),
                "capital": to_chinese_capital(int(i["amount_fen"])),
                # The basis in words (anju.policy.wording); ``formula`` is its older name in templates,
                # so a family never reads formula syntax (an item without words prints none).
                "basis": _basis_text(i),
                "basis_lines": [str(b) for b in i.get("basis") or []],
                "formula": _basis_text(i),
            }
            for n, i in enumerate(items, start=1)
        ],
        # subtotal lines (小计) of the version signed on: printed, never added to the total
        "subtotals": [
            {
                "label": st.label,
                "amount": format_yuan(st.amount_fen),
                "capital": to_chinese_capital(st.amount_fen),
                "items": "、".join(str(labels.get(i, i)) for i in st.items if i not in not_applying),
            }
            for st in compensation_service.snapshot_subtotals(pv, a.option, all_items)
        ],
        "not_applicable": "、".join(skipped),
        "total": format_yuan(snap.total_fen),
        "total_capital": to_chinese_capital(snap.total_fen),
        "payment_terms": _payment_terms(instalments),
        "instalments": instalments,
        "payee": {
            "name": a.payee_name,
            "bank": a.payee_bank or "（待补）",
            "account": (a.payee_account if full_account else _mask_account(a.payee_account)) or "（待补）",
        },
        "condition": _condition_text(session, a),
        "swap_terms": (
            "安置房的位置、面积、结算价格及差价按本项目选房结果另行签订选房确认书，"
            "作为本协议附件，与本协议具有同等效力。"
            if a.option == "swap"
            else ""
        ),
        "policy": {
            "name": pv.name,
            "version": str(snap.policy_version),
            "hash": snap.policy_hash[:16],
            "legal_ref": pv.legal_ref,
        },
        "as_of": _date_text(snap.as_of),
    }


def document_file_name(session: Session, *, scope: DataScope, agreement_id: int, suffix: str) -> str:
    """``货币补偿协议-P1-0001.pdf`` (not quoted)."""
    a = get_agreement(session, scope=scope, agreement_id=agreement_id)
    return f"{rules.OPTION_DOCUMENT_TITLES.get(a.option, '补偿协议')}-{a.agreement_no}.{suffix}"


def agreement_pdf(
    session: Session, *, scope: DataScope, agreement_id: int, full_account: bool = False
) -> bytes:
    """The agreement as PDF (typst, CJK font); the same data always gives the same bytes."""
    data = document_data(session, scope=scope, agreement_id=agreement_id, full_account=full_account)
    return typst_pdf.render_pdf(TYPST_TEMPLATE, data)


def agreement_docx(
    session: Session, *, scope: DataScope, agreement_id: int, full_account: bool = False
) -> bytes:
    """The agreement as DOCX, from the project's template for its option (or the built-in one).

    A template that fails while rendering (it passed the upload checks, but the data took a branch
    the check could not foresee) is a 409 ``template_error`` naming the problem.
    """
    a = get_agreement(session, scope=scope, agreement_id=agreement_id)
    data = document_data(session, scope=scope, agreement_id=agreement_id, full_account=full_account)
    content = template_content(session, project_id=a.project_id, option=a.option)
    try:
        return _render_docx(content, data)
    except _TemplateProblem as exc:
        raise Conflict(
            f"协议模板无法生成文档：{exc.zh}。请在“协议模板”页面重新上传模板，或恢复为内置模板",
            f"agreement template fails: {exc.en}",
            code="template_error",
        ) from None


# --------------------------------------------------------------------------- the sandbox


class _TemplateProblem(Exception):
    def __init__(self, zh: str, en: str) -> None:
        super().__init__(en)
        self.zh, self.en = zh, en


def _environment() -> Any:
    """A sandboxed Jinja environment: no calls, no arithmetic, listed filters only, and strict
    undefined (a missing value is an error, not an empty line on a legal document)."""
    from jinja2 import StrictUndefined
    from jinja2.exceptions import SecurityError
    from jinja2.sandbox import SandboxedEnvironment

    class Env(SandboxedEnvironment):
        intercepted_binops = frozenset({"*", "**", "/", "//", "%", "+", "-"})
        intercepted_unops = frozenset({"-", "+"})

        def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
            raise SecurityError(f"arithmetic ({operator}) is not allowed in agreement templates")

        def call_unop(self, context: Any, operator: str, arg: Any) -> Any:
            raise SecurityError(f"arithmetic ({operator}) is not allowed in agreement templates")

        def is_safe_callable(self, obj: Any) -> bool:
            return False

    env = Env(undefined=StrictUndefined, autoescape=True)
    env.filters = {k: v for k, v in env.filters.items() if k in ALLOWED_FILTERS}
    env.globals = {}
    return env


def _sources(tpl: Any) -> list[str]:
    """Every text docxtpl renders with Jinja: the body, headers, footers, footnotes and the
    core properties, prepared as docxtpl prepares them."""
    from docx.oxml import parse_xml

    out = [tpl.patch_xml(tpl.get_xml())]
    for uri in (tpl.HEADER_URI, tpl.FOOTER_URI):
        for _key, part in tpl.get_headers_footers(uri):
            out.append(tpl.patch_xml(tpl.xml_to_string(parse_xml(part.blob))))
    for part in tpl.docx.part.package.parts:
        if part.content_type.endswith(".footnotes+xml"):
            blob = part.blob
            out.append(tpl.patch_xml(blob.decode("utf-8") if isinstance(blob, bytes) else blob))
    props = tpl.docx.core_properties
    out += [
        getattr(props, p) or "" for p in ("author", "comments", "identifier", "language", "subject", "title")
    ]
    return out


def _chain(node: Any) -> tuple[str, list[str | None]] | None:
    """``household.address`` -> ("household", ["address"]); an index is ``None``."""
    from jinja2 import nodes

    attrs: list[str | None] = []
    while True:
        if isinstance(node, nodes.Getattr):
            attrs.insert(0, node.attr)
            node = node.node
        elif isinstance(node, nodes.Getitem):
            arg = node.arg
            if isinstance(arg, nodes.Const) and isinstance(arg.value, str):
                attrs.insert(0, arg.value)
            elif isinstance(arg, nodes.Const) and isinstance(arg.value, int):
                attrs.insert(0, None)
            else:
                return None
            node = node.node
        elif isinstance(node, nodes.Name):
            return node.name, attrs
        else:
            return None


def _resolve(schema: Any, root: str, attrs: list[str | None]) -> str | None:
    """The first unknown path of ``root.attrs``, ``schema`` being what ``root`` holds, or ``None``
    when all are known."""
    cur, path = schema, root
    for a in attrs:
        if a is None:
            if isinstance(cur, list):
                cur, path = cur[0], path + "[]"
                continue
            return path + "[]"
        if isinstance(cur, dict) and a in cur:
            cur, path = cur[a], f"{path}.{a}"
            continue
        return f"{path}.{a}"
    return None


def _loop_depth(node: Any, depth: int = 0) -> int:
    from jinja2 import nodes

    here = depth + 1 if isinstance(node, nodes.For) else depth
    return max([here, *(_loop_depth(c, here) for c in node.iter_child_nodes())])


def _check_source(env: Any, source: str, unknown: set[str], refused: set[str]) -> None:
    from jinja2 import nodes
    from jinja2.exceptions import TemplateSyntaxError

    try:
        ast = env.parse(source)
    except TemplateSyntaxError as exc:
        raise _TemplateProblem(
            f"模板标记有语法错误（{exc.message}）", f"syntax error: {exc.message}"
        ) from None
    # Names read but never assigned (Jinja's own meta.find_undeclared_variables compiles the
    # template and stops at the first unknown filter; this keeps listing). Scoping is not
    # followed here: the test render with strict undefined catches a name used out of its loop.
    names = list(ast.find_all(nodes.Name))
    assigned = {n.name for n in names if n.ctx in ("store", "param")}
    for n in names:
        if (
            n.ctx == "load"
            and n.name not in assigned
            and n.name != "loop"
            and n.name not in docx_defaults.FIELDS
        ):
            unknown.add(n.name)
    kinds = {
        nodes.Call: "调用函数或方法",
        nodes.Macro: "宏（macro）",
        nodes.CallBlock: "调用块（call）",
        nodes.Include: "包含其他模板（include）",
        nodes.Import: "导入（import）",
        nodes.FromImport: "导入（import）",
        nodes.Extends: "继承模板（extends）",
    }
    for kind, label in kinds.items():
        if any(True for _ in ast.find_all(kind)):
            refused.add(label)
    # and / or / not are expressions too, and welcome; arithmetic is not (text can be multiplied)
    arithmetic = (
        nodes.Mul,
        nodes.Div,
        nodes.FloorDiv,
        nodes.Add,
        nodes.Sub,
        nodes.Mod,
        nodes.Pow,
        nodes.Neg,
        nodes.Pos,
    )
    if any(True for _ in ast.find_all(arithmetic)):
        refused.add("算术运算")
    if any(g.attr.startswith("_") for g in ast.find_all(nodes.Getattr)):
        refused.add("以下划线开头的属性")
    for f in ast.find_all(nodes.Filter):
        if f.name not in ALLOWED_FILTERS:
            refused.add(f"过滤器 {f.name}")
    if _loop_depth(ast) > MAX_LOOP_DEPTH:
        refused.add(f"超过 {MAX_LOOP_DEPTH} 层的嵌套循环")
    loops: dict[str, Any] = {}
    for loop in ast.find_all(nodes.For):
        iterated = _chain(loop.iter)
        if iterated is None or not isinstance(loop.target, nodes.Name):
            continue
        root, attrs = iterated
        element: Any = docx_defaults.FIELDS.get(root)
        if element is None or _resolve(element, root, attrs) is not None:
            continue
        for a in attrs:
            element = element[0] if a is None else element[a]
        if isinstance(element, list):
            loops[loop.target.name] = element[0]
    for node in ast.find_all((nodes.Getattr, nodes.Getitem)):
        chain = _chain(node)
        if chain is None:
            continue
        root, attrs = chain
        if root in loops:
            bad = _resolve(loops[root], root, attrs)
        elif root in docx_defaults.FIELDS:
            bad = _resolve(docx_defaults.FIELDS[root], root, attrs)
        else:  # loop.index, a {% set %} name: checked when the sample is rendered
            continue
        if bad:
            unknown.add(bad)


def _sample(schema: Any, name: str = "") -> Any:
    """Data of the documented shape, every text non-empty (so every {% if %} branch that tests a
    value is taken when the upload is test-rendered)."""
    if isinstance(schema, dict):
        return {k: _sample(v, f"{name}.{k}" if name else k) for k, v in schema.items()}
    if isinstance(schema, list):
        return [_sample(schema[0], name) for _ in range(2)]
    return f"〔{name}〕"


def _open(content: bytes) -> Any:
    from docxtpl import DocxTemplate

    tpl = DocxTemplate(io.BytesIO(content))
    tpl.init_docx()
    return tpl


def _render_docx(content: bytes, data: dict[str, Any]) -> bytes:
    from jinja2.exceptions import SecurityError, TemplateError

    try:
        tpl = _open(content)
        tpl.render(data, jinja_env=_environment(), autoescape=True)
        out = io.BytesIO()
        tpl.save(out)
    except SecurityError as exc:
        raise _TemplateProblem("模板中含有不允许的操作（调用、运算等）", str(exc)) from None
    except TemplateError as exc:
        raise _TemplateProblem(f"模板标记有误（{exc.message or exc}）", str(exc)) from None
    return out.getvalue()


# --------------------------------------------------------------------------- templates


@dataclass(frozen=True, slots=True)
class TemplateInfo:
    """One option's template of a project: the uploaded one in use (if any) and its history."""

    option: str
    option_label: str
    title: str
    current: AgreementTemplate | None
    history: list[AgreementTemplate]


def _check_option(option: str) -> None:
    if option not in rules.OPTIONS:
        raise NotFound("没有这种安置方式的协议模板", f"no template for option {option!r}")


def _current(session: Session, project_id: int, option: str) -> AgreementTemplate | None:
    return session.scalar(
        select(AgreementTemplate)
        .where(
            AgreementTemplate.project_id == project_id,
            AgreementTemplate.option == option,
            AgreementTemplate.retired_at.is_(None),
        )
        .order_by(AgreementTemplate.id.desc())
        .limit(1)
    )


def template_fields() -> list[tuple[str, str]]:
    """Every placeholder a template may use, with what it holds (for the templates page)."""
    return docx_defaults.field_names()


def project_templates(session: Session, *, project_id: int) -> list[TemplateInfo]:
    """Per option (cash, swap): the template in use and every upload, newest first."""
    project_service.get_project(session, project_id)
    rows = list(
        session.scalars(
            select(AgreementTemplate)
            .where(AgreementTemplate.project_id == project_id)
            .order_by(AgreementTemplate.id.desc())
        )
    )
    out = []
    for option, label in rules.OPTIONS.items():
        mine = [r for r in rows if r.option == option]
        current = next((r for r in mine if r.retired_at is None), None)
        out.append(TemplateInfo(option, label, rules.OPTION_DOCUMENT_TITLES[option], current, mine))
    return out


def template_content(session: Session, *, project_id: int, option: str, default: bool = False) -> bytes:
    """The DOCX template in use for ``option`` in the project (``default``: the built-in one)."""
    _check_option(option)
    project_service.get_project(session, project_id)
    row = None if default else _current(session, project_id, option)
    return bytes(row.content) if row is not None else docx_defaults.default_template(option)


def _template_limits() -> core_uploads.UploadLimits:
    lim = upload_policy.limits()
    return replace(
        lim,
        max_bytes=min(lim.max_bytes, MAX_TEMPLATE_BYTES),
        max_unzipped_bytes=min(lim.max_unzipped_bytes, 20 * MAX_TEMPLATE_BYTES),
    )


def _inspect_docx(content: bytes, filename: str) -> None:
    """The upload inspection: a real .docx within bounds, with no macros, embedded programs or
    external references (a remote template or frame would be fetched when the file is opened)."""
    limits = _template_limits()
    try:
        if not content:
            raise core_uploads.UploadRejected(
                "upload_empty", f"文件“{filename}”为空", f"{filename} is empty", filename=filename
            )
        if len(content) > limits.max_bytes:
            raise core_uploads.file_too_large(filename, limits.max_bytes, len(content))
        kind = core_uploads.sniff(content)
        if kind == "zip":
            kind = core_uploads.inspect_zip(content, filename, limits, scan_sheets=False).kind
    except core_uploads.UploadRejected as exc:
        raise upload_policy.refusal(exc) from None
    if kind != "docx":
        hint = "；Word 97-2003 文档（.doc）请在 Word 或 WPS 中另存为 .docx 后上传" if kind == "ole" else ""
        raise upload_policy.UploadRefused(
            f"文件“{filename}”的内容是{core_uploads.label(kind)}，不是 Word 文档（.docx），已拒绝{hint}",
            f"{filename} holds {kind}, not a .docx",
            code="upload_wrong_type",
            details=[
                {"field": "file", "filename": filename, "actual": kind, "message": "不是 Word 文档（.docx）"}
            ],
        )
    archive = zipfile.ZipFile(io.BytesIO(content))
    for name in archive.namelist():
        low = name.lower()
        if "vbaproject" in low or low.startswith(("word/activex/", "word/embeddings/")):
            raise upload_policy.UploadRefused(
                f"文件“{filename}”含有宏、控件或嵌入的对象（{name[:80]}），协议模板不能包含这些内容，已拒绝",
                f"{filename}: macros, ActiveX or embedded objects ({name[:80]})",
                code="upload_unsafe",
                details=[{"field": "file", "part": name[:200], "message": "含有宏、控件或嵌入的对象"}],
            )
        if not low.endswith((".xml", ".rels")):
            continue
        data = archive.read(name)  # sizes already checked by the inspection
        if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
            # Word never writes a DTD; entities are how XML bombs and file reads (XXE) travel.
            raise upload_policy.UploadRefused(
                f"文件“{filename}”的部件“{name[:80]}”含有文档类型定义（DTD），不是 Word 或 WPS 保存的文档，已拒绝",
                f"{filename}: DTD in {name[:80]}",
                code="upload_unsafe",
                details=[{"field": "file", "part": name[:200], "message": "含有文档类型定义（DTD）"}],
            )
        if low.endswith(".rels"):
            for tag in _EXTERNAL_REL.findall(data):
                if b'TargetMode="External"' in tag and not re.search(rb'Type="[^"]*/hyperlink"', tag):
                    raise upload_policy.UploadRefused(
                        f"文件“{filename}”引用了外部文件（{name[:80]}），协议模板不能引用外部内容，已拒绝",
                        f"{filename}: external relationship in {name[:80]}",
                        code="upload_unsafe",
                        details=[{"field": "file", "part": name[:200], "message": "引用了外部文件"}],
                    )


def check_template(content: bytes, filename: str) -> None:
    """Refuse a template upload with a Chinese message unless it is a safe .docx whose tags use
    only the documented placeholders and render with data of the documented shape."""
    _inspect_docx(content, filename)
    try:
        tpl = _open(content)
        sources = _sources(tpl)
    except Exception as exc:  # python-docx / lxml raise many types for a damaged document
        raise _fail(
            "file",
            f"无法读取文件“{filename}”中的 Word 文档内容，请在 Word 或 WPS 中另存为 .docx 后重试",
            f"unreadable docx: {type(exc).__name__}",
        ) from None
    env = _environment()
    unknown: set[str] = set()
    refused: set[str] = set()
    try:
        for source in sources:
            _check_source(env, source, unknown, refused)
    except _TemplateProblem as exc:
        raise _fail("file", f"模板“{filename}”{exc.zh}", exc.en) from None
    if unknown or refused:
        names, what = sorted(unknown), sorted(refused)
        parts_zh = ([f"中有未知的占位符：{'、'.join(names)}"] if names else []) + (
            [f"中含有不允许的内容：{'、'.join(what)}"] if what else []
        )
        hint = "可用的占位符见本页的占位符说明" if names else "协议模板只能使用占位符、条件和循环"
        raise ValidationFailed(
            f"模板“{filename}”" + "；".join(parts_zh) + "。" + hint,
            f"unknown placeholders: {', '.join(names) or '-'}; disallowed: {', '.join(what) or '-'}",
            code="unknown_placeholder" if names else "template_refused",
            details=[{"field": "file", "placeholder": n, "message": f"未知的占位符 {n}"} for n in names]
            + [{"field": "file", "message": f"不允许的内容：{w}"} for w in what],
        )
    try:
        _render_docx(content, _sample(docx_defaults.FIELDS))
    except _TemplateProblem as exc:
        raise _fail("file", f"模板“{filename}”试生成失败：{exc.zh}", exc.en) from None


def upload_template(
    session: Session,
    *,
    actor: Actor,
    project_id: int,
    option: str,
    filename: str,
    content: bytes,
    now: datetime | None = None,
) -> AgreementTemplate:
    """Check and keep an uploaded template; it replaces the one in use for the option (the
    replaced one is retired, not deleted). Audited."""
    _check_option(option)
    project_service.get_project(session, project_id)
    name = core_uploads.safe_filename(filename, "协议模板.docx")
    check_template(content, name)
    now = now or utcnow()
    previous = _current(session, project_id, option)
    if previous is not None:
        previous.retired_at = now
    row = AgreementTemplate(
        project_id=project_id,
        option=option,
        file_name=name,
        sha256=hashlib.sha256(content).hexdigest(),
        content=content,
        uploaded_by=actor.user_id,
        uploaded_at=now,
    )
    session.add(row)
    session.flush()
    audit_service.record(
        session,
        actor=actor,
        action="upload_template",
        entity="agreement_template",
        entity_id=row.id,
        changes={
            "option": [None, option],
            "file_name": [None, name],
            "sha256": [None, row.sha256],
            "size": [None, len(content)],
            "replaces": [previous.id if previous else None, None],
        },
        project_id=project_id,
    )
    return row
