"""A ready selection event for the selection tests: the standard world under the demo rural policy
(which has entitlement rules), every household counted for resettlement and signed for a swap, an
estate with flats, an event by sign order with its order fixed (opened on request)."""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date

import xlsxwriter
from sqlalchemy.orm import Session

from anju.agreement import service as agreement_service
from anju.compensation import service as compensation_service
from anju.core.actor import Actor
from anju.demo.policies import POLICY_DIR
from anju.household import service as household_service
from anju.housing import service as housing_service
from anju.identity.service import DataScope
from tests.factories import ACTOR, World, build_world

RURAL = (POLICY_DIR / "rural.yaml").read_text(encoding="utf-8")
ALL = DataScope.everything()
TODAY = date(2024, 6, 1)
OFFICER = Actor(user_id=None, username="jingban", display_name="经办人", role="case_officer")
SUPERVISOR = Actor(user_id=None, username="zhihui", display_name="指挥长", role="commander")


@dataclass
class SelectionWorld:
    world: World
    event_id: int
    estate_id: int
    flats: dict[str, int]  # code -> id
    order: list[int]  # household ids in call order


def flat_list(rows: list[tuple[str, int, int, str, str, float, float]]) -> bytes:
    out = io.BytesIO()
    wb = xlsxwriter.Workbook(out, {"in_memory": True})
    ws = wb.add_worksheet()
    ws.write_row(0, 0, ["楼栋", "单元", "楼层", "房号", "户型", "建筑面积", "套内面积"])
    for i, r in enumerate(rows, start=1):
        ws.write_row(i, 0, list(r))
    wb.close()
    return out.getvalue()


def make_event(
    db: Session,
    *,
    households: int,
    flats: list[tuple[str, int, int, str, str, float, float]],
    code: str = "P1",
    open_it: bool = True,
) -> SelectionWorld:
    """Build the world, sign every household for a swap and plan an event over one estate."""
    w = build_world(db, households=households, code=code)
    for mid in w.member_ids:  # the factory's heads are not yet counted as resettlement persons
        household_service.update_member(
            db, actor=ACTOR, scope=ALL, member_id=mid, data={"resettlement_counted": True}
        )
    compensation_service.publish(
        db, actor=ACTOR, project_id=w.project_id, source=RURAL, file_name="rural.yaml"
    )
    for hid in w.household_ids:
        agreement_service.sign(
            db, actor=OFFICER, scope=ALL, household_id=hid, option="swap", sign_on=TODAY, today=TODAY
        )
    estate = housing_service.create_estate(
        db, actor=OFFICER, project_id=w.project_id, code="E1", name="安置一期"
    )
    rows = housing_service.read_flat_sheet(flat_list(flats), "房源.xlsx")
    housing_service.import_flats(db, actor=OFFICER, estate_id=estate.id, rows=rows)
    event = housing_service.create_event(
        db,
        actor=OFFICER,
        project_id=w.project_id,
        name="第一批选房",
        order_kind="sign_order",
        estate_ids=[estate.id],
        held_on=TODAY,
    )
    entries = housing_service.fix_order(db, actor=OFFICER, event_id=event.id)
    if open_it:
        housing_service.open_event(db, actor=OFFICER, event_id=event.id)
    codes = {r.flat.code: r.flat.id for r in housing_service.event_flats(db, event_id=event.id)}
    return SelectionWorld(w, event.id, estate.id, codes, [e.household_id for e in entries])


# Flats of the live-server seed: 2 buildings x 2 units x 7 floors, 70 ㎡ (allowed to a one-person
# household: 21 of them), and in unit 2 of building 2 88 ㎡ ones (refused by the rural rule
# small_household_flat).
LIVE_FLATS = [
    (f"{b}幢", u, f, f"{f}0{u}", "B" if (b, u) == (2, 2) else "A", 88 if (b, u) == (2, 2) else 70, 60)
    for b in (1, 2)
    for u in (1, 2)
    for f in range(1, 8)
]


def seed_live_event(db: Session, world: World) -> dict[str, object]:
    """``ANJU_TEST_SEED`` hook for a live server (tests/live_server.py): every household of the
    world signed for a swap under the rural policy, estate E1 with :data:`LIVE_FLATS`, and an open
    sign-order event. Returns the event's id, the flats (code -> id) and the order (household ids,
    codes)."""
    for mid in world.member_ids:
        household_service.update_member(
            db, actor=ACTOR, scope=ALL, member_id=mid, data={"resettlement_counted": True}
        )
    compensation_service.publish(
        db, actor=ACTOR, project_id=world.project_id, source=RURAL, file_name="rural.yaml"
    )
    for hid in world.household_ids:
        agreement_service.sign(
            db, actor=OFFICER, scope=ALL, household_id=hid, option="swap", sign_on=TODAY, today=TODAY
        )
    estate = housing_service.create_estate(
        db, actor=OFFICER, project_id=world.project_id, code="E1", name="安置一期"
    )
    rows = housing_service.read_flat_sheet(flat_list(LIVE_FLATS), "房源.xlsx")
    housing_service.import_flats(db, actor=OFFICER, estate_id=estate.id, rows=rows)
    event = housing_service.create_event(
        db,
        actor=OFFICER,
        project_id=world.project_id,
        name="第一批选房",
        order_kind="sign_order",
        estate_ids=[estate.id],
        held_on=TODAY,
    )
    entries = housing_service.fix_order(db, actor=OFFICER, event_id=event.id)
    housing_service.open_event(db, actor=OFFICER, event_id=event.id)
    labels = household_service.household_labels(db, household_ids=world.household_ids)
    return {
        "event_id": int(event.id),
        "estate_id": int(estate.id),
        "flats": {r.flat.code: int(r.flat.id) for r in housing_service.event_flats(db, event_id=event.id)},
        "order": [int(e.household_id) for e in entries],
        "codes": [labels[e.household_id][0] for e in entries],
    }
