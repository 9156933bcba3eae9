"""The chosen flats as policy facts on SQLite, PostgreSQL and MariaDB (issue #12 item 5): a household's
confirmed selections reach the facts the compensation service builds, and the settlement at
selection finish evaluates the frozen facts with the flats being settled, so an item over ``flats``
(here a subsidy per ㎡ of the flats in building 1幢, part of the swap credit) moves the balance."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from anju.agreement.models import Receivable
from anju.compensation import service as compensation_service
from anju.housing import service as housing_service
from anju.identity.service import DataScope
from tests.integration import selection_world
from tests.integration.selection_world import OFFICER, make_event

ALL = DataScope.everything()
FLATS = [
    ("1幢", 1, 1, "101", "A", 70, 60),
    ("2幢", 1, 2, "201", "C", 45, 38),
]
SUBSIDY = """
  - id: flat_subsidy
    label: 安置房面积补贴
    options: [swap]
    formula: sum(flats, flat.area * 10元/㎡, where=flat.building == '1幢')
swap_settlement:
  entitled_area: entitled_area
  credit: land + buildings_value + flat_subsidy
"""


@pytest.fixture
def flats_policy(monkeypatch: pytest.MonkeyPatch) -> None:
    source = selection_world.RURAL
    head = "\nswap_settlement:\n  entitled_area: entitled_area\n  credit: land + buildings_value\n"
    assert head in source
    monkeypatch.setattr(selection_world, "RURAL", _with_subsidy(source, head))


def _with_subsidy(source: str, head: str) -> str:
    # the item goes at the end of the items list, just before swap_settlement
    item, settlement = SUBSIDY.split("swap_settlement:\n")
    return source.replace(head, item + "\nswap_settlement:\n" + settlement, 1)


def test_chosen_flats_are_facts_and_move_the_settlement(db: Session, flats_policy: None) -> None:
    sw = make_event(db, households=1, flats=FLATS)
    hid = sw.order[0]
    ((_, before),) = compensation_service.project_facts(
        db, scope=ALL, project_id=sw.world.project_id, household_ids=[hid]
    )
    assert before.flats == ()
    housing_service.select_flat(
        db, actor=OFFICER, event_id=sw.event_id, household_id=hid, flat_id=sw.flats["1-1-101"]
    )
    ((_, hf),) = compensation_service.project_facts(
        db, scope=ALL, project_id=sw.world.project_id, household_ids=[hid]
    )
    assert [(f.code, str(f.area), f.building, f.floor, f.flat_type) for f in hf.flats] == [
        ("1-1-101", "70.00", "1幢", 1, "A")
    ]
    # the whole project's facts carry it too (the ledger and the budget read them this way)
    every = dict(compensation_service.project_facts(db, scope=ALL, project_id=sw.world.project_id))
    assert every[hid].flats == hf.flats
    _, result = compensation_service.calculate(db, scope=ALL, household_id=hid, option="swap")
    assert result.amounts()["flat_subsidy"] == 70_000  # 70 ㎡ × 10 元
    housing_service.finish_household(db, actor=OFFICER, event_id=sw.event_id, household_id=hid)
    view = housing_service.household_settlement(db, scope=ALL, household_id=hid)
    assert view.settlement is not None and view.error == ""
    # credit = land 0 + buildings 88.50 × 1200 + flat subsidy 700 = 106,900; flats 167,000 → pays 60,100
    assert (view.settlement.credit_fen, view.settlement.balance_fen) == (10_690_000, 6_010_000)
    (rec,) = db.scalars(select(Receivable)).all()
    assert rec.amount_fen == 6_010_000
