"""``anju project`` sub-commands: set up a campaign's project, blocks and parcels from the shell.

Every write goes through :mod:`anju.project.service` (validated, audited with the CLI actor:
``--user`` names an account, otherwise the operator's system actor ``cli``). Bad input prints the
Chinese message with each field or feature and exits with status 2; nothing is written then.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.orm import Session

from anju.cli_support import cli_actor as _actor
from anju.cli_support import refusing as _refusing
from anju.db.session import unit_of_work
from anju.project import rules
from anju.project import service as project_service

app = typer.Typer(help="征收项目、片区与宗地", no_args_is_help=True)
console = Console()

USER = typer.Option(None, "--user", help="以该用户名义操作（审计记录中的操作人）")
REASON = typer.Option("", "--reason", help="理由（写入审计记录）")


def _given(**options: Any) -> dict[str, Any]:
    """The options given (not None)."""
    return {k: v for k, v in options.items() if v is not None}


# The project's options (``create`` and ``edit``) and the service's field each one sets.
PROJECT_OPTIONS = {
    "code": "code",
    "name": "name",
    "kind": "kind",
    "status": "status",
    "district": "district",
    "description": "description",
    "decision_no": "decision_no",
    "legal_basis": "legal_basis",
    "signing_start": "signing_start_on",
    "signing_end": "signing_end_on",
    "deadline": "deadline_on",
    "launched": "launched_on",
    "target_rate": "target_sign_rate",
    "target_households": "target_households",
    "alert_days": "alert_no_visit_days",
}


def _project_fields(options: Mapping[str, Any], *, but: tuple[str, ...] = ()) -> dict[str, Any]:
    """A command's project options that were given (not None), but for ``but``, under the service's
    field names; ``options`` is the command's ``locals()``, so a new option needs only its entry above."""
    return {
        field: options[o]
        for o, field in PROJECT_OPTIONS.items()
        if o not in but and options.get(o) is not None
    }


@app.command("create")
def create(
    code: str = typer.Option(..., "--code", help="项目编号（字母、数字、- 和 _）"),
    name: str = typer.Option(..., "--name", help="项目名称"),
    kind: str = typer.Option(..., "--kind", help="state_land / collective_land / shantytown（或中文名称）"),
    status: str = typer.Option(
        None, "--status", help="项目阶段：survey/planning/decided/signing/clearing/closed"
    ),
    district: str = typer.Option(None, "--district", help="所在区域"),
    description: str = typer.Option(None, "--description", help="项目说明"),
    decision_no: str = typer.Option(None, "--decision-no", help="征收决定文号"),
    legal_basis: str = typer.Option(None, "--legal-basis", help="法律依据"),
    signing_start: str = typer.Option(None, "--signing-start", help="签约期开始日 YYYY-MM-DD"),
    signing_end: str = typer.Option(None, "--signing-end", help="签约期结束日 YYYY-MM-DD"),
    deadline: str = typer.Option(None, "--deadline", help="签约截止日 YYYY-MM-DD"),
    launched: str = typer.Option(None, "--launched", help="攻坚启动日 YYYY-MM-DD"),
    target_rate: str = typer.Option(None, "--target-rate", help="目标签约率（%），1 至 100"),
    target_households: str = typer.Option(None, "--target-households", help="目标签约户数"),
    alert_days: str = typer.Option(None, "--alert-days", help="未走访预警天数，1 至 90"),
    user: str = USER,
    reason: str = REASON,
) -> None:
    """Create a project (audited)."""
    fields = _project_fields(locals(), but=("code", "name", "kind"))
    with _refusing(), unit_of_work() as db:
        p = project_service.create_project(
            db, actor=_actor(db, user), code=code, name=name, kind=kind, reason=reason, **fields
        )
        pid, pcode = p.id, p.code
    console.print(f"[green]已建立项目 {pcode}（id={pid}）[/green]", highlight=False)


@app.command("edit")
def edit(
    project: str = typer.Argument(..., help="项目编号"),
    code: str = typer.Option(None, "--code", help="新的项目编号"),
    name: str = typer.Option(None, "--name", help="项目名称"),
    kind: str = typer.Option(None, "--kind", help="项目类型"),
    status: str = typer.Option(None, "--status", help="项目阶段"),
    district: str = typer.Option(None, "--district", help="所在区域"),
    description: str = typer.Option(None, "--description", help="项目说明"),
    decision_no: str = typer.Option(None, "--decision-no", help="征收决定文号"),
    legal_basis: str = typer.Option(None, "--legal-basis", help="法律依据"),
    signing_start: str = typer.Option(None, "--signing-start", help="签约期开始日（空字符串清除）"),
    signing_end: str = typer.Option(None, "--signing-end", help="签约期结束日（空字符串清除）"),
    deadline: str = typer.Option(None, "--deadline", help="签约截止日（空字符串清除）"),
    launched: str = typer.Option(None, "--launched", help="攻坚启动日（空字符串清除）"),
    target_rate: str = typer.Option(None, "--target-rate", help="目标签约率（%）"),
    target_households: str = typer.Option(None, "--target-households", help="目标签约户数（空字符串：全部）"),
    alert_days: str = typer.Option(None, "--alert-days", help="未走访预警天数"),
    user: str = USER,
    reason: str = REASON,
) -> None:
    """Change a project's fields and targets (only the options given); prints the audited diff."""
    data = _project_fields(locals())
    if not data:
        console.print("[red]请至少给出一个要修改的字段（见 anju project edit --help）[/red]")
        raise typer.Exit(2)
    with _refusing(), unit_of_work() as db:
        p = project_service.get_project_by_code(db, project)
        changes = project_service.update_project(
            db, actor=_actor(db, user), project_id=p.id, data=data, expected_version=None, reason=reason
        )
        version = p.version
    if not changes:
        console.print("没有变化", highlight=False)
        return
    for field, (before, after) in changes.items():
        label = rules.PROJECT_LABELS.get(field, field)
        console.print(
            f"{label}：{before if before is not None else '（空）'} → {after if after is not None else '（空）'}",
            highlight=False,
        )
    console.print(f"[green]已保存，项目现为第 {version} 版[/green]", highlight=False)


def _block_id(db: Session, project_id: int, code: str | None) -> int | None:
    if not code:
        return None
    block = project_service.block_by_code(db, project_id).get(code)
    if block is None:
        console.print(f"[red]区块编号“{code}”在本项目中不存在[/red]", highlight=False)
        raise typer.Exit(2)
    return block.id


@app.command("add-block")
def add_block(
    project: str = typer.Argument(..., help="项目编号"),
    block_code: str = typer.Option(..., "--block-code", help="区块编号"),
    name: str = typer.Option(..., "--name", help="区块名称"),
    level: str = typer.Option(..., "--level", help="area 片区 / village 村 / group 组 / block 区块"),
    parent: str = typer.Option(None, "--parent", help="上级区块的编号"),
    sort: int = typer.Option(0, "--sort", help="排序号"),
    user: str = USER,
    reason: str = REASON,
) -> None:
    """Add a block (片区 / 村 / 组) to a project (audited)."""
    with _refusing(), unit_of_work() as db:
        p = project_service.get_project_by_code(db, project)
        b = project_service.add_block(
            db,
            actor=_actor(db, user),
            project_id=p.id,
            code=block_code,
            name=name,
            level=level,
            parent_id=_block_id(db, p.id, parent),
            sort=sort,
            reason=reason,
        )
        bid = b.id
    console.print(f"[green]已新增区块 {block_code}（id={bid}）[/green]", highlight=False)


@app.command("edit-block")
def edit_block(
    project: str = typer.Argument(..., help="项目编号"),
    block_code: str = typer.Argument(..., help="区块编号"),
    code: str = typer.Option(None, "--code", help="新的区块编号"),
    name: str = typer.Option(None, "--name", help="区块名称"),
    level: str = typer.Option(None, "--level", help="层级"),
    parent: str = typer.Option(None, "--parent", help="上级区块的编号（空字符串：移到顶层）"),
    sort: str = typer.Option(None, "--sort", help="排序号"),
    user: str = USER,
    reason: str = REASON,
) -> None:
    """Rename, re-level, re-sort or move a block (audited)."""
    with _refusing(), unit_of_work() as db:
        p = project_service.get_project_by_code(db, project)
        block_id = _block_id(db, p.id, block_code)
        assert block_id is not None
        data: dict[str, Any] = _given(code=code, name=name, level=level, sort=sort)
        if parent is not None:
            data["parent_id"] = _block_id(db, p.id, parent)
        if not data:
            console.print("[red]请至少给出一个要修改的字段（见 anju project edit-block --help）[/red]")
            raise typer.Exit(2)
        changes = project_service.update_block(
            db, actor=_actor(db, user), block_id=block_id, data=data, expected_version=None, reason=reason
        )
    console.print(
        f"[green]{'已保存：' + '、'.join(changes) if changes else '没有变化'}[/green]", highlight=False
    )


@app.command("import-parcels")
def import_parcels(
    project: str = typer.Argument(..., help="项目编号"),
    file: Path = typer.Argument(..., exists=True, dir_okay=False, readable=True, help="GeoJSON 文件"),
    code_property: str = typer.Option(None, "--code-property", help="宗地号属性名（默认 code 或 宗地号）"),
    block_property: str = typer.Option(
        None, "--block-property", help="区块编号属性名（默认 block_code 或 区块编号）"
    ),
    household_property: str = typer.Option(
        None, "--household-property", help="户号属性名（默认 household_code 或 户号）"
    ),
    user: str = USER,
    reason: str = REASON,
) -> None:
    """Import parcels from a GeoJSON FeatureCollection, all or nothing (audited); the file replaces the
    project's parcels (those it no longer has are deleted and their households unlinked)."""
    content = file.read_bytes()
    with _refusing(), unit_of_work() as db:
        p = project_service.get_project_by_code(db, project)
        result = project_service.import_parcels(
            db,
            actor=_actor(db, user),
            project_id=p.id,
            content=content,
            filename=file.name,
            code_property=code_property,
            block_property=block_property,
            household_property=household_property,
            reason=reason,
        )
    console.print(f"[green]导入完成：{result.summary()}[/green]", highlight=False)


@app.command("show")
def show(project: str = typer.Argument(..., help="项目编号")) -> None:
    """A project's fields and targets, its block tree and its parcel count."""
    with _refusing(), unit_of_work() as db:
        p = project_service.get_project_by_code(db, project)
        values = project_service.project_values(p)
        version = p.version
        blocks = project_service.blocks(db, p.id)
        parcels = project_service.parcel_count(db, p.id)
    facts = Table(show_header=False, title=f"{values['name']}（第 {version} 版）")
    for field in rules.PROJECT_EDITABLE:
        v = values[field]
        if field == "kind":
            v = rules.PROJECT_KINDS.get(v, v)
        elif field == "status":
            v = rules.PROJECT_STATUSES.get(v, v)
        facts.add_row(rules.PROJECT_LABELS[field], "" if v is None else str(v))
    console.print(facts)
    depth: dict[int, int] = {}
    tree = Table("区块", "编号", "层级", "排序", title=f"区块（{len(blocks)}）")
    for b in blocks:
        depth[b.id] = 0 if b.parent_id is None else depth.get(b.parent_id, 0) + 1
        tree.add_row(
            "  " * depth[b.id] + b.name, b.code, rules.BLOCK_LEVELS.get(b.level, b.level), str(b.sort)
        )
    console.print(tree)
    console.print(f"宗地：{parcels:,} 宗", highlight=False)
