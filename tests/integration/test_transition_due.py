"""Issue #12 item 2 in the database, on SQLite, PostgreSQL and MariaDB: a building's 楼型 (set, audited,
or by its floors) reaches ``flat.rise``; the payment schedule follows a ``transition`` block's
``due`` (by the chosen flat's 楼型) and ``late_monthly`` month by month, and schedules nothing (and
cancels what is untouched) when its ``when`` does not hold; the migration adding the rise goes up
and down."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import func, inspect, select
from sqlalchemy.orm import Session

from anju.agreement import service as agreement_service
from anju.agreement.models import Instalment
from anju.audit.models import AuditRecord
from anju.db import migrate
from anju.db.session import make_engine
from anju.errors import ValidationFailed
from anju.housing import service as housing_service
from anju.housing.models import Estate, Flat, HousingBuilding
from anju.identity.service import DataScope
from tests.conftest import BACKENDS, new_database
from tests.integration import selection_world
from tests.integration.selection_world import OFFICER, make_event

ALL = DataScope.everything()
FLATS = [("1幢", 1, 1, "101", "A", 70, 60), ("1幢", 1, 2, "201", "C", 45, 38)]
LUMP = "  - id: transition\n    label: 过渡费\n    options: [swap]\n    formula: persons * transition_rate * transition_months\n"
# 400 元/人/月; overdue months 100 元 more; overdue from 3 months after vacating (多层) or 6 (高层)
BLOCK = """
transition:
  label: 临时安置费（按月）
  monthly: persons * transition_rate
  late_monthly: persons * transition_rate + 100元/月
  due: add_months(household.vacate_on, if any(flats, where=flat.rise == '高层') then 6 else 3)
  start: vacate_on
  months: started
"""


def _use(monkeypatch: pytest.MonkeyPatch, block: str) -> None:
    assert LUMP in selection_world.RURAL
    monkeypatch.setattr(selection_world, "RURAL", selection_world.RURAL.replace(LUMP, "") + block)


def _ready(db: Session) -> tuple[int, int, int, int]:
    """One household chose 1-1-101, the estate is planned, the household vacated on 2024-06-15."""
    sw = make_event(db, households=1, flats=FLATS)
    (hid,) = sw.order
    housing_service.select_flat(
        db, actor=OFFICER, event_id=sw.event_id, household_id=hid, flat_id=sw.flats["1-1-101"]
    )
    housing_service.finish_household(db, actor=OFFICER, event_id=sw.event_id, household_id=hid)
    estate = db.get(Estate, sw.estate_id)
    assert estate is not None
    housing_service.update_estate_delivery(
        db,
        actor=OFFICER,
        estate_id=estate.id,
        expected_version=estate.version,
        changes={"planned_delivery_on": date(2025, 6, 30)},
        today=date(2024, 6, 5),
    )
    agreement_service.record_vacating(
        db,
        actor=OFFICER,
        scope=ALL,
        household_id=hid,
        vacated_on=date(2024, 6, 15),
        checklist={"utilities_settled": True, "emptied": True, "keys_handed": True},
        keys_handed=2,
        inspector="王验收",
        today=date(2024, 6, 20),
    )
    flat = db.get(Flat, sw.flats["1-1-101"])
    assert flat is not None
    return hid, sw.world.project_id, sw.estate_id, flat.building_id


def _transition(db: Session, hid: int) -> list[tuple[int, str]]:
    rows = db.scalars(
        select(Instalment)
        .where(Instalment.household_id == hid, Instalment.kind == "transition")
        .order_by(Instalment.id)
    )
    return [(i.amount_fen, i.status) for i in rows]


def test_a_buildings_rise_is_set_audited_and_reaches_the_flat_facts(db: Session) -> None:
    sw = make_event(db, households=1, flats=FLATS)
    b = db.scalars(select(HousingBuilding).where(HousingBuilding.estate_id == sw.estate_id)).one()
    assert (b.rise, b.floors, housing_service.building_rise(b)) == (None, 2, ("多层", True))
    (fact,) = housing_service.flat_facts(db, [db.get(Flat, sw.flats["1-1-101"])])
    assert (fact.rise, fact.ready, fact.delivered_on) == ("多层", "", None)
    housing_service.set_building_rise(db, actor=OFFICER, building_id=b.id, rise="高层")
    assert housing_service.building_rise(b) == ("高层", False)
    (fact,) = housing_service.flat_facts(db, [db.get(Flat, sw.flats["1-1-101"])])
    assert fact.rise == "高层"
    housing_service.set_building_rise(db, actor=OFFICER, building_id=b.id, rise="高层")  # no change
    n = db.scalar(select(func.count()).select_from(AuditRecord).where(AuditRecord.action == "building_rise"))
    assert n == 1
    with pytest.raises(ValidationFailed) as exc:
        housing_service.set_building_rise(db, actor=OFFICER, building_id=b.id, rise="超高层")
    assert exc.value.details[0]["field"] == "rise"
    housing_service.set_building_rise(db, actor=OFFICER, building_id=b.id, rise="")
    assert b.rise is None


def test_the_schedule_follows_due_by_rise_and_late_monthly(
    db: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    _use(monkeypatch, BLOCK)
    hid, pid, _estate_id, building_id = _ready(db)
    # 多层: overdue from 2024-09-15; by 11-20 months 1-3 at 400, months 4-6 at 500 元
    run = housing_service.schedule_transition_fees(
        db, actor=OFFICER, as_of=date(2024, 11, 20), project_id=pid
    )
    assert [i.amount_fen for i in run.added] == [3 * 40_000 + 3 * 50_000]
    ht = housing_service.household_transition(db, household_id=hid, as_of=date(2024, 11, 20))
    assert ht is not None and ht.fees is not None
    assert (ht.fees.due, ht.fees.normal_months, ht.fees.late_months, ht.fees.late_fen) == (
        date(2024, 9, 15),
        3,
        3,
        50_000,
    )
    # the next month enters on the day it begins, overdue
    run = housing_service.schedule_transition_fees(
        db, actor=OFFICER, as_of=date(2024, 12, 15), project_id=pid
    )
    assert [i.amount_fen for i in run.added] == [50_000]
    # the building is 高层 after all: overdue only from 2024-12-15 (6 × 400 + 1 × 500 = 2,900 元
    # due, 3,200 scheduled): the newest untouched instalment is cancelled and the difference added
    housing_service.set_building_rise(db, actor=OFFICER, building_id=building_id, rise="高层")
    run = housing_service.schedule_transition_fees(
        db, actor=OFFICER, as_of=date(2024, 12, 15), project_id=pid
    )
    assert ([i.amount_fen for i in run.cancelled], [i.amount_fen for i in run.added]) == ([50_000], [20_000])
    assert sum(a for a, s in _transition(db, hid) if s != "cancelled") == 6 * 40_000 + 50_000


def test_a_block_whose_when_fails_schedules_nothing(db: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    _use(
        monkeypatch, BLOCK.replace("  start:", "  when: not any(flats, where=flat.rise == '高层')\n  start:")
    )
    hid, pid, _estate_id, building_id = _ready(db)
    run = housing_service.schedule_transition_fees(db, actor=OFFICER, as_of=date(2024, 7, 20), project_id=pid)
    assert [i.amount_fen for i in run.added] == [80_000]
    housing_service.set_building_rise(db, actor=OFFICER, building_id=building_id, rise="高层")
    run = housing_service.schedule_transition_fees(db, actor=OFFICER, as_of=date(2024, 8, 20), project_id=pid)
    assert ([i.amount_fen for i in run.cancelled], run.added, run.skipped) == ([80_000], [], {})
    ht = housing_service.household_transition(db, household_id=hid, as_of=date(2024, 8, 20))
    assert ht is not None and ht.fees is not None and not ht.fees.applies
    assert ht.fees.reason.startswith("不适用") and "高层" in ht.fees.reason
    assert _transition(db, hid) == [(80_000, "cancelled")]


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_rise_migration_goes_up_and_down(backend: str, tmp_path: Path) -> None:
    url, handle = new_database(backend, tmp_path)
    try:
        migrate.upgrade(url)
        engine = make_engine(url)
        assert "rise" in {c["name"] for c in inspect(engine).get_columns("housing_building")}
        engine.dispose()
        below = ScriptDirectory.from_config(migrate.alembic_config(url)).get_revision("0024").down_revision
        migrate.downgrade(url, str(below))
        engine = make_engine(url)
        assert "rise" not in {c["name"] for c in inspect(engine).get_columns("housing_building")}
        engine.dispose()
    finally:
        if handle is not None:
            handle.drop()
