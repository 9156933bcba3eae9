"""Every ``anju policy`` command given a hostile file (#12 item 7): empty, binary, a directory, a
missing file, a workbook renamed ``.yaml``, a file over the size limit, nesting thousands deep, an
alias bomb ("billion laughs"), an alias of itself, duplicate keys, tabs. Each is refused quickly
with a Chinese message naming the file (and line and column where there is one): exit code 1 or 2,
never a traceback, never a hang."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import xlsxwriter
from typer.testing import CliRunner

from anju.policy.bulk import HouseholdTable, evaluate_bulk
from anju.policy.check import load_policy, load_policy_file
from anju.policy.cli import app
from anju.policy.errors import PolicyError
from anju.policy.facts import GroupFacts
from anju.policy.model import load_yaml
from anju.policy.yaml_source import MAX_ALIAS_NODES, MAX_BYTES

EXAMPLES = Path(__file__).resolve().parents[3] / "src" / "anju" / "policy" / "examples"
BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{n}: &{n} [{', '.join([f'*{p}'] * 9)}]\n" for p, n in zip("abcdefgh", "bcdefghi", strict=True)
)


def _workbook(path: Path) -> None:
    wb = xlsxwriter.Workbook(str(path))
    wb.add_worksheet("households").write(0, 0, "code")
    wb.close()


HOSTILE = {
    "empty": (lambda p: p.write_text("", encoding="utf-8"), "是空的"),
    "comments only": (lambda p: p.write_text("# 草稿\n", encoding="utf-8"), "是空的"),
    "binary": (lambda p: p.write_bytes(bytes(range(256)) * 4), "须为 UTF-8 编码的文本"),
    "directory": (lambda p: p.mkdir(), "不是文件"),
    "missing": (lambda p: None, "文件不存在"),
    "workbook": (_workbook, "是 Excel 工作簿（或压缩包），不是 YAML 文本"),
    "too large": (lambda p: p.write_text("# " + "x" * MAX_BYTES + "\n", encoding="utf-8"), "文件过大"),
    "deep": (
        lambda p: p.write_text("a: " + "[" * 5000 + "]" * 5000 + "\n", encoding="utf-8"),
        "嵌套层次过深",
    ),
    "alias bomb": (lambda p: p.write_text(BOMB, encoding="utf-8"), "别名（*）展开后的内容过多"),
    "alias of itself": (
        lambda p: p.write_text("a: &a [1, *a]\n", encoding="utf-8"),
        "引用了包含它自身的内容",
    ),
    "duplicate keys": (
        lambda p: p.write_text("policy: x.yaml\npolicy: y.yaml\n", encoding="utf-8"),
        "重复的键“policy”：第 1 行已写过",
    ),
    "tabs": (lambda p: p.write_text("cases:\n\t- name: x\n", encoding="utf-8"), "YAML 格式错误"),
}


def commands(bad: Path, tmp: Path) -> dict[str, list[str | Path]]:
    good = tmp / "state_land.yaml"
    cases = tmp / "state_land.cases.yaml"
    return {
        "check": ["check", bad],
        "test": ["test", bad],
        "calc policy": ["calc", bad, cases, "-o", tmp / "out.xlsx"],
        "calc households": ["calc", good, bad, "-o", tmp / "out.xlsx"],
        "explain policy": ["explain", bad],
        "explain households": ["explain", good, "--households", bad],
        "whatif policy": ["whatif", bad, cases, "--set", "relocation_rate=18"],
        "whatif households": ["whatif", good, bad, "--set", "relocation_rate=18"],
        "diff": ["diff", bad, good],
        "diff second": ["diff", good, bad],
    }


@pytest.fixture
def tmp(tmp_path: Path) -> Path:
    for name in ("state_land.yaml", "state_land.cases.yaml"):
        shutil.copy(EXAMPLES / name, tmp_path / name)
    return tmp_path


@pytest.mark.timeout(120)
@pytest.mark.parametrize("kind", sorted(HOSTILE))
def test_every_command_refuses_a_hostile_file_with_a_message(tmp: Path, kind: str) -> None:
    make, message = HOSTILE[kind]
    bad = tmp / "bad.yaml"
    make(bad)
    for what, args in commands(bad, tmp).items():
        r = CliRunner().invoke(app, [str(a) for a in args], terminal_width=400)
        assert r.exception is None or isinstance(r.exception, SystemExit), (kind, what, repr(r.exception))
        assert r.exit_code in (1, 2), (kind, what, r.output)
        assert "Traceback" not in r.output
        assert message in r.output, (kind, what, r.output)
        assert str(bad) in r.output, (kind, what, r.output)
    assert not (tmp / "out.xlsx").exists()


def test_an_alias_bomb_is_refused_where_it_blows_up() -> None:
    with pytest.raises(PolicyError) as info:
        load_yaml(BOMB, "bomb.yaml")
    (p,) = info.value.problems
    # a: 9, b: 81 ... f: 9^6 = 531,441 values > written + 100,000
    assert (p.location.line, p.code) == (6, "yaml")
    assert p.message_zh == f"别名（*）展开后的内容过多（超过 {MAX_ALIAS_NODES} 个值），已拒绝读取"


def test_anchors_used_sensibly_still_work(tmp: Path) -> None:
    """A household written once and used by two cases; a mapping merged and one key overridden."""
    cases = tmp / "state_land.cases.yaml"
    text = cases.read_text(encoding="utf-8")
    data, _ = load_yaml(text, "x")
    first = data["cases"][0]
    shared = (
        "policy: state_land.yaml\n"
        "shared: &base {code: S1, block_code: 一地块, block_chain: [东片区]}\n"
        "cases:\n"
        "  - {name: 甲, option: cash, household: *base}\n"
        "  - {name: 乙, option: swap, household: {<<: *base, code: S2}}\n"
    )
    # "shared" is no field of a cases file: refused by name, not by the loader
    data, _ = load_yaml(shared, "x")
    assert data["cases"][0]["household"] is data["shared"]
    assert data["cases"][1]["household"]["code"] == "S2"
    assert first["household"]["code"] == "H001"


def test_a_key_overriding_a_merged_one_is_no_duplicate() -> None:
    data, _ = load_yaml("a: &a {x: 1, y: 2}\nb: {<<: *a, y: 3}\n", "x")
    assert data["b"] == {"x": 1, "y": 3}


def test_a_duplicate_key_anywhere_names_both_lines() -> None:
    with pytest.raises(PolicyError) as info:
        load_yaml("cases:\n  - household: {code: A, legal_area: 1}\n    name: x\n    name: y\n", "d.yaml")
    (p,) = info.value.problems
    assert (p.location.line, p.location.column, p.code) == (4, 5, "duplicate-key")
    assert p.message_zh == "重复的键“name”：第 3 行已写过（YAML 只会保留后写的一个，请删去或合并）"


def test_a_date_with_a_time_of_day_is_refused_by_the_checker() -> None:
    text = (EXAMPLES / "state_land.yaml").read_text(encoding="utf-8")
    changed = text.replace("date: 2025-05-31}", "date: 2025-05-31 18:00:00}")
    assert changed != text
    with pytest.raises(PolicyError) as info:
        load_policy(changed, "p.yaml")
    # (the clock is then missing, and so the name of it in a formula)
    assert info.value.problems[0].message_zh == "日期 date应为日期（YYYY-MM-DD），不带时间"


def test_bulk_evaluation_of_no_household_gives_empty_results() -> None:
    """Used to raise IndexError for a block sign rate (calc of a households file with a header only)."""
    for p in sorted(EXAMPLES.glob("*.yaml")):
        if p.name.endswith(".cases.yaml"):
            continue
        c = load_policy_file(p)
        for option in c.policy.options:
            r = evaluate_bulk(c, HouseholdTable.from_households([]), option, None, GroupFacts())
            assert len(r.total) == 0


def test_calc_of_a_households_file_with_a_header_only(tmp: Path) -> None:
    (tmp / "hh.csv").write_text("code,block_code\n", encoding="utf-8")
    r = CliRunner().invoke(
        app, ["calc", str(tmp / "state_land.yaml"), str(tmp / "hh.csv"), "-o", str(tmp / "o.xlsx")]
    )
    assert r.exit_code == 0, r.output
    assert "cash: 0 户，合计 0.00 元" in r.output


@pytest.mark.parametrize("out", ["missing/folder/out.xlsx", "."])
def test_calc_into_a_place_it_cannot_write_is_a_message(tmp: Path, out: str) -> None:
    target = tmp / out
    r = CliRunner().invoke(
        app, ["calc", str(tmp / "state_land.yaml"), str(tmp / "state_land.cases.yaml"), "-o", str(target)]
    )
    assert (r.exit_code == 2 and r.exception is None) or isinstance(r.exception, SystemExit), r.exception
    assert f"无法写入 {target}" in r.output


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("relocation_rate=abc", "取值不是数字"),
        ("relocation_rate=1e400", "取值超出范围"),
        ("relocation_rate=0.0000000000001", "取值超出范围"),
        ("==", "无法识别的设置"),
    ],
)
def test_whatif_refuses_a_value_no_policy_may_hold(tmp: Path, setting: str, message: str) -> None:
    r = CliRunner().invoke(
        app,
        ["whatif", str(tmp / "state_land.yaml"), str(tmp / "state_land.cases.yaml"), "--set", setting],
        terminal_width=400,
    )
    assert r.exception is None or isinstance(r.exception, SystemExit), repr(r.exception)
    assert r.exit_code == 1 and message in r.output, r.output


def test_whatif_over_a_cases_file(tmp: Path) -> None:
    r = CliRunner().invoke(
        app,
        [
            "whatif",
            str(tmp / "state_land.yaml"),
            str(tmp / "state_land.cases.yaml"),
            "--set",
            "relocation_rate=18",
        ],
        terminal_width=400,
    )
    assert r.exit_code == 0, r.output
    assert "受影响户数 households affected:" in r.output
