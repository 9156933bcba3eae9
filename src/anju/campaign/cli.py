"""``anju campaign`` sub-commands.

Teams and 包户到人 from the shell: every write goes through the campaign service (validated,
audited with the CLI actor: ``--by`` names an account, otherwise the operator's system actor
``cli``). Bad input prints the Chinese message with each field or row and exits with status 2;
nothing is written then.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.orm import Session

from anju import uploads as upload_policy
from anju.campaign import service as campaign_service
from anju.core.actor import Actor
from anju.core.dates import today_shanghai
from anju.db.session import unit_of_work
from anju.errors import DomainError
from anju.household import service as household_service
from anju.identity import service as identity_service
from anju.project import service as project_service

app = typer.Typer(help="专班、包户与攻坚进度", no_args_is_help=True)
console = Console()

BY = typer.Option(None, "--by", help="以该用户名义操作（审计记录中的操作人）")


def _fail(message: str) -> typer.Exit:
    console.print(f"[red]{message}[/red]", highlight=False)
    return typer.Exit(2)


def _actor(db: Session, username: str | None) -> Actor:
    if not username:
        return Actor.system("cli")
    try:
        user = identity_service.get_user_by_username(db, username)
    except DomainError as exc:
        raise _fail(exc.message_zh) from None
    return Actor(user_id=user.id, username=user.username, display_name=user.display_name, role=user.role)


@contextmanager
def _refusing() -> Iterator[None]:
    """Print a domain error in Chinese (each field or row) and exit 2."""
    try:
        yield
    except DomainError as exc:
        console.print(f"[red]{exc.message_zh}[/red]", highlight=False)
        for d in exc.details or []:
            if isinstance(d, dict) and d.get("message") and d.get("message") != exc.message_zh:
                console.print(f"[red]  · {d['message']}[/red]", highlight=False)
        raise typer.Exit(2) from None


@app.command("team-add")
def team_add(
    project: str = typer.Argument(..., help="项目编号"),
    name: str = typer.Option(..., "--name", help="专班名称"),
    kind: str = typer.Option("squad", "--kind", help="group（大组）或 squad（小组）"),
    parent: str = typer.Option(None, "--parent", help="上级大组的名称（小组可选）"),
    leader: str = typer.Option(None, "--leader", help="组长的用户名（专班组长角色；加入本组）"),
    sort: int = typer.Option(0, "--sort", help="排序（小的在前）"),
    by: str = BY,
) -> None:
    """新建专班（大组或小组）。"""
    kinds = {
        **{v: k for k, v in campaign_service.TEAM_KINDS.items()},
        **{k: k for k in campaign_service.TEAM_KINDS},
    }
    with unit_of_work() as db, _refusing():
        p = project_service.get_project_by_code(db, project)
        parent_id = identity_service.team_by_name(db, project_id=p.id, name=parent).id if parent else None
        leader_id = identity_service.get_user_by_username(db, leader).id if leader else None
        team = campaign_service.create_team(
            db,
            actor=_actor(db, by),
            project_id=p.id,
            name=name,
            kind=kinds.get(kind.strip(), kind),
            parent_id=parent_id,
            leader_id=leader_id,
            sort=sort,
        )
        console.print(f"已新建{campaign_service.TEAM_KINDS[team.kind]}“{team.name}”（编号 {team.id}）")


@app.command("teams")
def teams(project: str = typer.Argument(..., help="项目编号")) -> None:
    """列出专班（大组 → 小组）、组长、成员与包户数。"""
    with unit_of_work() as db, _refusing():
        p = project_service.get_project_by_code(db, project)
        ov = campaign_service.teams_overview(db, project_id=p.id)
        table = Table("专班", "类型", "组长", "成员（包户数）", "包户", "含小组")
        for root in ov.tree:
            for n in root.walk():
                members = "、".join(f"{m.display_name}({ov.per_user.get(m.id, 0)})" for m in n.members)
                table.add_row(
                    ("└ " if n.parent_id else "") + n.name,
                    campaign_service.TEAM_KINDS.get(n.kind, n.kind),
                    n.leader_name or "—",
                    members or "—",
                    str(ov.own.get(n.id, 0)),
                    str(ov.total.get(n.id, 0)),
                )
        console.print(table)
        console.print(
            f"在册 {ov.households} 户，已包户 {ov.households - ov.unassigned} 户，未分配 {ov.unassigned} 户"
        )


@app.command("assign")
def assign(
    project: str = typer.Argument(..., help="项目编号"),
    block: str = typer.Option(None, "--block", help="区块编号：该区块及下级区块的全部在册户"),
    households: str = typer.Option(None, "--households", help="户编号，逗号分隔（如 H0001,H0002）"),
    xlsx: Path = typer.Option(None, "--xlsx", help="包户名单 .xlsx（列：户编号、专班、责任人）"),
    team: str = typer.Option(None, "--team", help="专班名称"),
    user: str = typer.Option(None, "--user", help="包户责任人的用户名"),
    reason: str = typer.Option("", "--reason", help="理由（写入包户历史与审计记录）"),
    by: str = BY,
) -> None:
    """包户到人：按区块、按户编号或按名单分配（改派保留历史）。"""
    if sum(x is not None for x in (block, households, xlsx)) != 1:
        raise _fail("请给出 --block、--households、--xlsx 之一")
    if xlsx is not None and (team or user):
        raise _fail("按名单导入时专班与责任人取自名单，请不要同时给出 --team 或 --user")
    if xlsx is None and not team and not user:
        raise _fail("请给出 --team 或 --user（或两者）")
    data = b""
    if xlsx is not None:
        limit = upload_policy.limits().max_bytes
        if not xlsx.is_file():
            raise _fail(f"文件“{xlsx}”不存在")
        if xlsx.stat().st_size > limit:
            raise _fail(f"文件“{xlsx.name}”超过 {limit // (1024 * 1024)} MB")
        data = xlsx.read_bytes()
    with unit_of_work() as db, _refusing():
        p = project_service.get_project_by_code(db, project)
        actor = _actor(db, by)
        today = today_shanghai()
        if xlsx is not None:
            rows = campaign_service.read_assignment_sheet(data, xlsx.name)
            check, changed = campaign_service.import_assignments(
                db,
                actor=actor,
                scope=identity_service.DataScope.everything(),
                project_id=p.id,
                rows=rows,
                on=today,
                reason=reason,
            )
            console.print(f"名单 {len(check.rows)} 户，{changed} 户的包户有变化")
            return
        team_id = identity_service.team_by_name(db, project_id=p.id, name=team).id if team else None
        user_id = identity_service.get_user_by_username(db, user).id if user else None
        block_id = None
        ids = None
        if block is not None:
            found = project_service.block_by_code(db, p.id).get(block.strip())
            if found is None:
                raise _fail(f"项目 {project} 没有编号为“{block}”的区块")
            block_id = found.id
        else:
            codes = [c.strip() for c in (households or "").split(",") if c.strip()]
            by_code = household_service.household_ids_by_code(db, project_id=p.id, codes=codes)
            missing = [c for c in codes if c not in by_code]
            if missing or not codes:
                raise _fail("找不到这些户编号：" + "、".join(missing) if missing else "请给出户编号")
            ids = [by_code[c] for c in codes]
        result = campaign_service.bulk_assign(
            db,
            actor=actor,
            scope=identity_service.DataScope.everything(),
            project_id=p.id,
            team_id=team_id,
            user_id=user_id,
            on=today,
            household_ids=ids,
            block_id=block_id,
            reason=reason,
        )
        console.print(f"共 {result.households} 户，{result.changed} 户的包户有变化")
