"""``anju backup`` and ``anju restore``: thin over :mod:`anju.backup.service`."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, TaskID, TextColumn, TimeElapsedColumn
from rich.progress import Progress as RichProgress

from anju.backup import service as backup_service
from anju.backup import sqlite_copy
from anju.config import get_settings
from anju.db.session import get_engine
from anju.errors import DomainError

console = Console()


class _Bars(backup_service.Progress):
    """One Rich bar per table and one for the attachments."""

    def __init__(self, bars: RichProgress) -> None:
        self.bars = bars
        self.task: TaskID | None = None

    def start(self, label: str, total: int) -> None:
        self.task = self.bars.add_task(label, total=total)

    def advance(self, steps: int) -> None:
        if self.task is not None and steps:
            self.bars.advance(self.task, steps)


@contextmanager
def _progress() -> Iterator[_Bars]:
    with RichProgress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    ) as bars:
        yield _Bars(bars)


def _fail(exc: DomainError) -> typer.Exit:
    console.print(f"[red]{exc.message_zh}[/red]\n[dim]{exc.message_en}[/dim]")
    return typer.Exit(1)


def backup(
    file: Path = typer.Argument(..., help="备份文件（不存在的新文件；含个人信息，以 0600 权限创建）"),
    sqlite: bool = typer.Option(
        False, "--sqlite", help="SQLite 在线副本（单个数据库文件，服务运行中也一致；附件目录需另行复制）"
    ),
) -> None:
    """Back up the configured database: a portable archive of every table and attachment, or a SQLite copy."""
    settings = get_settings()
    url = settings.effective_database_url
    try:
        if sqlite:
            with console.status("正在复制 SQLite 数据库（在线备份）…"):
                revision = sqlite_copy.sqlite_copy(url, file)
            console.print(f"[green]已生成数据库副本 {file}（版本 {revision}，权限 0600）[/green]")
            console.print(f"[yellow]附件不在副本中：请另行复制附件目录 {settings.attachment_dir}[/yellow]")
            return
        with _progress() as bars:
            summary = backup_service.create_archive(get_engine(), file, progress=bars)
    except DomainError as exc:
        raise _fail(exc) from None
    console.print(
        f"[green]已生成备份 {file}：{len(summary.rows)} 张表 {sum(summary.rows.values()):,} 行，"
        f"附件 {summary.attachments} 个（{summary.attachment_bytes:,} 字节），数据库版本 {summary.revision}，权限 0600[/green]"
    )
    console.print(
        "[yellow]备份含个人信息；密钥（ANJU_SECRET_KEY、ANJU_AUDIT_KEYS）不在备份中，请另行妥善保管[/yellow]"
    )


def restore(
    file: Path = typer.Argument(..., exists=False, help="anju backup 生成的归档或 --sqlite 数据库副本"),
    replace: bool = typer.Option(
        False, "--replace", help="目标库不是空库时先清空（危险：现有数据全部被替换）"
    ),
    accept_unverified: bool = typer.Option(
        False, "--accept-unverified", help="审计链核验不通过时仍然恢复（例如审计密钥已丢失）"
    ),
) -> None:
    """Restore a backup into the configured, freshly migrated empty database (all or nothing)."""
    engine = get_engine()
    try:
        if sqlite_copy.is_sqlite_file(file):
            with console.status("正在恢复 SQLite 数据库副本…"):
                result = sqlite_copy.restore_sqlite_copy(
                    engine, file, replace=replace, accept_unverified=accept_unverified
                )
            console.print(f"[green]已恢复数据库副本 {file}[/green]")
            console.print(
                f"[yellow]附件不在数据库副本中：请把附件目录复制回 {get_settings().attachment_dir}[/yellow]"
            )
        else:
            with _progress() as bars:
                summary = backup_service.restore_archive(
                    engine, file, replace=replace, accept_unverified=accept_unverified, progress=bars
                )
            assert summary.audit is not None
            result = summary.audit
            console.print(
                f"[green]已恢复 {file}：{len(summary.rows)} 张表 {sum(summary.rows.values()):,} 行，"
                f"附件 {summary.attachments} 个[/green]"
            )
    except DomainError as exc:
        raise _fail(exc) from None
    if result.ok:
        console.print(f"[green]审计链核验通过：{result.checked:,} 条记录[/green]")
    else:
        console.print(
            f"[red]审计链核验不通过（已按 --accept-unverified 恢复）：第 {result.broken_seq} 条，{result.problem}[/red]"
        )
    for note in result.notes:
        console.print(f"[yellow]{note}[/yellow]")
