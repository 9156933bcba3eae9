"""``anju agreement sign|show|list`` against a real SQLite file."""

from __future__ import annotations

import json
import re
from pathlib import Path

from typer.testing import CliRunner

from anju.cli import app
from anju.compensation import service as compensation_service
from anju.core.dates import today_shanghai
from anju.core.money import format_yuan
from anju.db import migrate
from anju.db.session import unit_of_work
from anju.demo.policies import POLICY_DIR
from tests.factories import ACTOR, build_world

runner = CliRunner()


def _world(settings_env: Path) -> None:
    from anju.config import get_settings

    settings_env.mkdir(parents=True, exist_ok=True)
    migrate.upgrade(get_settings().effective_database_url)
    with unit_of_work() as db:
        world = build_world(db, households=4)
        compensation_service.publish(
            db,
            actor=ACTOR,
            project_id=world.project_id,
            source=(POLICY_DIR / "shantytown.yaml").read_text(encoding="utf-8"),
        )


def test_sign_show_list_and_refusals(settings_env: Path) -> None:
    _world(settings_env)
    today = today_shanghai().isoformat()
    r = runner.invoke(
        app, ["agreement", "sign", "P1", "H0001", "--option", "货币补偿", "--account", "6222 0202 0001 2345"]
    )
    assert r.exit_code == 0, r.output
    assert "已签约：协议编号 P1-0001，签约顺序号 1，货币补偿，合计 " in r.output and "已生效" in r.output
    r = runner.invoke(
        app, ["agreement", "sign", "P1", "H0003", "--option", "swap", "--on", today, "--by", "case_officer"]
    )
    assert r.exit_code == 0, r.output
    assert "协议编号 P1-0002，签约顺序号 2，产权调换" in r.output

    r = runner.invoke(app, ["agreement", "show", "--project", "P1", "H0001", "--json"])
    assert r.exit_code == 0, r.output
    shown = json.loads(r.output)
    assert (shown["agreement_no"], shown["sign_no"], shown["head_name"], shown["status"]) == (
        "P1-0001",
        1,
        "张建国",
        "effective",
    )
    assert sum(i["amount_fen"] for i in shown["items"]) == shown["total_fen"]
    assert [i["kind"] for i in shown["instalments"]] == ["on_sign", "after_vacate"]
    for ref in (["--project", "P1", "P1-0001"], [str(shown["id"])]):
        r = runner.invoke(app, ["agreement", "show", *ref])
        assert r.exit_code == 0, r.output
        out = re.sub(r"\s+", " ", r.output)  # rich wraps and pads to the terminal's width
        assert "协议编号 P1-0001 签约顺序号 1 H0001 张建国 货币补偿" in out
        assert f"│ 合计 │ {format_yuan(shown['total_fen'])} │" in out
    r = runner.invoke(app, ["agreement", "list", "P1"])
    assert r.exit_code == 0, r.output
    assert r.output.index("P1-0001") < r.output.index("P1-0002")
    assert "共 2 份协议" in r.output
    r = runner.invoke(app, ["agreement", "list", "P1", "--status", "void"])
    assert "共 0 份协议" in r.output

    # refusals: exit 2 with the Chinese message, nothing written
    r = runner.invoke(app, ["agreement", "sign", "P1", "H0001", "--option", "cash"])
    assert r.exit_code == 2 and "该户已签订协议（协议编号 P1-0001，签约顺序号 1），不能重复签约" in r.output
    r = runner.invoke(app, ["agreement", "sign", "P1", "H0002", "--option", "cash", "--account", "12"])
    assert r.exit_code == 2 and "收款账号应为 6 至 32 位数字" in r.output
    r = runner.invoke(app, ["agreement", "sign", "P1", "H0002", "--option", "cash", "--on", "2024-13-01"])
    assert r.exit_code == 2 and "签约日期“2024-13-01”应为 YYYY-MM-DD" in r.output
    r = runner.invoke(app, ["agreement", "sign", "P1", "H9999", "--option", "cash"])
    assert r.exit_code == 2 and "本项目没有户编号为“H9999”的户" in r.output
    r = runner.invoke(app, ["agreement", "show", "--project", "P1", "H0002"])
    assert r.exit_code == 2 and "户“H0002”没有生效或待生效的协议" in r.output
    r = runner.invoke(app, ["agreement", "show", "P1-0001"])
    assert r.exit_code == 2 and "请给出 --project" in r.output
    r = runner.invoke(app, ["agreement", "list", "P1", "--status", "done"])
    assert r.exit_code == 2 and "协议状态应为" in r.output
    r = runner.invoke(app, ["agreement", "list", "P1"])
    assert "共 2 份协议" in r.output
