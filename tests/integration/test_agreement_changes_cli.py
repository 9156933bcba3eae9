"""``anju agreement check-amendments|check-conditions|check-rewards`` against a real SQLite file."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from typer.testing import CliRunner

from anju.agreement import service as agreement_service
from anju.cli import app
from anju.compensation import service as compensation_service
from anju.core.dates import today_shanghai
from anju.db import migrate
from anju.db.session import unit_of_work
from anju.demo.policies import POLICY_DIR
from anju.household import service as household_service
from anju.identity.service import DataScope
from tests.factories import ACTOR, World, build_world

runner = CliRunner()
ALL = DataScope.everything()


def _world(settings_env: Path) -> World:
    from anju.config import get_settings

    settings_env.mkdir(parents=True, exist_ok=True)
    migrate.upgrade(get_settings().effective_database_url)
    with unit_of_work() as db:
        world = build_world(db, households=4)  # block E: households 0 and 2
        compensation_service.publish(
            db,
            actor=ACTOR,
            project_id=world.project_id,
            source=(POLICY_DIR / "shantytown.yaml").read_text(encoding="utf-8"),
        )
        agreement_service.set_signing_terms(
            db,
            actor=ACTOR,
            project_id=world.project_id,
            agreement_prefix="P1",
            on_sign_share_bp=7000,
            condition_kind="block_rate",
            condition_rate_bp=10000,
            condition_deadline_on=today_shanghai() + timedelta(days=10),
            expected_version=0,
        )
    return world


def _status(agreement_id: int) -> str:
    with unit_of_work(write=False) as db:
        return str(agreement_service.get_agreement(db, scope=ALL, agreement_id=agreement_id).status)


def test_check_amendments_and_conditions_from_the_command_line(settings_env: Path) -> None:
    w = _world(settings_env)
    today = today_shanghai()
    with unit_of_work() as db:
        first = agreement_service.sign(
            db, actor=ACTOR, scope=ALL, household_id=w.household_ids[0], option="cash", sign_on=today
        ).id
        f = household_service.get_household_file(db, scope=ALL, household_id=w.household_ids[0])
        household_service.update_building(
            db, actor=ACTOR, scope=ALL, building_id=f.buildings[0].building.id, data={"legal_area": "90.00"}
        )
    r = runner.invoke(app, ["agreement", "check-amendments", "P1"])
    assert r.exit_code == 0, r.output
    assert "P1：检查 1 份协议，1 份可能需要变更（新增 1，解除提示 0）" in r.output
    r = runner.invoke(app, ["agreement", "check-amendments"])  # every project: nothing new
    assert "P1：检查 1 份协议，1 份可能需要变更（新增 0，解除提示 0）" in r.output
    r = runner.invoke(app, ["agreement", "show", str(first)])
    assert "可能需要变更协议：差额 " in r.output

    r = runner.invoke(app, ["agreement", "check-conditions", "--on", (today + timedelta(days=1)).isoformat()])
    assert r.exit_code == 2 and "检查日期不能晚于今天" in r.output
    r = runner.invoke(app, ["agreement", "check-conditions", "--on", "2026-13-01"])
    assert r.exit_code == 2 and "应为 YYYY-MM-DD" in r.output
    r = runner.invoke(app, ["agreement", "check-conditions"])
    assert r.exit_code == 0, r.output
    assert f"P1（{today.isoformat()}）：生效 0 份，未生效 0 份，仍待生效 1 份" in r.output
    assert _status(first) == "pending"
    with unit_of_work() as db:
        second = agreement_service.sign(
            db, actor=ACTOR, scope=ALL, household_id=w.household_ids[2], option="cash", sign_on=today
        ).id
    r = runner.invoke(app, ["agreement", "check-conditions", "P1", "--by", "case_officer"])
    assert r.exit_code == 0, r.output
    assert "生效 2 份，未生效 0 份，仍待生效 0 份" in r.output
    assert (_status(first), _status(second)) == ("effective", "effective")
    r = runner.invoke(app, ["agreement", "check-conditions"])
    assert r.exit_code == 0 and "没有待生效的附条件协议" in r.output

    # collective rewards: signed in 2026, after the demo policy's 2024 deadlines, so nothing is earned
    r = runner.invoke(app, ["agreement", "check-rewards"])
    assert r.exit_code == 0, r.output
    assert "P1：核查 2 份协议，新增集体奖励 0 笔，共 0.00 元" in r.output
    r = runner.invoke(app, ["agreement", "check-rewards", "NOPE"])
    assert r.exit_code == 2 and "Traceback" not in r.output
