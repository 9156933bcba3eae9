"""Amendments, cancellations and conditional agreements, on every database.

A signed agreement never changes behind the family's back: an edit of the household's facts only
raises the "amendment may be needed" flag with the difference; an amendment approved by a leader
other than the requester writes the next snapshot and an adjustment; a cancellation keeps every
record; a condition decides a pending agreement effective or void.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from anju.agreement import service as agreement_service
from anju.agreement.models import Agreement, AgreementChange, AgreementSnapshot, Instalment
from anju.audit import service as audit_service
from anju.campaign import service as campaign_service
from anju.compensation import service as compensation_service
from anju.core.actor import Actor
from anju.core.dates import today_shanghai
from anju.demo.policies import POLICY_DIR
from anju.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from anju.household import service as household_service
from anju.identity.rules import ScopeKind
from anju.identity.service import DataScope
from tests.factories import ACTOR, World, build_world

ALL = DataScope.everything()
SOURCE = (POLICY_DIR / "shantytown.yaml").read_text(encoding="utf-8")
SIGN_ON = date(2026, 11, 20)
TODAY = today_shanghai()


def _world(db: Session, households: int = 6) -> World:
    w = build_world(db, households=households)
    compensation_service.publish(db, actor=ACTOR, project_id=w.project_id, source=SOURCE)
    return w


def _user(w: World, role: str) -> Actor:
    return Actor(user_id=w.users[role], username=role, display_name=f"测试{role}", role=role)


def _sign(db: Session, w: World, index: int, on: date = SIGN_ON) -> Agreement:
    return agreement_service.sign(
        db,
        actor=_user(w, "case_officer"),
        scope=ALL,
        household_id=w.household_ids[index],
        option="cash",
        sign_on=on,
        today=TODAY,
    )


def _set_area(db: Session, w: World, index: int, area: str) -> None:
    f = household_service.get_household_file(db, scope=ALL, household_id=w.household_ids[index])
    household_service.update_building(
        db, actor=ACTOR, scope=ALL, building_id=f.buildings[0].building.id, data={"legal_area": area}
    )


def _instalments(db: Session, agreement_id: int) -> list[tuple[str, int, int, str]]:
    return [
        (i.kind, i.amount_fen, i.paid_fen, i.status)
        for i in db.scalars(
            select(Instalment).where(Instalment.agreement_id == agreement_id).order_by(Instalment.id)
        )
    ]


def _snapshots(db: Session, agreement_id: int) -> list[tuple[int, int]]:
    return [
        (s.revision, s.total_fen)
        for s in db.scalars(
            select(AgreementSnapshot)
            .where(AgreementSnapshot.agreement_id == agreement_id)
            .order_by(AgreementSnapshot.revision)
        )
    ]


def _state(db: Session, a: Agreement) -> tuple[object, ...]:
    db.refresh(a)
    changes = [
        (c.kind, c.status)
        for c in db.scalars(select(AgreementChange).where(AgreementChange.agreement_id == a.id))
    ]
    return (
        a.status,
        a.total_fen,
        a.snapshot_id,
        a.version,
        _snapshots(db, a.id),
        _instalments(db, a.id),
        changes,
    )


# ---------------------------------------------------------------- the flag


def test_editing_the_area_keeps_the_total_and_raises_the_flag_with_the_difference(db: Session) -> None:
    w = _world(db)
    a = _sign(db, w, 0)
    signed_total = a.total_fen
    snap_before = _snapshots(db, a.id)
    assert a.amendment_flag is False

    _set_area(db, w, 0, "90.00")  # 88.50 ㎡ → 90.00 ㎡
    db.refresh(a)
    assert a.total_fen == signed_total  # the agreement does not move
    assert _snapshots(db, a.id) == snap_before

    check = agreement_service.amendment_check(db, scope=ALL, agreement_id=a.id)
    assert check.flag is True
    diffs = {d.id: (d.signed_fen, d.current_fen) for d in check.items}
    # 1.50 ㎡ more: house value 1.5 × 10,500, the 10% cash bonus on it, removal 1.5 × 15, transition 1.5 × 12 × 6
    assert diffs["house_value"] == (92_925_000, 94_500_000)
    assert diffs["cash_bonus"] == (9_292_500, 9_450_000)
    assert diffs["relocation_cash"] == (132_750, 135_000)
    assert diffs["transition_cash"] == (637_200, 648_000)
    assert check.diff_fen == sum(d.diff_fen for d in check.items)
    assert check.diff_fen >= 1_575_000 + 157_500 + 2_250 + 10_800
    assert check.current_total_fen == signed_total + check.diff_fen
    assert [(f.path, f.signed, f.current) for f in check.facts] == [
        ("buildings[0].legal_area", "88.50", "90.00")
    ]
    assert check.facts[0].label == "房屋1（Z00001） 合法面积"
    # stored on the agreement: the household panel shows it without computing
    db.refresh(a)
    assert (a.amendment_flag, a.amendment_diff_fen) == (True, check.diff_fen)
    assert a.amendment_checked_at is not None
    assert a.total_fen == signed_total

    _set_area(db, w, 0, "88.50")  # back as signed: no amendment needed
    check = agreement_service.amendment_check(db, scope=ALL, agreement_id=a.id)
    assert (check.flag, check.diff_fen, check.items) == (False, 0, [])
    db.refresh(a)
    assert (a.amendment_flag, a.amendment_diff_fen) == (False, 0)


def test_check_amendments_flags_a_whole_project_after_a_new_policy(db: Session) -> None:
    w = _world(db)
    a0, a1 = _sign(db, w, 0), _sign(db, w, 1)
    run = agreement_service.check_amendments(db, project_id=w.project_id)
    assert (run.checked, run.flagged, run.raised, run.cleared, run.problems) == (2, 0, 0, 0, [])
    richer = SOURCE.replace(
        "relocation_rate: {label: 搬迁费, unit: 元/㎡, value: 15",
        "relocation_rate: {label: 搬迁费, unit: 元/㎡, value: 18",
    )
    assert richer != SOURCE
    compensation_service.publish(db, actor=ACTOR, project_id=w.project_id, source=richer)
    run = agreement_service.check_amendments(db, project_id=w.project_id)
    assert (run.checked, run.flagged, run.raised, run.cleared) == (2, 2, 2, 0)
    for a in (a0, a1):
        db.refresh(a)
        assert a.amendment_flag is True
        assert a.amendment_diff_fen == 88_50 * 3  # 88.50 ㎡ × 3 元 more removal money
    check = agreement_service.amendment_check(db, scope=ALL, agreement_id=a0.id, store=False)
    assert (check.signed_policy_version, check.current_policy_version) == (1, 2)
    assert [(d.id, d.diff_fen) for d in check.items] == [("relocation_cash", 26_550)]
    assert check.facts == []


# ---------------------------------------------------------------- amendments


def test_an_approved_amendment_writes_revision_2_with_an_adjustment(db: Session) -> None:
    w = _world(db)
    a = _sign(db, w, 0)
    signed_total, sign_no, sign_on = a.total_fen, a.sign_no, a.sign_on
    before = _instalments(db, a.id)
    _set_area(db, w, 0, "90.00")
    check = agreement_service.amendment_check(db, scope=ALL, agreement_id=a.id)
    requester, leader = _user(w, "case_officer"), _user(w, "commander")

    c = agreement_service.request_change(
        db, actor=requester, scope=ALL, agreement_id=a.id, kind="amend", reason="复测面积增加 1.5㎡"
    )
    assert (c.kind, c.status, c.requested_by) == ("amend", "requested", w.users["case_officer"])
    db.refresh(a)
    assert a.total_fen == signed_total  # a request changes nothing yet

    approved = agreement_service.approve_change(
        db, actor=leader, scope=ALL, change_id=c.id, note="同意", today=TODAY
    )
    assert (approved.status, approved.decided_by, approved.decision_note) == (
        "approved",
        w.users["commander"],
        "同意",
    )
    db.refresh(a)
    assert a.total_fen == signed_total + check.diff_fen
    assert (a.sign_no, a.sign_on, a.status) == (sign_no, sign_on, "effective")
    assert _snapshots(db, a.id) == [(1, signed_total), (2, signed_total + check.diff_fen)]
    rev2 = agreement_service.get_snapshot(db, a)
    assert (rev2.revision, rev2.id, approved.snapshot_id) == (2, a.snapshot_id, rev2.id)
    assert (rev2.as_of, rev2.reason, rev2.created_by) == (sign_on, "复测面积增加 1.5㎡", w.users["commander"])
    assert agreement_service.snapshot_facts(rev2).buildings[0].legal_area == Decimal("90.00")
    assert agreement_service.snapshot_facts(agreement_service.get_snapshot(db, a, 1)).buildings[
        0
    ].legal_area == Decimal("88.50")
    assert _instalments(db, a.id) == [*before, ("adjustment", check.diff_fen, 0, "due")]
    adjustment = db.scalars(
        select(Instalment).where(Instalment.agreement_id == a.id, Instalment.kind == "adjustment")
    ).one()
    assert adjustment.due_on == TODAY
    assert "协议变更差额（第2版）" in adjustment.purpose
    assert (a.amendment_flag, a.amendment_diff_fen) == (False, 0)
    assert agreement_service.amendment_check(db, scope=ALL, agreement_id=a.id).flag is False
    amend = audit_service.last_change(db, entity="agreement", entity_id=a.id)
    assert amend is not None and amend.action == "amend"
    assert audit_service.verify(db).ok


def test_the_requester_cannot_approve_their_own_request_and_nothing_changes(db: Session) -> None:
    w = _world(db)
    a = _sign(db, w, 0)
    _set_area(db, w, 0, "90.00")
    requester = _user(w, "case_officer")
    c = agreement_service.request_change(
        db, actor=requester, scope=ALL, agreement_id=a.id, kind="amend", reason="复测"
    )
    before = _state(db, a)
    with pytest.raises(PermissionDenied) as exc:
        agreement_service.approve_change(db, actor=requester, scope=ALL, change_id=c.id, today=TODAY)
    assert exc.value.code == "own_request"
    assert "不能审批本人提出的申请" in exc.value.message_zh
    with pytest.raises(PermissionDenied):
        agreement_service.reject_change(db, actor=requester, scope=ALL, change_id=c.id, note="撤回")
    assert _state(db, a) == before
    # decided once, never twice
    agreement_service.reject_change(
        db, actor=_user(w, "commander"), scope=ALL, change_id=c.id, note="面积待复核"
    )
    with pytest.raises(Conflict) as exc2:
        agreement_service.approve_change(
            db, actor=_user(w, "commander"), scope=ALL, change_id=c.id, today=TODAY
        )
    assert exc2.value.code == "already_decided"
    assert "已驳回" in exc2.value.message_zh
    db.refresh(a)
    assert a.total_fen == before[1] and _snapshots(db, a.id) == before[4]


def test_requests_are_refused_when_nothing_differs_twice_or_without_a_reason(db: Session) -> None:
    w = _world(db)
    a = _sign(db, w, 0)
    officer = _user(w, "case_officer")
    with pytest.raises(Conflict) as exc:
        agreement_service.request_change(
            db, actor=officer, scope=ALL, agreement_id=a.id, kind="amend", reason="复测"
        )
    assert exc.value.code == "no_difference"
    with pytest.raises(ValidationFailed) as exc2:
        agreement_service.request_change(
            db, actor=officer, scope=ALL, agreement_id=a.id, kind="cancel", reason="  "
        )
    assert exc2.value.details == [{"field": "reason", "message": "必填"}]
    agreement_service.request_change(
        db, actor=officer, scope=ALL, agreement_id=a.id, kind="cancel", reason="家庭变故"
    )
    with pytest.raises(Conflict) as exc3:
        agreement_service.request_change(
            db, actor=officer, scope=ALL, agreement_id=a.id, kind="cancel", reason="再次"
        )
    assert exc3.value.code == "change_waiting"
    assert db.scalar(select(func.count()).select_from(AgreementChange)) == 1


def test_a_lower_total_comes_off_the_unpaid_instalments_never_below_what_was_paid(db: Session) -> None:
    w = _world(db)
    a = _sign(db, w, 0)
    leader, officer = _user(w, "commander"), _user(w, "case_officer")
    (on_sign, after) = db.scalars(
        select(Instalment).where(Instalment.agreement_id == a.id).order_by(Instalment.sort)
    ).all()
    # the on-signing share was paid
    on_sign.paid_fen, on_sign.status = on_sign.amount_fen, "paid"
    db.flush()
    paid, after_amount = on_sign.amount_fen, after.amount_fen

    _set_area(db, w, 0, "80.00")  # 8.50 ㎡ less
    check = agreement_service.amendment_check(db, scope=ALL, agreement_id=a.id)
    assert check.diff_fen < 0 and -check.diff_fen < after_amount
    c = agreement_service.request_change(
        db, actor=officer, scope=ALL, agreement_id=a.id, kind="amend", reason="复测减少"
    )
    agreement_service.approve_change(db, actor=leader, scope=ALL, change_id=c.id, today=TODAY)
    db.refresh(a)
    assert a.total_fen == check.current_total_fen
    assert _instalments(db, a.id) == [
        ("on_sign", paid, paid, "paid"),
        ("after_vacate", after_amount + check.diff_fen, 0, "scheduled"),
    ]
    assert a.total_fen == sum(amount for _k, amount, _p, s in _instalments(db, a.id) if s != "cancelled")

    # far smaller: what is left unpaid cannot cover it
    _set_area(db, w, 0, "5.00")
    c2 = agreement_service.request_change(
        db, actor=officer, scope=ALL, agreement_id=a.id, kind="amend", reason="拆除部分"
    )
    before = _state(db, a)
    with pytest.raises(Conflict) as exc:
        agreement_service.approve_change(db, actor=leader, scope=ALL, change_id=c2.id, today=TODAY)
    assert exc.value.code == "below_paid"
    assert "不能减到已付金额以下" in exc.value.message_zh
    assert f"已支付或已批准待付 {paid // 100:,}.00 元" in exc.value.message_zh
    assert _state(db, a) == before  # refused before anything was written


# ---------------------------------------------------------------- cancellation


def test_an_approved_cancellation_keeps_history_cancels_unpaid_money_and_returns_to_negotiating(
    db: Session,
) -> None:
    w = _world(db)
    hid = w.household_ids[0]
    a = _sign(db, w, 0)
    snaps = _snapshots(db, a.id)
    assert household_service.get_household(db, scope=ALL, household_id=hid).status == "signed"
    c = agreement_service.request_change(
        db,
        actor=_user(w, "case_officer"),
        scope=ALL,
        agreement_id=a.id,
        kind="cancel",
        reason="户主改变主意，双方协商解除",
    )
    agreement_service.approve_change(db, actor=_user(w, "commander"), scope=ALL, change_id=c.id, today=TODAY)
    db.refresh(a)
    assert a.status == "cancelled"
    assert a.ended_at is not None and a.end_reason == "户主改变主意，双方协商解除"
    assert _snapshots(db, a.id) == snaps  # history stays
    assert [(k, s) for k, _a, _p, s in _instalments(db, a.id)] == [
        ("on_sign", "cancelled"),
        ("after_vacate", "cancelled"),
    ]
    h = household_service.get_household(db, scope=ALL, household_id=hid)
    assert (h.status, h.sign_on) == ("negotiating", None)
    timeline = campaign_service.stage_timeline(db, scope=ALL, household_id=hid)
    last = timeline.changes[-1]
    assert (last.from_stage, last.to_stage) == ("signed", "negotiating")
    assert "解除协议" in last.note and a.agreement_no in last.note
    rows = agreement_service.changes_of(db, scope=ALL, agreement_id=a.id)
    assert [(r.change.kind, r.change.status, r.decided_by_name) for r in rows] == [
        ("cancel", "approved", "测试commander")
    ]
    # the agreement has ended: no more requests; the household may sign again, with a new number
    with pytest.raises(Conflict) as exc:
        agreement_service.request_change(
            db, actor=_user(w, "case_officer"), scope=ALL, agreement_id=a.id, kind="amend", reason="x"
        )
    assert exc.value.code == "agreement_ended"
    again = _sign(db, w, 0, on=TODAY)
    assert (again.sign_no, again.status) == (2, "effective")
    assert [x.id for x in agreement_service.agreements_of_household(db, scope=ALL, household_id=hid)] == [
        again.id,
        a.id,
    ]


def test_scope_a_team_member_neither_sees_nor_acts_on_other_households_agreements(db: Session) -> None:
    w = _world(db)
    mine, other = _sign(db, w, 0), _sign(db, w, 4)  # household 0 is assigned to the member, 4 is not
    member_scope = DataScope(kind=ScopeKind.ASSIGNED, user_id=w.users["team_member"])
    c = agreement_service.request_change(
        db, actor=_user(w, "case_officer"), scope=ALL, agreement_id=other.id, kind="cancel", reason="解除"
    )
    assert agreement_service.amendment_check(db, scope=member_scope, agreement_id=mine.id).flag is False
    assert agreement_service.changes_of(db, scope=member_scope, agreement_id=mine.id) == []
    with pytest.raises(NotFound):
        agreement_service.amendment_check(db, scope=member_scope, agreement_id=other.id)
    with pytest.raises(NotFound):
        agreement_service.changes_of(db, scope=member_scope, agreement_id=other.id)
    with pytest.raises(NotFound):
        agreement_service.get_change(db, scope=member_scope, change_id=c.id)
    with pytest.raises(NotFound):
        agreement_service.approve_change(
            db, actor=_user(w, "team_member"), scope=member_scope, change_id=c.id
        )
    with pytest.raises(NotFound):
        agreement_service.request_change(
            db,
            actor=_user(w, "team_member"),
            scope=member_scope,
            agreement_id=other.id,
            kind="cancel",
            reason="x",
        )
    assert agreement_service.open_changes(db, scope=member_scope) == []
    assert [r.change.id for r in agreement_service.open_changes(db, scope=ALL)] == [c.id]
    db.refresh(other)
    assert other.status == "effective"


# ---------------------------------------------------------------- conditions


def _conditional(db: Session, w: World, *, deadline: date) -> None:
    agreement_service.set_signing_terms(
        db,
        actor=ACTOR,
        project_id=w.project_id,
        agreement_prefix="P1",
        on_sign_share_bp=7000,
        condition_kind="block_rate",
        condition_rate_bp=8000,
        condition_deadline_on=deadline,
        expected_version=0,
        today=date(2026, 11, 1),
    )


def test_a_block_rate_agreement_becomes_effective_when_80_percent_of_the_block_signed(db: Session) -> None:
    w = _world(db, households=10)  # block E: households 0, 2, 4, 6, 8 (80% = 4 of 5)
    _conditional(db, w, deadline=date(2026, 11, 30))
    first = [_sign(db, w, i, on=date(2026, 11, 10 + i)) for i in (0, 2, 4)]
    assert {a.status for a in first} == {"pending"}
    assert [(k, s) for k, _a, _p, s in _instalments(db, first[0].id)] == [
        ("on_sign", "scheduled"),
        ("after_vacate", "scheduled"),
    ]
    progress = agreement_service.condition_progress(db, agreement=first[0], on=date(2026, 11, 15))
    assert progress is not None
    assert (progress.signed, progress.total, progress.needed, progress.decided) == (3, 5, 4, None)
    run = agreement_service.evaluate_conditions(
        db, actor=ACTOR, project_id=w.project_id, on=date(2026, 11, 15)
    )
    assert (run.effective, run.void, run.waiting) == ([], [], 3)

    fourth = _sign(db, w, 6, on=date(2026, 11, 18))
    run = agreement_service.evaluate_conditions(
        db, actor=ACTOR, project_id=w.project_id, on=date(2026, 11, 20)
    )
    assert sorted(run.effective) == sorted(a.id for a in [*first, fourth]) and run.void == []
    for a in [*first, fourth]:
        db.refresh(a)
        assert (a.status, a.effective_on) == ("effective", date(2026, 11, 18))  # the day the 4th signed
        on_sign = db.scalars(
            select(Instalment).where(Instalment.agreement_id == a.id, Instalment.kind == "on_sign")
        ).one()
        assert (on_sign.status, on_sign.due_on) == ("due", date(2026, 11, 18))
        after = db.scalars(
            select(Instalment).where(Instalment.agreement_id == a.id, Instalment.kind == "after_vacate")
        ).one()
        assert after.status == "scheduled"
    # idempotent: a second run decides nothing
    again = agreement_service.evaluate_conditions(
        db, actor=ACTOR, project_id=w.project_id, on=date(2026, 11, 21)
    )
    assert (again.effective, again.void, again.waiting) == ([], [], 0)
    board = agreement_service.condition_board(db, project_id=w.project_id, on=date(2026, 11, 21))
    assert (board.pending, board.effective, board.void, board.groups) == (0, 4, 0, [])


def test_a_block_rate_agreement_is_void_after_the_deadline_and_keeps_its_records(db: Session) -> None:
    w = _world(db, households=10)  # block W: households 1, 3, 5, 7, 9
    _conditional(db, w, deadline=date(2026, 11, 30))
    signed = [_sign(db, w, i, on=date(2026, 11, 10 + i)) for i in (1, 3)]
    board = agreement_service.condition_board(db, project_id=w.project_id, on=date(2026, 11, 25))
    assert board.pending == 2 and len(board.groups) == 1
    g = board.groups[0]
    assert (g.pending, g.days_left, g.progress.signed, g.progress.total, g.progress.needed) == (2, 5, 2, 5, 4)
    assert g.progress.area_name == "西片区"
    # before the deadline it waits
    run = agreement_service.evaluate_conditions(
        db, actor=ACTOR, project_id=w.project_id, on=date(2026, 11, 30)
    )
    assert (run.effective, run.void, run.waiting) == ([], [], 2)
    run = agreement_service.evaluate_conditions(
        db, actor=ACTOR, project_id=w.project_id, on=date(2026, 12, 1)
    )
    assert (run.effective, sorted(run.void), run.waiting) == ([], sorted(a.id for a in signed), 0)
    for a, i in zip(signed, (1, 3), strict=True):
        db.refresh(a)
        assert a.status == "void"
        assert a.ended_at is not None and "附生效条件未成就" in a.end_reason and "2/5" in a.end_reason
        assert _snapshots(db, a.id) == [(1, a.total_fen)]  # the records stay
        assert {s for _k, _a, _p, s in _instalments(db, a.id)} == {"cancelled"}
        h = household_service.get_household(db, scope=ALL, household_id=w.household_ids[i])
        assert (h.status, h.sign_on) == ("negotiating", None)
        last = campaign_service.stage_timeline(db, scope=ALL, household_id=h.id).changes[-1]
        assert (last.from_stage, last.to_stage) == ("signed", "negotiating") and "未生效" in last.note
    board = agreement_service.condition_board(db, project_id=w.project_id, on=date(2026, 12, 1))
    assert (board.pending, board.effective, board.void) == (0, 0, 2)
    assert audit_service.verify(db).ok


def test_an_amendment_of_a_pending_agreement_falls_due_when_it_becomes_effective(db: Session) -> None:
    w = _world(db, households=4)  # block E: households 0 and 2
    _conditional(db, w, deadline=date(2026, 11, 30))
    a = _sign(db, w, 0, on=date(2026, 11, 10))
    _set_area(db, w, 0, "90.00")
    c = agreement_service.request_change(
        db, actor=_user(w, "case_officer"), scope=ALL, agreement_id=a.id, kind="amend", reason="复测"
    )
    agreement_service.approve_change(db, actor=_user(w, "commander"), scope=ALL, change_id=c.id, today=TODAY)
    db.refresh(a)
    diff = a.total_fen - _snapshots(db, a.id)[0][1]
    assert a.status == "pending" and diff > 0
    assert [(k, s) for k, _a, _p, s in _instalments(db, a.id)] == [
        ("on_sign", "scheduled"),
        ("after_vacate", "scheduled"),
        ("adjustment", "scheduled"),  # nothing is due before the condition is met
    ]
    _sign(db, w, 2, on=date(2026, 11, 12))
    run = agreement_service.evaluate_conditions(
        db, actor=ACTOR, project_id=w.project_id, on=date(2026, 11, 13)
    )
    assert a.id in run.effective
    due = db.execute(
        select(Instalment.kind, Instalment.amount_fen, Instalment.due_on)
        .where(Instalment.agreement_id == a.id, Instalment.status == "due")
        .order_by(Instalment.id)
    ).all()
    assert [(k, d) for k, _amount, d in due] == [
        ("on_sign", date(2026, 11, 12)),
        ("adjustment", date(2026, 11, 12)),
    ]
    assert due[1][1] == diff
