"""The event dates after signing as policy facts, from the database, on SQLite, PostgreSQL and MariaDB:
the agreement's effective date (frozen at signing when it takes effect then), the planned and actual
delivery of the estates of the flats a household chose, and its move-back once the keys of every
flat are handed over (recorded by a service call, audited, refused with a reason when impossible);
the migration adding the handover date goes up and down."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import func, inspect, select
from sqlalchemy.orm import Session

from anju.agreement import service as agreement_service
from anju.audit.models import AuditRecord
from anju.compensation import service as compensation_service
from anju.db import migrate
from anju.db.session import make_engine
from anju.errors import Conflict, NotFound
from anju.housing import service as housing_service
from anju.housing.models import Estate
from anju.identity.service import DataScope
from tests.conftest import BACKENDS, new_database
from tests.integration.selection_world import OFFICER, SUPERVISOR, TODAY, make_event

ALL = DataScope.everything()
FLATS = [("1幢", 1, 1, "101", "A", 70, 60), ("1幢", 1, 2, "201", "A", 70, 60)]


def _facts(db: Session, project_id: int, hid: int) -> object:
    ((_, hf),) = compensation_service.project_facts(db, scope=ALL, project_id=project_id, household_ids=[hid])
    return hf


def test_event_dates_reach_the_facts_and_a_handover_is_recorded(db: Session) -> None:
    sw = make_event(db, households=2, flats=FLATS)
    pid = sw.world.project_id
    first, second = sw.order
    # signed without a condition: effective on the signing day, frozen so in the snapshot
    a = agreement_service.agreement_for_household(db, scope=ALL, household_id=first)
    assert a is not None and a.effective_on == TODAY
    assert (
        agreement_service.snapshot_facts(agreement_service.get_snapshot(db, a)).agreement_effective_on
        == TODAY
    )
    hf = _facts(db, pid, first)
    assert (hf.agreement_effective_on, hf.delivery_planned_on, hf.move_back_on) == (TODAY, None, None)  # type: ignore[attr-defined]

    sel = housing_service.select_flat(
        db, actor=OFFICER, event_id=sw.event_id, household_id=first, flat_id=sw.flats["1-1-101"]
    )
    housing_service.finish_household(db, actor=OFFICER, event_id=sw.event_id, household_id=first)
    estate = db.get(Estate, sw.estate_id)
    assert estate is not None
    # not delivered yet: no handover
    with pytest.raises(Conflict) as exc:
        housing_service.record_handover(
            db, actor=OFFICER, selection_id=sel.id, handed_over_on=date(2024, 6, 3), today=date(2024, 6, 5)
        )
    assert exc.value.code == "handover_date" and "尚未交房" in exc.value.message_zh
    housing_service.update_estate_delivery(
        db,
        actor=OFFICER,
        estate_id=estate.id,
        expected_version=estate.version,
        changes={"planned_delivery_on": date(2025, 6, 30), "actual_delivery_on": date(2025, 12, 20)},
        today=date(2026, 6, 1),
    )
    hf = _facts(db, pid, first)
    assert (hf.delivery_planned_on, hf.delivery_actual_on, hf.move_back_on) == (  # type: ignore[attr-defined]
        date(2025, 6, 30),
        date(2025, 12, 20),
        None,
    )
    # the household that has not chosen has no delivery of its own
    assert _facts(db, pid, second).delivery_planned_on is None  # type: ignore[attr-defined]
    for bad, why in ((date(2025, 12, 19), "不能早于小区实际交房日期"), (date(2026, 6, 2), "不能晚于今天")):
        with pytest.raises(Conflict) as exc:
            housing_service.record_handover(
                db, actor=OFFICER, selection_id=sel.id, handed_over_on=bad, today=date(2026, 6, 1)
            )
        assert why in exc.value.message_zh and exc.value.details[0]["field"] == "handed_over_on"
    with pytest.raises(NotFound):
        housing_service.record_handover(
            db, actor=OFFICER, selection_id=10**9, handed_over_on=None, today=date(2026, 6, 1)
        )
    housing_service.record_handover(
        db, actor=OFFICER, selection_id=sel.id, handed_over_on=date(2026, 1, 10), today=date(2026, 6, 1)
    )
    assert _facts(db, pid, first).move_back_on == date(2026, 1, 10)  # type: ignore[attr-defined]
    audits = db.scalar(
        select(func.count())
        .select_from(AuditRecord)
        .where(AuditRecord.action == "handover", AuditRecord.entity == "selection")
    )
    assert audits == 1
    # the same date again writes nothing; an undone selection takes no handover
    housing_service.record_handover(
        db, actor=OFFICER, selection_id=sel.id, handed_over_on=date(2026, 1, 10), today=date(2026, 6, 1)
    )
    assert (
        db.scalar(select(func.count()).select_from(AuditRecord).where(AuditRecord.action == "handover")) == 1
    )
    sel2 = housing_service.select_flat(
        db, actor=OFFICER, event_id=sw.event_id, household_id=second, flat_id=sw.flats["1-1-201"]
    )
    housing_service.undo_selection(db, actor=SUPERVISOR, selection_id=sel2.id, reason="录入错误")
    with pytest.raises(Conflict) as exc:
        housing_service.record_handover(
            db, actor=OFFICER, selection_id=sel2.id, handed_over_on=date(2026, 1, 10), today=date(2026, 6, 1)
        )
    assert "已撤销" in exc.value.message_zh


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_handover_migration_goes_up_and_down(backend: str, tmp_path: Path) -> None:
    url, handle = new_database(backend, tmp_path)
    try:
        migrate.upgrade(url)
        engine = make_engine(url)
        assert "handed_over_on" in {c["name"] for c in inspect(engine).get_columns("selection")}
        engine.dispose()
        # down to the revision 0021 builds on (whatever the chain is once merged)
        below = ScriptDirectory.from_config(migrate.alembic_config(url)).get_revision("0021").down_revision
        migrate.downgrade(url, str(below))
        engine = make_engine(url)
        assert "handed_over_on" not in {c["name"] for c in inspect(engine).get_columns("selection")}
        engine.dispose()
    finally:
        if handle is not None:
            handle.drop()
