"""``anju db``: migrations."""

from __future__ import annotations

import typer
from rich.console import Console

from anju.config import get_settings
from anju.db import migrate

app = typer.Typer(help="数据库迁移 (database migrations)", no_args_is_help=True)
console = Console()


@app.command("upgrade")
def upgrade(revision: str = typer.Argument("head", help="目标版本")) -> None:
    """Migrate the configured database to the newest schema."""
    url = get_settings().effective_database_url
    if url.startswith("sqlite"):
        get_settings().data_dir.mkdir(parents=True, exist_ok=True)
    migrate.upgrade(url, revision)
    console.print(f"[green]数据库已迁移到 {revision}[/green]")


@app.command("downgrade")
def downgrade(revision: str = typer.Argument(..., help="目标版本")) -> None:
    """Migrate the configured database down to ``revision``."""
    migrate.downgrade(get_settings().effective_database_url, revision)
    console.print(f"[yellow]数据库已回退到 {revision}[/yellow]")
