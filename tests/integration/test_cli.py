"""The ``anju`` command against a real SQLite file: demo data, audit verification, policy publishing."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from typer.testing import CliRunner

from anju.cli import app
from anju.config import get_settings

runner = CliRunner()


def test_audit_verify_passes_on_demo_and_names_a_tampered_record(settings_env: Path) -> None:
    result = runner.invoke(app, ["demo", "--scale", "0.05"])
    assert result.exit_code == 0, result.output
    assert "zhihui" in result.output  # demo logins are printed
    from anju.audit import anchors

    first = anchors.last_anchor(anchors.anchor_dir())  # the demo anchors its chain's head at once
    assert first is not None and first.seq > 0
    ok = runner.invoke(app, ["audit", "verify"])
    assert ok.exit_code == 0, ok.output
    assert "审计链完整" in ok.output
    engine = create_engine(get_settings().effective_database_url)
    with engine.begin() as conn:
        seq, rid = conn.execute(
            text("SELECT seq, id FROM audit_record WHERE entity = 'household' LIMIT 1")
        ).one()
        conn.execute(text("UPDATE audit_record SET reason = '改' WHERE id = :i"), {"i": rid})
    engine.dispose()
    broken = runner.invoke(app, ["audit", "verify"])
    assert broken.exit_code == 1
    assert f"第 {seq} 条记录（id={rid}）" in broken.output
    assert f"seq {seq}" in broken.output


def test_policy_publish_and_versions_from_the_command_line(settings_env: Path, tmp_path: Path) -> None:
    assert runner.invoke(app, ["demo", "--scale", "0.05"]).exit_code == 0
    # The demo already published version 1; an amended file becomes version 2.
    from anju.demo.policies import POLICY_DIR

    amended = tmp_path / "amended.yaml"
    source = (POLICY_DIR / "shantytown.yaml").read_text(encoding="utf-8")
    amended.write_text(
        source.replace(
            "appliance_subsidy: {label: 空调热水器等移机费, unit: 元, value: 2000}",
            "appliance_subsidy: {label: 空调热水器等移机费, unit: 元, value: 2500}",
        ),
        encoding="utf-8",
    )
    assert amended.read_text(encoding="utf-8") != source
    r = runner.invoke(app, ["policy", "publish", str(amended), "--project", "QX-2024-02"])
    assert r.exit_code == 0, r.output
    assert "第 2 版" in r.output
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        source.replace("formula: house_value * cash_bonus_share", "formula: house_value + 1㎡"),
        encoding="utf-8",
    )
    r = runner.invoke(app, ["policy", "publish", str(bad), "--project", "QX-2024-02"])
    assert r.exit_code == 1
    assert f"{bad}:" in r.output  # file:line:column of the problem
    listing = runner.invoke(app, ["policy", "versions", "--project", "QX-2024-02"])
    assert listing.exit_code == 0 and "2" in listing.output


def test_a_refused_configuration_is_a_message_not_a_traceback(
    settings_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANJU_ENV", "production")
    monkeypatch.setenv("ANJU_SECRET_KEY", "anju-dev-secret-change-me")
    get_settings.cache_clear()
    try:
        result = runner.invoke(app, ["db", "upgrade"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 2
    assert "配置有误，未启动" in result.output
    assert "ANJU_SECRET_KEY must be set in production" in result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
