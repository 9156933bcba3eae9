"""``anju user``: user accounts from the command line."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

from anju.core.actor import Actor
from anju.db.session import unit_of_work
from anju.errors import DomainError
from anju.identity import service as identity_service
from anju.identity.rules import Role

app = typer.Typer(help="用户管理 (users)", no_args_is_help=True)
console = Console()


@app.command("add")
def add(
    username: str = typer.Argument(..., help="用户名"),
    role: str = typer.Option(..., "--role", help="角色：" + " / ".join(r.value for r in Role)),
    name: str = typer.Option("", "--name", help="姓名"),
    password: str = typer.Option(..., "--password", prompt=True, hide_input=True, confirmation_prompt=True),
) -> None:
    """Create a user account."""
    try:
        with unit_of_work() as db:
            identity_service.create_user(
                db,
                actor=Actor.system("cli"),
                username=username,
                display_name=name or username,
                password=password,
                role=role,
            )
    except DomainError as exc:
        console.print(f"[red]{exc.message_zh}[/red]")
        for d in exc.details or []:
            console.print(f"[red]- {d.get('field')}: {d.get('message')}[/red]")
        raise typer.Exit(2) from exc
    console.print(f"[green]已创建用户 {username}（{role}）[/green]")


@app.command("list")
def list_users() -> None:
    """List user accounts."""
    with unit_of_work() as db:
        table = Table("用户名", "姓名", "角色", "状态")
        for u in identity_service.list_users(db):
            table.add_row(u.username, u.display_name, u.role, "启用" if u.is_active else "停用")
    console.print(table)
