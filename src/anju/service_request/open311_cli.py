"""``anju open311`` sub-commands: the API keys of Open311 clients (only POST requests needs one)."""

from __future__ import annotations

import typer
from rich.console import Console

from anju.core.dates import SHANGHAI
from anju.db.session import unit_of_work
from anju.errors import DomainError
from anju.service_request.service import open311 as open311_service

app = typer.Typer(help="Open311 GeoReport v2 接口：客户端 API 密钥", no_args_is_help=True)
console = Console()


@app.command("key-add")
def key_add(name: str = typer.Argument(..., help="客户端名称，如 “12345 热线 App”")) -> None:
    """新建一个 API 密钥并显示一次（只保存其 SHA-256，遗失须重新生成）。"""
    try:
        with unit_of_work() as db:
            new = open311_service.add_key(db, name=name)
    except DomainError as exc:
        console.print(f"[red]{exc.message_zh}[/red]", highlight=False)
        raise typer.Exit(1) from None
    console.print(f"已为“{new.name}”新建 API 密钥（编号 {new.id}），只显示这一次：", highlight=False)
    typer.echo(new.key)


@app.command("key-list")
def key_list() -> None:
    """列出 API 密钥（不含密钥本身）。"""
    with unit_of_work() as db:
        rows = [
            (k.id, k.name, k.active, k.created_at.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M"))
            for k in open311_service.list_keys(db)
        ]
    for key_id, name, active, at in rows:
        console.print(f"{key_id}\t{name}\t{'启用' if active else '已停用'}\t{at}", highlight=False)


@app.command("key-revoke")
def key_revoke(key_id: int = typer.Argument(..., help="密钥编号（见 key-list）")) -> None:
    """停用一个 API 密钥（保留记录：用它提交过的诉求仍可追溯）。"""
    try:
        with unit_of_work() as db:
            name = open311_service.revoke_key(db, key_id=key_id).name
    except DomainError as exc:
        console.print(f"[red]{exc.message_zh}[/red]", highlight=False)
        raise typer.Exit(1) from None
    console.print(f"已停用“{name}”的 API 密钥（编号 {key_id}）", highlight=False)
