"""Cases files are read strictly (#12 item 7): an unknown key anywhere, a value of the wrong type,
an expectation the policy cannot meet are problems with file, line and column, all reported
together, exit code 1, never a traceback; declared facts are checked against the policy; ``calc``
and ``explain`` read cases files the same way."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from policy_helpers import HEAD
from typer.testing import CliRunner

from anju.policy.cases import read_cases_file, run_cases
from anju.policy.check import load_policy_file
from anju.policy.cli import app
from anju.policy.errors import PolicyError

POLICY = """
facts:
  ac_units: {label: 空调数量, type: count, unit: 台, required: true, max: 20}
  reward_area: {label: 认定奖励面积, type: number, unit: ㎡, places: 2}
  grade: {label: 装修档次, type: category, choices: [普通, 精装]}
  agreed_on: {label: 约定交房日, type: date}
items:
  - {id: house_value, label: 房屋价值, formula: "sum(buildings, building.legal_area) * 1000元/㎡"}
  - {id: ac, label: 空调移机费, formula: fact.ac_units * 300元}
  - id: later
    label: 签约后60日
    when: known(household.sign_on)
    formula: "if add_days(household.sign_on, 60) > date('2025-01-01') then 1元 else 0元"
subtotals:
  - {id: house_subtotal, label: 房屋补偿小计, items: [house_value, ac]}
"""
GOOD = """\
policy: p.yaml
cases:
  - name: 好
    household:
      code: H1
      block_code: A
      facts: {ac_units: 3}
      buildings: [{certificate_no: C1, legal_area: "10.00"}]
    # 10 ㎡ × 1000 = 10,000；3 台 × 300 = 900
    expect: {house_value: "10000.00", ac: "900.00", house_subtotal: "10900.00", total: "10900.00"}
"""
PLACE = re.compile(r"^(\S+):(\d+):(\d+) \[([\w-]+)\] (.*)$")


@pytest.fixture
def files(tmp_path: Path) -> Path:
    (tmp_path / "p.yaml").write_text(HEAD + POLICY, encoding="utf-8")
    (tmp_path / "p.cases.yaml").write_text(GOOD, encoding="utf-8")
    return tmp_path


def run(*args: str | Path) -> tuple[int, str]:
    r = CliRunner().invoke(app, [str(a) for a in args], terminal_width=400)
    assert r.exception is None or isinstance(r.exception, SystemExit), r.exception
    assert "Traceback" not in r.output
    return r.exit_code, r.output


def problems(out: str) -> list[tuple[int, int, str, str]]:
    """(line, column, code, Chinese message) of every problem printed."""
    return [
        (int(m[2]), int(m[3]), m[4], m[5]) for line in out.splitlines() if (m := PLACE.match(line.strip()))
    ]


def line_of(text: str, word: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), start=1) if word in line)


def key_line(text: str, key: str) -> int:
    """The line where ``key`` is written as a key (not inside a longer one)."""
    found = re.compile(rf"(^|[\s{{,]){re.escape(key)}:")
    return next(i for i, line in enumerate(text.splitlines(), start=1) if found.search(line))


def test_the_good_cases_pass(files: Path) -> None:
    code, out = run("test", files / "p.cases.yaml")
    assert code == 0, out
    assert "1/1 个用例通过" in out


# --------------------------------------------------------------------------- unknown keys


TYPOS = """\
policy: p.yaml
as_off: 2025-04-01
group:
  blocks:
    A: {total_households: 2, sign_date: [2025-04-02]}
  parnts: {A: 东}
cases:
  - name: 拼错的键
    optoin: cash
    household:
      code: H1
      block_code: A
      sigh_on: 2025-04-10
      facts: {ac_units: 3}
      members: [{name: 张某, diabo: true}]
      buildings: [{certificate_no: C1, legal_aera: "98.60"}]
      tenants: [{name: 李某, araa: "10.00"}]
      homestead: {aera: "100.00"}
    flats: [{code: 1-101, area: "50.00", pirce: "6000"}]
    expect: {house_value: "0.00"}
    settlment: {credit: "1.00"}
    transition: {planned_delivery: 2027-01-01, expct: {total: "1.00"}}
    selections: [{flats: [{code: 1-102, area: "45.00", typ: A}], refuse: []}]
"""


def test_an_unknown_key_anywhere_is_reported_with_the_nearest_and_all_together(files: Path) -> None:
    cases = files / "p.cases.yaml"
    cases.write_text(TYPOS, encoding="utf-8")
    code, out = run("test", cases)
    assert code == 1
    found = problems(out)
    typos = {
        "as_off": "as_of",
        "sign_date": "sign_dates",
        "parnts": "parents",
        "optoin": "option",
        "sigh_on": "sign_on",
        "diabo": "dibao",
        "legal_aera": "legal_area",
        "araa": "area",
        "aera": "area",
        "pirce": "price",
        "settlment": "settlement",
        "expct": "expect",
        "typ": "type",
        "refuse": "refused",
    }
    unknown = [p for p in found if p[2] == "unknown-key"]
    for typo, right in typos.items():
        line = key_line(TYPOS, typo)
        hit = [p for p in unknown if p[0] == line and f"不认识的字段“{typo}”" in p[3]]
        assert hit, (typo, found)
        assert f"是不是“{right}”" in hit[0][3], hit
    assert len(unknown) == len(typos), found
    assert f"共 {len(found)} 个错误" in out
    # the column is the key's: legal_aera on its line
    line = TYPOS.splitlines()[line_of(TYPOS, "legal_aera") - 1]
    assert (line_of(TYPOS, "legal_aera"), line.index("legal_aera") + 1) in [(p[0], p[1]) for p in unknown]
    # the problems come in the order of the text
    assert [p[:2] for p in found] == sorted(p[:2] for p in found)


def test_reading_a_cases_file_without_the_cli_names_every_problem(files: Path) -> None:
    cases = files / "p.cases.yaml"
    cases.write_text(TYPOS, encoding="utf-8")
    with pytest.raises(PolicyError) as info:
        read_cases_file(cases)
    assert all(p.location.file == str(cases) and p.location.line >= 1 for p in info.value.problems)
    assert any("legal_aera" in p.message_en and "legal_area" in p.message_en for p in info.value.problems)


# --------------------------------------------------------------------------- wrong types


WRONG = """\
policy: p.yaml
as_of: 2025-04-01
cases:
  - name: 类型不对
    option: cahs
    household:
      code: H1
      block_code: A
      kind: 国有
      sign_on: "2025-02-30"
      vacate_on: 2025-05-01 09:30:00
      facts: {ac_units: 3}
      members: [{name: 张某, dibao: 也许, disability_grade: 7}]
      buildings:
        - {certificate_no: C1, structure: 砖头, legal_area: 九十八}
        - {certificate_no: C2, legal_area: "-5.00", decoration: "1.234"}
    expect: {house_valu: "1.00", house_subtota1: "1.00", total: 很多}
"""


def test_wrong_types_and_unknown_expectations_are_reported_with_their_places(files: Path) -> None:
    cases = files / "p.cases.yaml"
    cases.write_text(WRONG, encoding="utf-8")
    code, out = run("test", cases)
    assert code == 1
    found = {(p[0], p[3]) for p in problems(out)}
    expected = [
        ("cahs", "第 1 个用例 option 方案没有补偿方式“cahs”（是不是“cash”？）"),
        ("kind: 国有", "第 1 个用例 household.kind 不认识“国有”（是不是“国有土地”？）"),
        ("sign_on", "第 1 个用例 household.sign_on 是不存在的日期“2025-02-30”"),
        ("vacate_on", "第 1 个用例 household.vacate_on 应为日期（YYYY-MM-DD），不带时间"),
        ("也许", "第 1 个用例 household.members[1].dibao 应为 true 或 false（是/否），却是“也许”"),
        ("也许", "第 1 个用例 household.members[1].disability_grade 应在 1 到 4 之间，却是“7”"),
        ("砖头", "第 1 个用例 household.buildings[1].structure 不认识“砖头”"),
        (
            "九十八",
            "第 1 个用例 household.buildings[1].legal_area 应为面积（㎡，最多两位小数），却是“九十八”",
        ),
        ("-5.00", "第 1 个用例 household.buildings[2].legal_area 不能为负数：“-5.00”"),
        ("-5.00", "第 1 个用例 household.buildings[2].decoration 应为最多 2 位小数，却是“1.234”"),
        ("house_valu", "没有项目“house_valu”（是不是“house_value”或“house_subtotal”？）"),
        ("house_valu", "没有项目“house_subtota1”（是不是“house_subtotal”？）"),
        ("house_valu", "第 1 个用例 expect.total 应为金额（元，最多两位小数），却是“很多”"),
    ]
    for word, message in expected:
        line = line_of(WRONG, word)
        assert any(at == line and m.startswith(message) for at, m in found), (word, message, sorted(found))
    assert len(found) == len(expected), sorted(found)


def test_an_impossible_date_yaml_reads_as_a_date_is_reported_at_its_place(files: Path) -> None:
    cases = files / "p.cases.yaml"
    cases.write_text(
        GOOD.replace("block_code: A", "block_code: A\n      sign_on: 2025-02-30"), encoding="utf-8"
    )
    code, out = run("test", cases)
    assert code == 1
    assert problems(out) == [(7, 16, "value", "不存在的日期“2025-02-30”")]


# --------------------------------------------------------------------------- declared facts


def test_declared_facts_are_checked_against_the_policy(files: Path) -> None:
    cases = files / "p.cases.yaml"
    text = GOOD.replace(
        "facts: {ac_units: 3}",
        "facts: {ac_units: 25, reward_area: '1.234', grade: 豪华, agreed_on: '2025-02-30', ac_unit: 1}",
    ).replace("    expect:", "    missing: [reward_area, ac_unts]\n    expect:")
    cases.write_text(text, encoding="utf-8")
    code, out = run("test", cases)
    assert code == 1
    messages = [p[3] for p in problems(out)]
    assert messages == [
        "第 1 个用例 household.facts.ac_units：空调数量不能大于 20 台，却是“25”",
        "第 1 个用例 household.facts.reward_area：认定奖励面积应为最多 2 位小数的数，却是“1.234”",
        "第 1 个用例 household.facts.grade：装修档次只能是普通、精装之一，却是“豪华”",
        "第 1 个用例 household.facts.agreed_on：约定交房日应为日期（如 2025-06-30），却是“2025-02-30”",
        "方案没有声明事实“ac_unit”（是不是“ac_units”？）（方案声明的事实：ac_units、reward_area、grade、agreed_on）",
        "事实“reward_area”（认定奖励面积）不是必填的，缺少时该户照常计算，不能写在 missing 中",
        "方案没有声明事实“ac_unts”（是不是“ac_units”？）（方案声明的事实：ac_units、reward_area、grade、agreed_on）",
    ]
    assert {p[0] for p in problems(out)} == {line_of(text, "ac_units: 25"), line_of(text, "missing:")}


def test_a_case_expecting_missing_facts_fails_when_the_household_is_computed(files: Path) -> None:
    cases = files / "p.cases.yaml"
    cases.write_text(GOOD.replace("    expect:", "    missing: [ac_units]\n    expect:"), encoding="utf-8")
    report = run_cases(cases)
    assert not report.passed
    assert report.outcomes[0].mismatches == [
        "用例期望缺少事实 ['ac_units']，但该户已计算 / expected missing facts, but the household was computed"
    ]


def test_a_case_that_cannot_be_computed_fails_with_the_reason_and_the_others_run(files: Path) -> None:
    cases = files / "p.cases.yaml"
    second = (
        GOOD.split("cases:\n", 1)[1]
        .replace("name: 好", "name: 日期越界")
        .replace("block_code: A", "block_code: A\n      sign_on: 9999-12-31")
    )
    cases.write_text(GOOD + second, encoding="utf-8")
    code, out = run("test", cases)
    assert code == 1
    assert "通过 PASS 好" in out and "失败 FAIL 日期越界" in out
    assert "无法计算 / not computable: 户 H1：9999-12-31 加 60 日超出日期范围" in out
    assert "1/2 个用例通过" in out


# --------------------------------------------------------------------------- calc and explain


def test_calc_and_explain_read_cases_files_the_same_strict_way(files: Path) -> None:
    cases = files / "p.cases.yaml"
    cases.write_text(GOOD.replace('legal_area: "10.00"', 'legal_aera: "10.00"'), encoding="utf-8")
    where = f"{cases}:{line_of(GOOD, 'legal_area')}:"
    for args in (
        ("calc", files / "p.yaml", cases, "-o", files / "out.xlsx"),
        ("explain", files / "p.yaml", "--households", cases),
        ("explain", files / "p.yaml"),  # the policy's own cases file
        ("whatif", files / "p.yaml", cases, "--set", "x=1"),
    ):
        code, out = run(*args)
        assert code == 2, (args, out)
        assert where in out and "不认识的字段“legal_aera”（是不是“legal_area”？）" in out, out
    assert not (files / "out.xlsx").exists()


def test_calc_computes_the_households_of_a_cases_file(files: Path) -> None:
    cases = files / "p.cases.yaml"
    code, out = run("calc", files / "p.yaml", cases, "-o", files / "out.xlsx", "--option", "cash")
    assert code == 0, out
    assert "cash: 1 户，合计 10,900.00 元" in out
    code, out = run("explain", files / "p.yaml", "--households", cases)
    assert code == 0, out
    assert "合计 total: 10,900.00 元" in out


def test_the_shipped_cases_files_read_strictly_against_their_policies() -> None:
    examples = Path(__file__).resolve().parents[3] / "src" / "anju" / "policy" / "examples"
    for p in sorted(examples.glob("*.cases.yaml")):
        checked = load_policy_file(p.with_name(p.name.replace(".cases.yaml", ".yaml")))
        assert read_cases_file(p, checked).cases


def test_a_declared_fact_is_written_at_its_level(tmp_path: Path) -> None:
    """A building-level fact under the household (or a household one under a building) is named."""
    (tmp_path / "p.yaml").write_text(
        HEAD
        + "facts:\n  frontage: {label: 临街位置, type: category, choices: [主街, 小巷], level: building}\n"
        + "  ac_units: {label: 空调数量, type: count, unit: 台}\n"
        + "items:\n  - {id: a, label: a, formula: 1元}\n",
        encoding="utf-8",
    )
    text = (
        "policy: p.yaml\ncases:\n  - name: x\n    household:\n      code: H1\n      block_code: A\n"
        "      facts: {frontage: 主街}\n"
        "      buildings: [{certificate_no: C1, facts: {ac_units: 2, frontage: 大街}}]\n"
    )
    (tmp_path / "p.cases.yaml").write_text(text, encoding="utf-8")
    code, out = run("test", tmp_path / "p.cases.yaml")
    assert code == 1
    assert [(p[0], p[3]) for p in problems(out)] == [
        (7, "事实“frontage”（临街位置）是每证（每处房屋）的事实，应写在 buildings 的每一项的 facts 中"),
        (8, "事实“ac_units”（空调数量）是每户的事实，应写在 household 的 facts 中"),
        (8, "第 1 个用例 household.buildings[1].facts.frontage：临街位置只能是主街、小巷之一，却是“大街”"),
    ]
