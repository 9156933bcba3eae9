"""``anju dispatch`` against a real SQLite file, and the office's own DOCX template."""

from __future__ import annotations

import hashlib
import io
import subprocess
from datetime import timedelta
from pathlib import Path

from typer.testing import CliRunner

from anju.cli import app
from anju.core.dates import today_shanghai
from anju.db import migrate
from anju.db.session import unit_of_work
from anju.reporting import docx_template
from tests.api.test_dispatch import campaign_history
from tests.factories import build_world

runner = CliRunner()


def _world(settings_env: Path) -> int:
    from anju.config import get_settings

    settings_env.mkdir(parents=True, exist_ok=True)
    migrate.upgrade(get_settings().effective_database_url)
    with unit_of_work() as db:
        world = build_world(db, households=6)
    campaign_history(world)
    return world.project_id


def _docx_text(content: bytes) -> str:
    import docx

    d = docx.Document(io.BytesIO(content))
    return "\n".join(p.text for p in d.paragraphs)


def test_show_issue_pdf_docx_and_refusals(settings_env: Path, tmp_path: Path) -> None:
    _world(settings_env)
    d = (today_shanghai() - timedelta(days=1)).isoformat()
    r = runner.invoke(app, ["dispatch", "show", "P1", d])
    assert r.exit_code == 0, r.output
    assert "（草稿）" in r.output and "总户数 6，已签约 4（66.67%），当日签约 2，前一日 2（持平）" in r.output
    note = tmp_path / "讲评.txt"
    note.write_text("\ufeff一、签约过半。\r\n二、难点户包案。\r\n", encoding="utf-8")
    r = runner.invoke(app, ["dispatch", "issue", "P1", d, "--commentary-file", str(note)])
    assert r.exit_code == 0, r.output
    assert f"已签发 {d} 调度通报" in r.output
    r = runner.invoke(app, ["dispatch", "issue", "P1", d])
    assert r.exit_code == 1 and "已签发，不能再修改或重复签发" in r.output
    r = runner.invoke(app, ["dispatch", "show", "P1", d])
    assert "（已签发）" in r.output and "签发人 系统" in r.output and "　　二、难点户包案。" in r.output
    out = tmp_path / "通报.pdf"
    r = runner.invoke(app, ["dispatch", "pdf", "P1", d, "-o", str(out)])
    assert r.exit_code == 0, r.output
    archived = list((settings_env / "dispatch").rglob("*.pdf"))
    assert len(archived) == 1 and archived[0].read_bytes() == out.read_bytes()
    assert archived[0].name == f"{d}-{hashlib.sha256(out.read_bytes()).hexdigest()[:16]}.pdf"
    text = subprocess.run(["pdftotext", str(out), "-"], capture_output=True, text=True, check=True).stdout
    assert "一、签约过半。" in text and "66.67%" in text
    word = tmp_path / "通报.docx"
    assert runner.invoke(app, ["dispatch", "docx", "P1", d, "-o", str(word)]).exit_code == 0
    assert "二、难点户包案。" in _docx_text(word.read_bytes())
    # refusals: a day that has not begun, a malformed date, an unknown project
    future = (today_shanghai() + timedelta(days=1)).isoformat()
    r = runner.invoke(app, ["dispatch", "show", "P1", future])
    assert r.exit_code == 1 and "晚于今天" in r.output
    r = runner.invoke(app, ["dispatch", "show", "P1", "2026-02-30"])
    assert r.exit_code == 2 and "应为 YYYY-MM-DD" in r.output
    r = runner.invoke(app, ["dispatch", "show", "NOPE", d])
    assert r.exit_code == 1 and "项目“NOPE”不存在" in r.output


def test_the_office_template_replaces_the_built_in_one(settings_env: Path, tmp_path: Path) -> None:
    _world(settings_env)
    d = (today_shanghai() - timedelta(days=1)).isoformat()
    built = docx_template.template_path()
    assert built.parent.name == "cache" and built.is_file()
    mine = tmp_path / "模板.docx"
    r = runner.invoke(app, ["dispatch", "template", "-o", str(mine)])
    assert r.exit_code == 0, r.output
    import docx

    doc = docx.Document(str(mine))
    doc.paragraphs[0].insert_paragraph_before("青溪街道办事处 {{ project }} 专报")
    custom = docx_template.custom_template_path()
    custom.parent.mkdir(parents=True, exist_ok=True)
    doc.save(str(custom))
    out = tmp_path / "out.docx"
    assert runner.invoke(app, ["dispatch", "docx", "P1", d, "-o", str(out)]).exit_code == 0
    text = _docx_text(out.read_bytes())
    assert text.startswith("青溪街道办事处 测试征收项目 专报\n测试征收项目每日调度通报")
    custom.unlink()
    assert runner.invoke(app, ["dispatch", "docx", "P1", d, "-o", str(out)]).exit_code == 0
    assert "专报" not in _docx_text(out.read_bytes())
