"""The real published plans shipped as examples (docs/policy-sources.md): each checks, its cases pass,
every parameter, tier and item cites its source, and the numpy and kernel evaluations equal the scalar
one on every case household."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from anju.core.money import yuan_to_fen
from anju.policy import jit
from anju.policy.bulk import BulkEvaluator, HouseholdTable
from anju.policy.check import load_policy_file
from anju.policy.cli import app
from anju.policy.facts import GroupFacts, group_from_dict, household_from_dict
from anju.policy.model import load_yaml
from anju.policy.scalar import evaluate
from anju.policy.table import mark_missing

ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = ROOT / "src" / "anju" / "policy" / "examples"
SOURCES = ROOT / "docs" / "policy-sources.md"

REAL_PLANS = [
    "shanghai-changqiao",
    "zongyang-guanbuqiao",
    "jinan-relocation-transition",
    "kaihua-xiaoqiaotou",
    "changsha-bixiangjie",
    "tongling-yian-transition",
    "fuzhou-liuyi",
    "putuo-guanqitou",
]


def _cases(name: str) -> tuple[Any, list[Any], list[dict[str, Any]], GroupFacts]:
    path = EXAMPLES / f"{name}.cases.yaml"
    data, _ = load_yaml(path.read_text(encoding="utf-8"), str(path))
    checked = load_policy_file(EXAMPLES / str(data["policy"]))
    cases = data["cases"]
    hs = [household_from_dict(c["household"]) for c in cases]
    group = group_from_dict(data["group"]) if data.get("group") else GroupFacts.from_households(hs)
    return checked, hs, cases, group


@pytest.mark.parametrize("name", REAL_PLANS)
def test_real_plan_checks_and_its_cases_pass(name: str) -> None:
    runner = CliRunner()
    r = runner.invoke(app, ["check", str(EXAMPLES / f"{name}.yaml")])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["test", str(EXAMPLES / f"{name}.cases.yaml")])
    assert r.exit_code == 0, r.output
    assert "失败" not in r.output


@pytest.mark.parametrize("name", REAL_PLANS)
def test_real_plan_cites_its_source_everywhere(name: str) -> None:
    checked = load_policy_file(EXAMPLES / f"{name}.yaml")
    p = checked.policy
    assert p.meta.legal_ref.strip()
    missing = [k for k, v in p.params.items() if not v.ref.strip()]
    missing += [k for k, v in p.tiers.items() if not v.ref.strip()]
    missing += [i.id for i in p.items if not i.ref.strip()]
    assert not missing, f"{name}: no ref on {missing}"
    text = (EXAMPLES / f"{name}.yaml").read_text(encoding="utf-8")
    url = re.search(r"https?://[A-Za-z0-9./_?=&%:#~-]+", text)
    assert url is not None, f"{name}: the header names no source address"
    sources = SOURCES.read_text(encoding="utf-8")
    assert f"{name}.yaml" in sources and url.group(0) in sources


@pytest.mark.parametrize("name", REAL_PLANS)
def test_bulk_and_kernel_equal_scalar_on_the_real_plan_cases(name: str) -> None:
    checked, hs, cases, group = _cases(name)
    unique = list({h.code: h for h in hs}.values())
    index = {h.code: i for i, h in enumerate(unique)}
    table = HouseholdTable.from_households(unique)
    as_of: date | None = None
    compared = 0
    for option in sorted({str(c.get("option", "cash")) for c in cases}):
        numpy_result = BulkEvaluator(checked, table, as_of, group).evaluate(option)
        kernel = None
        if jit.HAVE_NUMBA:
            prepared = jit.prepare(checked, table, option, as_of, group)
            assert not isinstance(prepared, str), prepared
            kernel = jit.run(prepared, table, option, parallel=False)
            assert kernel is not None
            # as evaluate_bulk does: households lacking a required declared fact are not computed
            kernel = mark_missing(checked.policy.facts, table, kernel)
            for k in kernel.item_ids:
                assert kernel.fen[k].tolist() == numpy_result.fen[k].tolist(), k
        for case, h in zip(cases, hs, strict=True):
            if str(case.get("option", "cash")) != option:
                continue
            if case.get("missing"):  # not computed: every evaluator says which facts are missing
                i = index[h.code]
                assert sorted(d.id for d in numpy_result.missing[i]) == sorted(case["missing"])
                assert kernel is None or sorted(d.id for d in kernel.missing[i]) == sorted(case["missing"])
                continue
            scalar = evaluate(checked, h, option, as_of, group, trace=False).amounts()
            i = index[h.code]
            assert {k: int(numpy_result.fen[k][i]) for k in numpy_result.item_ids} == scalar, case.get("name")
            if kernel is not None:
                assert kernel.row(i) == scalar
            for item, expected in (case.get("expect") or {}).items():
                want = yuan_to_fen(Decimal(str(expected)))
                have = sum(scalar.values()) if item == "total" else scalar[str(item)]
                assert have == want, (case.get("name"), item)
                compared += 1
    assert compared > 0
