"""Collective rewards on SQLite, PostgreSQL and MariaDB: an agreement signed before its block reached
the rate gets the reward later, once, as a ``collective`` instalment per item; the snapshot stays."""

from __future__ import annotations

from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from anju.agreement import service as agreement_service
from anju.agreement.models import Agreement, AgreementSnapshot, Instalment
from anju.core.actor import Actor
from anju.identity.service import DataScope
from tests.integration.test_clearance import CHECKED, OFFICER, SIGN_ON, TODAY, _world

EVERYTHING = DataScope.everything()
JOB = Actor.system("collective_rewards")
IN_TIME = date(2024, 6, 20)  # before the demo policy's 整地块腾空截止日 2024-06-30
# The demo policy: 整地块腾空奖励 10,000 元 when the block is 100% vacated by 2024-06-30; 集体签约奖励
# 5,000 元 at an 85% sign rate of the 片区 by the signing deadline, 500 元 more per further whole point.
BLOCK_VACATE = 1_000_000
COLLECTIVE_SIGN = 500_000 + 15 * 50_000


def _item(snap: AgreementSnapshot, item_id: str) -> int:
    return sum(int(i["amount_fen"]) for i in agreement_service.items_of(snap) if i["id"] == item_id)


def _collective(db: Session, a: Agreement) -> dict[str, int]:
    out: dict[str, int] = {}
    for i in agreement_service.instalments(db, a.id):
        if i.kind == "collective" and i.status != "cancelled":
            out[i.item_ids] = out.get(i.item_ids, 0) + i.amount_fen
    return out


def _everyone_signed_and_vacated(db: Session) -> tuple[int, list[Agreement]]:
    world = _world(db, households=3, code="CR")
    agreements = [
        agreement_service.sign(
            db,
            actor=OFFICER,
            scope=EVERYTHING,
            household_id=hid,
            option="cash",
            sign_on=SIGN_ON,
            today=SIGN_ON,
        )
        for hid in world.household_ids
    ]
    for hid in world.household_ids:
        agreement_service.record_vacating(
            db,
            actor=OFFICER,
            scope=EVERYTHING,
            household_id=hid,
            vacated_on=IN_TIME,
            checklist=CHECKED,
            keys_handed=2,
            inspector="王验收",
            today=TODAY,
        )
    return world.project_id, agreements


def test_rewards_earned_after_signing_are_added_once(db: Session) -> None:
    project_id, agreements = _everyone_signed_and_vacated(db)
    frozen = {a.id: agreement_service.get_snapshot(db, a) for a in agreements}
    # Each signed before its block was vacated: nobody's snapshot holds the 整地块腾空奖励.
    assert [_item(frozen[a.id], "block_vacate") for a in agreements] == [0, 0, 0]

    run = agreement_service.check_collective_rewards(db, actor=JOB, project_id=project_id, today=TODAY)

    assert run.checked == 3 and run.fallen == []
    for a in agreements:
        snap = frozen[a.id]
        added = _collective(db, a)
        # what was signed plus what was added is the whole reward, for every household
        assert _item(snap, "block_vacate") + added.get("block_vacate", 0) == BLOCK_VACATE
        assert _item(snap, "collective_sign") + added.get("collective_sign", 0) == COLLECTIVE_SIGN
        rows = [i for i in agreement_service.instalments(db, a.id) if i.kind == "collective"]
        assert all(i.status == "due" and i.due_on == TODAY for i in rows)
        assert {i.purpose for i in rows} >= {f"{a.agreement_no} 整地块腾空奖励"}
        # the snapshot is what was signed
        assert agreement_service.get_snapshot(db, a).items == snap.items
    assert len(run.added) == sum(len(_collective(db, a)) for a in agreements)

    instalments = db.scalar(select(func.count()).select_from(Instalment))
    again = agreement_service.check_collective_rewards(db, actor=JOB, project_id=project_id, today=TODAY)
    assert again.added == [] and again.fallen == []
    assert db.scalar(select(func.count()).select_from(Instalment)) == instalments


def test_a_rate_that_falls_again_is_reported_not_taken_back(db: Session) -> None:
    project_id, agreements = _everyone_signed_and_vacated(db)
    agreement_service.check_collective_rewards(db, actor=JOB, project_id=project_id, today=TODAY)
    before = {a.id: _collective(db, a) for a in agreements}
    # one vacating voided: its block is no longer 100% vacated by the deadline
    agreement_service.void_vacating(
        db, actor=OFFICER, scope=EVERYTHING, household_id=agreements[2].household_id, reason="登记有误"
    )

    run = agreement_service.check_collective_rewards(db, actor=JOB, project_id=project_id, today=TODAY)

    assert run.added == []
    block = agreement_service.snapshot_facts(agreement_service.get_snapshot(db, agreements[2])).block_code
    same_block = [
        a
        for a in agreements
        if agreement_service.snapshot_facts(agreement_service.get_snapshot(db, a)).block_code == block
    ]
    assert len(same_block) == 2  # the other block is still wholly vacated: its reward stands
    assert sorted(run.fallen) == sorted((a.id, "block_vacate", BLOCK_VACATE) for a in same_block)
    assert {a.id: _collective(db, a) for a in agreements} == before


def test_no_live_agreements_nothing_to_do(db: Session) -> None:
    world = _world(db, households=2, code="CN")
    run = agreement_service.check_collective_rewards(db, actor=JOB, project_id=world.project_id, today=TODAY)
    assert (run.checked, run.added, run.fallen) == (0, [], [])
    assert world.project_id not in agreement_service.projects_with_live_agreements(db)
