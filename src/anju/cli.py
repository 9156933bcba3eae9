"""The ``anju`` command: every domain adds its own sub-command group here.

The groups are loaded lazily: ``anju --help`` (and ``anju policy calc``) import only the module of
the command that runs, not the database, web and numeric stacks of every domain. Before this,
``anju --help`` imported all of them (``python -X importtime``: 2.7 s cumulative for ``anju.cli``,
3.3 s wall on the shared VM); after, see the commit message. A test checks that ``anju --help``
loads neither sqlalchemy, numpy nor fastapi.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import typer
from typer.core import TyperGroup

if TYPE_CHECKING:
    # typer vendors its own click; these are the types its groups are declared with
    from typer._click.core import Command, Context
    from typer._click.formatting import HelpFormatter


@dataclass(frozen=True)
class _Lazy:
    """A sub-command living in ``module``: a Typer group (``attr`` a Typer) or one command (a function)."""

    module: str
    attr: str
    help: str


# name -> where it lives and the one-line help shown by ``anju --help`` (kept here so that listing the
# commands imports nothing).
LAZY: dict[str, _Lazy] = {
    "db": _Lazy("anju.db.cli", "app", "数据库迁移 (database migrations)"),
    "user": _Lazy("anju.identity.cli", "app", "用户管理 (users)"),
    "audit": _Lazy("anju.audit.cli", "app", "审计日志 (audit log)"),
    "policy": _Lazy(
        "anju.policy.cli", "app", "补偿安置方案：检查、测试、计算、解释、比较、模拟 / compensation policies"
    ),
    "import": _Lazy("anju.household.cli", "import_app", "导入 (import)：入户调查表"),
    "export": _Lazy("anju.household.cli", "export_app", "导出 (export)：台账"),
    "docs": _Lazy("anju.web.docs_cli", "app", "生成文档 (generated documentation)"),
    "project": _Lazy("anju.project.cli", "app", "征收项目、片区与宗地"),
    "campaign": _Lazy("anju.campaign.cli", "app", "专班、包户与攻坚进度"),
    "dispatch": _Lazy("anju.reporting.cli", "app", "每日调度通报"),
    "agreement": _Lazy("anju.agreement.cli", "app", "签约与协议"),
    "housing": _Lazy("anju.housing.cli", "app", "安置房：小区、房源与选房顺序"),
    "grid": _Lazy("anju.grid.cli", "app", "网格：社区、网格、楼栋长与边界导入导出"),
    "requests": _Lazy("anju.service_request.cli", "app", "五单诉求：超期标记、升级与逾期未验结案"),
    "demo": _Lazy("anju.demo.cli", "demo_command", "生成演示数据（可选随后启动服务）"),
    "backup": _Lazy("anju.backup.cli", "backup", "备份全部数据与附件"),
    "restore": _Lazy("anju.backup.cli", "restore", "从备份恢复到空库"),
    # --- grid governance (#14)
    "open311": _Lazy("anju.service_request.open311_cli", "app", "Open311 接口：客户端 API 密钥"),
}
# The pure engine's commands work on files; publishing into a project's database is the compensation domain's.
POLICY_EXTRAS = {
    "publish": ("anju.compensation.cli", "publish"),
    "versions": ("anju.compensation.cli", "versions"),
}
# Commands that need no database do not load the live-event hook.
_NO_DATABASE = frozenset({"policy", "docs"})


def _load(name: str) -> Command:
    spec = LAZY[name]
    if name not in _NO_DATABASE:
        from anju.web import live  # noqa: F401  (its before-commit hook: CLI writes on PostgreSQL reach live screens)
    obj: Any = getattr(importlib.import_module(spec.module), spec.attr)
    if isinstance(obj, typer.Typer):
        if name == "policy":
            for extra, (module, attr) in POLICY_EXTRAS.items():
                if not any(c.name == extra for c in obj.registered_commands):
                    obj.command(extra)(getattr(importlib.import_module(module), attr))
        group = typer.main.get_group(obj)
        group.help = group.help or spec.help
        return group
    single = typer.Typer()
    single.command(name)(obj)
    return typer.main.get_command(single)


class _LazyGroup(TyperGroup):
    """The root group: commands of :data:`LAZY` are imported when (and only when) they are invoked."""

    def list_commands(self, ctx: Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *LAZY})

    def get_command(self, ctx: Context, cmd_name: str) -> Command | None:
        if cmd_name in LAZY:
            if cmd_name not in self.commands:
                self.commands[cmd_name] = _load(cmd_name)
            return self.commands[cmd_name]
        return super().get_command(ctx, cmd_name)

    def format_commands(self, ctx: Context, formatter: HelpFormatter) -> None:
        rows = []
        for name in self.list_commands(ctx):
            if name in LAZY and name not in self.commands:
                rows.append((name, LAZY[name].help))
            else:
                cmd = self.commands[name]
                rows.append((name, cmd.get_short_help_str(limit=formatter.width)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


app = typer.Typer(
    cls=_LazyGroup,
    help="安居 Anju：征迁与城市更新工作平台",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


@app.callback()
def _check_settings() -> None:
    """Refuse to run on a configuration that Settings rejects, with a message instead of a traceback."""
    from pydantic import ValidationError

    from anju.config import get_settings
    from anju.core import redaction

    redaction.install()  # the CLI's log lines (and the server it starts) never carry an identity number
    try:
        get_settings()
    except ValidationError as exc:
        problems = [str(e.get("msg", "")).removeprefix("Value error, ") for e in exc.errors()]
        typer.echo("配置有误，未启动（configuration refused）：", err=True)
        for problem in problems:
            typer.echo(f"- {problem}", err=True)
        raise typer.Exit(2) from None


@app.command("serve")
def serve(
    host: str = typer.Option(None, help="监听地址（默认取 ANJU_HOST）"),
    port: int = typer.Option(None, help="端口（默认取 ANJU_PORT）"),
    workers: int = typer.Option(1, help="进程数"),
    reload: bool = typer.Option(False, help="开发模式自动重载"),
) -> None:
    """Run the web server (migrating the database first)."""
    import uvicorn

    from anju.config import get_settings
    from anju.db import migrate
    from anju.web import live  # noqa: F401  (its before-commit hook)

    settings = get_settings()
    if settings.effective_database_url.startswith("sqlite"):
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    migrate.upgrade(settings.effective_database_url)
    h, p = host or settings.host, port or settings.port
    typer.echo(f"安居已启动：http://{h}:{p}/")
    if workers <= 1 or reload:
        uvicorn.run("anju.main:create_app", factory=True, host=h, port=p, reload=reload, log_level="info")
        return
    from anju.web import workers as worker_processes

    raise typer.Exit(worker_processes.serve(h, p, workers))
