"""YAML test cases for a policy, written so a case officer can read them.

A cases file looks like::

    policy: state_land.yaml        # relative to the cases file
    as_of: 2025-03-01              # optional; default: the policy's effective date
    group: {blocks: ..., parents: ...}   # optional block facts for sign rates
    measures: {整片腾空率: {东片区: [{effective_on: 2025-05-01, value: 92.5}]}}   # office-set measures
    cases:
      - name: 张某户，砖混住宅 100㎡，第10日签约
        option: cash
        household: {code: H001, block_code: 一组, block_chain: [东片区], sign_on: 2025-03-10,
                    members: [...], buildings: [...]}
        flats:                      # optional (swap): the flats the household selected; formulas see
          - {code: 3-1-502, area: "89.50", building: 3幢, floor: 5, type: A, price: 6500}
        expect:                     # yuan; only the items (and subtotals) listed are compared
          house_value: 1200000.00
          house_subtotal: 1300000.00
          total: 1350000.00
        settlement:                 # optional (swap with flats): the swap settlement, yuan
          credit: 1350000.00
          flats_cost: 581750.00
          balance: -768250.00       # > 0 the household pays, < 0 it is refunded
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
from anju.policy.errors import EvaluationError, Location, PolicyError, Problem
from anju.policy.facts import GroupFacts, Household, group_from_dict, household_from_dict
from anju.policy.model import Src, load_yaml
from anju.policy.scalar import evaluate
from anju.policy.suggest import did_you_mean
from anju.policy.swap import Flat, entitlement, flats_of, settle_swap, violations
from anju.policy.transition import TransitionFees, transition_fees


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


class NoCasesError(Exception):
    """A policy has no test cases: no cases file next to it, or a cases file that lists none."""

    def __init__(self, policy_path: Path, cases_path: Path) -> None:
        self.policy_path = policy_path
        self.cases_path = cases_path
        super().__init__(f"{policy_path}: no test cases ({cases_path})")


@dataclass(slots=True)
class Case:
    """One case of a cases file, its household built."""

    name: str
    option: str
    household: Household
    spec: dict[str, Any]


@dataclass(slots=True)
class CasesFile:
    """A cases file read and its shape checked: the policy it names, its date, group facts and cases."""

    path: Path
    policy_path: Path | None
    as_of: date | None
    group: GroupFacts
    cases: list[Case]


def read_cases_file(path: str | Path) -> CasesFile:
    """Read a cases file; every mistake of shape (a case without household, a household fact that
    cannot be read, a bad date) is a :class:`PolicyError` naming the file, line and column."""
    p = Path(path)
    data, marks = load_yaml(p.read_text(encoding="utf-8"), str(p))
    problems: list[Problem] = []

    def at(*keys: Any) -> Location:
        while keys and keys not in marks:
            keys = keys[:-1]
        return marks.get(keys, Src(str(p), 0, 0, None)).location()

    def bad(keys: tuple[Any, ...], zh: str, en: str) -> None:
        problems.append(Problem("cases", zh, en, at(*keys)))

    if not isinstance(data, dict):
        raise PolicyError(
            [
                Problem(
                    "cases",
                    "测试用例文件应为映射（policy / cases ...）",
                    "a cases file must be a mapping",
                    at(),
                )
            ]
        )
    policy_path = p.parent / str(data["policy"]) if isinstance(data.get("policy"), str) else None
    as_of: date | None = None
    try:
        as_of = _a_date(data.get("as_of"))
    except ValueError:
        bad(("as_of",), "as_of 应为日期 YYYY-MM-DD", "as_of must be a date (YYYY-MM-DD)")
    raw = data.get("cases")
    if raw is None:
        raw = []
    if not isinstance(raw, list):
        bad(("cases",), "cases 应为列表（每个用例以 - 开头）", "cases must be a list")
        raw = []
    cases: list[Case] = []
    for i, c in enumerate(raw):
        if not isinstance(c, dict) or not isinstance(c.get("household"), dict):
            bad(
                ("cases", i),
                f"第 {i + 1} 个用例缺少 household（户的事实）",
                f"case {i + 1} has no household mapping",
            )
            continue
        if c["household"].get("code") is None:
            bad(
                ("cases", i, "household"),
                f"第 {i + 1} 个用例的 household 缺少户号 code",
                f"case {i + 1}: household has no code",
            )
            continue
        try:
            h = household_from_dict(case_household(c))
        except (ValueError, TypeError, KeyError, AttributeError, ArithmeticError) as exc:
            why = "有数值无法读取" if isinstance(exc, ArithmeticError) else str(exc)
            bad(
                ("cases", i, "household"),
                f"第 {i + 1} 个用例的户数据无法读取：{why}",
                f"case {i + 1}: household facts: {why}",
            )
            continue
        if not isinstance(c.get("expect") or {}, dict):
            bad(
                ("cases", i, "expect"),
                "expect 应为映射（项目: 金额）",
                "expect must be a mapping (item: amount)",
            )
            continue
        cases.append(Case(str(c.get("name", h.code)), str(c.get("option", "cash")), h, c))
    group = GroupFacts.from_households(_unique([c.household for c in cases]))
    if data.get("group"):
        try:
            group = group_from_dict(data["group"])
        except (ValueError, TypeError, KeyError, AttributeError, ArithmeticError) as exc:
            bad(("group",), f"group（片区统计）无法读取：{exc}", f"group facts: {exc}")
    if data.get(
        "measures"
    ):  # office-set group measures: {id: {block code or project: [{effective_on, value}]}}
        try:
            group = group.with_measures(group_from_dict({"measures": data["measures"]}).measures)
        except (ValueError, TypeError, KeyError, AttributeError, ArithmeticError) as exc:
            bad(("measures",), f"measures（办公室设定的指标）无法读取：{exc}", f"measures: {exc}")
    if problems:
        raise PolicyError(problems)
    return CasesFile(p, policy_path, as_of, group, cases)


def run_cases(path: str | Path, checked: Checked | None = None) -> CasesReport:
    """Run a cases file (or the cases file next to a policy file).

    Raises :class:`NoCasesError` when the policy has no cases (no cases file, or one listing none)
    and :class:`PolicyError` when the cases file is malformed or the policy has problems.
    """
    p = Path(path)
    data, _ = load_yaml(p.read_text(encoding="utf-8"), str(p))
    if (
        isinstance(data, dict)
        and "cases" not in data
        and "policy" in data
        and isinstance(data["policy"], dict)
    ):
        policy_file = p
        p = cases_file_for(p)
        if not p.is_file():
            raise NoCasesError(policy_file, p)
        data, _ = load_yaml(p.read_text(encoding="utf-8"), str(p))
    shape = read_cases_file(p)
    if shape.policy_path is None:
        raise PolicyError(
            [
                Problem(
                    "cases",
                    "测试用例文件缺少 policy（方案文件名）",
                    "a cases file must name its policy",
                    Location(str(p), 1, 1),
                )
            ]
        )
    if not shape.policy_path.is_file() and checked is None:
        raise PolicyError(
            [
                Problem(
                    "cases",
                    f"测试用例文件指向的方案 {shape.policy_path} 不存在",
                    f"the policy named by the cases file does not exist: {shape.policy_path}",
                    Location(str(p), 1, 1),
                )
            ]
        )
    if not shape.cases:
        raise NoCasesError(shape.policy_path, p)
    policy_path = p.parent / str(data["policy"])
    checked = checked or load_policy_file(policy_path)
    as_of = data.get("as_of")
    as_of = as_of if isinstance(as_of, date) else (date.fromisoformat(str(as_of)) if as_of else None)
    cases = data.get("cases") or []
    hs: list[Household] = [household_from_dict(case_household(c)) for c in cases]
    group: GroupFacts = (
        group_from_dict(data["group"]) if data.get("group") else GroupFacts.from_households(hs)
    )
    if data.get(
        "measures"
    ):  # office-set group measures: {id: {block code or project: [{effective_on, value}]}}
        group = group.with_measures(group_from_dict({"measures": data["measures"]}).measures)
    outcomes: list[CaseOutcome] = []
    # the same household code may come with other facts in another case (e.g. a flat selection)
    uniq = _distinct(hs)
    table = HouseholdTable.from_households(uniq)
    index = {id(h): i for i, h in enumerate(uniq)}
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
        got.update(res.subtotal_amounts())
        got["total"] = res.total_fen
        out = CaseOutcome(name, option, True)
        for item, expected in (case.get("expect") or {}).items():
            try:
                want = yuan_to_fen(Decimal(str(expected)))
            except ArithmeticError:
                out.mismatches.append(
                    f"{item}: 期望金额“{expected}”不是数值 / expected amount is not a number"
                )
                continue
            have = got.get(str(item))
            if have is None and str(item) in checked.items:
                # an item of the policy not offered under this option: the household gets nothing from it
                if want != 0:
                    out.mismatches.append(
                        f"{item}: 不属于补偿方式 {option}，金额为 0；期望 expected {format_yuan(want)}"
                        f" / not offered under {option}"
                    )
            elif have is None:
                zh, en = did_you_mean(str(item), [*got])
                out.mismatches.append(f"没有项目“{item}”{zh} / no item {item!r}{en}")
            elif have != want:
                out.mismatches.append(
                    f"{item}: 期望 expected {format_yuan(want)}，实际 got {format_yuan(have)}（差 diff {format_yuan(have - want)}）"
                )
        if option not in bulk_cache:
            bulk_cache[option] = evaluate_bulk(checked, table, option, as_of, group)
        row = bulk_cache[option].row(index[id(_same(uniq, h))])
        if row != res.amounts():
            out.mismatches.append(
                f"批量计算与逐户计算不一致 / bulk differs from scalar: {row} != {res.amounts()}"
            )
        sub_row = bulk_cache[option].subtotal_row(index[id(_same(uniq, h))])
        if sub_row != res.subtotal_amounts():
            out.mismatches.append(
                f"批量小计与逐户小计不一致 / bulk subtotals differ: {sub_row} != {res.subtotal_amounts()}"
            )
        if case.get("settlement") is not None:
            out.mismatches.extend(_settlement_mismatches(checked, h, case, option, as_of, group))
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
    lacking = sorted({d.id for d in missing_required(checked.policy.facts, h)})
    wanted = case.get("missing")
    if not isinstance(wanted, list) or sorted(str(x) for x in wanted) != lacking:
        out.mismatches.append(f"{exc.message_zh} / {exc.message_en}")
    out.passed = not out.mismatches
    return out


def case_household(case: dict[str, Any]) -> dict[str, Any]:
    """A case's household mapping, with the case's ``flats:`` (the selection) when it gives them."""
    h = dict(case["household"])
    if case.get("flats") is not None:
        h["flats"] = case["flats"]
    return h


def _settlement_mismatches(
    checked: Checked, h: Household, case: dict[str, Any], option: str, as_of: date | None, group: GroupFacts
) -> list[str]:
    """Differences between a case's expected swap settlement and the engine's (only the keys listed)."""
    try:
        s = settle_swap(checked, h, flats_of(h), as_of, group, option=option)
    except EvaluationError as exc:
        return [f"无法结算 / settlement not computable: {exc.message_zh}"]
    got = {
        "credit": s.credit_fen,
        "flats_cost": s.flats_cost_fen,
        "refund": s.refund_fen,
        "balance": s.balance_fen,
    }
    out: list[str] = []
    for key, want in (case["settlement"] or {}).items():
        if key == "selected_area" or key == "entitled_area":
            if Decimal(str(want)) != getattr(s, key):
                out.append(f"settlement {key}: 期望 expected {want}，实际 got {getattr(s, key)}")
            continue
        if key not in got:
            out.append(f"settlement: 没有“{key}” / no {key!r}")
            continue
        w = yuan_to_fen(Decimal(str(want)))
        if got[key] != w:
            out.append(f"settlement {key}: 期望 expected {format_yuan(w)}，实际 got {format_yuan(got[key])}")
    return out


def _unique(hs: list[Household]) -> list[Household]:
    """One household per code (the first): the project the group facts are counted over."""
    seen: dict[str, Household] = {}
    for h in hs:
        seen.setdefault(h.code, h)
    return list(seen.values())


def _distinct(hs: list[Household]) -> list[Household]:
    """The distinct facts of the cases (equal facts once; one code may come with several, e.g. a
    flat selection): the rows of the bulk cross-check."""
    out: list[Household] = []
    for h in hs:
        if _same(out, h) is None:
            out.append(h)
    return out


def _same(hs: list[Household], h: Household) -> Household | None:
    return next((x for x in hs if x == h), None)


def _a_date(v: Any) -> date | None:
    if v is None or isinstance(v, date):
        return v
    return date.fromisoformat(str(v))


def case_transition_fees(
    checked: Checked, h: Household, spec: dict[str, Any], option: str, as_of: date | None, group: GroupFacts
) -> TransitionFees:
    """The transition fees a case's ``transition:`` asks for (``planned_delivery`` is required):
    counted up to its ``as_of``, the block's formulas evaluated at the case's calculation date (as its
    items are, e.g. 现房/期房 on it), not at the schedule's."""
    planned = _a_date(spec.get("planned_delivery"))
    assert planned is not None
    return transition_fees(
        checked,
        h,
        planned_delivery=planned,
        actual_delivery=_a_date(spec.get("actual_delivery")),
        as_of=_a_date(spec.get("as_of")) or as_of or checked.policy.meta.effective_on,
        group=group,
        option=option,
        evaluated_on=as_of or checked.policy.meta.effective_on,
    )


def _transition_mismatches(
    checked: Checked, h: Household, case: dict[str, Any], option: str, as_of: date | None, group: GroupFacts
) -> list[str]:
    """Differences between a case's expected transition fees and the engine's (only the keys listed)."""
    spec = case["transition"]
    if _a_date(spec.get("planned_delivery")) is None:
        return ["transition 需要 planned_delivery / transition needs planned_delivery"]
    try:
        fees = case_transition_fees(checked, h, spec, option, as_of, group)
    except EvaluationError as exc:
        return [f"过渡费无法计算 / transition fees not computable: {exc.message_zh}"]
    got: dict[str, object] = {
        "normal_months": fees.normal_months,
        "late_months": fees.late_months,
        "final": fees.final,
        "monthly": fees.monthly_fen,
        "late_monthly": fees.late_fen,
        "total": fees.total_fen,
        "applies": fees.applies,
        "due": fees.due,
    }
    out: list[str] = []
    for key, want in (spec.get("expect") or {}).items():
        if key not in got:
            out.append(f"transition: 没有“{key}” / no {key!r}")
            continue
        money = key in ("monthly", "late_monthly", "total")
        w: object = yuan_to_fen(Decimal(str(want))) if money else _a_date(want) if key == "due" else want
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
