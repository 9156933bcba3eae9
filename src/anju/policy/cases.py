"""YAML test cases for a policy, written so a case officer can read them.

A cases file looks like::

    policy: state_land.yaml        # relative to the cases file
    as_of: 2025-03-01              # optional; default: the policy's effective date
    group: {blocks: ..., parents: ...}   # optional block facts for sign rates
    cases:
      - name: 张某户，砖混住宅 100㎡，第10日签约
        option: cash
        household: {code: H001, block_code: 一组, block_chain: [东片区], sign_on: 2025-03-10,
                    members: [...], buildings: [...]}
        expect:                     # yuan; only the items listed are compared
          house_value: 1200000.00
          total: 1350000.00

Every case is evaluated by the scalar evaluator and, as a cross-check, by the bulk evaluator.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from anju.core.money import format_yuan, yuan_to_fen
from anju.policy.bulk import HouseholdTable, evaluate_bulk
from anju.policy.check import Checked, load_policy_file
from anju.policy.facts import GroupFacts, Household, group_from_dict, household_from_dict
from anju.policy.model import load_yaml
from anju.policy.scalar import evaluate


@dataclass(slots=True)
class CaseOutcome:
    """Result of one case."""

    name: str
    option: str
    passed: bool
    mismatches: list[str] = field(default_factory=list)


@dataclass(slots=True)
class CasesReport:
    """Results of a whole cases file."""

    policy_file: str
    outcomes: list[CaseOutcome]

    @property
    def passed(self) -> bool:
        """Whether every case passed."""
        return all(o.passed for o in self.outcomes)


def cases_file_for(policy_path: Path) -> Path:
    """The conventional cases file of a policy: ``NAME.cases.yaml`` next to ``NAME.yaml``."""
    return policy_path.with_name(policy_path.stem + ".cases.yaml")


def run_cases(path: str | Path, checked: Checked | None = None) -> CasesReport:
    """Run a cases file (or the cases file next to a policy file)."""
    p = Path(path)
    data, _ = load_yaml(p.read_text(encoding="utf-8"), str(p))
    if isinstance(data, dict) and "cases" not in data and "policy" in data and isinstance(data["policy"], dict):
        p = cases_file_for(p)
        data, _ = load_yaml(p.read_text(encoding="utf-8"), str(p))
    policy_path = p.parent / str(data["policy"])
    checked = checked or load_policy_file(policy_path)
    as_of = data.get("as_of")
    as_of = as_of if isinstance(as_of, date) else (date.fromisoformat(str(as_of)) if as_of else None)
    cases = data.get("cases") or []
    hs: list[Household] = [household_from_dict(c["household"]) for c in cases]
    group: GroupFacts = group_from_dict(data["group"]) if data.get("group") else GroupFacts.from_households(hs)
    outcomes: list[CaseOutcome] = []
    table = HouseholdTable.from_households(_unique(hs))
    index = {h.code: i for i, h in enumerate(_unique(hs))}
    bulk_cache: dict[str, Any] = {}
    for case, h in zip(cases, hs, strict=True):
        option = str(case.get("option", "cash"))
        name = str(case.get("name", h.code))
        res = evaluate(checked, h, option, as_of, group, trace=False)
        got = res.amounts()
        got["total"] = res.total_fen
        out = CaseOutcome(name, option, True)
        for item, expected in (case.get("expect") or {}).items():
            want = yuan_to_fen(Decimal(str(expected)))
            have = got.get(str(item))
            if have is None:
                out.mismatches.append(f"没有项目“{item}” / no item {item!r}")
            elif have != want:
                out.mismatches.append(
                    f"{item}: 期望 expected {format_yuan(want)}，实际 got {format_yuan(have)}（差 diff {format_yuan(have - want)}）"
                )
        if option not in bulk_cache:
            bulk_cache[option] = evaluate_bulk(checked, table, option, as_of, group)
        row = bulk_cache[option].row(index[h.code])
        if row != res.amounts():
            out.mismatches.append(f"批量计算与逐户计算不一致 / bulk differs from scalar: {row} != {res.amounts()}")
        out.passed = not out.mismatches
        outcomes.append(out)
    return CasesReport(str(policy_path), outcomes)


def _unique(hs: list[Household]) -> list[Household]:
    seen: dict[str, Household] = {}
    for h in hs:
        seen.setdefault(h.code, h)
    return list(seen.values())
