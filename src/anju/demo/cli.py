"""``anju demo``: migrate, create the fictional demo subdistrict once, print the logins, optionally serve."""

from __future__ import annotations

import os
import shlex
import shutil
import sys
import time
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from anju.config import get_settings
from anju.db import migrate
from anju.demo import generator
from anju.errors import DomainError

console = Console()


def _reset_database(url: str, default_sqlite: bool) -> None:
    """Delete the default SQLite file, or drop every table of another database."""
    from anju.db.session import get_engine, get_sessionmaker

    get_engine.cache_clear()
    get_sessionmaker.cache_clear()
    if default_sqlite:
        path = Path(url.removeprefix("sqlite:///"))
        for suffix in ("", "-wal", "-shm"):
            p = path.with_name(path.name + suffix)
            if p.exists():
                p.unlink()
        return
    from sqlalchemy import text

    from anju.db.registry import Base
    from anju.db.session import make_engine

    engine = make_engine(url)
    with engine.begin() as conn:
        Base.metadata.drop_all(conn)
        conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
    engine.dispose()


def print_logins(url: str) -> None:
    """Print the table of demo logins and where to open Anju."""
    table = Table(title="演示账号 (demo logins)")
    table.add_column("用户名 username")
    table.add_column("密码 password")
    table.add_column("角色 role")
    table.add_column("姓名")
    from anju import i18n

    for login in generator.demo_logins():
        table.add_row(
            login.username,
            login.password,
            f"{i18n.t('role.' + login.role, 'zh')} ({login.role})",
            login.display_name,
        )
    console.print(table)
    console.print(f"打开 [bold]{url}[/bold] 登录；启动服务：[bold]{escape(command_hint('serve'))}[/bold]")


def command_hint(subcommand: str) -> str:
    """The command line that runs ``anju SUBCOMMAND`` from here, as this process was started.

    ``anju`` alone only when it is on the PATH (an activated environment); otherwise the script's
    path (``.venv/bin/anju`` after ``./dev.sh run``), and the data directory when it was given.
    """
    exe = Path(sys.argv[0]) if sys.argv and sys.argv[0] else Path()
    on_path = shutil.which("anju")
    if exe.name == "anju" and on_path and Path(on_path).resolve() == exe.resolve():
        program = "anju"
    elif exe.name == "anju" and exe.exists():
        try:
            program = str(exe.resolve().relative_to(Path.cwd()))
        except ValueError:
            program = str(exe.resolve())
    else:
        program = ".venv/bin/anju"
    env = os.environ.get("ANJU_DATA_DIR")
    prefix = f"ANJU_DATA_DIR={shlex.quote(env)} " if env else ""
    return f"{prefix}{shlex.quote(program)} {subcommand}"


def demo_command(
    reset: bool = typer.Option(False, "--reset", help="清空数据库后重新生成演示数据"),
    serve: bool = typer.Option(False, "--serve", help="生成后立即启动 Web 服务"),
    scale: float = typer.Option(1.0, "--scale", help="户数比例（1.0 约 2,460 户）", min=0.001, max=50.0),
    host: str = typer.Option(None, help="监听地址（默认取 ANJU_HOST）"),
    port: int = typer.Option(None, help="端口（默认取 ANJU_PORT）"),
) -> None:
    """Create the fictional demo subdistrict (once), print demo logins, and optionally start the server."""
    from anju.db.session import get_engine, unit_of_work

    settings = get_settings()
    url = settings.effective_database_url
    default_sqlite = not settings.database_url
    if url.startswith("sqlite"):
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    if reset:
        _reset_database(url, default_sqlite)
        console.print("[yellow]已清空数据库[/yellow]")
    migrate.upgrade(url)
    with unit_of_work() as db:
        populated = generator.is_populated(db)
    if populated:
        console.print("[yellow]数据库中已有数据，跳过生成演示数据（如需重新生成请加 --reset）[/yellow]")
    else:
        started = time.perf_counter()
        with Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        ) as bar:
            task = bar.add_task("生成演示数据", total=None)

            def progress(phase: str, done: int, total: int) -> None:
                bar.update(task, description=f"生成演示数据：{phase}", completed=done, total=total or None)

            try:
                with unit_of_work() as db:
                    result = generator.build_demo(db, scale=scale, progress=progress)
            except DomainError as exc:  # a bug of the generator, but never a traceback: nothing was written
                console.print(f"[red]演示数据生成失败，未写入任何数据：{exc.message_zh}[/red]")
                raise typer.Exit(1) from None
        # The first signed head outside the database: the audit page shows an anchor from the start.
        from anju.audit import service as audit_service

        audit_service.anchor_now()
        elapsed = time.perf_counter() - started
        for code, name, n in result.projects:
            console.print(f"[green]✓[/green] {name}（{code}）：{n:,} 户")
        console.print(
            f"[green]演示数据已生成：{result.households:,} 户，{result.members:,} 人，"
            f"{result.buildings:,} 处房屋，用时 {elapsed:.1f} 秒[/green]"
        )
        if result.housing is not None:
            h = result.housing
            console.print(
                f"[green]✓[/green] 安置房：{len(h.estates)} 个小区 {h.flats:,} 套；选房大会已完成 "
                f"{h.finished:,} / {h.households:,} 户（过号 {h.skipped} 户）"
                + ("，另有 1 场选房活动筹备中" if h.planned_event_id else "")
            )
    get_engine().dispose()
    host = host or settings.host
    port = port or settings.port
    print_logins(f"http://{host}:{port}/")
    if serve:
        import uvicorn

        console.print(f"安居已启动：http://{host}:{port}/")
        uvicorn.run("anju.main:create_app", factory=True, host=host, port=port, log_level="info")
