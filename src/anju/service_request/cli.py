"""``anju requests`` sub-commands: run the clock of the five orders from the shell (cron)."""

from __future__ import annotations

from datetime import datetime

import typer
from rich.console import Console

from anju.core.dates import SHANGHAI
from anju.service_request import jobs

app = typer.Typer(help="居民诉求（五单工作法）", no_args_is_help=True)
console = Console()


@app.command("escalate")
def escalate(
    at: str = typer.Option(
        "", "--at", help="按此时刻计算（ISO 格式，不带时区按北京时间；默认现在），用于补跑"
    ),
) -> None:
    """标记超期诉求并逐日升级督办，关闭验单期满未验的诉求（每个诉求一个事务，可与服务器同时运行）。"""
    now = None
    if at:
        try:
            now = datetime.fromisoformat(at)
        except ValueError:
            console.print(f"[red]时刻“{at}”格式不对，应为 2026-12-07T09:00[/red]", highlight=False)
            raise typer.Exit(2) from None
        if now.tzinfo is None:
            now = now.replace(tzinfo=SHANGHAI)
    run = jobs.run_clock(now)
    console.print(
        f"新超期 {len(run.overdue)} 件，督办升级 {len(run.escalated)} 件，验单期满结案 {len(run.closed)} 件",
        highlight=False,
    )


@app.command("catalogue")
def catalogue() -> None:
    """载入默认的部门、诉求分类与办理时限（按代码新增或更新，不删除已有分类）。"""
    from anju.core.actor import Actor
    from anju.db.session import unit_of_work
    from anju.service_request import service as request_service

    with unit_of_work() as db:
        done = request_service.load_catalogue(db, actor=Actor.system("cli"))
    console.print(
        f"部门新增 {done.departments_added}、更新 {done.departments_updated}；"
        f"分类新增 {done.categories_added}、更新 {done.categories_updated}；时限设置 {done.limits_set} 项",
        highlight=False,
    )


@app.command("calendar")
def calendar(
    file: str = typer.Argument(..., help="CSV 文件：每行 日期,类型,名称（类型为 放假 或 调休上班）"),
    year: int = typer.Option(..., "--year", help="替换这一年的工作日历"),
) -> None:
    """登记一年的法定节假日与调休上班日（整年替换，留审计记录）；按工作日/工作时计算的期限从此按它计算。"""
    from pathlib import Path

    from anju.core.actor import Actor
    from anju.db.session import unit_of_work
    from anju.errors import DomainError
    from anju.service_request.service import calendar as work_calendar

    path = Path(file)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        console.print(f"[red]读不了文件 {file}：{exc}[/red]", highlight=False)
        raise typer.Exit(2) from None
    try:
        days = work_calendar.parse_days(text)
        with unit_of_work() as db:
            n = work_calendar.set_days(db, actor=Actor.system("cli"), days=days, year=year)
    except DomainError as exc:
        console.print(f"[red]{file}：{exc.message_zh}[/red]", highlight=False)
        raise typer.Exit(2) from None
    console.print(f"{year} 年工作日历已登记 {n} 天", highlight=False)
