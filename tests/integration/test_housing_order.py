"""Selection events and their order through the service on SQLite, PostgreSQL and MariaDB: who
takes part (live swap agreements), sign order, the lottery commitment (roster frozen, published
once), the seed checked against it, the order fixed once and recomputed by the check, which names
a tampered position."""

from __future__ import annotations

import hashlib
import json
from datetime import date

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from anju.agreement import service as agreement_service
from anju.audit.models import AuditRecord
from anju.compensation import service as compensation_service
from anju.core.actor import Actor
from anju.demo.policies import POLICY_DIR
from anju.errors import Conflict, NotFound
from anju.housing import rules
from anju.housing import service as housing_service
from anju.housing.models import SelectionEvent, SelectionOrderEntry
from anju.identity.service import DataScope
from anju.project import service as project_service
from tests.factories import ACTOR, World, build_world

SOURCE = (POLICY_DIR / "shantytown.yaml").read_text(encoding="utf-8")
EVERYTHING = DataScope.everything()
TODAY = date(2024, 4, 20)
OFFICER = Actor(user_id=None, username="jingban", display_name="经办人", role="case_officer")
SEED = "2024-05-01 福彩3D 第2024115期 开奖号 3 9 4"


def _world(db: Session, households: int = 6) -> World:
    world = build_world(db, households=households, code="XF")
    compensation_service.publish(db, actor=ACTOR, project_id=world.project_id, source=SOURCE)
    return world


def _sign(db: Session, hid: int, option: str = "swap") -> int:
    a = agreement_service.sign(
        db, actor=OFFICER, scope=EVERYTHING, household_id=hid, option=option, sign_on=TODAY, today=TODAY
    )
    return int(a.sign_no)


def _event(db: Session, world: World, kind: str) -> SelectionEvent:
    estate = housing_service.create_estate(
        db, actor=OFFICER, project_id=world.project_id, code="E1", name="安置一期"
    )
    return housing_service.create_event(
        db,
        actor=OFFICER,
        project_id=world.project_id,
        name="第一批选房",
        order_kind=kind,
        estate_ids=[estate.id],
        held_on=date(2024, 5, 2),
    )


def _codes(db: Session, event_id: int) -> list[str]:
    return [line.code for line in housing_service.event_order(db, event_id=event_id).lines]


def test_sign_order_takes_the_live_swap_households_by_sign_number(db: Session) -> None:
    w = _world(db)
    h = w.household_ids
    # signing order: H0003 swap, H0001 cash, H0005 swap, H0002 swap
    assert [_sign(db, h[2]), _sign(db, h[0], "cash"), _sign(db, h[4]), _sign(db, h[1])] == [1, 2, 3, 4]
    assert [
        (e.code, e.sign_no) for e in housing_service.eligible_households(db, project_id=w.project_id)
    ] == [
        ("H0003", 1),
        ("H0005", 3),
        ("H0002", 4),
    ]
    event = _event(db, w, "sign_order")
    with pytest.raises(Conflict) as exc:
        housing_service.fix_order(db, actor=OFFICER, event_id=event.id, seed="123")
    assert exc.value.code == "seed_not_used"
    entries = housing_service.fix_order(db, actor=OFFICER, event_id=event.id, expected_version=event.version)
    assert [(e.position, e.call_order, e.sign_no, e.draw_key, e.status) for e in entries] == [
        (1, 1, 1, "", "waiting"),
        (2, 2, 3, "", "waiting"),
        (3, 3, 4, "", "waiting"),
    ]
    view = housing_service.event_order(db, event_id=event.id)
    assert view.fixed and [(x.code, x.head_name_masked) for x in view.lines] == [
        ("H0003", "王**"),
        ("H0005", "陈**"),
        ("H0002", "李**"),
    ]
    check = housing_service.verify_event_order(db, event_id=event.id)
    assert (check.ok, check.problems) == (True, [])
    # fixed once: a second fixing is refused and changes nothing
    with pytest.raises(Conflict) as again:
        housing_service.fix_order(db, actor=OFFICER, event_id=event.id)
    assert again.value.code == "order_fixed"
    assert db.scalar(select(func.count()).select_from(SelectionOrderEntry)) == 3
    record = db.scalars(select(AuditRecord).where(AuditRecord.action == "fix_order")).one()
    assert json.loads(record.changes)["order"] == [None, ["H0003", "H0005", "H0002"]]


def test_an_event_without_swap_households_or_with_a_foreign_estate_is_refused(db: Session) -> None:
    w = _world(db, households=2)
    _sign(db, w.household_ids[0], "cash")
    event = _event(db, w, "sign_order")
    with pytest.raises(Conflict) as exc:
        housing_service.fix_order(db, actor=OFFICER, event_id=event.id)
    assert exc.value.code == "no_households"
    other = project_service.create_project(db, actor=ACTOR, code="XG", name="另一项目", kind="state_land")
    foreign = housing_service.create_estate(
        db, actor=OFFICER, project_id=other.id, code="F1", name="他项目小区"
    )
    with pytest.raises(NotFound) as nf:
        housing_service.create_event(
            db,
            actor=OFFICER,
            project_id=w.project_id,
            name="错",
            order_kind="lottery",
            estate_ids=[foreign.id],
        )
    assert nf.value.details == [
        {"field": "estate_ids", "message": f"小区编号 {foreign.id} 不存在或不属于该项目"}
    ]


def test_the_lottery_needs_its_commitment_first_and_the_seed_that_matches_it(db: Session) -> None:
    w = _world(db)
    for i in (0, 1, 2, 3):
        _sign(db, w.household_ids[i])
    event = _event(db, w, "lottery")
    with pytest.raises(Conflict) as exc:
        housing_service.fix_order(db, actor=OFFICER, event_id=event.id, seed=SEED)
    assert exc.value.code == "not_committed"
    commitment = hashlib.sha256(SEED.encode()).hexdigest()
    published = housing_service.publish_commitment(
        db,
        actor=OFFICER,
        event_id=event.id,
        seed_source="2024-05-01 福彩3D 开奖号（三位数字以空格分隔）",
        seed_hash=commitment.upper(),
    )
    assert published.seed_committed_hash == commitment and published.seed is None
    assert published.roster_hash == rules.roster_hash(["H0001", "H0002", "H0003", "H0004"])
    # before the draw the page shows the published roster in sign order, without positions
    before = housing_service.event_order(db, event_id=event.id)
    assert not before.fixed and [(x.position, x.code) for x in before.lines] == [
        (0, "H0001"),
        (0, "H0002"),
        (0, "H0003"),
        (0, "H0004"),
    ]
    with pytest.raises(Conflict) as twice:
        housing_service.publish_commitment(db, actor=OFFICER, event_id=event.id, seed_source="换一个")
    assert twice.value.code == "already_committed"
    # a household that signs after the commitment does not enter the roster
    _sign(db, w.household_ids[4])
    version = housing_service.get_event(db, event_id=event.id).version
    for bad, code in ((None, "seed_required"), (SEED + "0", "seed_mismatch")):
        with pytest.raises(Conflict) as refused:
            housing_service.fix_order(db, actor=OFFICER, event_id=event.id, seed=bad)
        assert refused.value.code == code
    assert housing_service.get_event(db, event_id=event.id).version == version
    assert db.scalar(select(func.count()).select_from(SelectionOrderEntry)) == 0
    entries = housing_service.fix_order(db, actor=OFFICER, event_id=event.id, seed=f"  {SEED} ")
    expected = rules.lottery_order(SEED, ["H0001", "H0002", "H0003", "H0004"])
    assert _codes(db, event.id) == [p.code for p in expected]
    assert [e.draw_key for e in entries] == [p.draw_key for p in expected]
    assert housing_service.get_event(db, event_id=event.id).seed == SEED
    assert housing_service.verify_event_order(db, event_id=event.id).ok


def test_a_household_whose_swap_agreement_ended_keeps_its_place_marked_absent(db: Session) -> None:
    w = _world(db, households=3)
    for hid in w.household_ids:
        _sign(db, hid)
    event = _event(db, w, "lottery")
    housing_service.publish_commitment(db, actor=OFFICER, event_id=event.id, seed_source="公证处封存的种子")
    leaving = agreement_service.agreement_for_household(db, scope=EVERYTHING, household_id=w.household_ids[1])
    assert leaving is not None
    db.execute(update(type(leaving)).where(type(leaving).id == leaving.id).values(status="cancelled"))
    entries = housing_service.fix_order(db, actor=OFFICER, event_id=event.id, seed="封存种子 42")
    status = {e.household_id: e.status for e in entries}
    assert status == {
        w.household_ids[0]: "waiting",
        w.household_ids[1]: "absent",
        w.household_ids[2]: "waiting",
    }
    assert housing_service.verify_event_order(db, event_id=event.id).ok


def test_the_check_names_a_tampered_order_a_changed_seed_and_a_changed_roster(db: Session) -> None:
    w = _world(db, households=4)
    for hid in w.household_ids:
        _sign(db, hid)
    event = _event(db, w, "lottery")
    housing_service.publish_commitment(
        db, actor=OFFICER, event_id=event.id, seed_source="s", seed_hash=rules.seed_commitment(SEED)
    )
    entries = housing_service.fix_order(db, actor=OFFICER, event_id=event.id, seed=SEED)
    first, second = entries[0], entries[1]
    codes = _codes(db, event.id)
    # someone swaps the first two households in the database
    db.execute(update(SelectionOrderEntry).where(SelectionOrderEntry.id == first.id).values(position=99))
    db.execute(update(SelectionOrderEntry).where(SelectionOrderEntry.id == second.id).values(position=1))
    db.execute(update(SelectionOrderEntry).where(SelectionOrderEntry.id == first.id).values(position=2))
    db.expire_all()
    check = housing_service.verify_event_order(db, event_id=event.id)
    assert not check.ok
    assert check.problems == [f"第 1 位应为 {codes[0]}，记录为 {codes[1]}（第 1 位）"]
    # ...or changes the stored seed (it no longer matches the commitment)
    db.execute(update(SelectionEvent).where(SelectionEvent.id == event.id).values(seed=SEED + "x"))
    db.expire_all()
    problems = housing_service.verify_event_order(db, event_id=event.id).problems
    assert problems[0].startswith("种子与事先公布的承诺值不符")
    # ...or the roster
    roster = json.loads(housing_service.get_event(db, event_id=event.id).roster)
    db.execute(
        update(SelectionEvent)
        .where(SelectionEvent.id == event.id)
        .values(roster=json.dumps(roster[:-1]), seed=SEED)
    )
    db.expire_all()
    problems = housing_service.verify_event_order(db, event_id=event.id).problems
    assert problems[0].startswith("参加户名单与公布的名单指纹")


def test_event_flats_and_summaries(db: Session) -> None:
    w = _world(db, households=1)
    event = _event(db, w, "sign_order")
    [estate] = housing_service.event_estates(db, event_id=event.id)
    sheet = housing_service.read_flat_sheet(
        _flat_list([["1幢", 1, 1, "101", "A", 90, 75], ["1幢", 1, 2, "201", "A", 90, 75]]), "房源.xlsx"
    )
    housing_service.import_flats(db, actor=OFFICER, estate_id=estate.id, rows=sheet)
    flats = housing_service.event_flats(db, event_id=event.id, status="available")
    assert [r.flat.code for r in flats] == ["1-1-101", "1-1-201"]
    housing_service.change_flat_status(
        db, actor=OFFICER, flat_id=flats[0].flat.id, status="frozen", reason="渗水"
    )
    assert [r.flat.code for r in housing_service.event_flats(db, event_id=event.id, status="available")] == [
        "1-1-201"
    ]
    [summary] = housing_service.list_events(db, project_id=w.project_id)
    assert (summary.kind_label, summary.status_label, summary.households) == ("按签约顺序号", "筹备中", 0)
    assert (summary.counts["available"], summary.counts["frozen"]) == (1, 1)
    with pytest.raises(NotFound):
        housing_service.event_flats(db, event_id=10**9)


def _flat_list(rows: list[list[object]]) -> bytes:
    import io

    import xlsxwriter

    out = io.BytesIO()
    wb = xlsxwriter.Workbook(out, {"in_memory": True})
    ws = wb.add_worksheet()
    ws.write_row(0, 0, ["楼栋", "单元", "楼层", "房号", "户型", "建筑面积", "套内面积"])
    for i, r in enumerate(rows, start=1):
        ws.write_row(i, 0, r)
    wb.close()
    return out.getvalue()
