"""``anju campaign`` sub-commands.

Teams and 包户到人 from the shell: every write goes through the campaign service (validated,
audited with the CLI actor: ``--by`` names an account, otherwise the operator's system actor
``cli``). Bad input prints the Chinese message with each field or row and exits with status 2;
nothing is written then.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from anju import uploads as upload_policy
from anju.campaign import service as campaign_service
from anju.cli_support import cli_actor as _actor
from anju.cli_support import fail as _fail
from anju.cli_support import refusing as _refusing
from anju.core.dates import today_shanghai
from anju.db.session import unit_of_work
from anju.household import service as household_service
from anju.identity import service as identity_service
from anju.project import service as project_service

app = typer.Typer(help="专班、包户与攻坚进度", no_args_is_help=True)
console = Console()

BY = typer.Option(None, "--by", help="以该用户名义操作（审计记录中的操作人）")


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


# --- progress and forecast (攻坚进度与预测) -------------------------------------------------


def _day(value: str | None, label: str) -> date:
    if not value:
        return today_shanghai()
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise _fail(f"{label}格式应为 YYYY-MM-DD：{value}") from None


@app.command("progress")
def progress(
    project: str = typer.Argument(..., help="项目编号"),
    on: str = typer.Option(None, "--on", help="统计日期 YYYY-MM-DD（默认今天，北京时间）"),
    as_json: bool = typer.Option(
        False, "--json", help="输出 JSON（与 GET /api/v1/projects/{id}/progress 相同）"
    ),
) -> None:
    """某日的攻坚进度：总数、各区块、各专班、倒排计划与纪录。"""
    day = _day(on, "统计日期")
    with unit_of_work() as db, _refusing():
        p = project_service.get_project_by_code(db, project)
        result = campaign_service.progress(
            db, scope=identity_service.DataScope.everything(), project_id=p.id, on=day
        )
    if as_json:
        typer.echo(json.dumps(result.to_dict(), ensure_ascii=False, indent=2))
        return
    t = result.totals
    console.print(
        f"[bold]{p.name}[/bold] 截至 {day.isoformat()}"
        + (f"（攻坚第 {result.days_since_launch} 天）" if result.days_since_launch else ""),
        highlight=False,
    )
    table = Table(
        "范围", "户数", "已调查", "已评估", "协商中", "已签约", "签约率", "已腾空", "已拆除", "当日签约"
    )
    rows = [("全项目", 0, t)] + [(b.name, b.depth + 1, b.counts) for b in result.blocks]
    for name, depth, c in rows:
        table.add_row(
            "  " * max(depth - 1, 0) + name,
            str(c.households),
            str(c.surveyed),
            str(c.valued),
            str(c.negotiating),
            str(c.signed),
            f"{c.rate('signed') * 100:.2f}%",
            str(c.vacated),
            str(c.demolished),
            f"{c.signed_on_day}（{c.change:+d}）",
        )
    console.print(table)
    if result.teams:
        teams = Table("专班", "户数", "已签约", "签约率", "近7日", "名次（户数/比率/速度）")
        for team in result.teams:
            c = team.counts
            teams.add_row(
                team.name,
                str(c.households),
                str(c.signed),
                f"{c.rate('signed') * 100:.2f}%",
                str(c.signed_last7),
                f"{team.rank_signed} / {team.rank_rate} / {team.rank_speed}",
            )
        console.print(teams)
    s = result.schedule
    if s.deadline_on is not None:
        need = f"每日需签 {s.required_per_day} 户" if s.required_per_day is not None else "已到截止日"
        console.print(
            f"倒排计划：目标 {s.target} 户，尚余 {s.remaining} 户，距 {s.deadline_on.isoformat()} 还有 {s.days_left} 天，"
            f"{need}；近 7 日平均 {s.actual_per_day} 户/日",
            highlight=False,
        )
    if result.last_signed_at is not None:
        console.print(f"最后一户签约：{result.last_signed_at:%Y-%m-%d %H:%M}", highlight=False)
    for b in result.completed_blocks:
        console.print(
            f"纪录：{b.path} 于 {b.completed_on} 全部签约（用时 {b.days_to_complete} 天）", highlight=False
        )


@app.command("forecast")
def forecast(
    project: str = typer.Argument(..., help="项目编号"),
    on: str = typer.Option(None, "--on", help="按该日为止的签约数据预测（默认今天）"),
    as_json: bool = typer.Option(
        False, "--json", help="输出 JSON（与 GET /api/v1/projects/{id}/forecast 相同）"
    ),
) -> None:
    """预计项目与各区块全部签约的日期及区间（生存模型）。"""
    day = _day(on, "统计日期")
    with unit_of_work() as db, _refusing():
        p = project_service.get_project_by_code(db, project)
        result = campaign_service.forecast(db, project_id=p.id, on=day)
    if as_json:
        typer.echo(json.dumps(result.to_dict(), ensure_ascii=False, indent=2))
        return
    table = Table("范围", "户数", "已签约", "预计完成", "区间（10%-90%）", "方法")
    for f in [result.project, *result.blocks]:
        band = f"{f.low} ~ {f.high}" if f.low and f.high else "-"
        method = campaign_service.METHOD_LABELS.get(f.method, f.method)
        table.add_row(
            f.name,
            str(f.households),
            str(f.signed),
            f.expected.isoformat() if f.expected else "-",
            band,
            method,
        )
    console.print(table)
    console.print(result.project.note, highlight=False)
