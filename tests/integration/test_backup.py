"""Backup and restore round trips: SQLite online copy, and the portable archive across all three databases.

The source is a SQLite file holding a committed world (households, members with identity numbers,
buildings, users, team assignments, attachments, a published policy, audit records). Each restore
goes into a freshly migrated database and every table is compared row by row with the source.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import stat
import zipfile
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from anju.backup import service as backup_service
from anju.backup import sqlite_copy
from anju.backup.service import BackupInvalid, RestoreRefused
from anju.cli import app
from anju.compensation import service as compensation_service
from anju.config import get_settings
from anju.db import migrate
from anju.db.session import make_engine
from anju.demo.policies import POLICY_DIR
from anju.household import service as household_service
from anju.household.models import Household, Member
from anju.identity.service import DataScope
from tests.conftest import ServerDatabase, new_database
from tests.factories import ACTOR, build_world, id_number

ALL = DataScope.everything()
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10\x00\x00\x00\x10\x08\x02\x00\x00\x00"


def dump(engine: Engine) -> dict[str, list[dict[str, Any]]]:
    """Every table of the database, encoded as in a backup, in primary-key order."""
    with engine.connect() as conn:
        return {t.name: list(backup_service.read_rows(conn, t)) for t in backup_service.tables()}


def to_seconds(data: dict[str, list[dict[str, Any]]]) -> dict[str, list[dict[str, Any]]]:
    """The same rows with datetimes cut to whole seconds (MariaDB's DATETIME keeps no fraction)."""
    kinds = {
        t.name: {c.name for c in t.columns if backup_service._python_type(c) is datetime}
        for t in backup_service.tables()
    }
    return {
        name: [
            {
                k: (
                    datetime.fromisoformat(v).replace(microsecond=0).isoformat()
                    if k in kinds[name] and v
                    else v
                )
                for k, v in row.items()
            }
            for row in rows
        ]
        for name, rows in data.items()
    }


def total_rows(engine: Engine) -> int:
    with engine.connect() as conn:
        return sum(
            int(conn.scalar(select(func.count()).select_from(t)) or 0) for t in backup_service.tables()
        )


def files_under(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


class Fresh:
    """Freshly migrated, empty databases of any backend, dropped at the end of the test."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.handles: list[tuple[Engine, ServerDatabase | None]] = []

    def __call__(self, backend: str) -> Engine:
        url, handle = new_database(backend, self.tmp_path)
        migrate.upgrade(url)
        engine = make_engine(url)
        self.handles.append((engine, handle))
        return engine

    def close(self) -> None:
        for engine, handle in self.handles:
            engine.dispose()
            if handle is not None:
                handle.drop()


@pytest.fixture
def fresh(tmp_path: Path) -> Iterator[Fresh]:
    made = Fresh(tmp_path)
    yield made
    made.close()


@pytest.fixture
def source(settings_env: Path, fresh: Fresh) -> Engine:
    """A committed world on SQLite, its attachments under the test's data folder."""
    engine = fresh("sqlite")
    with Session(engine) as db:
        w = build_world(db, households=5)
        for i, hid in enumerate(w.household_ids[:3]):
            household_service.add_attachment(
                db,
                actor=ACTOR,
                scope=ALL,
                household_id=hid,
                filename=f"现场{i}.png",
                content_type="image/png",
                content=PNG + bytes([i % 2]) * 64,
                kind="photo",  # two distinct files, one shared by two rows
            )
        household_service.update_household(
            db,
            actor=ACTOR,
            scope=ALL,
            household_id=w.household_ids[0],
            data={"remark": "备注：含“引号”与\n换行"},
            reason="核对",
        )
        source_text = (POLICY_DIR / "shantytown.yaml").read_text(encoding="utf-8")
        compensation_service.publish(
            db, actor=ACTOR, project_id=w.project_id, source=source_text, file_name="p.yaml"
        )
        db.commit()
    return engine


def test_world_has_every_kind_of_value(source: Engine) -> None:
    data = dump(source)
    for table in (
        "household",
        "member",
        "building",
        "attachment",
        "policy_version",
        "audit_record",
        "user",
        "team",
    ):
        assert data[table], table
    assert len(data["attachment"]) == 3
    # Identity numbers travel as the encrypted column, never in clear.
    assert all(m["id_number_cipher"] and "330102" not in m["id_number_cipher"] for m in data["member"])
    assert data["building"][0]["legal_area"] == "88.50"  # Decimal as exact text
    assert data["household"][0]["created_at"].endswith("+00:00")  # datetimes in UTC


# ------------------------------------------------------------------ SQLite online copy


def test_sqlite_copy_round_trip_while_a_writer_is_in_a_transaction(
    source: Engine, fresh: Fresh, tmp_path: Path
) -> None:
    expected = dump(source)
    # Another connection is in the middle of a write: the copy neither waits for it nor includes it.
    writer = sqlite3.connect(source.url.database, timeout=1)
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("UPDATE household SET remark = 'uncommitted' WHERE id = 1")
    try:
        copy = tmp_path / "copy.db"
        revision = sqlite_copy.sqlite_copy(str(source.url), copy)
    finally:
        writer.rollback()
        writer.close()
    assert revision == expected_revision(source)
    assert stat.S_IMODE(copy.stat().st_mode) == 0o600
    target = fresh("sqlite")
    result = sqlite_copy.restore_sqlite_copy(target, copy)
    assert result.ok, result.problem
    assert result.checked == len(expected["audit_record"])
    assert dump(target) == expected


def test_sqlite_copy_refuses_a_non_empty_target_and_a_server_database(source: Engine, tmp_path: Path) -> None:
    copy = tmp_path / "copy.db"
    sqlite_copy.sqlite_copy(str(source.url), copy)
    before = dump(source)
    with pytest.raises(RestoreRefused) as refused:
        sqlite_copy.restore_sqlite_copy(source, copy)
    assert refused.value.code == "target_not_empty"
    assert "目标数据库不是空库" in refused.value.message_zh
    assert dump(source) == before
    with pytest.raises(BackupInvalid) as not_sqlite:
        sqlite_copy.sqlite_copy("postgresql+psycopg://x@127.0.0.1/anju", tmp_path / "x.db")
    assert "pg_dump" in not_sqlite.value.message_zh
    with pytest.raises(BackupInvalid) as exists:
        sqlite_copy.sqlite_copy(str(source.url), copy)  # never overwrites a backup
    assert "已存在" in exists.value.message_zh


def expected_revision(engine: Engine) -> str:
    with engine.connect() as conn:
        return str(conn.scalar(text("SELECT version_num FROM alembic_version")))


# ------------------------------------------------------------------ portable archive


@pytest.mark.parametrize("backend", ["sqlite", "postgres", "mariadb"])
def test_archive_round_trip_to_each_database_and_back(
    backend: str, source: Engine, fresh: Fresh, tmp_path: Path, settings_env: Path
) -> None:
    expected = dump(source)
    archive = tmp_path / "anju.zip"
    made = backup_service.create_archive(source, archive)
    assert stat.S_IMODE(archive.stat().st_mode) == 0o600
    assert made.rows == {name: len(rows) for name, rows in expected.items()}
    assert made.attachments == 2
    with zipfile.ZipFile(archive) as zf:
        manifest = json.loads(zf.read("manifest.json"))
        household_lines = zf.read("tables/household.jsonl").decode().splitlines()
    assert manifest["format_version"] == 1 and manifest["alembic_revision"] == expected_revision(source)
    assert [json.loads(line)["id"] for line in household_lines] == [r["id"] for r in expected["household"]]

    target = fresh(backend)
    restored_files = tmp_path / "restored-attachments"
    summary = backup_service.restore_archive(target, archive, attachment_dir=restored_files)
    assert summary.audit is not None and summary.audit.ok, summary.audit and summary.audit.problem
    assert summary.audit.checked == len(expected["audit_record"])
    got = dump(target)
    assert (to_seconds(got) if backend == "mariadb" else got) == (
        to_seconds(expected) if backend == "mariadb" else expected
    )
    for a in expected["attachment"]:
        original = (settings_env / "attachments" / a["sha256"][:2] / a["sha256"]).read_bytes()
        copied = (restored_files / a["sha256"][:2] / a["sha256"]).read_bytes()
        assert copied == original and hashlib.sha256(copied).hexdigest() == a["sha256"]

    # New rows get fresh ids after the restored ones (PostgreSQL sequences were moved).
    with Session(target) as db:
        project_id = expected["project"][0]["id"]
        h = household_service.create_household(
            db,
            actor=ACTOR,
            project_id=project_id,
            data={"code": "H9999", "head_name": "新户", "address": "新路1号"},
        )
        db.flush()
        assert h.id == max(r["id"] for r in expected["household"]) + 1
        # Identity numbers decrypt with the same secret key.
        first = db.get(Member, expected["member"][0]["id"])
        assert first is not None and household_service.reveal_id_number(first) == id_number(1)
        db.rollback()

    # And back: the target's archive restores into a fresh SQLite file exactly as the target holds it.
    again = tmp_path / "again.zip"
    backup_service.create_archive(target, again, attachment_dir=restored_files)
    back = fresh("sqlite")
    back_files = tmp_path / "back-attachments"
    summary = backup_service.restore_archive(back, again, attachment_dir=back_files)
    assert summary.audit is not None and summary.audit.ok
    assert dump(back) == got
    assert [p.name for p in files_under(back_files)] == [p.name for p in files_under(restored_files)]


def _rewrite(archive: Path, out: Path, change: dict[str, bytes | None]) -> None:
    """Copy ``archive`` to ``out`` with some members replaced (or dropped when ``None``)."""
    with zipfile.ZipFile(archive) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = change.get(info.filename, src.read(info.filename))
            if data is not None:
                dst.writestr(info.filename, data)


def _corrupt(kind: str, archive: Path, out: Path) -> None:
    raw = archive.read_bytes()
    with zipfile.ZipFile(archive) as zf:
        households = zf.read("tables/household.jsonl")
        manifest = json.loads(zf.read("manifest.json"))
        attachment = manifest["attachments"][0]["file"]
    if kind == "truncated":
        out.write_bytes(raw[: len(raw) // 2])
    elif kind == "not a zip":
        out.write_bytes(b"hello, this is not a backup")
    elif kind == "edited row":  # valid JSON, so rows are inserted before the checksum catches it
        _rewrite(
            archive, out, {"tables/household.jsonl": households.replace("张建国".encode(), "张建民".encode())}
        )
    elif kind == "dropped row":
        _rewrite(
            archive, out, {"tables/household.jsonl": b"".join(households.splitlines(keepends=True)[:-1])}
        )
    elif kind == "missing part":
        _rewrite(archive, out, {"tables/member.jsonl": None})
    elif kind == "altered attachment":
        _rewrite(archive, out, {attachment: b"\x89PNG tampered"})
    elif kind == "retyped value":  # checksum recomputed: the value's type is what gives it away
        lines = households.splitlines(keepends=True)
        lines[1] = lines[1].replace(b'"project_id":1,', b'"project_id":"1",', 1)
        edited = b"".join(lines)
        part = next(p for p in manifest["tables"] if p["table"] == "household")
        part["sha256"] = hashlib.sha256(edited).hexdigest()
        _rewrite(
            archive, out, {"tables/household.jsonl": edited, "manifest.json": json.dumps(manifest).encode()}
        )
    elif kind == "flipped byte":  # inside a compressed member: zlib or CRC error
        with zipfile.ZipFile(archive) as zf:
            info = zf.getinfo("tables/audit_record.jsonl")
        at = info.header_offset + 30 + len(info.filename) + info.compress_size // 2
        out.write_bytes(raw[:at] + bytes([raw[at] ^ 0xFF]) + raw[at + 1 :])
    else:
        raise AssertionError(kind)


@pytest.mark.parametrize(
    ("kind", "says"),
    [
        ("truncated", "不是有效的 zip 归档"),
        ("not a zip", "不是有效的 zip 归档"),
        ("edited row", "tables/household.jsonl 的 SHA-256 与清单不符"),
        ("dropped row", "tables/household.jsonl 的 SHA-256 与清单不符"),
        ("missing part", "缺少 tables/member.jsonl"),
        ("altered attachment", "的内容与校验值不符"),
        ("flipped byte", "tables/audit_record.jsonl"),
        ("retyped value", "tables/household.jsonl 第 2 行无法读取（列 project_id 应为 int，实为 str）"),
    ],
)
def test_a_damaged_archive_is_refused_and_writes_nothing(
    kind: str, says: str, source: Engine, fresh: Fresh, tmp_path: Path
) -> None:
    archive = tmp_path / "anju.zip"
    backup_service.create_archive(source, archive)
    bad = tmp_path / f"bad-{kind}.zip"
    _corrupt(kind, archive, bad)
    target = fresh("sqlite")
    files = tmp_path / "target-attachments"
    with pytest.raises(BackupInvalid) as refused:
        backup_service.restore_archive(target, bad, attachment_dir=files)
    assert says in refused.value.message_zh
    assert refused.value.message_zh.endswith("未写入任何数据")
    assert total_rows(target) == 0
    assert files_under(files) == []


def test_restore_refuses_a_non_empty_database_unless_replace(
    source: Engine, fresh: Fresh, tmp_path: Path
) -> None:
    archive = tmp_path / "anju.zip"
    backup_service.create_archive(source, archive)
    expected = dump(source)
    target = fresh("sqlite")
    with Session(target) as db:
        build_world(db, households=2, code="OTHER")
        db.commit()
    before = dump(target)
    with pytest.raises(RestoreRefused) as refused:
        backup_service.restore_archive(target, archive, attachment_dir=tmp_path / "files")
    assert refused.value.code == "target_not_empty"
    assert "project（1 行）" in refused.value.message_zh and "--replace" in refused.value.message_zh
    assert dump(target) == before
    summary = backup_service.restore_archive(target, archive, attachment_dir=tmp_path / "files", replace=True)
    assert summary.audit is not None and summary.audit.ok
    assert dump(target) == expected


def test_restore_refuses_another_revision_and_other_audit_keys(
    source: Engine, fresh: Fresh, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive = tmp_path / "anju.zip"
    backup_service.create_archive(source, archive)
    with zipfile.ZipFile(archive) as zf:
        manifest = json.loads(zf.read("manifest.json"))
    manifest["alembic_revision"] = "0001"
    older = tmp_path / "older.zip"
    _rewrite(archive, older, {"manifest.json": json.dumps(manifest).encode()})
    target = fresh("sqlite")
    with pytest.raises(RestoreRefused) as refused:
        backup_service.restore_archive(target, older, attachment_dir=tmp_path / "files")
    assert refused.value.code == "revision_mismatch"
    assert "备份的数据库版本（0001）与本程序的版本" in refused.value.message_zh
    assert total_rows(target) == 0
    unmigrated = make_engine(f"sqlite:///{tmp_path / 'unmigrated.db'}")
    with pytest.raises(RestoreRefused) as not_migrated:
        backup_service.restore_archive(unmigrated, archive, attachment_dir=tmp_path / "files")
    assert "目标数据库尚未迁移：请先运行 anju db upgrade" in not_migrated.value.message_zh
    unmigrated.dispose()

    # Another installation's audit key: the chain does not verify, and nothing is kept.
    monkeypatch.setenv("ANJU_SECRET_KEY", "another-secret-key-of-another-office-0123456789")
    get_settings.cache_clear()
    with pytest.raises(RestoreRefused) as unverified:
        backup_service.restore_archive(target, archive, attachment_dir=tmp_path / "files")
    assert unverified.value.code == "audit_unverified"
    assert "ANJU_AUDIT_KEYS" in unverified.value.message_zh
    assert total_rows(target) == 0
    assert files_under(tmp_path / "files") == []
    # The operator may accept an unverified chain explicitly (keys lost): the data is then restored.
    summary = backup_service.restore_archive(
        target, archive, attachment_dir=tmp_path / "files", accept_unverified=True
    )
    assert summary.audit is not None and not summary.audit.ok
    assert total_rows(target) == total_rows(source)


def test_cli_backup_and_restore(
    source: Engine, settings_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner = CliRunner(env={"COLUMNS": "300"})  # Rich wraps at the terminal width otherwise
    monkeypatch.setenv("ANJU_DATABASE_URL", str(source.url))
    get_settings.cache_clear()
    from anju.db.session import get_engine

    get_engine.cache_clear()
    archive = tmp_path / "cli.zip"
    made = runner.invoke(app, ["backup", str(archive)])
    assert made.exit_code == 0, made.output
    assert "已生成备份" in made.output and "权限 0600" in made.output
    refused = runner.invoke(app, ["restore", str(archive)])  # the source itself is not empty
    assert refused.exit_code == 1
    assert "目标数据库不是空库" in refused.output
    bad = tmp_path / "bad.zip"
    bad.write_bytes(archive.read_bytes()[:1000])
    broken = runner.invoke(app, ["restore", str(bad)])
    assert (
        broken.exit_code == 1 and "不是有效的 zip 归档" in broken.output and "Traceback" not in broken.output
    )
    # A fresh data folder and database: the restore passes and verifies.
    monkeypatch.setenv("ANJU_DATA_DIR", str(tmp_path / "new-data"))
    monkeypatch.setenv("ANJU_DATABASE_URL", f"sqlite:///{tmp_path / 'new.db'}")
    get_settings.cache_clear()
    get_engine.cache_clear()
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    done = runner.invoke(app, ["restore", str(archive)])
    assert done.exit_code == 0, done.output
    assert "审计链核验通过" in done.output
    get_engine().dispose()
    get_engine.cache_clear()
    assert len(files_under(tmp_path / "new-data" / "attachments")) == 2
    with Session(make_engine(f"sqlite:///{tmp_path / 'new.db'}")) as db:
        assert db.scalar(select(func.count()).select_from(Household)) == 5


@pytest.mark.parametrize("backend", ["sqlite", "postgres", "mariadb"])
def test_archive_is_one_snapshot_while_others_write(
    backend: str, fresh: Fresh, tmp_path: Path, settings_env: Path
) -> None:
    engine = fresh(backend)
    with Session(engine) as db:
        w = build_world(db, households=3)
        db.commit()
    first, last = w.household_ids[0], w.household_ids[-1]

    class WriteMidway(backup_service.Progress):
        """Commits a change to an already-copied table and to one not yet copied, between two tables."""

        def start(self, label: str, total: int) -> None:
            if label == "表 member":  # household is written before member (parents first)
                with engine.begin() as other:
                    other.execute(
                        text("UPDATE household SET remark = 'late' WHERE id IN (:a, :b)"),
                        {"a": first, "b": last},
                    )
                    other.execute(text("UPDATE member SET phone = '13900000000'"))

    archive = tmp_path / "snapshot.zip"
    backup_service.create_archive(engine, archive, progress=WriteMidway())
    with zipfile.ZipFile(archive) as zf:
        households = [json.loads(line) for line in zf.read("tables/household.jsonl").splitlines()]
        members = [json.loads(line) for line in zf.read("tables/member.jsonl").splitlines()]
    assert [h["remark"] for h in households] == ["", "", ""]
    assert {m["phone"] for m in members} == {"13800000000"}  # the later table too: one snapshot
    with engine.connect() as conn:  # the writes did commit
        assert conn.scalar(text("SELECT COUNT(*) FROM member WHERE phone = '13900000000'")) == 3


def test_a_backup_with_a_missing_or_altered_attachment_file_is_not_written(
    source: Engine, settings_env: Path, tmp_path: Path
) -> None:
    sha = dump(source)["attachment"][0]["sha256"]
    stored = settings_env / "attachments" / sha[:2] / sha
    stored.write_bytes(b"altered")
    target = tmp_path / "backups" / "anju.zip"
    with pytest.raises(BackupInvalid) as altered:
        backup_service.create_archive(source, target)
    assert (
        altered.value.message_zh
        == f"附件文件校验失败：{stored} 的内容与其校验值不符（可能已被篡改），备份未生成"
    )
    stored.unlink()
    with pytest.raises(BackupInvalid) as missing:
        backup_service.create_archive(source, target)
    assert missing.value.message_zh.startswith(f"附件文件缺失：{stored}")
    assert files_under(tmp_path / "backups") == []  # no partial file left behind
