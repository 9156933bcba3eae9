"""The session-end scan finds planted identity numbers in logs, data folders and ZIP members."""

from __future__ import annotations

import shutil
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.factories import id_number
from tests.pii_scan import scan_bytes, scan_folders

NUMBER = id_number(3)


@pytest.fixture
def outside() -> Iterator[Path]:
    """A folder outside the session's temporary folder, which the session-end scan reads."""
    path = Path(tempfile.mkdtemp(prefix="anju-pii-scan-test-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_a_planted_number_is_found_and_reported_masked(outside: Path) -> None:
    tmp_path = outside
    log = tmp_path / "e2e0" / "server.log"
    log.parent.mkdir()
    log.write_text(f"start\nGET /households?q={NUMBER} 200\n", encoding="utf-8")
    data = tmp_path / "t0" / "data"
    (data / "imports").mkdir(parents=True)
    (data / "imports" / "left.csv").write_text(f"name,id\n张三,{NUMBER}\n", encoding="utf-8")
    with zipfile.ZipFile(data / "imports" / "census.xlsx", "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("xl/sharedStrings.xml", f"<si><t>{NUMBER}</t></si>")
    db = tmp_path / "db0" / "anju-1.db"
    db.parent.mkdir()
    db.write_bytes(b"SQLite format 3\x00" + b"\x00" * 100 + NUMBER.encode() + b"\x00")
    # a test input outside any data folder is not the app's doing: not scanned
    (tmp_path / "t0" / "input.csv").write_text(NUMBER, encoding="utf-8")
    found = scan_folders(tmp_path)
    masked = NUMBER[:6] + "********" + NUMBER[-4:]
    assert sorted(str(f) for f in found) == sorted(
        [
            f"{log}:2: plaintext identity number {masked}",
            f"{db}:1: plaintext identity number {masked}",
            f"{data / 'imports' / 'left.csv'}:2: plaintext identity number {masked}",
            f"{data / 'imports' / 'census.xlsx'}!xl/sharedStrings.xml:1: plaintext identity number {masked}",
        ]
    )
    assert all(NUMBER not in str(f) for f in found)


def test_clean_folders_and_near_misses_pass(outside: Path) -> None:
    tmp_path = outside
    data = tmp_path / "data"
    data.mkdir()
    wrong_check = NUMBER[:17] + ("0" if NUMBER[17] != "0" else "1")
    (data / "a.log").write_text(
        f"{wrong_check} {NUMBER}7 {NUMBER[:6]}********{NUMBER[-4:]} [id-redacted]\n", encoding="utf-8"
    )
    assert scan_folders(tmp_path) == []
    assert [f.line for f in scan_bytes(f"x\ny\n{NUMBER.lower()}".encode(), "mem")] == [3]
