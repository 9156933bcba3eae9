"""``anju grid`` sub-commands: import grids and boundaries (GeoJSON, or an xlsx/csv sheet of grids,
buildings and leaders), export them as GeoJSON, list them, and find the grid of a map point.

Writes go through the grid service (inspected, validated, all or nothing, audited with the CLI
actor: ``--by`` names an account, otherwise the operator's system actor ``cli``); a refusal prints
every feature or row with its problem and exits with status 2, nothing written.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer

from anju import uploads as upload_policy
from anju.cli_support import cli_actor, fail, refusing
from anju.db.session import unit_of_work
from anju.grid import service as grid_service

app = typer.Typer(help="网格：导入、导出与查询", no_args_is_help=True)

BY = typer.Option(None, "--by", help="以该用户名义操作（审计记录中的操作人）")


@app.command("import")
def import_grids(
    path: Path = typer.Argument(..., help="GeoJSON（FeatureCollection）或 .xlsx / .csv 网格表"),
    by: str = BY,
) -> None:
    """导入网格与边界：逐个要素或逐行检查，有任何问题整个文件不导入（列出每一处问题）。"""
    limit = upload_policy.limits().max_bytes
    if not path.is_file():
        raise fail(f"文件“{path}”不存在")
    if path.stat().st_size > limit:
        raise fail(f"文件“{path.name}”超过 {limit // (1024 * 1024)} MB")
    with unit_of_work() as db, refusing():
        result = grid_service.import_grids(
            db, actor=cli_actor(db, by), content=path.read_bytes(), filename=path.name
        )
        typer.echo(result.summary())


@app.command("export")
def export_grids(
    path: Path = typer.Argument(..., help="写入的 GeoJSON 文件"),
) -> None:
    """把全部网格导出为 GeoJSON（可再次导入）。"""
    with unit_of_work() as db:
        data = grid_service.grids_geojson(db)
    path.write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")
    typer.echo(f"已导出 {len(data['features'])} 个网格到 {path}")


@app.command("list")
def list_grids() -> None:
    """列出网格：编号、名称、社区、网格员、户数、楼栋数。"""
    with unit_of_work() as db:
        for card in grid_service.grid_cards(db):
            g = card.grid
            typer.echo(
                f"{g.code}\t{g.name}\t{card.community.name}\t{card.worker_name or '—'}\t"
                f"{g.households}\t{len(card.buildings)}"
            )


@app.command("at")
def grid_at(
    lng: str = typer.Argument(..., help="经度（WGS-84）"),
    lat: str = typer.Argument(..., help="纬度（WGS-84）"),
) -> None:
    """查询一个经纬度所在的网格（不在任何网格时退出码为 1）。"""
    with unit_of_work() as db, refusing():
        g = grid_service.grid_at(db, lng=lng, lat=lat)
        if g is None:
            typer.echo("该位置不在任何网格内")
            raise typer.Exit(1)
        typer.echo(f"{g.code}\t{g.name}")
