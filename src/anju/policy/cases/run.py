"""Cases part: running a cases file: each case by the scalar evaluator and, as a cross-check, the
bulk evaluator, compared with what it expects (items, subtotals, settlement, entitlement, trial
selections, transition fees)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from anju.core.money import format_yuan
from anju.policy.bulk import BulkResult, HouseholdTable, evaluate_bulk
from anju.policy.cases.against import check_against_policy
from anju.policy.cases.expect import TransitionCase
from anju.policy.cases.shape import Case, CasesFile, read_cases
from anju.policy.check import Checked, load_policy_file
from anju.policy.declared import missing_required
from anju.policy.errors import EvaluationError, Location, PolicyError, Problem
from anju.policy.facts import GroupFacts, Household
from anju.policy.scalar import Result, evaluate
from anju.policy.swap import entitlement, flats_of, settle_swap, violations
from anju.policy.transition import TransitionFees, transition_fees
from anju.policy.yaml_source import load_yaml, read_yaml_file


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


def read_cases_file(path: str | Path, checked: Checked | None = None) -> CasesFile:
    """Read a cases file strictly: an unknown key anywhere (with the nearest known one), a value of
    the wrong type, a bad date, a negative area are :class:`PolicyError` problems naming file, line
    and column, all of them together. With ``checked`` the names only the policy knows are checked
    too: options, expected items and subtotals, declared facts and their values, rules, measures."""
    cf, problems = read_cases(Path(path))
    if checked is not None:
        problems += check_against_policy(cf, checked)
    if problems:
        raise PolicyError(_in_order(problems))
    return cf


def _in_order(problems: list[Problem]) -> list[Problem]:
    """Problems of one file in the order of the text (a reader finds them as they read)."""
    return sorted(problems, key=lambda p: (p.location.line, p.location.column))


def run_cases(path: str | Path, checked: Checked | None = None) -> CasesReport:
    """Run a cases file (or the cases file next to a policy file).

    Raises :class:`NoCasesError` when the policy has no cases (no cases file, or one listing none)
    and :class:`PolicyError` when the cases file is malformed (every problem of it together, with
    the policy's own problems when it has some).
    """
    p = Path(path)
    loaded = load_yaml(read_yaml_file(p, "测试用例文件", "the cases file"), str(p))
    data = loaded[0]
    if isinstance(data, dict) and "cases" not in data and isinstance(data.get("policy"), dict):
        policy_file, p = p, cases_file_for(p)
        if not p.is_file():
            raise NoCasesError(policy_file, p)
        loaded = load_yaml(read_yaml_file(p, "测试用例文件", "the cases file"), str(p))
    cf, problems = read_cases(p, loaded)
    at = Location(str(p), 1, 1)
    if cf.policy_path is None and checked is None:
        if all(x.code != "empty" for x in problems):
            problems.append(
                Problem(
                    "cases", "测试用例文件缺少 policy（方案文件名）", "a cases file must name its policy", at
                )
            )
        raise PolicyError(_in_order(problems))
    if checked is None:
        assert cf.policy_path is not None
        if not cf.policy_path.is_file():
            where = cf.location(("policy",))
            problems.append(
                Problem(
                    "cases",
                    f"测试用例文件指向的方案 {cf.policy_path} 不存在",
                    f"the policy named by the cases file does not exist: {cf.policy_path}",
                    where,
                )
            )
            raise PolicyError(_in_order(problems))
        try:
            checked = load_policy_file(cf.policy_path)
        except PolicyError as exc:
            raise PolicyError([*exc.problems, *_in_order(problems)]) from exc
    problems += check_against_policy(cf, checked)
    if problems:
        raise PolicyError(_in_order(problems))
    if not cf.cases:
        raise NoCasesError(cf.policy_path or p, p)
    return CasesReport(str(cf.policy_path or checked.policy.file), _run(checked, cf))


def _run(checked: Checked, cf: CasesFile) -> list[CaseOutcome]:
    as_of, group = cf.as_of, cf.group
    outcomes: list[CaseOutcome] = []
    computed: list[tuple[Case, CaseOutcome, Result]] = []
    failed: set[int] = set()  # households that cannot be computed stay out of the bulk cross-check
    for case in cf.cases:
        h, option = case.household, case.option
        out = CaseOutcome(case.name, option, True)
        outcomes.append(out)
        try:
            res = evaluate(checked, h, option, as_of, group, trace=False)
        except EvaluationError as exc:
            if exc.code == "missing-fact":
                out.mismatches += _missing_mismatches(checked, h, case, exc)
            else:
                failed.add(id(h))
                out.mismatches.append(f"无法计算 / not computable: {exc.message_zh} / {exc.message_en}")
            continue
        computed.append((case, out, res))
        if case.missing:
            out.mismatches.append(
                f"用例期望缺少事实 {case.missing}，但该户已计算 / expected missing facts, but the household was computed"
            )
        out.mismatches += _expect_mismatches(case, res)
        if case.settlement is not None:
            out.mismatches += _settlement_mismatches(checked, case, as_of, group)
        if case.entitlement is not None or case.selections:
            out.mismatches += _entitlement_mismatches(checked, case, as_of, group)
        if case.transition is not None:
            out.mismatches += _transition_mismatches(checked, case, as_of, group)
    # one table per option of the households computed under it; the same household code may come
    # with other facts in another case (e.g. a flat selection): a row for each
    rows: dict[str, list[Household]] = {}
    for c in cf.cases:
        if id(c.household) not in failed:
            rows.setdefault(c.option, [])
            if c.household not in rows[c.option]:
                rows[c.option].append(c.household)
    bulk: dict[str, BulkResult | str] = {}
    for case, out, res in computed:
        out.mismatches += _bulk_mismatches(checked, rows[case.option], case, as_of, group, bulk, res)
    for out in outcomes:
        out.passed = not out.mismatches
    return outcomes


def _expect_mismatches(case: Case, res: Result) -> list[str]:
    """Differences between the amounts a case expects and the scalar result."""
    got = res.amounts()
    got.update(res.subtotal_amounts())
    got["total"] = res.total_fen
    out: list[str] = []
    for item, want in case.expect.items():
        have = got.get(item)
        if have is None:  # an item of the policy not offered under this option: the household gets nothing
            if want != 0:
                out.append(
                    f"{item}: 不属于补偿方式 {case.option}，金额为 0；期望 expected {format_yuan(want)}"
                    f" / not offered under {case.option}"
                )
        elif have != want:
            out.append(
                f"{item}: 期望 expected {format_yuan(want)}，实际 got {format_yuan(have)}（差 diff {format_yuan(have - want)}）"
            )
    return out


def _bulk_mismatches(
    checked: Checked,
    uniq: list[Household],
    case: Case,
    as_of: date | None,
    group: GroupFacts,
    cache: dict[str, BulkResult | str],
    res: Result,
) -> list[str]:
    """The bulk evaluator's row for the case's household against the scalar result ``res``."""
    option = case.option
    if option not in cache:
        try:
            cache[option] = evaluate_bulk(checked, HouseholdTable.from_households(uniq), option, as_of, group)
        except EvaluationError as exc:
            cache[option] = exc.message_zh
    b = cache[option]
    if isinstance(b, str):
        return [f"批量计算失败，逐户计算却成功 / bulk failed where scalar did not: {b}"]
    i = uniq.index(case.household)
    out = []
    if (row := b.row(i)) != res.amounts():
        out.append(f"批量计算与逐户计算不一致 / bulk differs from scalar: {row} != {res.amounts()}")
    if (sub := b.subtotal_row(i)) != res.subtotal_amounts():
        out.append(f"批量小计与逐户小计不一致 / bulk subtotals differ: {sub} != {res.subtotal_amounts()}")
    return out


def _missing_mismatches(checked: Checked, h: Household, case: Case, exc: EvaluationError) -> list[str]:
    """A case whose household lacks a required declared fact: it passes when the case says which
    (``missing: [ac_units]``), as a family's sheet would say so instead of a number."""
    lacking = sorted({d.id for d in missing_required(checked.policy.facts, h)})
    if case.missing is None or sorted(case.missing) != lacking:
        return [f"{exc.message_zh} / {exc.message_en}"]
    return []


def case_household(case: dict[str, Any]) -> dict[str, Any]:
    """A case's household mapping as written, with the case's ``flats:`` (the selection) when it
    gives them (for :func:`anju.policy.facts.household_from_dict`)."""
    h = dict(case["household"])
    if case.get("flats") is not None:
        h["flats"] = case["flats"]
    return h


def _settlement_mismatches(checked: Checked, case: Case, as_of: date | None, group: GroupFacts) -> list[str]:
    """Differences between a case's expected swap settlement and the engine's (only the keys listed)."""
    h = case.household
    try:
        s = settle_swap(checked, h, flats_of(h), as_of, group, option=case.option)
    except EvaluationError as exc:
        return [f"无法结算 / settlement not computable: {exc.message_zh}"]
    got: dict[str, int | Decimal] = {
        "credit": s.credit_fen,
        "flats_cost": s.flats_cost_fen,
        "refund": s.refund_fen,
        "balance": s.balance_fen,
        "selected_area": s.selected_area,
        "entitled_area": s.entitled_area,
    }
    out: list[str] = []
    for key, want in (case.settlement or {}).items():
        have = got[key]
        if have == want:
            continue
        if isinstance(want, Decimal):
            out.append(f"settlement {key}: 期望 expected {want}，实际 got {have}")
        else:
            out.append(
                f"settlement {key}: 期望 expected {format_yuan(want)}，实际 got {format_yuan(int(have))}"
            )
    return out


def case_transition_fees(
    checked: Checked, h: Household, spec: TransitionCase, option: str, as_of: date | None, group: GroupFacts
) -> TransitionFees:
    """The transition fees a case's ``transition:`` asks for: counted up to its ``as_of``, the block's
    formulas evaluated at the case's calculation date (as its items are, e.g. 现房/期房 on it), not
    at the schedule's."""
    return transition_fees(
        checked,
        h,
        planned_delivery=spec.planned_delivery,
        actual_delivery=spec.actual_delivery,
        as_of=spec.as_of or as_of or checked.policy.meta.effective_on,
        group=group,
        option=option,
        evaluated_on=as_of or checked.policy.meta.effective_on,
    )


def _transition_mismatches(checked: Checked, case: Case, as_of: date | None, group: GroupFacts) -> list[str]:
    """Differences between a case's expected transition fees and the engine's (only the keys listed)."""
    spec = case.transition
    assert spec is not None
    try:
        fees = case_transition_fees(checked, case.household, spec, case.option, as_of, group)
    except EvaluationError as exc:
        return [f"过渡费无法计算 / transition fees not computable: {exc.message_zh}"]
    except (
        ValueError,
        OverflowError,
    ):  # months counted past the year 9999 (the transition block's own dates)
        return ["过渡费无法计算：日期超出公元1至9999年 / transition fees not computable: a date out of range"]
    got: dict[str, int | bool | date | None] = {
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
    for key, want in spec.expect.items():
        have = got[key]
        if have == want and type(have) is type(want):
            continue
        money = key in ("monthly", "late_monthly", "total")
        shown = format_yuan(have) if money and isinstance(have, int) else have
        wanted = format_yuan(want) if money and isinstance(want, int) else want
        out.append(f"transition {key}: 期望 expected {wanted}，实际 got {shown}")
    return out


def _entitlement_mismatches(checked: Checked, case: Case, as_of: date | None, group: GroupFacts) -> list[str]:
    """Differences between a case's expected entitlement / selection outcomes and the engine's."""
    try:
        ent = entitlement(checked, case.household, as_of, group)
    except EvaluationError as exc:
        return [f"安置资格无法计算 / entitlement not computable: {exc.message_zh}"]
    out: list[str] = []
    want = case.entitlement or {}
    for key in ("entitled_area", "max_area"):
        if key in want and want[key] != getattr(ent, key):
            out.append(f"{key}: 期望 expected {want[key]}，实际 got {getattr(ent, key)}")
    if "max_flats" in want and want["max_flats"] != ent.max_flats:
        out.append(f"max_flats: 期望 expected {want['max_flats']}，实际 got {ent.max_flats}")
    if "applies" in want:
        have = sorted(r.id for r in ent.applicable_rules)
        if sorted(want["applies"]) != have:
            out.append(f"适用规则 rules applying: 期望 expected {sorted(want['applies'])}，实际 got {have}")
    for k, sel in enumerate(case.selections, start=1):
        found = violations(ent, sel.flats, complete=sel.complete)
        got = sorted(v.rule_id for v in found)
        if got != sorted(sel.refused):
            shown = "；".join(v.message_zh for v in found) or "无 none"
            out.append(
                f"第 {k} 次试选 selection {k}: 期望违反 expected {sorted(sel.refused)}，实际 got {got}（{shown}）"
            )
    return out
