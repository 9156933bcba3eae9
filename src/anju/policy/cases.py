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
        entitlement:                # optional (swap): only the keys listed are compared
          entitled_area: "170.00"
          max_area: "200.00"
          max_flats: 3              # null: no limit
          applies: [big_flat]       # ids of the selection rules that apply
        selections:                 # optional: trial selections and the rules they break
          - flats: [{code: 1-101, area: "45.00", type: A}]
            refused: [big_flat]     # [] = allowed
            complete: true          # false: a selection still in progress
        transition:                 # optional: monthly transition fees (the policy's transition block)
          planned_delivery: 2027-09-01
          actual_delivery: 2028-01-20   # optional: not delivered yet without it
          as_of: 2028-06-01
          expect: {normal_months: 26, late_months: 6, monthly: "333.30", total: "12665.40", final: true}

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
from anju.policy.declared import missing_required
from anju.policy.errors import EvaluationError
from anju.policy.facts import GroupFacts, Household, group_from_dict, household_from_dict
from anju.policy.model import load_yaml
from anju.policy.scalar import evaluate
from anju.policy.swap import Flat, entitlement, violations
from anju.policy.transition import transition_fees


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
    if (
        isinstance(data, dict)
        and "cases" not in data
        and "policy" in data
        and isinstance(data["policy"], dict)
    ):
        p = cases_file_for(p)
        data, _ = load_yaml(p.read_text(encoding="utf-8"), str(p))
    policy_path = p.parent / str(data["policy"])
    checked = checked or load_policy_file(policy_path)
    as_of = data.get("as_of")
    as_of = as_of if isinstance(as_of, date) else (date.fromisoformat(str(as_of)) if as_of else None)
    cases = data.get("cases") or []
    hs: list[Household] = [household_from_dict(c["household"]) for c in cases]
    group: GroupFacts = (
        group_from_dict(data["group"]) if data.get("group") else GroupFacts.from_households(hs)
    )
    outcomes: list[CaseOutcome] = []
    table = HouseholdTable.from_households(_unique(hs))
    index = {h.code: i for i, h in enumerate(_unique(hs))}
    bulk_cache: dict[str, Any] = {}
    for case, h in zip(cases, hs, strict=True):
        option = str(case.get("option", "cash"))
        name = str(case.get("name", h.code))
        try:
            res = evaluate(checked, h, option, as_of, group, trace=False)
        except EvaluationError as exc:
            if exc.code != "missing-fact":
                raise
            outcomes.append(_missing_outcome(checked, h, case, name, option, exc))
            continue
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
            out.mismatches.append(
                f"批量计算与逐户计算不一致 / bulk differs from scalar: {row} != {res.amounts()}"
            )
        if case.get("entitlement") is not None or case.get("selections"):
            out.mismatches.extend(_entitlement_mismatches(checked, h, case, as_of, group))
        if case.get("transition") is not None:
            out.mismatches.extend(_transition_mismatches(checked, h, case, option, as_of, group))
        out.passed = not out.mismatches
        outcomes.append(out)
    return CasesReport(str(policy_path), outcomes)


def _missing_outcome(
    checked: Checked, h: Household, case: Any, name: str, option: str, exc: EvaluationError
) -> CaseOutcome:
    """A case whose household lacks a required declared fact: it passes when the case says which
    (``missing: [ac_units]``), as a family's sheet would say so instead of a number."""
    out = CaseOutcome(name, option, True)
    lacking = sorted(d.id for d in missing_required(checked.policy.facts, h))
    wanted = case.get("missing")
    if not isinstance(wanted, list) or sorted(str(x) for x in wanted) != lacking:
        out.mismatches.append(f"{exc.message_zh} / {exc.message_en}")
    out.passed = not out.mismatches
    return out


def _unique(hs: list[Household]) -> list[Household]:
    seen: dict[str, Household] = {}
    for h in hs:
        seen.setdefault(h.code, h)
    return list(seen.values())


def _a_date(v: Any) -> date | None:
    if v is None or isinstance(v, date):
        return v
    return date.fromisoformat(str(v))


def _transition_mismatches(
    checked: Checked, h: Household, case: dict[str, Any], option: str, as_of: date | None, group: GroupFacts
) -> list[str]:
    """Differences between a case's expected transition fees and the engine's (only the keys listed)."""
    spec = case["transition"]
    planned = _a_date(spec.get("planned_delivery"))
    until = _a_date(spec.get("as_of")) or as_of or checked.policy.meta.effective_on
    if planned is None:
        return ["transition 需要 planned_delivery / transition needs planned_delivery"]
    try:
        fees = transition_fees(
            checked,
            h,
            planned_delivery=planned,
            actual_delivery=_a_date(spec.get("actual_delivery")),
            as_of=until,
            group=group,
            option=option,
            evaluated_on=as_of,
        )
    except EvaluationError as exc:
        return [f"过渡费无法计算 / transition fees not computable: {exc.message_zh}"]
    got: dict[str, object] = {
        "normal_months": fees.normal_months,
        "late_months": fees.late_months,
        "final": fees.final,
        "monthly": fees.monthly_fen,
        "late_monthly": fees.late_fen,
        "total": fees.total_fen,
    }
    out: list[str] = []
    for key, want in (spec.get("expect") or {}).items():
        if key not in got:
            out.append(f"transition: 没有“{key}” / no {key!r}")
            continue
        money = key in ("monthly", "late_monthly", "total")
        w: object = yuan_to_fen(Decimal(str(want))) if money else want
        if got[key] != w:
            shown = format_yuan(int(str(got[key]))) if money else got[key]
            out.append(f"transition {key}: 期望 expected {want}，实际 got {shown}")
    return out


def _entitlement_mismatches(
    checked: Checked, h: Household, case: dict[str, Any], as_of: date | None, group: GroupFacts
) -> list[str]:
    """Differences between a case's expected entitlement / selection outcomes and the engine's."""
    try:
        ent = entitlement(checked, h, as_of, group)
    except EvaluationError as exc:
        return [f"安置资格无法计算 / entitlement not computable: {exc.message_zh}"]
    out: list[str] = []
    want = case.get("entitlement") or {}
    for key in ("entitled_area", "max_area"):
        if key in want and Decimal(str(want[key])) != getattr(ent, key):
            out.append(f"{key}: 期望 expected {want[key]}，实际 got {getattr(ent, key)}")
    if "max_flats" in want and want["max_flats"] != ent.max_flats:
        out.append(f"max_flats: 期望 expected {want['max_flats']}，实际 got {ent.max_flats}")
    if "applies" in want:
        have = sorted(r.id for r in ent.applicable_rules)
        if sorted(str(x) for x in want["applies"] or []) != have:
            out.append(
                f"适用规则 rules applying: 期望 expected {sorted(want['applies'] or [])}，实际 got {have}"
            )
    for k, sel in enumerate(case.get("selections") or [], start=1):
        flats = [
            Flat(
                str(f["code"]),
                Decimal(str(f["area"])),
                str(f.get("type", "")),
                flat_type_name=str(f.get("type_name", "")),
            )
            for f in sel.get("flats") or []
        ]
        found = violations(ent, flats, complete=bool(sel.get("complete", True)))
        got = sorted(v.rule_id for v in found)
        expected = sorted(str(x) for x in sel.get("refused") or [])
        if got != expected:
            shown = "；".join(v.message_zh for v in found) or "无 none"
            out.append(
                f"第 {k} 次试选 selection {k}: 期望违反 expected {expected}，实际 got {got}（{shown}）"
            )
    return out
