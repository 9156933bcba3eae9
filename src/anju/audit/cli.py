"""``anju audit``: verify the hash chain."""

from __future__ import annotations

import typer
from rich.console import Console

from anju.audit import service as audit_service
from anju.db.session import unit_of_work

app = typer.Typer(help="审计日志 (audit log)", no_args_is_help=True)
console = Console()


@app.command("verify")
def verify() -> None:
    """Walk the audit chain; exit 1 naming the first broken record if any row was altered or removed."""
    with unit_of_work() as db:
        result = audit_service.verify(db)
    if result.ok:
        console.print(f"[green]审计链完整：已核验 {result.checked} 条记录 (audit chain intact, {result.checked} records)[/green]")
        return
    console.print(
        f"[red]审计链断裂：第 {result.broken_seq} 条记录（id={result.broken_id}）{result.problem}\n"
        f"audit chain broken at seq {result.broken_seq} (id {result.broken_id}): {result.problem_en}[/red]"
    )
    raise typer.Exit(1)
