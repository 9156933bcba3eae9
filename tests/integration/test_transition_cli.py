"""``anju housing transition-fees --as-of DATE`` and the hourly job against a real SQLite file: the
months begun are scheduled once, a second run (the CLI or a worker's job) adds nothing, a bad date is
refused with nothing written."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from anju.agreement import service as agreement_service
from anju.agreement.models import Instalment
from anju.cli import app
from anju.db import migrate
from anju.db.session import unit_of_work
from anju.housing import jobs as housing_jobs
from anju.housing import service as housing_service
from anju.identity.service import DataScope
from tests.integration import selection_world
from tests.integration.selection_world import OFFICER, make_event

runner = CliRunner()
FLATS = [("1幢", 1, 1, "101", "A", 70, 60)]
LUMP = "  - id: transition\n    label: 过渡费\n    options: [swap]\n    formula: persons * transition_rate * transition_months\n"
MONTHLY = """
transition:
  monthly: persons * transition_rate
  start: vacate_on
  grace_months: 3
  late_multiplier: 2
"""


def _amounts() -> list[tuple[int, str]]:
    with unit_of_work(write=False) as db:
        rows = db.scalars(select(Instalment).where(Instalment.kind == "transition").order_by(Instalment.id))
        return [(i.amount_fen, i.purpose) for i in rows]


def test_transition_fees_from_the_shell_and_the_job(
    settings_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from anju.config import get_settings

    monkeypatch.setattr(selection_world, "RURAL", selection_world.RURAL.replace(LUMP, "") + MONTHLY)
    settings_env.mkdir(parents=True, exist_ok=True)
    migrate.upgrade(get_settings().effective_database_url)
    with unit_of_work() as db:
        sw = make_event(db, households=1, flats=FLATS)
        (hid,) = sw.order
        housing_service.select_flat(
            db, actor=OFFICER, event_id=sw.event_id, household_id=hid, flat_id=sw.flats["1-1-101"]
        )
        housing_service.finish_household(db, actor=OFFICER, event_id=sw.event_id, household_id=hid)
        housing_service.update_estate_delivery(
            db,
            actor=OFFICER,
            estate_id=sw.estate_id,
            expected_version=1,
            changes={"planned_delivery_on": date(2025, 6, 30)},
            today=date(2024, 6, 5),
        )
        agreement_service.record_vacating(
            db,
            actor=OFFICER,
            scope=DataScope.everything(),
            household_id=hid,
            vacated_on=date(2024, 6, 15),
            checklist={"utilities_settled": True, "emptied": True, "keys_handed": True},
            keys_handed=1,
            inspector="王验收",
            today=date(2024, 6, 20),
        )
        project_id = sw.world.project_id
    r = runner.invoke(app, ["housing", "transition-fees", "--as-of", "2024-13-01"])
    assert r.exit_code == 2 and "日期“2024-13-01”无效，应为 YYYY-MM-DD" in r.output
    assert _amounts() == []
    r = runner.invoke(app, ["housing", "transition-fees", "--as-of", "2024-08-20"])
    assert r.exit_code == 0, r.output
    assert f"项目 {project_id}：1 户，新增过渡费 1 笔 1,200.00 元，作废 0 笔，无法计算 0 户" in r.output
    assert _amounts() == [(120_000, "临时安置费 第1-3月（2024-06-15至2024-09-14）")]
    r = runner.invoke(app, ["housing", "transition-fees", "--as-of", "2024-08-20"])
    assert f"项目 {project_id}：1 户，新增过渡费 0 笔 0.00 元" in r.output
    runs = housing_jobs.schedule_all_transition_fees(date(2024, 8, 20))
    assert (runs[project_id].households, runs[project_id].added) == (1, [])
    runs = housing_jobs.schedule_all_transition_fees(date(2024, 9, 15))
    assert [i.amount_fen for i in runs[project_id].added] == [40_000]
    assert [a for a, _ in _amounts()] == [120_000, 40_000]
