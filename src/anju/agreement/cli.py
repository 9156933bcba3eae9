"""``anju agreement`` sub-commands: sign, show and list agreements from the shell.

Every write goes through the signing service (validated, audited with the CLI actor: ``--by``
names an account, otherwise the operator's system actor ``cli``). A refusal prints the Chinese
message with each field and exits with status 2; nothing is written then. Other parts of the
signing domain add their commands to :data:`app`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.orm import Session

from anju.agreement import rules
from anju.agreement import service as agreement_service
from anju.core.actor import Actor
from anju.core.dates import today_shanghai
from anju.core.money import format_yuan, to_chinese_capital
from anju.db.session import unit_of_work
from anju.errors import DomainError
from anju.household import service as household_service
from anju.identity import service as identity_service
from anju.project import service as project_service

app = typer.Typer(help="签约与协议", no_args_is_help=True)
console = Console()

BY = typer.Option(None, "--by", help="以该用户名义操作（审计记录中的操作人）")
EVERYTHING = identity_service.DataScope.everything()


def _fail(message: str) -> typer.Exit:
    console.print(f"[red]{message}[/red]", highlight=False)
    return typer.Exit(2)


def _actor(db: Session, username: str | None) -> Actor:
    if not username:
        return Actor.system("cli")
    try:
        user = identity_service.get_user_by_username(db, username)
    except DomainError as exc:
        raise _fail(exc.message_zh) from None
    return Actor(user_id=user.id, username=user.username, display_name=user.display_name, role=user.role)


@contextmanager
def _refusing() -> Iterator[None]:
    """Print a domain error in Chinese (each field) and exit 2."""
    try:
        yield
    except DomainError as exc:
        console.print(f"[red]{exc.message_zh}[/red]", highlight=False)
        for d in exc.details or []:
            if isinstance(d, dict) and d.get("message") and str(d["message"]) not in exc.message_zh:
                console.print(f"[red]  · {d['message']}[/red]", highlight=False)
        raise typer.Exit(2) from None


def _household_id(db: Session, project_id: int, code: str) -> int:
    found = household_service.household_ids_by_code(db, project_id=project_id, codes=[code])
    if code not in found:
        raise _fail(f"本项目没有户编号为“{code}”的户")
    return found[code]


def _agreement_id(db: Session, project: str | None, ref: str) -> int:
    """An agreement named by its id, or (with a project) by its agreement number or a household code
    (the household's live agreement)."""
    if not project:
        if ref.isascii() and ref.isdigit():
            return int(ref)
        raise _fail(f"“{ref}”不是协议的数字编号；按协议编号或户编号查找时请给出 --project")
    p = project_service.get_project_by_code(db, project)
    for a in agreement_service.list_agreements(db, scope=EVERYTHING, project_id=p.id):
        if a.agreement_no == ref:
            return int(a.id)
    found = household_service.household_ids_by_code(db, project_id=p.id, codes=[ref])
    if ref in found:
        live = agreement_service.agreement_for_household(db, scope=EVERYTHING, household_id=found[ref])
        if live is None:
            raise _fail(f"户“{ref}”没有生效或待生效的协议")
        return int(live.id)
    if ref.isascii() and ref.isdigit():
        return int(ref)
    raise _fail(f"项目 {project} 中找不到协议编号或户编号“{ref}”")


@app.command("sign")
def sign(
    project: str = typer.Argument(..., help="项目编号"),
    household: str = typer.Argument(..., help="户编号"),
    option: str = typer.Option(..., "--option", help="cash（货币补偿）或 swap（产权调换）"),
    sign_on: str = typer.Option(None, "--on", help="签约日期 YYYY-MM-DD（默认今天）"),
    payee: str = typer.Option("", "--payee", help="收款人（默认户主）"),
    bank: str = typer.Option("", "--bank", help="开户行"),
    account: str = typer.Option("", "--account", help="收款账号"),
    by: str = BY,
) -> None:
    """签约：按签约日期计算补偿、冻结协议、发放签约顺序号并生成付款计划。"""
    options = {**{v: k for k, v in rules.OPTIONS.items()}, **{k: k for k in rules.OPTIONS}}
    try:
        on = date.fromisoformat(sign_on) if sign_on else today_shanghai()
    except ValueError:
        raise _fail(f"签约日期“{sign_on}”应为 YYYY-MM-DD") from None
    with unit_of_work() as db, _refusing():
        p = project_service.get_project_by_code(db, project)
        a = agreement_service.sign(
            db,
            actor=_actor(db, by),
            scope=EVERYTHING,
            household_id=_household_id(db, p.id, household),
            option=options.get(option.strip(), option.strip()),
            sign_on=on,
            payee=agreement_service.Payee(name=payee, bank=bank, account=account),
        )
        console.print(
            f"已签约：协议编号 {a.agreement_no}，签约顺序号 {a.sign_no}，"
            f"{rules.OPTIONS[a.option]}，合计 {format_yuan(a.total_fen)} 元（{to_chinese_capital(a.total_fen)}），"
            f"{rules.STATUSES[a.status]}",
            highlight=False,
        )


@app.command("show")
def show(
    agreement: str = typer.Argument(..., help="协议的数字编号；或与 --project 同用的协议编号、户编号"),
    project: str = typer.Option(None, "--project", help="项目编号"),
    as_json: bool = typer.Option(False, "--json", help="以 JSON 输出"),
) -> None:
    """查看一份协议：冻结的各项补偿、付款计划与状态。"""
    with unit_of_work(write=False) as db, _refusing():
        a = agreement_service.get_agreement(
            db, scope=EVERYTHING, agreement_id=_agreement_id(db, project, agreement)
        )
        snap = agreement_service.get_snapshot(db, a)
        items = agreement_service.items_of(snap)
        schedule = agreement_service.instalments(db, a.id)
        code, head = household_service.household_labels(db, household_ids=[a.household_id])[a.household_id]
        if as_json:
            out = {
                "id": a.id,
                "agreement_no": a.agreement_no,
                "sign_no": a.sign_no,
                "household_code": code,
                "head_name": head,
                "option": a.option,
                "sign_on": a.sign_on.isoformat(),
                "status": a.status,
                "total_fen": a.total_fen,
                "revision": snap.revision,
                "policy_version": snap.policy_version,
                "policy_hash": snap.policy_hash,
                "items": [{"id": i["id"], "label": i["label"], "amount_fen": i["amount_fen"]} for i in items],
                "instalments": [
                    {"kind": i.kind, "amount_fen": i.amount_fen, "paid_fen": i.paid_fen, "status": i.status}
                    for i in schedule
                ],
            }
            typer.echo(json.dumps(out, ensure_ascii=False, indent=2))
            return
        console.print(
            f"协议编号 {a.agreement_no}  签约顺序号 {a.sign_no}  {code} {head}  "
            f"{rules.OPTIONS.get(a.option, a.option)}  签约日期 {a.sign_on.isoformat()}  "
            f"{rules.STATUSES.get(a.status, a.status)}",
            highlight=False,
        )
        console.print(
            f"补偿方案第 {snap.policy_version} 版（{snap.policy_hash[:12]}），协议版本 {snap.revision}",
            highlight=False,
        )
        table = Table("补偿项目", "金额（元）")
        for item in items:
            if item["amount_fen"]:
                table.add_row(item["label"], format_yuan(item["amount_fen"]))
        table.add_row("合计", format_yuan(a.total_fen))
        console.print(table)
        console.print(f"大写：{to_chinese_capital(a.total_fen)}", highlight=False)
        plan = Table("付款计划", "金额（元）", "已付（元）", "状态", "应付日期")
        for i in schedule:
            plan.add_row(
                rules.INSTALMENT_KINDS.get(i.kind, i.kind),
                format_yuan(i.amount_fen),
                format_yuan(i.paid_fen),
                rules.INSTALMENT_STATUSES.get(i.status, i.status),
                i.due_on.isoformat() if i.due_on else "—",
            )
        console.print(plan)
        if a.amendment_flag:
            console.print(f"[yellow]可能需要变更协议：差额 {format_yuan(a.amendment_diff_fen)} 元[/yellow]")


@app.command("list")
def list_(
    project: str = typer.Argument(..., help="项目编号"),
    status: str = typer.Option(None, "--status", help="pending / effective / void / cancelled"),
) -> None:
    """按签约顺序号列出项目的协议。"""
    if status and status not in rules.STATUSES:
        raise _fail("协议状态应为 " + " / ".join(f"{k}（{v}）" for k, v in rules.STATUSES.items()))
    with unit_of_work(write=False) as db, _refusing():
        p = project_service.get_project_by_code(db, project)
        found = agreement_service.list_agreements(db, scope=EVERYTHING, project_id=p.id, status=status)
        labels = household_service.household_labels(db, household_ids=[a.household_id for a in found])
        table = Table("签约顺序号", "协议编号", "户编号", "户主", "方式", "签约日期", "合计（元）", "状态")
        for a in found:
            code, head = labels.get(a.household_id, ("", ""))
            table.add_row(
                str(a.sign_no),
                a.agreement_no,
                code,
                head,
                rules.OPTIONS.get(a.option, a.option),
                a.sign_on.isoformat(),
                format_yuan(a.total_fen),
                rules.STATUSES.get(a.status, a.status),
            )
        console.print(table)
        total = sum(a.total_fen for a in found if a.status in rules.LIVE_STATUSES)
        console.print(f"共 {len(found)} 份协议，生效与待生效合计 {format_yuan(total)} 元", highlight=False)


# --- amendments and conditions


@app.command("check-amendments")
def check_amendments(
    project: str = typer.Argument(None, help="项目编号（不填则检查全部项目）"),
) -> None:
    """按户的当前信息和最新补偿方案重算已签协议，更新“可能需要变更”提示（发布新方案后、批量修改户信息后运行）。"""
    with unit_of_work() as db, _refusing():
        projects = (
            [project_service.get_project_by_code(db, project)]
            if project
            else project_service.list_projects(db)
        )
        for p in projects:
            run = agreement_service.check_amendments(db, project_id=p.id)
            console.print(
                f"{p.code}：检查 {run.checked} 份协议，{run.flagged} 份可能需要变更"
                f"（新增 {run.raised}，解除提示 {run.cleared}）",
                highlight=False,
            )
            for agreement_id, problem in run.problems:
                console.print(f"[yellow]  协议 {agreement_id}：{problem}[/yellow]", highlight=False)


@app.command("check-conditions")
def check_conditions(
    project: str = typer.Argument(None, help="项目编号（不填则检查有待生效协议的全部项目）"),
    on: str = typer.Option(None, "--on", help="检查日期 YYYY-MM-DD（默认今天，不能晚于今天）"),
    by: str = BY,
) -> None:
    """判定附生效条件的协议：签约率达到即生效（签约款转为应付），截止日期已过仍未达到即未生效（记录保留，该户回到协商中）。"""
    try:
        day = date.fromisoformat(on) if on else None
    except ValueError:
        raise _fail(f"检查日期“{on}”应为 YYYY-MM-DD") from None
    with unit_of_work() as db, _refusing():
        actor = _actor(db, by)
        projects = (
            [project_service.get_project_by_code(db, project)]
            if project
            else [project_service.get_project(db, pid) for pid in agreement_service.projects_with_pending(db)]
        )
        if not projects:
            console.print("没有待生效的附条件协议", highlight=False)
        for p in projects:
            run = agreement_service.evaluate_conditions(db, actor=actor, project_id=p.id, on=day)
            console.print(
                f"{p.code}（{run.on.isoformat()}）：生效 {len(run.effective)} 份，未生效 {len(run.void)} 份，"
                f"仍待生效 {run.waiting} 份",
                highlight=False,
            )


@app.command("check-rewards")
def check_rewards(
    project: str = typer.Argument(None, help="项目编号（不填则检查有有效协议的全部项目）"),
    by: str = BY,
) -> None:
    """核查集体奖励（如整区域腾房奖励）：片区或项目达到签约率/腾空率后，为已签协议的各户增加应付的奖励款（已增加的不重复）。"""
    with unit_of_work() as db, _refusing():
        actor = _actor(db, by)
        projects = (
            [project_service.get_project_by_code(db, project)]
            if project
            else [
                project_service.get_project(db, pid)
                for pid in agreement_service.projects_with_live_agreements(db)
            ]
        )
        if not projects:
            console.print("没有已签的有效协议", highlight=False)
        for p in projects:
            run = agreement_service.check_collective_rewards(db, actor=actor, project_id=p.id)
            total = sum(i.amount_fen for i in run.added)
            console.print(
                f"{p.code}：核查 {run.checked} 份协议，新增集体奖励 {len(run.added)} 笔，共 {format_yuan(total)} 元",
                highlight=False,
            )
            for agreement_id, item_id, fen in run.fallen:
                console.print(
                    f"[yellow]  协议 {agreement_id} 的“{item_id}”已少于已增加的奖励 {format_yuan(fen)} 元，请按变更流程处理[/yellow]",
                    highlight=False,
                )
