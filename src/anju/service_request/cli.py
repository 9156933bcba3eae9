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
