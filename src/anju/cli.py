"""The ``anju`` command: every domain adds its own sub-command group here."""

from __future__ import annotations

import typer

from anju.agreement.cli import app as agreement_app
from anju.audit.cli import app as audit_app
from anju.backup import cli as backup_cli
from anju.campaign.cli import app as campaign_app
from anju.compensation import cli as compensation_cli
from anju.core import redaction
from anju.db.cli import app as db_app
from anju.demo.cli import demo_command
from anju.grid.cli import app as grid_app
from anju.household.cli import export_app, import_app
from anju.housing.cli import app as housing_app
from anju.identity.cli import app as user_app
from anju.policy.cli import app as policy_app
from anju.project.cli import app as project_app
from anju.reporting.cli import app as dispatch_app
from anju.service_request.cli import app as requests_app
from anju.web import live  # noqa: F401  (its before-commit hook: CLI writes on PostgreSQL reach live screens)
from anju.web.docs_cli import app as docs_app

app = typer.Typer(help="安居 Anju：征迁与城市更新工作平台", no_args_is_help=True, pretty_exceptions_enable=False)
app.add_typer(db_app, name="db")
app.add_typer(user_app, name="user")
app.add_typer(audit_app, name="audit")
# The pure engine's commands work on files; publishing into a project's database is the compensation domain's.
policy_app.command("publish")(compensation_cli.publish)
policy_app.command("versions")(compensation_cli.versions)
app.add_typer(policy_app, name="policy")
app.add_typer(import_app, name="import")
app.add_typer(export_app, name="export")
app.add_typer(docs_app, name="docs")
app.add_typer(project_app, name="project")
app.add_typer(campaign_app, name="campaign")
app.add_typer(dispatch_app, name="dispatch")
app.add_typer(agreement_app, name="agreement")
app.add_typer(housing_app, name="housing")
app.add_typer(grid_app, name="grid")
app.add_typer(requests_app, name="requests")  # the five-order request loop (#14)
app.command("demo")(demo_command)
app.command("backup")(backup_cli.backup)
app.command("restore")(backup_cli.restore)


redaction.install()  # the CLI's log lines (and the server it starts) never carry an identity number


@app.callback()
def _check_settings() -> None:
    """Refuse to run on a configuration that Settings rejects, with a message instead of a traceback."""
    from pydantic import ValidationError

    from anju.config import get_settings

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
