"""``anju policy publish`` / ``anju policy versions``: policies stored in the database."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from anju.agreement import service as agreement_service
from anju.compensation import service as compensation_service
from anju.core.actor import Actor
from anju.core.dates import to_shanghai
from anju.db.session import unit_of_work
from anju.errors import DomainError
from anju.project import service as project_service

console = Console()


def publish(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="方案文件 (YAML)"),
    project: str = typer.Option(..., "--project", help="项目编号"),
) -> None:
    """Check a policy file and publish it as the project's next version (immutable)."""
    try:
        with unit_of_work() as db:
            p = project_service.get_project_by_code(db, project)
            pv = compensation_service.publish(
                db,
                actor=Actor.system("cli"),
                project_id=p.id,
                source=file.read_text(encoding="utf-8-sig"),
                file_name=file.name,
            )
            version, digest = pv.version, pv.content_hash
            flags = agreement_service.check_amendments(db, project_id=p.id)
    except DomainError as exc:
        console.print(f"[red]{exc.message_zh}[/red]")
        for d in exc.details or []:
            where = f"{file}:{d['line']}:{d['column']}: " if d.get("line") else ""
            console.print(f"[red]{where}{d.get('message')}[/red]")
        raise typer.Exit(1) from exc
    console.print(f"[green]已发布 {project} 补偿方案第 {version} 版（sha256:{digest[:16]}…）[/green]")
    if flags.raised:
        console.print(f"[yellow]{flags.raised} 份已签协议按新方案计算金额不同，已提示可能需要变更[/yellow]")


def versions(project: str = typer.Option(..., "--project", help="项目编号")) -> None:
    """List the published versions of a project's policy."""
    with unit_of_work() as db:
        p = project_service.get_project_by_code(db, project)
        table = Table("版本", "名称", "文号", "内容哈希", "发布人", "发布时间")
        for v in compensation_service.versions(db, p.id):
            table.add_row(
                str(v.version),
                v.name,
                v.legal_ref,
                v.content_hash[:16],
                v.published_by,
                to_shanghai(v.published_at).strftime("%Y-%m-%d %H:%M"),
            )
    console.print(table)
