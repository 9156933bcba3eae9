"""``anju import census|template`` and ``anju export ledger``."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from anju import uploads as upload_store
from anju.cli_support import cli_actor as _actor
from anju.db.session import unit_of_work
from anju.errors import DomainError
from anju.household import census, ledger
from anju.identity.service import DataScope

import_app = typer.Typer(help="导入 (import)：入户调查表", no_args_is_help=True)
export_app = typer.Typer(help="导出 (export)：台账", no_args_is_help=True)
console = Console()


@contextmanager
def _bar() -> Iterator[census.Progress]:
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as bar:
        tasks: dict[str, TaskID] = {}

        def progress(phase: str, done: int, total: int) -> None:
            if phase not in tasks:
                tasks[phase] = bar.add_task(phase, total=total or None)
            bar.update(tasks[phase], completed=done, total=total or None)

        yield progress


def _print_errors(exc: census.CensusInvalid) -> None:
    listed = f"（列出 {len(exc.errors):,} 处，其余按列计数）" if exc.total > len(exc.errors) else ""
    table = Table(title=f"共 {exc.total:,} 处错误{listed}，未导入任何数据", title_style="bold red")
    for name in ("工作表", "行", "列", "列名", "问题"):
        table.add_column(name)
    for e in exc.errors:
        table.add_row(e.sheet, "" if e.row is None else str(e.row), e.letter, e.column, e.message)
    console.print(table)
    for item in exc.omitted:
        console.print(f"[red]{item['text']}[/red]")


@import_app.command("census")
def import_census(
    file: Path = typer.Argument(
        ..., exists=True, dir_okay=False, readable=True, help="入户调查表 .xlsx/.xls/.csv"
    ),
    project: str = typer.Option(..., "--project", help="项目编号"),
    dry_run: bool = typer.Option(False, "--dry-run", help="只校验和预览，不写入"),
    user: str = typer.Option(None, "--user", help="以该用户名义导入（审计记录中的操作人）"),
    update: bool = typer.Option(
        False, "--update", help="更正模式：修改已有的户（按户号对应），逐户列出改动；与 --dry-run 同用只预览"
    ),
) -> None:
    """Validate a census file and import it all-or-nothing; exit 1 listing the bad cells (the first
    of each column when there are many, the rest counted). The file is inspected before it is read
    (type, sizes, each sheet's extent) and refused with a message when out of bounds. With
    ``--update`` the file corrects households already in the project (更正导入)."""
    from anju.project import service as project_service

    started = time.perf_counter()
    upload_store.sweep()  # encrypted uploads a killed server left behind
    if update:
        _correct(file, project, dry_run, user)
        return
    try:
        with unit_of_work() as db, _bar() as progress:
            p = project_service.get_project_by_code(db, project)
            outcome = census.import_census(
                db,
                actor=_actor(db, user),
                project_id=p.id,
                source=file,
                filename=file.name,
                dry_run=dry_run,
                progress=progress,
                policy_facts=_declared(db, p.id),
            )
    except census.CensusInvalid as exc:
        _print_errors(exc)
        raise typer.Exit(1) from exc
    except DomainError as exc:
        console.print(f"[red]{exc.message_zh}[/red]")
        raise typer.Exit(1) from exc
    elapsed = time.perf_counter() - started
    preview = outcome.check.preview
    table = Table(title="各表行数")
    table.add_column("工作表")
    table.add_column("行数", justify="right")
    for title, n in preview.counts.items():
        table.add_row(title, f"{n:,}")
    console.print(table)
    totals = Table(title="合计")
    totals.add_column("项目")
    totals.add_column("数值", justify="right")
    for k, v in preview.totals.items():
        totals.add_row(k, v)
    console.print(totals)
    if dry_run:
        console.print(f"[green]校验通过（试运行，未写入），用时 {elapsed:.1f} 秒[/green]")
        return
    s = outcome.summary
    assert s is not None
    console.print(
        f"[green]已导入 {s.households:,} 户、{s.members:,} 人、{s.buildings:,} 处房屋、{s.valuations:,} 条评估、"
        f"{s.tenants:,} 个承租人、{s.homesteads:,} 处宅基地，用时 {elapsed:.1f} 秒（SHA-256 {s.sha256[:12]}…）[/green]"
    )


def _correct(file: Path, project: str, dry_run: bool, user: str | None) -> None:
    """``anju import census --update``: plan and (unless dry run) apply corrections in one transaction."""
    from anju.project import service as project_service

    try:
        with unit_of_work() as db:
            p = project_service.get_project_by_code(db, project)
            plan, summary = census.correct_census(
                db,
                actor=_actor(db, user),
                scope=DataScope.everything(),
                project_id=p.id,
                source=file,
                filename=file.name,
                dry_run=dry_run,
                policy_facts=_declared(db, p.id),
            )
    except census.CensusInvalid as exc:
        _print_errors(exc)
        raise typer.Exit(1) from exc
    except DomainError as exc:
        console.print(f"[red]{exc.message_zh}[/red]")
        raise typer.Exit(1) from exc
    table = Table(title=f"更正内容：{len(plan.households):,} 户有改动，{len(plan.unchanged):,} 户无改动")
    for name in ("户号", "记录", "字段", "原值", "新值"):
        table.add_column(name)
    for h in plan.households:
        for rec in h.records:
            if not rec.changes:
                table.add_row(h.code, rec.title, "", "", "")
            for c in rec.changes:
                table.add_row(h.code, rec.title, c.label, c.before, c.after)
    console.print(table)
    for note in plan.notes:
        console.print(f"[yellow]{note}[/yellow]")
    if summary is None:
        console.print("[green]校验通过（试运行，未写入）[/green]")
        return
    console.print(
        f"[green]已更正 {summary.households:,} 户：修改 {summary.fields:,} 个字段，新增 {summary.added:,} 条记录"
        f"（审计序号 {summary.audit_seq}）[/green]"
    )


def _declared(db: Any, project_id: int) -> Any:
    """The facts the project's policy declares (published version, else newest draft)."""
    from anju.compensation import service as compensation_service

    return compensation_service.declared_facts(db, project_id)


@import_app.command("template")
def template(
    out: Path = typer.Option(Path("入户调查表.xlsx"), "-o", "--output", help="输出文件"),
    project: str = typer.Option("", "--project", help="项目编号：模板加上该项目补偿方案要求的事实列"),
) -> None:
    """Write the empty census template (入户调查表), with the columns of a project's policy facts."""
    decls = None
    if project:
        from anju.db.session import unit_of_work
        from anju.project import service as project_service

        try:
            with unit_of_work() as db:
                decls = _declared(db, project_service.get_project_by_code(db, project).id)
        except DomainError as exc:
            console.print(f"[red]{exc.message_zh}[/red]")
            raise typer.Exit(1) from exc
    census.write_workbook(out, policy_facts=decls)
    console.print(f"[green]已生成模板：{out}[/green]")


@export_app.command("ledger")
def export_ledger(
    project: str = typer.Option(..., "--project", help="项目编号"),
    out: Path = typer.Option(..., "-o", "--output", help="输出 .xlsx 文件"),
    reveal: bool = typer.Option(False, "--reveal", help="导出完整身份证号（默认脱敏）"),
) -> None:
    """Export a project's household ledger (台账) to xlsx, with the signing columns and a 合计 row."""
    from anju.agreement import service as agreement_service
    from anju.project import service as project_service

    started = time.perf_counter()
    try:
        with unit_of_work() as db:
            p = project_service.get_project_by_code(db, project)
            with out.open("wb") as fh:
                everything = DataScope.everything()
                n = ledger.export_ledger(
                    db,
                    scope=everything,
                    project_id=p.id,
                    target=fh,
                    reveal=reveal,
                    extra=agreement_service.ledger_columns(db, scope=everything, project_id=p.id),
                    policy_facts=_declared(db, p.id),
                )
    except DomainError as exc:
        console.print(f"[red]{exc.message_zh}[/red]")
        raise typer.Exit(1) from exc
    console.print(f"[green]已导出 {n:,} 户到 {out}，用时 {time.perf_counter() - started:.1f} 秒[/green]")
