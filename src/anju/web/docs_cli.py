"""``anju docs``: documents generated from declared tables (the permission matrix)."""

from __future__ import annotations

from pathlib import Path

import typer

from anju.web import permission_matrix as pm

app = typer.Typer(help="生成文档 (generated documentation)", no_args_is_help=True)


@app.command("permissions")
def permissions(
    table: Path = typer.Option(pm.DEFAULT_TABLE, help="权限矩阵文件 (the declared matrix)"),
    output: Path = typer.Option(pm.DEFAULT_DOC, help="生成的 Markdown 文件"),
    check: bool = typer.Option(False, "--check", help="只检查文档是否最新，不写入 (exit 1 if stale)"),
    missing: bool = typer.Option(
        False, "--missing", help="列出应用中尚未声明的路由及应补充的条目 (exit 1 if any)"
    ),
) -> None:
    """Render the permission matrix as Markdown; --missing prints the entries new routes need."""
    if not table.is_file():
        typer.echo(f"找不到权限矩阵文件 {table}（请在源码目录中运行，或用 --table 指定）", err=True)
        raise typer.Exit(2)
    try:
        matrix = pm.load(table)
    except pm.MatrixError as exc:
        typer.echo(f"{table}：{exc}", err=True)
        raise typer.Exit(2) from None
    if missing:
        from anju.main import create_app

        diff = pm.compare(pm.app_routes(create_app()), matrix)
        if diff.ok:
            typer.echo(f"应用的每条路由都已在 {table} 中声明，且与代码一致 (every route declared)")
            return
        typer.echo(pm.missing_skeleton(diff, table))
        raise typer.Exit(1)
    text = pm.render_markdown(matrix)
    current = output.read_text(encoding="utf-8") if output.is_file() else None
    if check:
        if current != text:
            typer.echo(f"{output} 与 {table} 不一致，请运行 anju docs permissions (stale)", err=True)
            raise typer.Exit(1)
        typer.echo(f"{output} 是最新的 (up to date)")
        return
    if current == text:
        typer.echo(f"{output} 无变化 (unchanged)")
        return
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text, encoding="utf-8")
    typer.echo(f"已生成 {output} (written)")
