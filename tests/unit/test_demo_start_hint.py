"""The start-up hint of ``anju demo`` names a command that works from where it was run."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from anju.demo.cli import command_hint


def test_hint_names_the_venv_script_unless_anju_is_on_the_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    script = tmp_path / ".venv" / "bin" / "anju"
    script.parent.mkdir(parents=True)
    script.write_text("#!/bin/sh\n", encoding="utf-8")
    script.chmod(0o755)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", [str(script)])
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.delenv("ANJU_DATA_DIR", raising=False)
    assert command_hint("serve") == ".venv/bin/anju serve"
    monkeypatch.setenv("ANJU_DATA_DIR", "/tmp/演示 数据")
    assert command_hint("serve") == "ANJU_DATA_DIR='/tmp/演示 数据' .venv/bin/anju serve"
    monkeypatch.delenv("ANJU_DATA_DIR")
    monkeypatch.setenv("PATH", str(script.parent))  # an activated environment
    assert command_hint("serve") == "anju serve"
