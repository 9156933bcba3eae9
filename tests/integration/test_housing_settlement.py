"""Settlement of chosen flats (多退少补) and monthly transition fees on SQLite, PostgreSQL and MariaDB:
finishing a household settles its flats from the agreement's frozen snapshot into a receivable (it
pays) or a due refund instalment (it is refunded), exact to the fen; receipts; an undo cancels the
untouched record and is refused (nothing changed) once money came in; delivery dates (version,
409, audit) drive transition instalments that are idempotent and recomputed without paying twice."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from anju.agreement import service as agreement_service
from anju.agreement.models import Instalment, Receivable
from anju.audit.models import AuditRecord
from anju.core.dates import today_shanghai
from anju.errors import Conflict, ValidationFailed
from anju.housing import service as housing_service
from anju.housing.models import Estate, Flat, Selection
from anju.identity.service import DataScope
from tests.integration import selection_world
from tests.integration.selection_world import OFFICER, SUPERVISOR, make_event

ALL = DataScope.everything()
# One-person households under the demo rural policy: entitled 1 × 50 + 10 = 60 ㎡; credit = land (no
# homestead: 0) + buildings 88.50 ㎡ × 1200 = 106,200 元; cost price 2200, extra (15 ㎡) 3500,
# untaken entitled area refunded at the cost price.
FLATS = [
    ("1幢", 1, 1, "101", "A", 70, 60),  # 60 × 2200 + 10 × 3500 = 167,000 → pays 60,800 元
    ("1幢", 1, 2, "201", "C", 45, 38),  # 45 × 2200 = 99,000; refund 15 × 2200 = 33,000 → refunded 40,200 元
    ("1幢", 1, 3, "301", "A", 70, 60),
]


def _settlement_rows(db: Session) -> tuple[list[Instalment], list[Receivable]]:
    inst = list(db.scalars(select(Instalment).where(Instalment.kind == "settlement").order_by(Instalment.id)))
    rec = list(db.scalars(select(Receivable).order_by(Receivable.id)))
    return inst, rec


def _audits(db: Session, action: str, entity: str) -> int:
    q = (
        select(func.count())
        .select_from(AuditRecord)
        .where(AuditRecord.action == action, AuditRecord.entity == entity)
    )
    return int(db.scalar(q) or 0)


def _choose(db: Session, sw: selection_world.SelectionWorld, hid: int, code: str) -> Selection:
    sel = housing_service.select_flat(
        db, actor=OFFICER, event_id=sw.event_id, household_id=hid, flat_id=sw.flats[code]
    )
    housing_service.finish_household(db, actor=OFFICER, event_id=sw.event_id, household_id=hid)
    return sel


def test_a_household_that_pays_gets_a_receivable_and_finance_records_the_receipt(db: Session) -> None:
    sw = make_event(db, households=2, flats=FLATS)
    first = sw.order[0]
    _choose(db, sw, first, "1-1-101")
    inst, (rec,) = _settlement_rows(db)
    assert inst == []
    assert (rec.household_id, rec.kind, rec.amount_fen, rec.received_fen, rec.status, rec.due_on) == (
        first,
        "settlement",
        6_080_000,
        0,
        "open",
        today_shanghai(),
    )
    assert rec.purpose == "选房结算补交差价（1-1-101）"
    assert _audits(db, "settle", "settlement") == 1 and _audits(db, "create", "receivable") == 1
    view = housing_service.household_settlement(db, scope=ALL, household_id=first)
    s = view.settlement
    assert s is not None and view.error == ""
    assert [(x.area, x.unit_price, x.amount_fen) for x in s.lines] == [
        (60, 2200, 13_200_000),
        (10, 3500, 3_500_000),
    ]
    assert (s.entitled_area, s.selected_area, s.credit_fen, s.refund_fen, s.balance_fen) == (
        60,
        70,
        10_620_000,
        0,
        6_080_000,
    )
    assert view.receivable is not None and view.receivable.id == rec.id and view.policy_version == 1
    assert [r.receivable.id for r in agreement_service.open_receivables(db, sw.world.project_id)] == [rec.id]
    # A receipt for more than is owed is refused and changes nothing.
    with pytest.raises(ValidationFailed) as exc:
        agreement_service.record_receipt(
            db,
            actor=OFFICER,
            receivable_id=rec.id,
            amount_fen=6_080_001,
            received_on=date(2026, 12, 1),
            receipt_ref="R1",
        )
    assert exc.value.message_zh == "收款金额应大于 0 且不超过待收金额 60,800.00 元"
    db.refresh(rec)
    assert (rec.received_fen, rec.status, rec.version) == (0, "open", 1)
    agreement_service.record_receipt(
        db,
        actor=OFFICER,
        receivable_id=rec.id,
        amount_fen=1_000_000,
        received_on=date(2026, 12, 1),
        receipt_ref="回单001",
        expected_version=1,
    )
    assert (rec.received_fen, rec.status, rec.version) == (1_000_000, "open", 2)
    with pytest.raises(Conflict) as stale:
        agreement_service.record_receipt(
            db,
            actor=OFFICER,
            receivable_id=rec.id,
            amount_fen=5_080_000,
            received_on=date(2026, 12, 2),
            receipt_ref="回单002",
            expected_version=1,
        )
    assert stale.value.code == "stale_version"
    agreement_service.record_receipt(
        db,
        actor=OFFICER,
        receivable_id=rec.id,
        amount_fen=5_080_000,
        received_on=date(2026, 12, 2),
        receipt_ref="回单002",
        expected_version=2,
    )
    assert (rec.received_fen, rec.status, rec.receipt_ref, rec.received_on) == (
        6_080_000,
        "received",
        "回单001; 回单002",
        date(2026, 12, 2),
    )
    assert agreement_service.open_receivables(db, sw.world.project_id) == []
    assert _audits(db, "receipt", "receivable") == 2


def test_a_household_refunded_gets_a_due_settlement_instalment(db: Session) -> None:
    sw = make_event(db, households=1, flats=FLATS)
    (hid,) = sw.order
    _choose(db, sw, hid, "1-1-201")
    (inst,), rec = _settlement_rows(db)
    assert rec == []
    assert (inst.household_id, inst.amount_fen, inst.status, inst.due_on, inst.paid_fen) == (
        hid,
        4_020_000,
        "due",
        today_shanghai(),
        0,
    )
    assert inst.purpose == "选房结算退还差额（1-1-201）"
    view = housing_service.household_settlement(db, scope=ALL, household_id=hid)
    assert view.settlement is not None
    assert (view.settlement.refund_fen, view.settlement.flats_cost_fen, view.settlement.balance_fen) == (
        3_300_000,
        9_900_000,
        -4_020_000,
    )
    assert housing_service.balance_text(view.settlement.balance_fen) == "应退还该户 40,200.00 元"
    # the payment domain sees it among what is due
    assert inst.id in [i.id for i in agreement_service.due_instalments(db, sw.world.project_id)]


def test_undo_cancels_an_untouched_settlement_and_is_refused_once_money_came_in(db: Session) -> None:
    sw = make_event(db, households=2, flats=FLATS)
    first, second = sw.order
    sel = _choose(db, sw, first, "1-1-101")
    housing_service.undo_selection(db, actor=SUPERVISOR, selection_id=sel.id, reason="选错房号")
    _, (rec,) = _settlement_rows(db)
    assert (rec.status, rec.cancel_reason) == ("cancelled", "撤销选房：选错房号")
    # the finished household holds no flat now: nothing is settled again
    assert _audits(db, "settle", "settlement") == 1
    # the second household settles, pays part, and its undo is refused with nothing changed
    sel2 = _choose(db, sw, second, "1-1-301")
    _, (_, rec2) = _settlement_rows(db)
    agreement_service.record_receipt(
        db,
        actor=OFFICER,
        receivable_id=rec2.id,
        amount_fen=100,
        received_on=date(2026, 12, 1),
        receipt_ref="R9",
    )
    with pytest.raises(Conflict) as exc:
        housing_service.undo_selection(db, actor=SUPERVISOR, selection_id=sel2.id, reason="改选")
    assert exc.value.code == "receivable_received"
    assert exc.value.message_zh == (
        "不能撤销选房：该户已就“选房结算补交差价（1-1-301）”交款 1.00 元，不能撤回；请先办理退款或协议变更"
    )
    db.refresh(sel2)
    db.refresh(rec2)
    flat = db.get(Flat, sw.flats["1-1-301"])
    assert flat is not None
    assert (sel2.status, flat.status, rec2.status) == ("confirmed", "selected", "open")


def test_a_second_finish_with_the_same_flats_writes_nothing_new(db: Session) -> None:
    sw = make_event(db, households=1, flats=FLATS)
    (hid,) = sw.order
    _choose(db, sw, hid, "1-1-101")
    s = housing_service.settle_household(db, actor=OFFICER, household_id=hid, on=date(2026, 12, 9))
    assert s is not None and s.balance_fen == 6_080_000
    _, recs = _settlement_rows(db)
    assert [(r.status, r.due_on) for r in recs] == [("open", today_shanghai())]
    assert _audits(db, "settle", "settlement") == 1


# ----------------------------------------------------------------------------- transition fees

TRANSITION = """
transition:
  label: 临时安置费（按月）
  monthly: persons * transition_rate
  start: vacate_on
  grace_months: 3
  late_multiplier: 2
  months: started
"""


@pytest.fixture
def monthly_policy(monkeypatch: pytest.MonkeyPatch) -> None:
    """The rural policy paying transition fees monthly (400 元/人/月, x2 when late) instead of 18 months at once."""
    lump = "  - id: transition\n    label: 过渡费\n    options: [swap]\n    formula: persons * transition_rate * transition_months\n"
    assert lump in selection_world.RURAL
    monkeypatch.setattr(selection_world, "RURAL", selection_world.RURAL.replace(lump, "") + TRANSITION)


def _transition(db: Session, hid: int) -> list[tuple[int, str]]:
    rows = db.scalars(
        select(Instalment)
        .where(Instalment.household_id == hid, Instalment.kind == "transition")
        .order_by(Instalment.id)
    )
    return [(i.amount_fen, i.status) for i in rows]


@pytest.mark.usefixtures("monthly_policy")
def test_transition_fees_follow_the_months_and_the_delivery_dates_without_paying_twice(db: Session) -> None:
    sw = make_event(db, households=1, flats=FLATS)
    (hid,) = sw.order
    _choose(db, sw, hid, "1-1-101")
    pid = sw.world.project_id
    # no planned delivery yet: nothing scheduled, the reason given
    run = housing_service.schedule_transition_fees(db, actor=OFFICER, as_of=date(2024, 8, 20), project_id=pid)
    assert (run.households, run.added, run.skipped) == (1, [], {hid: "安置小区“安置一期”未设定计划交房日期"})
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
    assert (estate.planned_delivery_on, estate.version) == (date(2025, 6, 30), 2)
    run = housing_service.schedule_transition_fees(db, actor=OFFICER, as_of=date(2024, 8, 20), project_id=pid)
    assert run.skipped == {hid: "尚未腾空验收：过渡费自腾空之日起算"}
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
    # 2024-06-15, 07-15, 08-15 have begun by 08-20: 3 × 400 元
    run = housing_service.schedule_transition_fees(db, actor=OFFICER, as_of=date(2024, 8, 20), project_id=pid)
    assert [(i.amount_fen, i.due_on) for i in run.added] == [(120_000, date(2024, 8, 20))]
    assert run.added[0].purpose == "临时安置费（按月） 第1-3月（2024-06-15至2024-09-14）"
    # the same day again (another worker, the CLI): nothing new
    again = housing_service.schedule_transition_fees(
        db, actor=OFFICER, as_of=date(2024, 8, 20), project_id=pid
    )
    assert (again.added, again.cancelled) == ([], [])
    run = housing_service.schedule_transition_fees(db, actor=OFFICER, as_of=date(2024, 9, 15), project_id=pid)
    assert [i.amount_fen for i in run.added] == [40_000]
    assert run.added[0].purpose == "临时安置费（按月） 第4月（2024-09-15至2024-10-14）"
    # delivered late (2025-12-20; due 2025-06-30 + 3 months = 09-30): up to 2026-03-19, months from
    # 2025-09-15 (it reaches past 09-30) at 800 元: 15 × 400 + 7 × 800 = 11,600 元, 1,600 already scheduled
    _, run = housing_service.update_estate_delivery(
        db,
        actor=OFFICER,
        estate_id=estate.id,
        expected_version=2,
        changes={"actual_delivery_on": date(2025, 12, 20)},
        today=date(2026, 6, 1),
    )
    assert [i.amount_fen for i in run.added] == [1_000_000]
    assert run.added[0].purpose == "临时安置费（按月） 第5-22月（2024-10-15至2026-04-14）"
    ht = housing_service.household_transition(db, household_id=hid, as_of=date(2026, 6, 1))
    assert ht is not None and ht.fees is not None
    assert (ht.fees.normal_months, ht.fees.late_months, ht.fees.total_fen, ht.fees.final) == (
        15,
        7,
        1_160_000,
        True,
    )
    # a stale version is refused and changes nothing
    with pytest.raises(Conflict) as exc:
        housing_service.update_estate_delivery(
            db,
            actor=OFFICER,
            estate_id=estate.id,
            expected_version=2,
            changes={"planned_delivery_on": date(2025, 12, 31)},
            today=date(2026, 6, 1),
        )
    assert exc.value.code == "stale_version"
    assert (estate.planned_delivery_on, estate.version) == (date(2025, 6, 30), 3)
    # the planned date corrected to 2025-12-31: no late month any more (22 × 400 = 8,800 元); the
    # untouched 10,000 元 instalment is cancelled and 7,200 元 added
    _, run = housing_service.update_estate_delivery(
        db,
        actor=OFFICER,
        estate_id=estate.id,
        expected_version=3,
        changes={"planned_delivery_on": date(2025, 12, 31)},
        today=date(2026, 6, 1),
    )
    assert ([i.amount_fen for i in run.cancelled], [i.amount_fen for i in run.added]) == (
        [1_000_000],
        [720_000],
    )
    assert _transition(db, hid) == [
        (120_000, "due"),
        (40_000, "due"),
        (1_000_000, "cancelled"),
        (720_000, "due"),
    ]
    assert sum(a for a, s in _transition(db, hid) if s != "cancelled") == 880_000
    assert _audits(db, "delivery", "estate") == 3


def test_delivery_dates_are_checked(db: Session) -> None:
    sw = make_event(db, households=1, flats=FLATS)
    estate = db.get(Estate, sw.estate_id)
    assert estate is not None
    with pytest.raises(Conflict) as exc:
        housing_service.update_estate_delivery(
            db,
            actor=OFFICER,
            estate_id=estate.id,
            expected_version=1,
            changes={"actual_delivery_on": date(2026, 6, 2)},
            today=date(2026, 6, 1),
        )
    assert (exc.value.code, exc.value.message_zh) == (
        "delivery_date",
        "实际交房日期不能晚于今天（2026-06-01）",
    )
    assert (estate.actual_delivery_on, estate.version) == (None, 1)
    assert _audits(db, "delivery", "estate") == 0


def test_a_settlement_refund_waiting_for_a_condition_falls_due_when_the_agreement_takes_effect(
    db: Session,
) -> None:
    sw = make_event(db, households=1, flats=FLATS)
    (hid,) = sw.order
    a = agreement_service.agreement_for_household(db, scope=ALL, household_id=hid)
    assert a is not None and a.status == "effective"
    # as recorded for a pending agreement: scheduled, no date
    waiting = agreement_service.add_instalment(
        db,
        actor=OFFICER,
        agreement=a,
        kind="settlement",
        amount_fen=4_020_000,
        purpose="选房结算退还差额（1-1-201）",
    )
    adjustment = agreement_service.add_instalment(
        db, actor=OFFICER, agreement=a, kind="adjustment", amount_fen=100, purpose="协议变更差额"
    )
    assert (waiting.status, adjustment.status) == ("scheduled", "scheduled")
    made = agreement_service.release_instalments(db, actor=OFFICER, agreement=a, on=date(2026, 12, 8))
    assert waiting in made and adjustment not in made
    assert (waiting.status, waiting.due_on, adjustment.status) == ("due", date(2026, 12, 8), "scheduled")
