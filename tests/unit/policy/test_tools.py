"""Versioning and diff, what-if, spreadsheets, YAML cases and the CLI."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest
from policy_helpers import HEAD
from typer.testing import CliRunner

from anju.policy.bulk import HouseholdTable, evaluate_bulk
from anju.policy.check import load_policy, load_policy_file
from anju.policy.cli import app
from anju.policy.errors import PolicyError
from anju.policy.facts import Building, GroupFacts, Household, Member
from anju.policy.io import read_households
from anju.policy.model import read_policy
from anju.policy.versioning import PolicyStore, content_hash, diff, publish_text
from anju.policy.whatif import Distribution, whatif

EXAMPLES = Path(__file__).resolve().parents[3] / "src" / "anju" / "policy" / "examples"
BODY = """parameters:
  rate: {label: 单价, unit: 元/㎡, value: 100}
  extra: {unit: 元, value: 50}
items:
  - {id: v, label: 价值, per: certificate, formula: building.legal_area * rate}
  - {id: e, label: 其他, formula: extra}
"""


def test_content_hash_ignores_formatting_but_not_values() -> None:
    a = HEAD + BODY
    assert content_hash(a) == content_hash(a.replace("value: 100}", "value: 100}   # comment"))
    assert content_hash(a) != content_hash(a.replace("value: 100", "value: 101"))


def test_published_policy_is_immutable(tmp_path: Path) -> None:
    text = publish_text(HEAD + BODY)
    c = load_policy(text)
    assert c.policy.meta.status == "published"
    with pytest.raises(PolicyError) as e:
        load_policy(text.replace("value: 100", "value: 120"))
    assert e.value.problems[0].code == "hash"
    store = PolicyStore(tmp_path)
    path = store.publish(c.policy)
    assert path.exists()
    assert store.publish(c.policy) == path  # same content: fine
    changed, _ = read_policy((HEAD + BODY).replace("value: 100", "value: 120"))
    with pytest.raises(PolicyError) as e:
        store.publish(changed)
    assert e.value.problems[0].code == "immutable"


def test_diff_lists_every_changed_parameter_and_item() -> None:
    a, _ = read_policy(HEAD + BODY)
    b_text = (HEAD + BODY).replace("value: 100", "value: 110").replace("label: 其他", "label: 其它")
    b_text = b_text.replace("  extra: {unit: 元, value: 50}\n", "").replace("formula: extra", "formula: 60元")
    b_text += "  - {id: n, label: 新项目, formula: 1元}\n"
    b, _ = read_policy(b_text)
    got = {(c.kind, c.name, c.field, c.old, c.new) for c in diff(a, b)}
    assert got == {
        ("parameter", "rate", "value", "100", "110"),
        ("parameter", "extra", "(removed 删除)", '{"unit": "元", "value": 50}', "—"),
        ("item", "e", "label", "其他", "其它"),
        ("item", "e", "formula", "extra", "60元"),
        ("item", "n", "(added 新增)", "—", "新项目"),
    }
    assert diff(a, a) == []


def _project() -> list[Household]:
    return [
        Household(
            code=f"H{i}",
            block_code="一组" if i < 3 else "二组",
            block_chain=("东村",),
            buildings=(Building(f"C{i}", legal_area=Decimal(10 * (i + 1))),),
        )
        for i in range(5)
    ]


def test_whatif_budget_by_item_block_and_distribution() -> None:
    c = load_policy(HEAD + BODY)
    hs = _project()
    w = whatif(c, HouseholdTable.from_households(hs), ["rate=120", "extra=0"])
    # areas 10..50 → Σ150 ㎡: 15000 → 18000 元; extra 5×50 = 250 → 0
    assert w.by_item == {"v": (1500000, 1800000), "e": (25000, 0)}
    assert w.base_total == 1525000 and w.new_total == 1800000
    assert w.by_block == {"一组": (6 * 100000 + 15000, 720000), "二组": (900000 + 10000, 1080000)}
    assert w.delta.tolist() == [15000, 35000, 55000, 75000, 95000]
    assert (w.distribution.min, w.distribution.max, w.distribution.median) == (
        120000,
        600000,
        Decimal(360000),
    )
    # the unchanged policy is untouched by the scenario
    assert evaluate_bulk(c, HouseholdTable.from_households(hs), "cash").row(0) == {"v": 100000, "e": 5000}
    with pytest.raises(ValueError):
        whatif(c, HouseholdTable.from_households(hs), ["nope=1"])


def test_distribution_nearest_rank() -> None:
    d = Distribution.of(np.arange(1, 11, dtype=np.int64))
    assert (d.min, d.median, d.max, d.deciles) == (1, Decimal("5.5"), 10, [1, 2, 3, 4, 5, 6, 7, 8, 9])


def test_examples_check_and_cases_pass() -> None:
    runner = CliRunner()
    for name in ("state_land", "homestead", "shantytown"):
        r = runner.invoke(app, ["check", str(EXAMPLES / f"{name}.yaml")])
        assert r.exit_code == 0, r.output
        r = runner.invoke(app, ["test", str(EXAMPLES / f"{name}.cases.yaml")])
        assert r.exit_code == 0, r.output
        assert "失败" not in r.output


def test_cli_test_fails_on_a_wrong_expectation(tmp_path: Path) -> None:
    src = (EXAMPLES / "shantytown.cases.yaml").read_text(encoding="utf-8")
    (tmp_path / "shantytown.yaml").write_text(
        (EXAMPLES / "shantytown.yaml").read_text(encoding="utf-8"), encoding="utf-8"
    )
    bad = tmp_path / "bad.cases.yaml"
    bad.write_text(src.replace('heating: "149.98"', 'heating: "149.99"'), encoding="utf-8")
    r = CliRunner().invoke(app, ["test", str(bad)])
    assert r.exit_code == 1
    assert "heating" in r.output and "149.99" in r.output


def test_cli_check_reports_file_line_column(tmp_path: Path) -> None:
    p = tmp_path / "bad.yaml"
    p.write_text(HEAD + "items:\n  - {id: x, formula: 1元 + 2㎡}\n", encoding="utf-8")
    r = CliRunner().invoke(app, ["check", str(p)])
    assert r.exit_code == 1
    assert f"{p}:8:" in r.output.replace("\n", "")
    assert "单位不一致" in r.output


def _write_csv(tmp_path: Path) -> Path:
    (tmp_path / "hh.csv").write_text(
        "code,block_code,block_chain,sign_on\nH1,一组,东村,2025-04-02\nH2,二组,东村,\n", encoding="utf-8"
    )
    (tmp_path / "hh_buildings.csv").write_text(
        "household,certificate_no,structure,use,legal_area\nH1,C1,砖混,住宅,10.50\nH2,C2,砖木,住宅,20\n",
        encoding="utf-8",
    )
    (tmp_path / "hh_members.csv").write_text("household,name,dibao\nH1,甲,是\nH2,乙,\n", encoding="utf-8")
    return tmp_path / "hh.csv"


def test_read_households_csv(tmp_path: Path) -> None:
    hs = read_households(_write_csv(tmp_path))
    assert [h.code for h in hs] == ["H1", "H2"]
    assert hs[0].buildings[0].legal_area == Decimal("10.50") and hs[0].members[0] == Member("甲", dibao=True)
    assert hs[0].block_path == ("东村", "一组")


def test_cli_calc_writes_xlsx_one_column_per_item(tmp_path: Path) -> None:
    pol = tmp_path / "p.yaml"
    pol.write_text(HEAD + BODY, encoding="utf-8")
    out = tmp_path / "out.xlsx"
    r = CliRunner().invoke(app, ["calc", str(pol), str(_write_csv(tmp_path)), "-o", str(out)])
    assert r.exit_code == 0, r.output
    from python_calamine import CalamineWorkbook

    rows = CalamineWorkbook.from_path(str(out)).get_sheet_by_name("cash").to_python()
    assert rows[0] == ["户号 code", "片区 block", "价值 v", "其他 e", "合计 total"]
    assert rows[1][0] == "H1" and rows[1][2:] == [1050.0, 50.0, 1100.0]
    # read it back as households too: the workbook round trip of the reader
    r = CliRunner().invoke(app, ["whatif", str(pol), str(tmp_path / "hh.csv"), "--set", "rate=200"])
    assert r.exit_code == 0, r.output
    assert "3,050.00" in r.output and "6,100.00" in r.output  # 30.50 ㎡ × 100 / × 200


def test_cli_explain_and_diff() -> None:
    r = CliRunner().invoke(
        app, ["explain", str(EXAMPLES / "state_land.yaml"), "--household", "H002", "--option", "cash"]
    )
    assert r.exit_code == 0, r.output
    assert (
        "封顶" in r.output and "40,000.00" in r.output and "house_rate[building.structure, zone]" in r.output
    )
    r = CliRunner().invoke(
        app, ["diff", str(EXAMPLES / "state_land.yaml"), str(EXAMPLES / "state_land.yaml")]
    )
    assert r.exit_code == 0 and "no changes" in r.output


def test_group_facts_rate_truncates() -> None:
    from datetime import date

    from anju.policy.bulk import GroupIndex
    from anju.policy.facts import BlockGroup

    g = GroupFacts(blocks={"a": BlockGroup(3, (date(2025, 1, 1), date(2025, 1, 2)))}, parents={"a": "P"})
    assert g.rate_ppm("a", date(2025, 1, 2), "sign") == 666666
    assert g.rate_ppm("P", date(2025, 1, 1), "sign") == 333333
    assert g.rate_ppm("zzz", date(2025, 1, 1), "sign") == 0
    assert GroupIndex(g).rate_ppm("P", date(2025, 1, 2).toordinal(), "sign") == 666666


def test_bulk_exact_beyond_int64() -> None:
    c = load_policy(
        HEAD
        + """parameters:
  r: {unit: 元/㎡, value: 987654321.1234}
items:
  - {id: v, per: certificate, formula: building.legal_area * r * 1.000001}
"""
    )
    from anju.policy.scalar import evaluate

    h = Household(code="B", block_code="x", buildings=(Building("1", legal_area=Decimal("99999999.99")),))
    bulk = evaluate_bulk(c, HouseholdTable.from_households([h]), "cash")
    assert bulk.row(0) == evaluate(c, h, "cash").amounts()
    import decimal

    exact = Decimal("99999999.99") * Decimal("987654321.1234") * Decimal("1.000001") * 100
    want = int(exact.quantize(Decimal(1), rounding=decimal.ROUND_HALF_UP))
    assert bulk.row(0)["v"] == want == 9876553086789555925  # intermediates (scale 12) overflow int64


def test_load_example_file() -> None:
    c = load_policy_file(EXAMPLES / "homestead.yaml")
    assert c.policy.meta.rounding_unit.value == "yuan"
