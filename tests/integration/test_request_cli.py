"""``anju requests escalate`` (SQLite): the clock run from the shell at a given instant flags, escalates
and closes, one transaction per request; a second run at the same instant finds nothing left."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from anju.cli import app
from anju.db import migrate
from anju.db.session import unit_of_work
from anju.service_request import service as request_service
from tests.integration.request_world import T0, build_requests, file

runner = CliRunner()


def test_escalate_from_the_shell(settings_env: Path) -> None:
    from anju.config import get_settings

    settings_env.mkdir(parents=True, exist_ok=True)
    migrate.upgrade(get_settings().effective_database_url)
    with unit_of_work() as db:
        w = build_requests(db)
        late = file(db, w).request.id  # due Monday 14:30 Shanghai
        done = file(db, w).request
        request_service.accept(db, actor=w.desk, request_id=done.id, version=1, now=T0)
        request_service.take(db, actor=w.dept, request_id=done.id, version=2, now=T0)
        request_service.publish(db, actor=w.dept, request_id=done.id, version=3, result="好了", now=T0)
        published = done.id  # window ends Wednesday 9:00 Shanghai
    r = runner.invoke(app, ["requests", "escalate", "--at", "2026-12-07T15:00"])
    assert (r.exit_code, r.output.strip()) == (0, "新超期 1 件，督办升级 1 件，验单期满结案 0 件")
    r = runner.invoke(app, ["requests", "escalate", "--at", "2026-12-09T09:00"])
    assert (r.exit_code, r.output.strip()) == (0, "新超期 0 件，督办升级 1 件，验单期满结案 1 件")
    r = runner.invoke(app, ["requests", "escalate", "--at", "2026-12-09T09:00"])
    assert (r.exit_code, r.output.strip()) == (0, "新超期 0 件，督办升级 0 件，验单期满结案 0 件")
    with unit_of_work(write=False) as db:
        a = request_service.history(db, request_id=late)
        b = request_service.history(db, request_id=published)
        assert [(e.action, e.reason) for e in a] == [
            ("submit", ""),
            ("overdue", "社区督办"),
            ("escalate", "街道督办"),
        ]
        assert [e.action for e in b][-1] == "auto_close"
    r = runner.invoke(app, ["requests", "escalate", "--at", "yesterday"])
    assert (r.exit_code, r.output.strip()) == (2, "时刻“yesterday”格式不对，应为 2026-12-07T09:00")
