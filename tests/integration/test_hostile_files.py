"""Hostile uploads: workbooks that would make the reader allocate without bound, deflate bombs,
wrong types, path names, formula text, bounded error lists, and the upload lifecycle (encrypted
while a job needs it, deleted when it ends, swept after a kill), over the web app, the CLI and a
real ``anju serve``."""

from __future__ import annotations

import csv
import hashlib
import io
import os
import random
import re
import signal
import socket
import struct
import subprocess
import sys
import time
import zipfile
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.orm import Session

from anju.config import get_settings
from anju.db import migrate
from anju.db.session import unit_of_work
from anju.demo.generator import census_rows
from anju.household import census, ledger
from anju.household import service as household_service
from anju.household.models import Attachment, Household
from anju.identity.service import DataScope
from tests.api import conftest as api_conftest
from tests.factories import ACTOR, PASSWORD, World, build_world

ClientAs = Callable[[str], tuple[TestClient, str, World]]
# the web app with the standard test world, and clients logged in by role (tests/api/conftest.py)
world_app = api_conftest.world_app
client_as = api_conftest.client_as
ANJU = str(Path(sys.executable).parent / "anju")

# ---------------------------------------------------------------- hostile files, made here

CT = (
    '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>'
)
ROOT_RELS = (
    '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" '
    'Target="xl/workbook.xml"/></Relationships>'
)
WB = (
    '<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
    'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets>'
    '<sheet name="户" sheetId="1" r:id="rId1"/></sheets></workbook>'
)
RELS = (
    '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" '
    'Target="worksheets/sheet1.xml"/></Relationships>'
)


def workbook(sheet_data: str, extra: dict[str, str] | None = None) -> bytes:
    """An xlsx whose 户 sheet holds ``sheet_data`` (inside ``<sheetData>``)."""
    sheet = (
        '<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        f"<sheetData>{sheet_data}</sheetData></worksheet>"
    )
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", CT)
        z.writestr("_rels/.rels", ROOT_RELS)
        z.writestr("xl/workbook.xml", WB)
        z.writestr("xl/_rels/workbook.xml.rels", RELS)
        z.writestr("xl/worksheets/sheet1.xml", sheet)
        for name, data in (extra or {}).items():
            z.writestr(name, data)
    return buf.getvalue()


def a1_xfd() -> bytes:
    """The 1.5 KB workbook whose only cells are A1 and XFD1048576 (512 GiB for the reader)."""
    return workbook(
        '<row r="1"><c r="A1" t="inlineStr"><is><t>户号</t></is></c></row>'
        '<row r="1048576"><c r="XFD1048576" t="inlineStr"><is><t>x</t></is></c></row>'
    )


def bomb() -> bytes:
    """A small deflate bomb: 3 MB of repeated rows in a few KB (refused at a lowered ratio)."""
    return workbook('<row r="1"><c r="A1"><v>1</v></c></row>' + "<row/>" * 500_000)


def png(width: int, height: int) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + struct.pack(">I", 13)
        + b"IHDR"
        + ihdr
        + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    )


def census_file(n: int = 8, bad_ids: int = 0, seed: int = 5) -> bytes:
    rows = census_rows(random.Random(seed), n, prefix="HF", blocks=["E", "W"], kind="shantytown")
    for m in rows["members"][:bad_ids]:
        m["id_number"] = "330102198001011230"  # wrong check digit
    buf = io.BytesIO()
    census.write_workbook(buf, rows)
    return buf.getvalue()


def imports_dir() -> Path:
    return get_settings().data_dir / "imports"


def leftovers() -> list[str]:
    folder = imports_dir()
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


# ---------------------------------------------------------------- web app helpers


def upload_page(
    client: TestClient, csrf: str, project_id: int, data: bytes, name: str = "入户调查表.xlsx"
) -> str:
    r = client.post(
        f"/projects/{project_id}/import",
        files={"file": (name, data, "application/octet-stream")},
        headers={"X-CSRF-Token": csrf, "HX-Request": "true"},
    )
    assert r.status_code == 200, r.text
    return wait(client, r.text)


def wait(client: TestClient, fragment: str) -> str:
    deadline = time.monotonic() + 60
    job = re.search(r'hx-get="/imports/([0-9a-f]+)"', fragment)
    while job and time.monotonic() < deadline:
        time.sleep(0.05)
        r = client.get(f"/imports/{job.group(1)}", headers={"HX-Request": "true"})
        assert r.status_code == 200
        fragment = r.text
        job = re.search(r'hx-get="/imports/([0-9a-f]+)"', fragment)
    return fragment


def household_total(client: TestClient, project_id: int) -> int:
    r = client.get(f"/api/v1/projects/{project_id}/households")
    assert r.status_code == 200
    return int(r.json()["total"])


def api_census(
    client: TestClient, csrf: str, project_id: int, data: bytes, name: str = "c.xlsx"
) -> httpx.Response:
    return client.post(
        f"/api/v1/projects/{project_id}/census?dry_run=false",
        files={"file": (name, data, "application/octet-stream")},
        headers={"X-CSRF-Token": csrf},
    )


@pytest.fixture
def lowered(monkeypatch: pytest.MonkeyPatch) -> Callable[..., None]:
    """``lowered(upload_max_ratio=20, ...)``: settings for one test, through the environment."""

    def _set(**values: Any) -> None:
        for k, v in values.items():
            monkeypatch.setenv(f"ANJU_{k.upper()}", str(v))
        get_settings.cache_clear()

    return _set


# ---------------------------------------------------------------- the web path


def test_a1_xfd_workbook_is_refused_by_page_and_api_and_the_worker_lives(client_as: ClientAs) -> None:
    client, csrf, world = client_as("case_officer")
    before = household_total(client, world.project_id)
    data = a1_xfd()
    assert len(data) < 2000
    page = upload_page(client, csrf, world.project_id, data)
    assert "工作表“户”的单元格范围为 1,048,576 行 × 16,384 列 = 17,179,869,184 格" in page
    assert "超过上限 10,000,000 格，已拒绝" in page
    r = api_census(client, csrf, world.project_id, data)
    assert r.status_code == 422
    body = r.json()
    assert body["code"] == "upload_too_large"
    assert body["details"][0]["limit"] == 10_000_000 and body["details"][0]["actual"] == 17_179_869_184
    # the process is alive and answers; nothing was written; no upload is left
    assert client.get("/healthz").status_code == 200
    assert household_total(client, world.project_id) == before
    assert leftovers() == []


def test_deflate_bomb_is_refused_at_the_configured_ratio(
    client_as: ClientAs, lowered: Callable[..., None]
) -> None:
    client, csrf, world = client_as("case_officer")
    data = bomb()
    assert len(data) < 20_000
    lowered(upload_max_ratio=50)
    r = api_census(client, csrf, world.project_id, data)
    assert r.status_code == 422, r.text
    assert r.json()["code"] == "upload_too_large"
    assert "压缩成员“xl/worksheets/sheet1.xml”压缩比超过上限 50 倍" in r.json()["message"]
    page = upload_page(client, csrf, world.project_id, data)
    assert "疑似压缩炸弹" in page
    lowered(upload_max_ratio=100_000, upload_max_unzipped_mb=2)
    r = api_census(client, csrf, world.project_id, data)
    assert (
        r.status_code == 422 and "解压后总大小（字节）为 3,001,549，超过上限 2,097,152" in r.json()["message"]
    )
    assert leftovers() == []


def test_oversize_and_wrong_types_are_refused_with_their_real_type(
    client_as: ClientAs,
    lowered: Callable[..., None],
) -> None:
    client, csrf, world = client_as("case_officer")
    html = b"<!DOCTYPE html><html><body><script>alert(1)</script></body></html>"
    elf = b"\x7fELF\x02\x01\x01\x00" + bytes(120)
    for data, label in ((html, "HTML 网页"), (elf, "Linux 可执行程序"), (png(4, 4), "PNG 图片")):
        r = api_census(client, csrf, world.project_id, data, "入户调查表.xlsx")
        assert r.status_code == 422
        assert r.json() | {"details": None} == {
            "code": "upload_wrong_type",
            "message": f"文件“入户调查表.xlsx”的内容是{label}，不是Excel 工作簿（.xlsx 或 .xls），已拒绝",
            "message_en": r.json()["message_en"],
            "details": None,
        }
    page = upload_page(client, csrf, world.project_id, html)
    assert "的内容是HTML 网页，不是Excel 工作簿" in page
    lowered(max_upload_mb=1)
    big = census_file() + bytes(1024 * 1024)
    page = upload_page(client, csrf, world.project_id, big)
    assert "文件不能超过 1 MB" in page
    assert leftovers() == []


def test_path_names_in_the_archive_and_in_the_upload(client_as: ClientAs, tmp_path: Path) -> None:
    client, csrf, world = client_as("case_officer")
    evil = workbook('<row r="1"><c r="A1"><v>1</v></c></row>', {"../../evil.sh": "rm -rf /"})
    r = api_census(client, csrf, world.project_id, evil)
    assert r.status_code == 422
    assert r.json()["code"] == "upload_unsafe"
    assert "包含非法路径的压缩成员“../../evil.sh”（含“..”）" in r.json()["message"]
    # a file name with directories: only its last part is used, nothing is written elsewhere
    before = {p for p in tmp_path.rglob("*")}
    page = upload_page(
        client, csrf, world.project_id, census_file(), "../../../../etc/..\\..\\入户调查表.xlsx"
    )
    assert "校验通过" in page and "“入户调查表.xlsx”没有发现错误" in page
    created = {p for p in tmp_path.rglob("*")} - before
    assert all(imports_dir() in p.parents or p == imports_dir() for p in created if "imports" in p.parts), (
        created
    )
    assert not [p for p in created if p.suffix == ".xlsx"]


def test_errors_are_bounded_per_column_in_page_json_and_cli(
    client_as: ClientAs,
    lowered: Callable[..., None],
    tmp_path: Path,
) -> None:
    client, csrf, world = client_as("case_officer")
    lowered(import_errors_per_column=5, import_max_errors=100)
    data = census_file(n=40, bad_ids=30)
    r = api_census(client, csrf, world.project_id, data)
    assert r.status_code == 422
    body = r.json()
    ids = [d for d in body["details"] if d["column"] == "身份证号"]
    assert len(ids) == 5 and body["total"] == 30
    assert body["omitted"] == [
        {
            "sheet": "成员",
            "column": "身份证号",
            "letter": "D",
            "count": 25,
            "text": "“成员”表 D列（身份证号）另有 25 处错误未列出",
        }
    ]
    assert body["message"] == "入户调查表有 30 处错误（列出 5 处，其余按列计数），未导入任何数据"
    page = upload_page(client, csrf, world.project_id, data)
    assert "有 30 处错误，未导入任何数据" in page
    assert page.count("身份证号校验位错误") == 5
    assert "“成员”表 D列（身份证号）另有 25 处错误未列出" in page
    assert leftovers() == []
    # the CLI prints the same bound
    from typer.testing import CliRunner

    from anju.cli import app

    path = tmp_path / "bad.xlsx"
    path.write_bytes(data)
    out = CliRunner().invoke(app, ["import", "census", str(path), "--project", "P1", "--dry-run"])
    assert out.exit_code == 1
    assert "共 30 处错误（列出 5 处，其余按列计数），未导入任何数据" in out.output
    assert "“成员”表 D列（身份证号）另有 25 处错误未列出" in out.output


def test_uploads_are_sealed_while_waiting_and_deleted_when_the_job_ends(client_as: ClientAs) -> None:
    client, csrf, world = client_as("case_officer")
    before = household_total(client, world.project_id)
    # a refused file and an invalid file leave nothing
    upload_page(client, csrf, world.project_id, a1_xfd())
    upload_page(client, csrf, world.project_id, census_file(bad_ids=1))
    assert leftovers() == []
    # a checked file waits for confirmation, encrypted
    data = census_file()
    checked = upload_page(client, csrf, world.project_id, data)
    assert "校验通过" in checked
    [name] = leftovers()
    assert re.fullmatch(rf"{os.getpid()}-[0-9a-f]{{24}}\.sealed", name)
    stored = (imports_dir() / name).read_bytes()
    assert stored.startswith(b"ANJU-SEALED-1\n") and b"PK\x03\x04" not in stored and data[:64] not in stored
    job = re.search(r"/imports/([0-9a-f]+)/confirm", checked)
    assert job
    done = wait(
        client,
        client.post(
            f"/imports/{job.group(1)}/confirm", headers={"X-CSRF-Token": csrf, "HX-Request": "true"}
        ).text,
    )
    assert "导入完成" in done
    assert household_total(client, world.project_id) == before + 8
    assert leftovers() == []
    # a second confirmation of the same check is refused and imports nothing
    again = client.post(
        f"/imports/{job.group(1)}/confirm", headers={"X-CSRF-Token": csrf, "HX-Request": "true"}
    )
    assert again.status_code == 422 and "请先上传并通过校验" in again.text
    assert household_total(client, world.project_id) == before + 8


def test_start_up_sweeps_what_a_killed_process_left(settings_env: Path) -> None:
    from anju.main import create_app

    folder = settings_env / "imports"
    folder.mkdir(parents=True)
    (folder / "4f2a.xlsx").write_bytes(b"PK\x03\x04 plaintext census of an older version")
    dead = 2**22 + 12345  # above pid_max's default: no such process
    (folder / f"{dead}-{'0' * 24}.sealed").write_bytes(b"ANJU-SEALED-1\n...")
    (folder / f"{os.getpid()}-{'1' * 24}.sealed").write_bytes(b"ANJU-SEALED-1\n...")  # a live job's: kept
    scratch = settings_env / "tmp" / str(dead)
    scratch.mkdir(parents=True)
    (scratch / "ledger-x.xlsx").write_bytes(b"ledger with identity numbers")
    migrate.upgrade(get_settings().effective_database_url)
    with TestClient(create_app()) as client:
        assert client.get("/healthz").status_code == 200
    assert leftovers() == [f"{os.getpid()}-{'1' * 24}.sealed"]
    assert not scratch.exists()


# ---------------------------------------------------------------- attachments


def test_attachments_are_typed_by_content_and_served_safely(client_as: ClientAs) -> None:
    client, csrf, world = client_as("case_officer")
    hid = world.household_ids[0]
    url = f"/households/{hid}/attachments"

    def post(name: str, data: bytes, ctype: str) -> httpx.Response:
        return client.post(
            url,
            files={"file": (name, data, ctype)},
            data={"kind": "photo", "csrf_token": csrf},
            headers={"X-CSRF-Token": csrf},
            follow_redirects=False,
        )

    html = b"<html><body><script>alert(document.cookie)</script></body></html>"
    r = post("photo.png", html, "image/png")
    assert r.status_code == 422
    assert "文件“photo.png”的内容是HTML 网页，附件只能是" in r.text
    r = post("photo.png", png(8, 8), "image/jpeg")
    assert r.status_code == 422 and "声明的类型为 image/jpeg，但内容是PNG 图片" in r.text
    r = post("huge.png", png(40_000, 20_000), "image/png")
    assert r.status_code == 422 and "图片边长（像素）为 40,000，超过上限 30,000" in r.text
    r = post("../../现场.png", png(8, 8), "image/png")
    assert r.status_code == 303
    r = post("报告.pdf", b"%PDF-1.7\n%%EOF", "application/pdf")
    assert r.status_code == 303
    with unit_of_work() as db:
        rows = db.execute(
            select(Attachment.id, Attachment.filename, Attachment.content_type).where(
                Attachment.household_id == hid
            )
        ).all()
        assert sorted((f, t) for _, f, t in rows) == [
            ("报告.pdf", "application/pdf"),
            ("现场.png", "image/png"),
        ]
        by_name = {f: i for i, f, _ in rows}
        # a row stored before uploads were inspected: HTML bytes behind a declared image type
        old = household_service.add_attachment(
            db, actor=ACTOR, scope=DataScope.everything(), household_id=hid, filename="a.png",
            content_type="image/png", content=png(2, 2), kind="photo",
        )  # fmt: skip
        digest = hashlib.sha256(html).hexdigest()
        household_service.attachment_path(digest).parent.mkdir(parents=True, exist_ok=True)
        household_service.attachment_path(digest).write_bytes(html)
        db.execute(text("UPDATE attachment SET sha256 = :s WHERE id = :i"), {"s": digest, "i": old.id})
        old_id = old.id
    img = client.get(f"/attachments/{by_name['现场.png']}")
    assert img.status_code == 200
    assert img.headers["content-type"] == "image/png"
    assert img.headers["content-disposition"] == "inline; filename*=UTF-8''%E7%8E%B0%E5%9C%BA.png"
    assert img.headers["x-content-type-options"] == "nosniff"
    pdf = client.get(f"/attachments/{by_name['报告.pdf']}")
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.headers["content-disposition"].startswith("attachment; filename*=UTF-8''")
    legacy = client.get(f"/attachments/{old_id}")
    assert legacy.status_code == 200
    assert legacy.headers["content-type"] == "application/octet-stream"
    assert legacy.headers["content-disposition"].startswith("attachment;")
    assert legacy.headers["x-content-type-options"] == "nosniff"


# ---------------------------------------------------------------- formula text in exports


def _sheet_xml(data: bytes) -> str:
    z = zipfile.ZipFile(io.BytesIO(data))
    return "".join(
        z.read(n).decode()
        for n in z.namelist()
        if n.startswith("xl/worksheets/") or n == "xl/sharedStrings.xml"
    )


def test_ledger_and_template_write_formula_text_as_text(db: Session) -> None:
    w = build_world(db, households=2)
    evil = '=HYPERLINK("http://evil.example/x","点我")'
    household_service.update_household(
        db,
        actor=ACTOR,
        scope=DataScope.everything(),
        household_id=w.household_ids[0],
        data={"head_name": evil, "address": "+cmd|'/c calc'!A0"},
    )
    buf = io.BytesIO()
    ledger.export_ledger(db, scope=DataScope.everything(), project_id=w.project_id, target=buf)
    xml = _sheet_xml(buf.getvalue())
    assert "<f>" not in xml, re.findall(r".{150}<f>.{100}", xml)
    assert '<t>=HYPERLINK("http://evil.example/x","点我")</t>' in xml  # a string cell
    buf = io.BytesIO()
    census.write_workbook(buf, {"households": [{"code": "X1", "head_name": evil, "address": "=1+1"}]})
    xml = _sheet_xml(buf.getvalue())
    assert "<f>" not in xml and "<t>=1+1</t>" in xml


def test_every_workbook_writer_turns_off_formulas() -> None:
    src = Path(__file__).resolve().parents[2] / "src" / "anju"
    writers = [p for p in src.rglob("*.py") if "xlsxwriter.Workbook(" in p.read_text(encoding="utf-8")]
    assert {p.name for p in writers} >= {"ledger.py", "template.py", "io.py"}
    for path in writers:
        body = path.read_text(encoding="utf-8")
        n = body.count("xlsxwriter.Workbook(")
        assert body.count('"strings_to_formulas": False') + body.count("**TEXT_AS_TEXT") >= n, path


# ---------------------------------------------------------------- real processes


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env(data_dir: Path) -> dict[str, str]:
    env = dict(os.environ, ANJU_DATA_DIR=str(data_dir), ANJU_ENV="test")
    env.pop("ANJU_DATABASE_URL", None)
    return env


@pytest.fixture
def world_on_disk(settings_env: Path) -> Iterator[Path]:
    """A SQLite file under the test's data folder holding the standard world (committed)."""
    settings_env.mkdir(parents=True, exist_ok=True)
    migrate.upgrade(get_settings().effective_database_url)
    with unit_of_work() as db:
        build_world(db, households=2)
    yield settings_env


def _serve(data_dir: Path, port: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [ANJU, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
        env=_env(data_dir),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _ready(port: int, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        assert proc.poll() is None, "server exited"
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.3)
    pytest.fail("server did not answer")


def test_a_real_server_survives_the_hostile_workbook_and_sweeps_after_a_kill(world_on_disk: Path) -> None:
    port = _free_port()
    proc = _serve(world_on_disk, port)
    try:
        _ready(port, proc)
        base = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=base, timeout=120) as c:
            login = c.post("/api/v1/auth/login", json={"username": "case_officer", "password": PASSWORD})
            assert login.status_code == 200, login.text
            csrf = login.json()["csrf_token"]
            projects = c.get("/api/v1/projects").json()
            pid = (projects["items"] if isinstance(projects, dict) else projects)[0]["id"]
            r = c.post(
                f"/api/v1/projects/{pid}/census?dry_run=false",
                files={"file": ("a.xlsx", a1_xfd(), "application/octet-stream")},
                headers={"X-CSRF-Token": csrf},
            )
            assert r.status_code == 422 and r.json()["code"] == "upload_too_large"
            assert c.get("/healthz").status_code == 200  # the process lives
            # a checked upload waits, sealed; then the server is killed
            data = census_file()
            r = c.post(
                f"/projects/{pid}/import",
                files={"file": ("入户调查表.xlsx", data, "application/octet-stream")},
                headers={"X-CSRF-Token": csrf, "HX-Request": "true"},
            )
            assert r.status_code == 200
            deadline = time.monotonic() + 60
            while "校验通过" not in r.text and time.monotonic() < deadline:
                job = re.search(r'hx-get="(/imports/[0-9a-f]+)"', r.text)
                assert job, r.text
                time.sleep(0.2)
                r = c.get(job.group(1), headers={"HX-Request": "true"})
            assert "校验通过" in r.text
        files = sorted((world_on_disk / "imports").iterdir())
        assert [f.name.endswith(".sealed") for f in files] == [True]
        assert b"PK\x03\x04" not in files[0].read_bytes()
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        assert files[0].exists()  # left by the killed process, unreadable without the key it had
        proc = _serve(world_on_disk, port)
        _ready(port, proc)
        assert list((world_on_disk / "imports").iterdir()) == []  # swept at start-up
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def test_kill_9_during_a_cli_import_is_all_or_nothing(world_on_disk: Path, tmp_path: Path) -> None:
    path = tmp_path / "census.xlsx"
    # Large enough that writing takes a while: on a loaded machine the watcher below may only be
    # scheduled tens of milliseconds late, and it must still see the rows going in before the commit.
    path.write_bytes(census_file(n=9000, seed=9))
    url = get_settings().effective_database_url
    wal = world_on_disk / "anju.db-wal"
    baseline = wal.stat().st_size if wal.exists() else 0
    proc = subprocess.Popen(
        [ANJU, "import", "census", str(path), "--project", "P1"],
        env=_env(world_on_disk),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    # kill it while it writes: once the write-ahead log has grown (the rows are going in)
    deadline = time.monotonic() + 120
    while proc.poll() is None and time.monotonic() < deadline:
        if wal.exists() and wal.stat().st_size > baseline + 256 * 1024:
            break
        time.sleep(0.01)
    assert proc.poll() is None, "the import finished before it could be killed"
    proc.send_signal(signal.SIGKILL)
    assert proc.wait(timeout=60) == -signal.SIGKILL
    engine = create_engine(url)
    with engine.connect() as conn:
        n = conn.execute(
            select(func.count()).select_from(Household).where(Household.code.like("HF%"))
        ).scalar_one()
    engine.dispose()
    assert n == 0  # killed before its commit: nothing of it
    verify = subprocess.run(
        [ANJU, "audit", "verify"], env=_env(world_on_disk), capture_output=True, timeout=300
    )
    assert verify.returncode == 0, verify.stdout.decode() + verify.stderr.decode()
    imports = world_on_disk / "imports"
    assert not imports.exists() or list(imports.iterdir()) == []  # the CLI keeps no copy of the file
    # the same file imports completely afterwards
    done = subprocess.run(
        [ANJU, "import", "census", str(path), "--project", "P1"],
        env=_env(world_on_disk),
        capture_output=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout.decode()[-2000:]
    engine = create_engine(url)
    with engine.connect() as conn:
        n = conn.execute(
            select(func.count()).select_from(Household).where(Household.code.like("HF%"))
        ).scalar_one()
    engine.dispose()
    assert n == 9000


def test_the_cli_refuses_an_oversize_file_without_reading_it(
    world_on_disk: Path, tmp_path: Path, lowered: Callable[..., None]
) -> None:
    from typer.testing import CliRunner

    from anju.cli import app

    lowered(max_upload_mb=1)
    path = tmp_path / "big.xlsx"
    with path.open("wb") as fh:
        fh.truncate(3 * 1024 * 1024)
    out = CliRunner().invoke(app, ["import", "census", str(path), "--project", "P1"])
    assert out.exit_code == 1
    text = out.output.replace("\n", "")  # Rich wraps at the terminal width
    assert "文件“big.xlsx”大小（字节）为 3,145,728，超过上限 1,048,576，已拒绝" in text


def test_the_cli_refuses_the_a1_xfd_workbook_and_lives(world_on_disk: Path, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from anju.cli import app

    path = tmp_path / "a1-xfd.xlsx"
    path.write_bytes(a1_xfd())
    out = CliRunner().invoke(app, ["import", "census", str(path), "--project", "P1"])
    assert out.exit_code == 1
    text = out.output.replace("\n", "")
    assert "工作表“户”的单元格范围为 1,048,576 行 × 16,384 列 = 17,179,869,184 格" in text
    with unit_of_work() as db:
        assert db.scalar(select(func.count()).select_from(Household)) == 2  # the world's, nothing more


# ---------------------------------------------------------------- the bank's result file (payments)


def _exported_batch(world: World, payee_name: str = "") -> int:
    """A payment batch of the world's first household, approved and exported (its result awaited)."""
    from anju.agreement import service as agreement_service
    from anju.compensation import service as compensation_service
    from anju.core.actor import Actor
    from anju.core.dates import today_shanghai
    from anju.demo.policies import POLICY_DIR
    from anju.payment import service as payment_service

    def actor(role: str) -> Actor:
        return Actor(user_id=world.users[role], username=role, display_name=role, role=role)

    with unit_of_work() as db:
        compensation_service.publish(
            db, actor=ACTOR, project_id=world.project_id, source=(POLICY_DIR / "shantytown.yaml").read_text()
        )
        agreement_service.sign(
            db,
            actor=ACTOR,
            scope=DataScope.everything(),
            household_id=world.household_ids[0],
            option="cash",
            sign_on=today_shanghai(),
            payee=agreement_service.Payee(name=payee_name, bank="青溪农商银行", account="6222020200001234"),
        )
        b = payment_service.create_batch(db, actor=actor("finance"), project_id=world.project_id)
        payment_service.submit_batch(db, actor=actor("finance"), batch_id=b.id)
        payment_service.approve_batch(db, actor=actor("commander"), batch_id=b.id)
        payment_service.export_batch(db, actor=actor("finance"), batch_id=b.id, fmt="csv")
        return int(b.id)


def _batch_state(batch_id: int) -> tuple[str, list[tuple[str, str]], int]:
    from anju.audit import service as audit_service
    from anju.payment import service as payment_service

    with unit_of_work() as db:
        v = payment_service.get_batch(db, batch_id=batch_id)
        return v.batch.status, [(p.status, p.bank_ref) for p in v.lines], audit_service.count(db)


def test_hostile_result_files_are_refused_before_parsing_and_change_nothing(
    client_as: ClientAs, lowered: Callable[..., None]
) -> None:
    client, csrf, world = client_as("finance")
    bid = _exported_batch(world)
    before = _batch_state(bid)
    assert before[0] == "exported"

    def api(data: bytes, name: str = "回盘.xlsx") -> httpx.Response:
        return client.post(
            f"/api/v1/payment-batches/{bid}/result",
            files={"file": (name, data, "application/octet-stream")},
            headers={"X-CSRF-Token": csrf},
        )

    r = api(a1_xfd())
    assert r.status_code == 422 and r.json()["code"] == "upload_too_large"
    assert "工作表“户”的单元格范围为 1,048,576 行 × 16,384 列 = 17,179,869,184 格" in r.json()["message"]
    page = client.post(
        f"/payment-batches/{bid}/result",
        data={"csrf_token": csrf, "paid_on": ""},
        files={"file": ("回盘.xlsx", a1_xfd(), "application/octet-stream")},
    )
    assert page.status_code == 422 and "超过上限 10,000,000 格，已拒绝" in page.text
    html = b"<!DOCTYPE html><html><body><script>alert(1)</script></body></html>"
    r = api(html)
    assert r.status_code == 422 and r.json()["code"] == "upload_wrong_type"
    assert "的内容是HTML 网页，不是Excel 工作簿" in r.json()["message"]
    r = api(png(4, 4), "回盘.csv")
    assert r.status_code == 422 and r.json()["code"].startswith("upload_")
    lowered(upload_max_ratio=50)
    r = api(bomb())
    assert r.status_code == 422 and "压缩比超过上限 50 倍" in r.json()["message"]
    # a CSV whose cells are formulas and controls: read as text, refused row by row, nothing applied
    evil = '\ufeff序号,金额,结果,银行流水号\r\n=1+1,"=HYPERLINK(""http://evil.example"")",成功,"@SUM(A1)"\r\n'.encode()
    r = api(evil, "回盘.csv")
    assert r.status_code == 422, r.text
    assert [d["message"] for d in r.json()["details"]][:2] == [
        "第 2 行“序号”：“=1+1”不是有效的序号",
        '第 2 行“金额”：“=HYPERLINK("http://evil.example")”不是有效的金额（元，最多两位小数）',
    ]
    assert client.get("/healthz").status_code == 200
    assert _batch_state(bid) == before
    assert leftovers() == []


def test_the_bank_file_writes_formula_text_as_text(client_as: ClientAs) -> None:
    client, _csrf, world = client_as("finance")
    evil = '=HYPERLINK("http://evil.example/x","点我")'
    bid = _exported_batch(world, payee_name=evil)
    r = client.get(f"/api/v1/payment-batches/{bid}/export?format=xlsx")
    assert r.status_code == 200
    xml = _sheet_xml(r.content)
    assert "<f>" not in xml and '<t>=HYPERLINK("http://evil.example/x","点我")</t>' in xml
    assert "<t>6222020200001234</t>" in xml  # the account is a text cell, not a number
    r = client.get(f"/api/v1/payment-batches/{bid}/export?format=csv")
    row = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))[1]
    assert row[1] == "'" + evil and row[2] == "6222020200001234"
