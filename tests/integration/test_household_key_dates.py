"""A household's key dates (关键日期) and its handover rows as the pages and the API read them, on
SQLite, PostgreSQL and MariaDB: each date with its source, unknown ones None (a household without a
flat has no delivery), the delivery once the estate has it, the move-back once the keys are handed
over; an unknown household is a 404."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.orm import Session

from anju.errors import NotFound
from anju.housing import service as housing_service
from anju.identity.service import DataScope
from tests.integration.selection_world import OFFICER, TODAY, make_event

ALL = DataScope.everything()
FLATS = [("1幢", 1, 1, "101", "A", 70, 60), ("1幢", 1, 2, "201", "A", 70, 60)]


def _dates(db: Session, hid: int) -> dict[str, tuple[object, object]]:
    return {
        d.key: (d.on, d.source)
        for d in housing_service.household_event_dates(db, scope=ALL, household_id=hid)
    }


def test_key_dates_follow_delivery_and_handover(db: Session) -> None:
    sw = make_event(db, households=2, flats=FLATS)
    hid, other = sw.order
    first = housing_service.select_flat(
        db, actor=OFFICER, event_id=sw.event_id, household_id=hid, flat_id=sw.flats["1-1-101"]
    )
    dates = _dates(db, hid)
    assert list(dates) == list(housing_service.EVENT_DATE_LABELS)
    assert dates["agreement_effective_on"] == (TODAY, "agreement")
    assert dates["delivery_actual_on"] == (None, None) and dates["move_back_on"] == (None, None)
    rows = housing_service.household_handovers(db, scope=ALL, household_id=hid)
    assert [(r.selection_id, r.flat_code, r.handed_over_on) for r in rows] == [(first.id, "1-1-101", None)]
    assert housing_service.household_handovers(db, scope=ALL, household_id=other) == []
    e = housing_service.get_estate(db, estate_id=sw.estate_id)
    delivered = TODAY - timedelta(days=10)
    housing_service.update_estate_delivery(
        db,
        actor=OFFICER,
        estate_id=e.id,
        expected_version=e.version,
        changes={"planned_delivery_on": TODAY - timedelta(days=20), "actual_delivery_on": delivered},
        today=TODAY,
    )
    dates = _dates(db, hid)
    assert dates["delivery_planned_on"] == (TODAY - timedelta(days=20), "estate")
    assert dates["delivery_actual_on"] == (delivered, "estate")
    assert _dates(db, other)["delivery_actual_on"] == (None, None)  # no flat: no delivery
    assert _dates(db, hid)["move_back_on"] == (None, None)
    housing_service.record_handover(
        db,
        actor=OFFICER,
        selection_id=first.id,
        handed_over_on=TODAY + timedelta(days=5),
        today=TODAY + timedelta(days=10),
    )
    # keys are handed over after signing (TODAY), never before
    assert _dates(db, hid)["move_back_on"] == (TODAY + timedelta(days=5), "handover")
    rows = housing_service.household_handovers(db, scope=ALL, selection_id=first.id)
    assert [(r.household_id, r.handed_over_on) for r in rows] == [(hid, TODAY + timedelta(days=5))]
    with pytest.raises(NotFound):
        housing_service.household_event_dates(db, scope=ALL, household_id=999_999_999)
