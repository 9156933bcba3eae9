"""``anju policy test`` / ``explain`` with cases files (#12 item 7): a policy without cases, a case
expecting 0.00 for an item its option does not offer, explain over any cases file."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from anju.policy.cli import app

EXAMPLES = Path(__file__).resolve().parents[3] / "src" / "anju" / "policy" / "examples"


def run(*args: str | Path) -> tuple[int, str]:
    r = CliRunner().invoke(app, [str(a) for a in args], terminal_width=400)
    assert r.exception is None or isinstance(r.exception, SystemExit), r.exception
    return r.exit_code, r.output


@pytest.fixture
def state_land(tmp_path: Path) -> Path:
    """A copy of the state-land example with its cases file, for tests that edit them."""
    shutil.copy(EXAMPLES / "state_land.yaml", tmp_path / "state_land.yaml")
    shutil.copy(EXAMPLES / "state_land.cases.yaml", tmp_path / "state_land.cases.yaml")
    return tmp_path / "state_land.yaml"


# --------------------------------------------------------------------------- a policy without cases


def test_a_policy_without_cases_says_so_in_one_line_and_exits_0(state_land: Path) -> None:
    state_land.with_name("state_land.cases.yaml").unlink()
    code, out = run("test", state_land)
    assert code == 0
    assert out.count("\n") == 1 and "没有测试用例" in out and "no test cases" in out
    assert "state_land.cases.yaml" in out


def test_require_cases_makes_a_policy_without_cases_fail(state_land: Path) -> None:
    state_land.with_name("state_land.cases.yaml").unlink()
    code, out = run("test", state_land, "--require-cases")
    assert code == 1 and "没有测试用例" in out


def test_a_cases_file_listing_no_cases_is_no_cases(state_land: Path) -> None:
    state_land.with_name("state_land.cases.yaml").write_text(
        "policy: state_land.yaml\ncases: []\n", encoding="utf-8"
    )
    for target in (state_land, state_land.with_name("state_land.cases.yaml")):
        code, out = run("test", target)
        assert code == 0 and out.count("\n") == 1 and "没有测试用例" in out


def test_a_broken_policy_without_cases_still_fails_with_its_problems(state_land: Path) -> None:
    state_land.with_name("state_land.cases.yaml").unlink()
    state_land.write_text(
        state_land.read_text(encoding="utf-8").replace("house_rate[", "house_rte["), encoding="utf-8"
    )
    code, out = run("test", state_land)
    assert code == 1 and "house_rte" in out and "是不是“house_rate”" in out


def test_a_malformed_cases_file_names_the_line(state_land: Path) -> None:
    cases = state_land.with_name("state_land.cases.yaml")
    cases.write_text(
        "policy: state_land.yaml\ncases:\n  - name: x\n    household: {code: A, buildings: [{legal_area: abc}]}\n"
        "  - name: no household\n",
        encoding="utf-8",
    )
    code, out = run("test", cases)
    assert code == 1
    assert f"{cases}:4:51 [number] 第 1 个用例 household.buildings[1].legal_area 应为面积" in out
    assert f"{cases}:5:5 [cases] 第 2 个用例缺少 household" in out
    assert "Traceback" not in out


# --------------------------------------------------------------------------- items not offered


def test_a_case_may_expect_zero_for_an_item_its_option_does_not_offer(state_land: Path) -> None:
    cases = state_land.with_name("state_land.cases.yaml")
    text = cases.read_text(encoding="utf-8")
    # H001 under cash: relocation_swap and transition_swap belong to swap only
    zero = text.replace(
        '      appliance: "2000.00"\n', '      appliance: "2000.00"\n      relocation_swap: "0.00"\n', 1
    )
    assert zero != text
    cases.write_text(zero, encoding="utf-8")
    code, out = run("test", cases)
    assert code == 0, out
    cases.write_text(zero.replace('relocation_swap: "0.00"', 'relocation_swap: "3318.00"'), encoding="utf-8")
    code, out = run("test", cases)
    assert code == 1
    assert "relocation_swap: 不属于补偿方式 cash，金额为 0" in out and "3,318.00" in out


def test_an_unknown_expected_item_suggests_the_nearest(state_land: Path) -> None:
    cases = state_land.with_name("state_land.cases.yaml")
    text = cases.read_text(encoding="utf-8").replace(
        '      appliance: "2000.00"\n', '      aplliance: "2000.00"\n', 1
    )
    cases.write_text(text, encoding="utf-8")
    code, out = run("test", cases)
    assert code == 1 and "没有项目“aplliance”（是不是“appliance”？）" in out


# --------------------------------------------------------------------------- explain over cases files


def test_explain_every_case_of_any_cases_file() -> None:
    cases = EXAMPLES / "shantytown.cases.yaml"
    code, out = run("explain", EXAMPLES / "shantytown.yaml", "--households", cases)
    assert code == 0, out
    names = [
        line.split("name: ", 1)[1]
        for line in cases.read_text(encoding="utf-8").splitlines()
        if "- name: " in line
    ]
    assert len(names) >= 2
    for name in names:
        assert name in out
    assert out.count("合计 total") == len(names)


def test_explain_the_case_named_by_code_or_name_under_its_option() -> None:
    cases = EXAMPLES / "state_land.cases.yaml"
    code, out = run(
        "explain", EXAMPLES / "state_land.yaml", "--households", cases, "--household", "张建国户选择产权调换"
    )
    assert code == 0, out
    assert out.count("合计 total") == 1 and "产权调换（swap）" in out and "1,309,450.80" in out
    code, out = run("explain", EXAMPLES / "state_land.yaml", "--households", cases, "--household", "H001")
    assert code == 0, out
    assert out.count("合计 total") == 2  # the household's two cases: cash and swap
    code, out = run(
        "explain",
        EXAMPLES / "state_land.yaml",
        "--households",
        cases,
        "--household",
        "H001",
        "--option",
        "cash",
    )
    assert code == 0 and "产权调换（swap）" not in out and out.count("合计 total") == 2


def test_explain_a_household_not_in_the_cases_file_suggests_the_nearest() -> None:
    code, out = run(
        "explain",
        EXAMPLES / "state_land.yaml",
        "--households",
        EXAMPLES / "state_land.cases.yaml",
        "--household",
        "H01",
    )
    assert code == 2 and "找不到户号或用例 H01" in out and "是不是" in out


def test_explain_a_workbook_still_needs_the_household(tmp_path: Path) -> None:
    (tmp_path / "hh.csv").write_text(
        "code,block_code,block_chain,sign_on\nH1,一组,东村,2025-04-02\n", encoding="utf-8"
    )
    code, out = run("explain", EXAMPLES / "state_land.yaml", "--households", tmp_path / "hh.csv")
    assert code == 2 and "--household" in out
    code, out = run(
        "explain", EXAMPLES / "state_land.yaml", "--households", tmp_path / "hh.csv", "--household", "H1"
    )
    assert code == 0, out


def test_explain_without_households_reads_the_policys_own_cases() -> None:
    code, out = run("explain", EXAMPLES / "state_land.yaml", "--household", "H002")
    assert code == 0, out
    assert "H002" in out and "货币补偿（cash）" in out
