"""``anju open311``: a key is printed once and only its SHA-256 kept; listing shows no key; a
revoked key no longer passes the check."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from typer.testing import CliRunner

from anju.cli import app
from anju.config import get_settings
from anju.db import migrate
from anju.db.session import unit_of_work
from anju.service_request.open311 import Open311Error
from anju.service_request.service import open311 as open311_service

runner = CliRunner()


def test_key_add_list_revoke(settings_env: Path) -> None:
    settings_env.mkdir(parents=True, exist_ok=True)
    migrate.upgrade(get_settings().effective_database_url)
    added = runner.invoke(app, ["open311", "key-add", "12345 热线 App"])
    assert added.exit_code == 0, added.output
    lines = added.output.strip().splitlines()
    assert lines[0] == "已为“12345 热线 App”新建 API 密钥（编号 1），只显示这一次："
    key = lines[1]
    assert len(key) == 32
    engine = create_engine(get_settings().effective_database_url)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT name, key_hash, active FROM service_api_key")).all()
    engine.dispose()
    assert [tuple(r) for r in rows] == [("12345 热线 App", hashlib.sha256(key.encode()).hexdigest(), 1)]
    with unit_of_work() as db:
        assert open311_service.check_key(db, key).name == "12345 热线 App"
    listed = runner.invoke(app, ["open311", "key-list"])
    assert listed.exit_code == 0 and "12345 热线 App" in listed.output and "启用" in listed.output
    assert key not in listed.output
    revoked = runner.invoke(app, ["open311", "key-revoke", "1"])
    assert revoked.exit_code == 0 and "已停用“12345 热线 App”的 API 密钥（编号 1）" in revoked.output
    with unit_of_work() as db, pytest.raises(Open311Error) as exc:
        open311_service.check_key(db, key)
    assert exc.value.code == 403
    missing = runner.invoke(app, ["open311", "key-revoke", "9"])
    assert missing.exit_code == 1 and "API 密钥（编号 9）不存在" in missing.output
    empty = runner.invoke(app, ["open311", "key-add", " "])
    assert empty.exit_code == 1 and "客户端名称须为 1 到 64 个字" in empty.output
