"""``anju policy ...``: check, test, calc, explain, diff and what-if for compensation policies."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from anju.core.money import format_yuan
from anju.policy.bulk import HouseholdTable, evaluate_bulk
from anju.policy.cases import CasesFile, NoCasesError, TransitionCase, read_cases_file, run_cases
from anju.policy.check import Checked, load_policy_file
from anju.policy.errors import EvaluationError, PolicyError, Problem
from anju.policy.facts import GroupFacts, Household, ProjectKind
from anju.policy.io import HouseholdsFileError, read_households, write_results
from anju.policy.model import read_policy_file
from anju.policy.scalar import Result, SubtotalResult, evaluate
from anju.policy.suggest import did_you_mean
from anju.policy.swap import SwapSettlement, flats_of, settle_swap
from anju.policy.versioning import content_hash, diff
from anju.policy.whatif import whatif

app = typer.Typer(
    help="补偿安置方案：检查、测试、计算、解释、比较、模拟 / compensation policies", no_args_is_help=True
)
console = Console()


# Exit codes: 1 when the policy has problems or a case fails, 2 when an input (file, date, option) is bad.
BAD_INPUT = 2
KIND_HELP = "项目类型（入户调查表、台账无此列）：国有土地 / 集体土地 / 棚户区 / project kind"


def _bad_input(message: str) -> typer.Exit:
    console.print(f"[red]{escape(message)}[/red]", highlight=False, soft_wrap=True)
    return typer.Exit(BAD_INPUT)


def _exists(path: Path, what: str) -> None:
    if not path.is_file():
        reason = "文件不存在" if not path.exists() else "不是文件"
        raise _bad_input(f"{what} {path}：{reason} / file not found")


def _is_cases_file(path: Path) -> bool:
    return path.suffix.lower() in (".yaml", ".yml")


def _households(path: Path, kind: str | None, c: Checked) -> tuple[list[Household], GroupFacts, date | None]:
    """The households of ``path``, their group facts and the file's date: a cases file (read
    strictly, as ``anju policy test`` does: its distinct households, its ``group`` and ``as_of``) or a
    workbook (engine layout, census template or ledger export); exit 2 on a bad file."""
    from anju.policy.facts import canonical

    if _is_cases_file(path):
        _exists(path, "测试用例文件")
        cases = _read_cases(path, c)
        hs: list[Household] = []
        for case in cases.cases:
            if case.household not in hs:
                hs.append(case.household)
        return hs, cases.group, cases.as_of
    try:
        k = ProjectKind(canonical(kind)) if kind else ProjectKind.STATE_LAND
    except ValueError:
        raise _bad_input(f"--kind “{kind}” 应为 国有土地 / 集体土地 / 棚户区") from None
    try:
        hs = read_households(path, kind=k, facts=c.policy.facts)
    except HouseholdsFileError as exc:
        raise _bad_input(str(exc)) from None
    return hs, GroupFacts.from_households(hs), None


def _read_cases(path: Path, c: Checked) -> CasesFile:
    """A cases file read strictly against the policy; its problems printed and exit 2."""
    try:
        cases = read_cases_file(path, c)
    except PolicyError as exc:
        _print_problems(exc.problems)
        raise typer.Exit(BAD_INPUT) from exc
    if not cases.cases:
        raise _bad_input(f"{path} 中没有测试用例 / no cases")
    return cases


def _print_problems(problems: list[Problem]) -> None:
    """Each problem with its place, code and both languages, then how many."""
    for p in problems:
        # escape: "[unit]" would otherwise be read as rich markup and vanish
        console.print(
            f"[red]{escape(str(p.location))}[/red] {escape(f'[{p.code}]')} {escape(p.message_zh)}\n    {escape(p.message_en)}",
            highlight=False,
            soft_wrap=True,
        )
    console.print(f"[red]共 {len(problems)} 个错误 / {len(problems)} error(s)[/red]")


def _load(path: Path) -> Checked:
    _exists(path, "方案文件")
    try:
        return load_policy_file(path)
    except PolicyError as exc:
        _print_problems(exc.problems)
        raise typer.Exit(1) from exc


def _as_of(text: str | None) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        raise _bad_input(f"--as-of “{text}” 应为日期 YYYY-MM-DD / date expected") from None


def _option(c: Checked, option: str | None) -> None:
    if option is not None and option not in c.policy.options:
        zh, en = did_you_mean(option, c.policy.options)
        raise _bad_input(
            f"--option “{option}” 不是本方案的补偿方式{zh}（{'、'.join(c.policy.options)}）/ unknown option{en}"
        )


@app.command("check")
def check_cmd(file: Path) -> None:
    """检查方案文件（语法、名称、单位、表格、时间窗）/ check a policy file."""
    c = _load(file)
    m = c.policy.meta
    console.print(
        f"[green]通过 OK[/green] {m.name} v{m.version}：{len(c.policy.params)} 个参数，{len(c.policy.items)} 个项目"
        f"（{', '.join(c.policy.options)}），舍入 {m.rounding_mode.value}/{m.rounding_unit.value}，"
        f"内容哈希 {content_hash(c.policy.text)[:19]}…",
        highlight=False,
    )
    ent = c.policy.swap.entitlement if c.policy.swap is not None else None
    if ent is not None:
        console.print(
            f"安置资格 entitlement：最大可选面积 {ent.max_area.text if ent.max_area else '应安置面积 + max_extra'}；"
            f"最多套数 {ent.max_flats.text if ent.max_flats else '不限'}；"
            f"{len(ent.rules)} 条选房规则（{', '.join(r.id for r in ent.rules) or '无'}）",
            highlight=False,
            markup=False,
        )


@app.command("test")
def test_cmd(
    file: Path,
    require_cases: Annotated[
        bool,
        typer.Option("--require-cases", help="没有测试用例时以退出码 1 结束 / fail when there are no cases"),
    ] = False,
) -> None:
    """运行方案的测试用例（FILE 为方案或 .cases.yaml）/ run a policy's YAML test cases.

    A policy without cases is checked and reported in one line; the exit code is then 0 (1 with
    --require-cases), so that CI of plans still being written stays green.
    """
    _exists(file, "方案文件")
    try:
        report = run_cases(file)
    except NoCasesError as none:
        if none.policy_path.is_file():
            _load(none.policy_path)  # the policy itself is still checked
        console.print(
            f"[yellow]没有测试用例：{escape(str(none.policy_path))}（未找到用例，应写在 {escape(str(none.cases_path))}）"
            f" / no test cases[/yellow]",
            highlight=False,
            soft_wrap=True,
        )
        raise typer.Exit(1 if require_cases else 0) from None
    except PolicyError as exc:
        _print_problems(exc.problems)
        raise typer.Exit(1) from exc
    for o in report.outcomes:
        mark = "[green]通过 PASS[/green]" if o.passed else "[red]失败 FAIL[/red]"
        console.print(f"{mark} {o.name}（{o.option}）", highlight=False)
        for m in o.mismatches:
            console.print(f"    {m}", highlight=False, markup=False)
    ok = sum(o.passed for o in report.outcomes)
    console.print(f"{ok}/{len(report.outcomes)} 个用例通过 / cases passed", highlight=False)
    if not report.passed:
        raise typer.Exit(1)


@app.command("calc")
def calc_cmd(
    file: Path,
    households: Path,
    out: Annotated[Path, typer.Option("-o", "--out", help="输出 .xlsx / output workbook")],
    option: Annotated[list[str] | None, typer.Option("--option", help="补偿方式，可多个 / options")] = None,
    as_of: Annotated[str | None, typer.Option(help="参数生效日 YYYY-MM-DD")] = None,
    kind: Annotated[str | None, typer.Option("--kind", help=KIND_HELP)] = None,
) -> None:
    """批量计算全部户，每个项目一列（户数据：households 表、入户调查表或台账）/ compute every household."""
    c = _load(file)
    for opt in option or []:
        _option(c, opt)
    day = _as_of(as_of)
    hs, group, file_day = _households(households, kind, c)
    day = day or file_day
    table = HouseholdTable.from_households(hs)
    results = {}
    for opt in option or list(c.policy.options):
        try:
            results[opt] = evaluate_bulk(c, table, opt, day, group)
        except EvaluationError as exc:
            console.print(f"[red]{exc}[/red]", highlight=False)
            raise typer.Exit(1) from exc
    settlements: dict[str, SwapSettlement | str] = {}
    if "swap" in results and c.policy.swap is not None:
        for h in hs:
            if h.flats:
                try:
                    settlements[h.code] = settle_swap(c, h, flats_of(h), day, group)
                except EvaluationError as exc:
                    settlements[h.code] = exc.message_zh
    try:
        write_results(out, results, hs, settlements)
    except OSError as exc:
        raise _bad_input(f"无法写入 {out}：{exc.strerror or exc} / cannot write") from None
    for opt, r in results.items():
        console.print(
            f"{opt}: {len(hs)} 户，合计 {format_yuan(int(r.total.sum()))} 元 -> {out}", highlight=False
        )
    lacking = next(iter(results.values())).missing if results else {}
    if lacking:  # not computed (amounts 0 in the file): say which households and why
        shown = "；".join(
            f"{hs[i].code}（{'、'.join(d.label for d in ds)}）" for i, ds in sorted(lacking.items())[:20]
        )
        more = f" 等 {len(lacking)} 户" if len(lacking) > 20 else ""
        console.print(f"[yellow]缺少方案要求的事实，未计算：{escape(shown)}{more}[/yellow]", highlight=False)
    if settlements:
        done = [s for s in settlements.values() if isinstance(s, SwapSettlement)]
        pays = sum(s.balance_fen for s in done if s.balance_fen > 0)
        refunds = -sum(s.balance_fen for s in done if s.balance_fen < 0)
        console.print(
            f"产权调换结算 swap settlement：{len(done)} 户已选房，应补交 {format_yuan(pays)} 元，"
            f"应退还 {format_yuan(refunds)} 元（工作表 settlement）",
            highlight=False,
        )
        for code, s in settlements.items():
            if isinstance(s, str):
                console.print(f"[yellow]{escape(code)} 无法结算：{escape(s)}[/yellow]", highlight=False)
        if len(hs) == 1 and done:
            for line in _settlement_text(done[0]):
                console.print(line, highlight=False, markup=False)


@app.command("explain")
def explain_cmd(
    file: Path,
    household: Annotated[
        str | None,
        typer.Option(
            "--household", help="户号或用例名称（用例文件不给则解释全部用例）/ household code or case name"
        ),
    ] = None,
    households: Annotated[
        Path | None,
        typer.Option(
            "--households", help="户数据文件：用例 .yaml、households 表、入户调查表或台账 / households file"
        ),
    ] = None,
    option: Annotated[str | None, typer.Option("--option")] = None,
    as_of: Annotated[str | None, typer.Option()] = None,
    kind: Annotated[str | None, typer.Option("--kind", help=KIND_HELP)] = None,
) -> None:
    """逐项解释一户的补偿计算（算账单）/ explain one household's calculation line by line.

    The households come from --households (a cases file: every case, or the one named by
    --household, each under its own option; or a workbook: the household named) or, without it,
    from the policy's own cases file.
    """
    c = _load(file)
    _option(c, option)
    day = _as_of(as_of)
    if households is not None and not _is_cases_file(households):
        if household is None:
            raise _bad_input("请用 --household 指定户号 / give --household")
        hs, group, _ = _households(households, kind, c)
        entries: list[tuple[str, str | None, Household, TransitionCase | None]] = [
            (h.code, None, h, None) for h in hs
        ]
    else:
        from anju.policy.cases import cases_file_for

        cf = households if households is not None else cases_file_for(file)
        if households is not None:
            _exists(cf, "测试用例文件")
        elif not cf.is_file():
            raise _bad_input(
                f"方案没有测试用例文件 {cf}；请用 --households 指定户数据文件 / give --households"
            )
        cases = _read_cases(cf, c)
        entries = [(x.name, x.option, x.household, x.transition) for x in cases.cases]
        group = cases.group
        day = day or cases.as_of
    if household is not None:
        match = [e for e in entries if household in (e[2].code, e[0])]
        if not match:
            where = f"{households}中" if households is not None else "方案的测试用例中"
            zh, en = did_you_mean(household, [x for e in entries for x in (e[2].code, e[0])])
            what = "户号" if all(e[1] is None for e in entries) else "户号或用例"
            raise _bad_input(f"{where}找不到{what} {household}{zh} / household not found{en}")
        entries = match
    for name, case_option, h, spec in entries:
        opts = [option] if option else [case_option] if case_option else list(c.policy.options)
        for opt in opts:
            title = f"{name} · " if name != h.code else ""
            _explain_one(c, h, opt, day, group, title)
            if spec is not None:
                _print_transition(c, h, spec, opt, day, group)


def _print_transition(
    c: Checked, h: Household, spec: TransitionCase, opt: str, day: date | None, group: GroupFacts
) -> None:
    """The case's monthly transition fees (its ``transition:``): the trace, or why not computable."""
    from anju.policy.cases import case_transition_fees

    if c.policy.transition is None or opt not in c.policy.transition.options:
        return
    console.print(
        f"[bold]── {escape(h.code)} · 按月过渡费 monthly transition fees ──[/bold]", highlight=False
    )
    try:
        fees = case_transition_fees(c, h, spec, opt, day, group)
    except (EvaluationError, ValueError, OverflowError) as exc:
        console.print(f"[red]无法计算 cannot compute：{escape(str(exc))}[/red]", highlight=False)
        return
    for line in fees.trace:
        console.print(f"    {line}", highlight=False, markup=False)


def _explain_one(c: Checked, h: Household, opt: str, day: date | None, group: GroupFacts, title: str) -> None:
    if opt not in c.policy.options:
        console.print(
            f"[red]{escape(title)}{escape(h.code)}：方案没有补偿方式“{escape(opt)}” / no option[/red]"
        )
        raise typer.Exit(1)
    try:
        r = evaluate(c, h, opt, day, group)
    except EvaluationError as exc:
        console.print(f"[red]{escape(str(exc))}[/red]", highlight=False)
        raise typer.Exit(1) from exc
    # a rule would cut a long case name short; the heading is printed whole
    console.print(
        f"[bold]── {escape(f'{title}{h.code} · {c.policy.options[opt]}（{opt}）· 截至 {r.as_of}')} ──[/bold]",
        highlight=False,
        soft_wrap=True,
    )
    after = r.subtotals_after()
    for it in r.items:
        if not it.applies:
            _print_subtotals(after.get(it.id, []))
            continue
        console.print(
            f"[bold]{escape(it.label)}[/bold]（{escape(it.id)}）= [bold]{format_yuan(it.amount_fen)} 元[/bold]",
            highlight=False,
        )
        console.print(f"  公式 formula: {it.formula}", highlight=False, markup=False)
        for s in it.steps:
            console.print(
                f"    {s.text} = {s.value}{'  # ' + s.note if s.note else ''}",
                highlight=False,
                markup=False,
            )
        for line in it.certificates:
            if line.applies:
                console.print(
                    f"    证 {line.certificate_no}: {format_yuan(line.amount_fen)} 元",
                    highlight=False,
                    markup=False,
                )
                for n in line.notes:
                    console.print(f"      {n}", highlight=False, markup=False)
        for n in it.notes:
            console.print(f"    {n}", highlight=False, markup=False)
        _print_subtotals(after.get(it.id, []))
    for w in r.warnings:
        console.print(f"[yellow]注意 {escape(w)}[/yellow]", highlight=False)
    console.print(f"[bold]合计 total: {format_yuan(r.total_fen)} 元[/bold]", highlight=False)
    if opt == "swap" and h.flats and c.policy.swap is not None:
        _print_settlement(c, h, r, group)


def _print_subtotals(lines: list[SubtotalResult]) -> None:
    for st in lines:
        console.print(
            f"[bold cyan]{escape(st.label)}[/bold cyan]（{escape(st.id)}，小计，不另计入合计）= "
            f"[bold]{format_yuan(st.amount_fen)} 元[/bold]",
            highlight=False,
        )
        for b in st.basis:
            console.print(f"    {b}", highlight=False, markup=False)


def _settlement_text(s: SwapSettlement) -> list[str]:
    """The swap settlement (产权调换结算) of the chosen flats, line by line."""
    out = [
        f"应安置面积 entitled {s.entitled_area} ㎡，所选面积 selected {s.selected_area} ㎡",
        f"产权调换补偿款 credit {format_yuan(s.credit_fen)} 元",
    ]
    out += [
        f"  {x.label}：{x.area} ㎡ × {x.unit_price} 元/㎡ = {format_yuan(x.amount_fen)} 元" for x in s.lines
    ]
    out.append(f"购房款 flats cost {format_yuan(s.flats_cost_fen)} 元")
    if s.refund_fen:
        out.append(f"未选足面积退还 refund {format_yuan(s.refund_fen)} 元")
    out += [f"  {n}" for n in s.notes]
    if s.balance_fen > 0:
        out.append(f"差价 balance：该户应补交 household pays {format_yuan(s.balance_fen)} 元")
    elif s.balance_fen < 0:
        out.append(f"差价 balance：应退还该户 household is refunded {format_yuan(-s.balance_fen)} 元")
    else:
        out.append("差价 balance：0.00 元，两清")
    return out


def _print_settlement(c: Checked, h: Household, r: Result, group: GroupFacts) -> None:
    console.print(
        f"[bold]── {escape(h.code)} · 产权调换结算 swap settlement（所选房源 {escape('、'.join(f.code for f in h.flats))}）──[/bold]",
        highlight=False,
        soft_wrap=True,
    )
    try:
        s = settle_swap(c, h, flats_of(h), r.as_of, group, option=r.option)
    except EvaluationError as exc:
        console.print(f"[red]无法结算 cannot settle：{escape(exc.message_zh)}[/red]", highlight=False)
        return
    for line in _settlement_text(s):
        console.print(line, highlight=False, markup=False)


@app.command("diff")
def diff_cmd(a: Path, b: Path) -> None:
    """列出两个版本之间的所有变化 / list every change between two versions."""
    _exists(a, "方案文件")
    _exists(b, "方案文件")
    try:
        pa, qa = read_policy_file(a)
        pb, qb = read_policy_file(b)
    except PolicyError as exc:  # not even YAML: nothing to compare
        _print_problems(exc.problems)
        raise typer.Exit(1) from exc
    empty = [p for p in (*qa, *qb) if p.code == "empty"]
    if empty:  # every line would show as a change
        _print_problems(empty)
        raise typer.Exit(1)
    changes = diff(pa, pb)
    if not changes:
        console.print("两个版本内容相同 / no changes")
        return
    t = Table("类别 kind", "名称 name", "字段 field", "原 old", "新 new")
    for ch in changes:
        t.add_row(ch.kind, ch.name, ch.field, ch.old, ch.new)
    console.print(t)
    console.print(f"共 {len(changes)} 处变化 / change(s)")


def _setting_problem(text: str) -> str | None:
    """What is wrong with one ``--set name=value`` (the value must be a number a policy may hold),
    or ``None``."""
    from anju.policy.model import MAX_NUMBER, MAX_PLACES
    from anju.policy.whatif import parse_setting

    try:
        _, _, value = parse_setting(text)
    except ValueError as exc:
        return str(exc)
    except ArithmeticError:
        return f"--set “{text}”：等号后应为数值 / the value is not a number"
    if not value.is_finite() or abs(value) >= MAX_NUMBER or value != round(value, MAX_PLACES):
        return (
            f"--set “{text}”：数值超出范围（绝对值应小于 10^15，最多 {MAX_PLACES} 位小数）"
            f" / the value is out of range"
        )
    return None


@app.command("whatif")
def whatif_cmd(
    file: Path,
    households: Path,
    set_: Annotated[list[str], typer.Option("--set", help="参数=数值，可多个 / name=value")],
    option: Annotated[str, typer.Option("--option")] = "cash",
    as_of: Annotated[str | None, typer.Option()] = None,
    kind: Annotated[str | None, typer.Option("--kind", help=KIND_HELP)] = None,
) -> None:
    """改变参数，查看项目预算、分片区合计与每户变化 / change parameters and see the budget move."""
    c = _load(file)
    _option(c, option)
    day = _as_of(as_of)
    for text in set_:
        problem = _setting_problem(text)
        if problem:
            console.print(f"[red]{escape(problem)}[/red]", highlight=False)
            raise typer.Exit(1)
    hs, group, file_day = _households(households, kind, c)
    day = day or file_day
    table = HouseholdTable.from_households(hs)
    try:
        w = whatif(c, table, set_, option, day, group)
    except (ValueError, EvaluationError, PolicyError) as exc:
        console.print(f"[red]{exc}[/red]", highlight=False)
        raise typer.Exit(1) from exc
    t = Table("项目 item", "原 base", "新 new", "变化 delta")
    for i, (b, n) in w.by_item.items():
        t.add_row(f"{w.new.labels[i]} {i}", format_yuan(b), format_yuan(n), format_yuan(n - b))
    t.add_row(
        "[bold]合计 total[/bold]",
        format_yuan(w.base_total),
        format_yuan(w.new_total),
        format_yuan(w.new_total - w.base_total),
    )
    console.print(t)
    tb = Table("片区 block", "原 base", "新 new", "变化 delta")
    for blk, (b, n) in w.by_block.items():
        tb.add_row(blk, format_yuan(b), format_yuan(n), format_yuan(n - b))
    console.print(tb)
    d = w.distribution
    console.print(
        f"每户合计分布 per-household totals: 最小 min {format_yuan(d.min)}，中位 median "
        f"{format_yuan(int(d.median))}{'.5分' if d.median != int(d.median) else ''}，最大 max {format_yuan(d.max)}",
        highlight=False,
    )
    console.print("十分位 deciles: " + " / ".join(format_yuan(x) for x in d.deciles), highlight=False)
    changed = int((w.delta != 0).sum())
    console.print(f"受影响户数 households affected: {changed}/{len(hs)}", highlight=False)
