"""Hostile policy sources: control characters, unreadable YAML, other encodings, deep nesting.

Each must become a policy error naming line and column (shown as a 422 on the policy pages and
API and by ``anju policy check``), never an exception of the YAML reader.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from policy_helpers import HEAD
from typer.testing import CliRunner

from anju.policy.check import load_policy, load_policy_file
from anju.policy.cli import app
from anju.policy.errors import PolicyError


def _problems(source: str) -> list[tuple[int, int, str, str]]:
    with pytest.raises(PolicyError) as info:
        load_policy(source, "p.yaml")
    return [(p.location.line, p.location.column, p.code, p.message_zh) for p in info.value.problems]


@pytest.mark.parametrize(
    ("ch", "name"),
    [("\x00", "空字符 NUL"), ("\x1b", "转义符 ESC"), ("\x7f", "删除符 DEL"), ("\x85", "控制字符")],
)
def test_control_characters_are_reported_by_line_and_column(ch: str, name: str) -> None:
    source = HEAD + f"items:\n  - {{id: x{ch}, formula: 1元}}\n"
    line = HEAD.count("\n") + 2
    assert _problems(source) == [
        (line, 11, "control_char", f"含有不可见的控制字符 U+{ord(ch):04X}（{name}），请删除")
    ]


def test_bidi_overrides_are_refused_and_many_are_counted() -> None:
    problems = _problems(HEAD + "items: []\n# " + "\u202e" * 25 + "\n")
    assert len(problems) == 21
    assert problems[0][2:] == (
        "control_char",
        "含有不可见的控制字符 U+202E（文字方向控制符 RIGHT-TO-LEFT OVERRIDE），请删除",
    )
    assert problems[-1][3] == "另有5处控制字符"


def test_tabs_and_line_breaks_are_the_yaml_reader_s_business() -> None:
    # A tab in indentation is a YAML syntax error with its place, not a control-character error.
    problems = _problems(HEAD + "items:\n\t- {id: x, formula: 1元}\n")
    assert problems[0][2] == "yaml" and problems[0][0] == HEAD.count("\n") + 2


def test_characters_the_yaml_reader_refuses_are_reported_with_their_place() -> None:
    problems = _problems("name: a\nlegal_ref: \ufffe\n")
    assert problems == [(2, 12, "yaml", "YAML 无法读取：special characters are not allowed")]


def test_nesting_thousands_deep_is_a_policy_error() -> None:
    assert _problems("a: " + "[" * 5000)[0][2:] == ("yaml", "YAML 嵌套层次过深（超过 50 层）")


def test_a_file_that_is_not_utf8_names_the_byte(tmp_path: Path) -> None:
    p = tmp_path / "gbk.yaml"
    p.write_bytes(("name: 测试\nlegal_ref: " + "第一号").encode("gbk"))
    with pytest.raises(PolicyError) as info:
        load_policy_file(p)
    (problem,) = info.value.problems
    assert (problem.location.line, problem.location.column, problem.code) == (1, 7, "encoding")
    r = CliRunner().invoke(app, ["check", str(p)])
    assert r.exit_code == 1
    assert f"{p}:1:7" in r.output and "方案文件须为 UTF-8 编码的文本" in r.output


def test_cli_check_reports_control_characters(tmp_path: Path) -> None:
    p = tmp_path / "esc.yaml"
    p.write_text(HEAD + "items: []\nnote: a\x1bb\n", encoding="utf-8")
    r = CliRunner().invoke(app, ["check", str(p)])
    assert r.exit_code == 1
    assert f"{p}:{HEAD.count(chr(10)) + 2}:8" in r.output and "U+001B（转义符 ESC）" in r.output
