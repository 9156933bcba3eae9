"""``anju dispatch`` sub-commands: show, issue, pdf, docx and the editable DOCX template."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.orm import Session

from anju.core.actor import Actor
from anju.core.dates import utcnow
from anju.db.session import unit_of_work
from anju.errors import DomainError
from anju.identity.service import DataScope
from anju.project import service as project_service
from anju.reporting import docx_template
from anju.reporting import service as dispatch_service

app = typer.Typer(help="每日调度通报", no_args_is_help=True)
console = Console()

ProjectArg = typer.Argument(..., help="项目编号（如 P1），或项目的数字 id")
DateArg = typer.Argument(..., help="通报日期 YYYY-MM-DD")


def _date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        console.print(f"[red]通报日期“{value}”应为 YYYY-MM-DD 格式的日期[/red]")
        raise typer.Exit(2) from None


def _project_id(db: Session, project: str) -> int:
    try:
        return project_service.get_project_by_code(db, project).id
    except DomainError:
        if project.isdigit():
            return project_service.get_project(db, int(project)).id
        raise


def _fail(exc: DomainError) -> typer.Exit:
    console.print(f"[red]{exc.message_zh}[/red]")
    details = exc.details if isinstance(exc.details, list) else []
    for d in details if len(details) > 1 else []:
        if isinstance(d, dict) and d.get("message"):
            console.print(f"[red]{d['message']}[/red]")
    return typer.Exit(1)


@app.command("show")
def show(project: str = ProjectArg, report_on: str = DateArg) -> None:
    """Print a report: the frozen numbers when issued, else the draft computed now."""
    on = _date(report_on)
    try:
        with unit_of_work(write=False) as db:
            view = dispatch_service.get_view(
                db,
                scope=DataScope.everything(),
                project_id=_project_id(db, project),
                report_on=on,
                now=utcnow(),
            )
    except DomainError as exc:
        raise _fail(exc) from exc
    doc = view.doc
    hl = doc["headline"]
    console.print(f"[bold]{doc['title']}[/bold]（{doc['status_label']}）")
    if view.issued:
        console.print(
            f"签发人 {doc['issued_by']}，签发时间 {doc['issued_at']}，数据指纹 {view.numbers_sha256[:16]}"
        )
    console.print(
        f"总户数 {hl['households']}，已签约 {hl['signed']}（{hl['sign_rate']}），当日签约 {hl['signed_on_day']}，"
        f"前一日 {hl['signed_prev_day']}（{hl['signed_change']}）；已腾空 {hl['vacated']}（{hl['vacate_rate']}），"
        f"已拆除 {hl['demolished']}（{hl['demolish_rate']}），已付款 {hl['paid']}（{hl['pay_rate']}）"
    )
    console.print(
        f"攻坚第 {hl['days_since_launch']} 天；倒排计划每日需签约 {hl['need_per_day']}，实际 {hl['actual_per_day']}"
    )
    blocks = Table(
        "片区", "户数", "已签约", "签约率", "当日签约", "已腾空", "已拆除", "已付款", title="各片区进度"
    )
    for b in doc["blocks"]:
        blocks.add_row(
            "  " * b["depth"] + b["name"], b["households"], b["signed"], b["sign_rate"], b["signed_on_day"],
            b["vacated"], b["demolished"], b["paid"],
        )  # fmt: skip
    console.print(blocks)
    teams = Table(
        "级别", "名次", "专班", "包户数", "已签约", "签约率", "当日签约", "近7日签约", title="专班排名"
    )
    for t in doc["teams"]:
        teams.add_row(
            t["level"],
            t["rank"],
            t["name"],
            t["households"],
            t["signed"],
            t["sign_rate"],
            t["signed_on_day"],
            t["signed_last7"],
        )
    console.print(teams)
    console.print(
        f"久未走访（{doc['stalled']['days']} 天以上）{doc['stalled']['total']} 户；逾期事项 {doc['overdue']['total']} 项"
    )
    if doc["concerns"]:
        console.print(
            "群众诉求："
            + "；".join(f"{c['label']} {c['visits']} 次（{c['households']} 户）" for c in doc["concerns"])
        )
    for p in doc["commentary"]:
        console.print("　　" + p)


@app.command("issue")
def issue(
    project: str = ProjectArg,
    report_on: str = DateArg,
    commentary_file: Path | None = typer.Option(
        None, "--commentary-file", exists=True, dir_okay=False, help="讲评文本文件（UTF-8），签发前写入"
    ),
    title: str | None = typer.Option(None, "--title", help="通报标题"),
) -> None:
    """签发 a report: freeze its numbers and archive its PDF (optionally with a commentary file)."""
    on = _date(report_on)
    actor = Actor.system("cli")
    try:
        with unit_of_work() as db:
            pid = _project_id(db, project)
            now = utcnow()
            if commentary_file is not None or title is not None:
                current = dispatch_service.get_view(
                    db, scope=DataScope.everything(), project_id=pid, report_on=on, now=now
                )
                text = (
                    commentary_file.read_text(encoding="utf-8-sig").replace("\r\n", "\n")
                    if commentary_file is not None
                    else current.commentary
                )
                dispatch_service.save_commentary(
                    db, actor=actor, project_id=pid, report_on=on, commentary=text, title=title,
                    version=current.version, now=now,
                )  # fmt: skip
            row = dispatch_service.issue(db, actor=actor, project_id=pid, report_on=on, version=None, now=now)
            sha, pdf_sha = row.numbers_sha256, row.pdf_sha256
            path = dispatch_service.archive_path(pid, on, pdf_sha)
    except DomainError as exc:
        raise _fail(exc) from exc
    console.print(
        f"[green]已签发 {on.isoformat()} 调度通报（数据指纹 {sha[:16]}），PDF 归档于 {path}[/green]"
    )


def _write_report(project: str, report_on: str, output: Path, render: Callable[..., bytes]) -> None:
    """Write the report of ``project`` on ``report_on`` as ``render`` makes it (PDF or DOCX) to ``output``."""
    on = _date(report_on)
    try:
        with unit_of_work(write=False) as db:
            pid = _project_id(db, project)
            content = render(db, scope=DataScope.everything(), project_id=pid, report_on=on, now=utcnow())
    except DomainError as exc:
        raise _fail(exc) from exc
    output.write_bytes(content)
    console.print(f"已写入 {output}（{len(content):,} 字节）")


@app.command("pdf")
def pdf(
    project: str = ProjectArg,
    report_on: str = DateArg,
    output: Path = typer.Option(..., "-o", "--output", dir_okay=False, help="输出文件"),
) -> None:
    """Write a report's PDF (the archived file when issued)."""
    _write_report(project, report_on, output, dispatch_service.pdf)


@app.command("docx")
def docx(
    project: str = ProjectArg,
    report_on: str = DateArg,
    output: Path = typer.Option(..., "-o", "--output", dir_okay=False, help="输出文件"),
) -> None:
    """Write a report as DOCX (from the office's editable template)."""
    _write_report(project, report_on, output, dispatch_service.docx)


@app.command("template")
def template(output: Path = typer.Option(..., "-o", "--output", dir_okay=False, help="输出文件")) -> None:
    """Write the built-in DOCX template, to edit and put at <data_dir>/templates/dispatch_report.docx."""
    docx_template.build_template(output)
    console.print(
        f"已写入 {output}；修改后放到 {docx_template.custom_template_path()} 即可生效（删除该文件恢复内置模板）"
    )
