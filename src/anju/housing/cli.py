"""``anju housing`` sub-commands: estates and flat lists from the shell, and ``verify-order``,
which recomputes a selection order from its seed and household list (from the database, or
standalone from a seed and a file of household codes, with no database at all).

Writes go through the housing service (validated, audited with the CLI actor: ``--by`` names an
account, otherwise the operator's system actor ``cli``); a refusal prints the Chinese message with
each row and exits with status 2, nothing written. ``verify-order`` exits 0 when the order checks
out, 1 when it does not.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import typer

from anju import uploads as upload_policy
from anju.cli_support import cli_actor, fail, refusing
from anju.core.dates import today_shanghai
from anju.core.money import format_yuan
from anju.db.session import unit_of_work
from anju.errors import DomainError
from anju.housing import rules
from anju.housing import service as housing_service
from anju.project import service as project_service

app = typer.Typer(help="安置房：小区、房源与选房顺序", no_args_is_help=True)

BY = typer.Option(None, "--by", help="以该用户名义操作（审计记录中的操作人）")


@app.command("estate-add")
def estate_add(
    project: str = typer.Argument(..., help="项目编号"),
    code: str = typer.Argument(..., help="小区编号"),
    name: str = typer.Option(..., "--name", help="小区名称"),
    address: str = typer.Option("", "--address", help="地址"),
    by: str = BY,
) -> None:
    """添加安置小区。"""
    with unit_of_work() as db, refusing():
        p = project_service.get_project_by_code(db, project)
        e = housing_service.create_estate(
            db, actor=cli_actor(db, by), project_id=p.id, code=code, name=name, address=address
        )
        typer.echo(f"已添加安置小区 {e.code} {e.name}")


@app.command("import-flats")
def import_flats(
    project: str = typer.Argument(..., help="项目编号"),
    estate: str = typer.Argument(..., help="小区编号"),
    path: Path = typer.Argument(..., help="开发商房源表（.xlsx / .xls / .csv）"),
    check: bool = typer.Option(False, "--check", help="只检查，不导入"),
    by: str = BY,
) -> None:
    """导入房源表：逐行检查，有任何问题整表不导入（列出每一行的问题）。"""
    limit = upload_policy.limits().max_bytes
    if not path.is_file():
        raise fail(f"文件“{path}”不存在")
    if path.stat().st_size > limit:
        raise fail(f"文件“{path.name}”超过 {limit // (1024 * 1024)} MB")
    data = path.read_bytes()
    with unit_of_work() as db, refusing():
        p = project_service.get_project_by_code(db, project)
        e = housing_service.estate_by_code(db, project_id=p.id, code=estate)
        rows = housing_service.read_flat_sheet(data, path.name)
        if check:
            checked = housing_service.check_flat_rows(db, estate_id=e.id, rows=rows)
            for problem in checked.problems:
                typer.echo(problem.message)
            if checked.problems:
                raise fail(f"房源表有 {len(checked.problems)} 处问题")
            typer.echo(f"检查通过：{len(checked.flats)} 套房源可以导入")
            return
        result = housing_service.import_flats(
            db,
            actor=cli_actor(db, by),
            estate_id=e.id,
            rows=rows,
            file_sha256=housing_service.file_digest(data),
        )
        typer.echo(
            f"已导入 {result.flats} 套房源（新建楼栋 {result.buildings} 个，户型 {result.flat_types} 个）到 {e.code} {e.name}"
        )


def _read_codes(path: Path) -> list[str]:
    if not path.is_file():
        raise fail(f"文件“{path}”不存在")
    if path.stat().st_size > upload_policy.limits().max_bytes:
        raise fail(f"文件“{path.name}”过大")
    raw = path.read_bytes()
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = raw.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise fail(f"文件“{path.name}”的编码无法识别，请另存为 UTF-8")
    return [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def _standalone(seed: str, households: Path, commitment: str | None) -> None:
    codes = _read_codes(households)
    try:
        clean = rules.clean_seed(seed)
        order = rules.lottery_order(clean, codes)
    except DomainError as exc:
        raise fail(exc.message_zh) from None
    except ValueError as exc:
        raise fail(f"户编号名单有误：{exc}") from None
    typer.echo(f"种子：{clean}")
    typer.echo(f"种子的 SHA-256：{rules.seed_commitment(clean)}")
    typer.echo(f"名单指纹：{rules.roster_hash(codes)}（{len(codes)} 户）")
    typer.echo(f"公式：{rules.FORMULA_ZH}")
    for p in order:
        typer.echo(f"{p.position}\t{p.code}\t{p.draw_key}")
    if commitment:
        try:
            rules.check_seed(clean, rules.clean_commitment(commitment))
        except DomainError as exc:
            typer.echo(exc.message_zh)
            raise typer.Exit(1) from None
        typer.echo("种子与承诺值相符")


@app.command("verify-order")
def verify_order(
    event: int = typer.Option(
        None, "--event", help="选房活动编号：按数据库中的种子、名单和签约顺序号重新计算并比对"
    ),
    seed: str = typer.Option(None, "--seed", help="种子（不连数据库时，与 --households 一起使用）"),
    households: Path = typer.Option(None, "--households", help="户编号名单文件，每行一个户编号"),
    commitment: str = typer.Option(None, "--commitment", help="公布的种子承诺值（可选，与 --seed 一起）"),
) -> None:
    """重新计算选房顺序并核对：输出“核对一致”或第一处不同（退出码 1）。"""
    if event is None:
        if seed is None or households is None:
            raise fail("请给出 --event，或者 --seed 和 --households")
        _standalone(seed, households, commitment)
        return
    with unit_of_work(write=False) as db, refusing():
        e = housing_service.get_event(db, event_id=event)
        check = housing_service.verify_event_order(db, event_id=event)
        kind = rules.ORDER_KINDS.get(e.order_kind, e.order_kind)
        typer.echo(f"选房活动 {e.id} {e.name}（{kind}）")
        if e.order_kind == "lottery":
            typer.echo(f"种子来源：{e.seed_source}")
            typer.echo(f"种子：{e.seed or '（未填写）'}")
            typer.echo(f"种子承诺值：{e.seed_committed_hash or '（未设）'}")
            typer.echo(f"公式：{rules.FORMULA_ZH}")
        else:
            typer.echo(f"规则：{rules.SIGN_ORDER_ZH}")
        typer.echo(f"名单指纹：{e.roster_hash}")
    if not check.ok:
        for problem in check.problems:
            typer.echo(f"核对不一致：{problem}")
        raise typer.Exit(1)
    typer.echo(f"核对一致：{len(check.expected)} 户的顺序与重新计算的结果相同")


@app.command("transition-fees")
def transition_fees(
    as_of: str = typer.Option("", "--as-of", help="计至该日（YYYY-MM-DD，默认今天）"),
    project: str = typer.Option("", "--project", help="只处理该项目（项目编号）"),
    by: str = BY,
) -> None:
    """按月过渡费：把截至该日应付的过渡费补入各产权调换户的付款计划（可重复运行，不会重复计入）。"""
    try:
        on = date.fromisoformat(as_of) if as_of else today_shanghai()
    except ValueError:
        raise fail(f"日期“{as_of}”无效，应为 YYYY-MM-DD") from None
    with unit_of_work(write=False) as db, refusing():
        ids = (
            [project_service.get_project_by_code(db, project).id]
            if project
            else housing_service.transition_projects(db)
        )
    for project_id in ids:
        with unit_of_work() as db, refusing():
            run = housing_service.schedule_transition_fees(
                db, actor=cli_actor(db, by), as_of=on, project_id=project_id
            )
        typer.echo(
            f"项目 {project_id}：{run.households} 户，新增过渡费 {len(run.added)} 笔 "
            f"{format_yuan(run.added_fen)} 元，作废 {len(run.cancelled)} 笔，无法计算 {len(run.skipped)} 户"
        )
        for hid, fen in sorted(run.overpaid.items()):
            typer.echo(f"  户 {hid}：已付过渡费超出应付 {format_yuan(fen)} 元（交房日期提前），请人工处理")
