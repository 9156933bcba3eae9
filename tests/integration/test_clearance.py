"""Clearance through the service on SQLite, PostgreSQL and MariaDB: vacating acceptance (the stage, the
after-vacating instalment, the reward the policy gives for the vacating date, the snapshot untouched),
its refusals and voiding, demolition, tenant clearance with its counts."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from anju.agreement import service as agreement_service
from anju.agreement.models import (
    Agreement,
    AgreementSnapshot,
    DemolitionRecord,
    Instalment,
    TenantClearance,
    VacateRecord,
)
from anju.audit.models import AuditRecord
from anju.campaign import service as campaign_service
from anju.compensation import service as compensation_service
from anju.core.actor import Actor
from anju.demo.policies import POLICY_DIR
from anju.errors import Conflict, NotFound, ValidationFailed
from anju.household import service as household_service
from anju.identity.service import DataScope
from anju.policy import facts as policy_facts
from anju.policy.check import load_policy
from anju.policy.scalar import evaluate
from anju.project import service as project_service
from tests.api.permission_calls import PNG
from tests.factories import ACTOR, World, build_world

SOURCE = (POLICY_DIR / "shantytown.yaml").read_text(encoding="utf-8")
EVERYTHING = DataScope.everything()
SIGN_ON = date(2024, 4, 20)
# The demo policy: 腾空奖励 counted from the day after 2024-05-20 (协议生效日): 5000 元 within 15 days,
# 2000 元 beyond 15 up to 30 days, nothing later.
IN_15_DAYS = date(2024, 5, 25)
IN_30_DAYS = date(2024, 6, 10)
TOO_LATE = date(2024, 7, 1)
TODAY = date(2024, 7, 15)
OFFICER = Actor(user_id=None, username="jingban", display_name="经办人", role="case_officer")
CHECKED = {"utilities_settled": True, "emptied": True, "keys_handed": True}


def _world(db: Session, *, households: int = 3, code: str = "CL") -> World:
    world = build_world(db, households=households, code=code)
    compensation_service.publish(db, actor=ACTOR, project_id=world.project_id, source=SOURCE)
    return world


def _sign(db: Session, hid: int) -> Agreement:
    return agreement_service.sign(
        db, actor=OFFICER, scope=EVERYTHING, household_id=hid, option="cash", sign_on=SIGN_ON, today=SIGN_ON
    )


def _vacate(db: Session, hid: int, on: date, **kw: object) -> agreement_service.VacateResult:
    args: dict[str, object] = {
        "vacated_on": on,
        "checklist": CHECKED,
        "keys_handed": 3,
        "inspector": "王验收",
        "note": "",
        "today": TODAY,
    }
    args.update(kw)
    return agreement_service.record_vacating(db, actor=OFFICER, scope=EVERYTHING, household_id=hid, **args)  # type: ignore[arg-type]


def _rows(db: Session) -> tuple[int, ...]:
    """Rows a clearance writes (or voids): records, instalments, audit records."""
    return tuple(
        int(db.scalar(select(func.count()).select_from(m)) or 0)
        for m in (VacateRecord, DemolitionRecord, TenantClearance, Instalment, AgreementSnapshot, AuditRecord)
    )


def _schedule(db: Session, a: Agreement) -> list[tuple[str, int, str, date | None]]:
    return [(i.kind, i.amount_fen, i.status, i.due_on) for i in agreement_service.instalments(db, a.id)]


def _independent_reward(snap: AgreementSnapshot, vacated_on: date) -> int:
    """The reward straight from the policy engine: the frozen facts with the vacating date, minus what
    was signed (no group facts: none of the block had vacated when it signed)."""
    checked = load_policy(SOURCE)
    signed = agreement_service.snapshot_facts(snap)
    before = evaluate(checked, signed, "cash", as_of=SIGN_ON, group=policy_facts.GroupFacts())
    after = evaluate(
        checked, replace(signed, vacate_on=vacated_on), "cash", as_of=SIGN_ON, group=policy_facts.GroupFacts()
    )
    assert before.total_fen == snap.total_fen
    return after.total_fen - before.total_fen


def test_vacating_makes_the_rest_due_adds_the_reward_and_leaves_the_snapshot(db: Session) -> None:
    world = _world(db)
    hid = world.household_ids[0]
    a = _sign(db, hid)
    snap = agreement_service.get_snapshot(db, a)
    signed = (a.total_fen, snap.total_fen, snap.facts, snap.items)
    on_sign = a.total_fen * 7000 // 10000 // 100 * 100
    snapshots = db.scalar(select(func.count()).select_from(AgreementSnapshot))

    result = _vacate(
        db,
        hid,
        IN_15_DAYS,
        note="东屋窗玻璃一块破损",
        photos=[agreement_service.Photo("现场.png", "image/png", PNG)],
    )

    assert _independent_reward(snap, IN_15_DAYS) == 500_000  # 5000 元 within 15 days
    assert result.increases == {"vacate_reward": 500_000}
    assert _schedule(db, a) == [
        ("on_sign", on_sign, "due", SIGN_ON),
        ("after_vacate", a.total_fen - on_sign, "due", IN_15_DAYS),
        ("reward", 500_000, "due", IN_15_DAYS),
    ]
    reward = result.reward
    assert reward is not None and reward.purpose == "CL-0001 腾空奖励" and reward.item_ids == "vacate_reward"
    rec = result.record
    assert rec.reward_instalment_id == reward.id and rec.agreement_id == a.id
    assert json.loads(rec.checklist) == {
        "utilities_settled": True,
        "registration_moved": False,
        "emptied": True,
        "doors_windows_intact": False,
        "keys_handed": True,
    }
    (photo_id,) = agreement_service.photo_ids_of(rec.photo_ids)
    att, _data = household_service.get_attachment(db, scope=EVERYTHING, attachment_id=photo_id)
    assert (att.household_id, att.kind, att.content_type) == (hid, "photo", "image/png")
    # the stage and the file's date
    h = household_service.get_household(db, scope=EVERYTHING, household_id=hid)
    assert (h.status, h.vacate_on) == ("vacated", IN_15_DAYS)
    timeline = campaign_service.stage_timeline(db, scope=EVERYTHING, household_id=hid)
    assert [(c.from_stage, c.to_stage, c.reached_on) for c in timeline.changes][-1] == (
        "signed",
        "vacated",
        IN_15_DAYS,
    )
    # the agreement and its snapshot are what was signed: no new revision, nothing edited
    db.expire_all()
    again = agreement_service.get_agreement(db, scope=EVERYTHING, agreement_id=a.id)
    snap = agreement_service.get_snapshot(db, again)
    assert (again.total_fen, snap.total_fen, snap.facts, snap.items) == signed
    assert db.scalar(select(func.count()).select_from(AgreementSnapshot)) == snapshots
    actions = [
        (r.entity, r.action)
        for r in db.scalars(
            select(AuditRecord).where(AuditRecord.household_id == hid).order_by(AuditRecord.seq)
        )
    ]
    assert ("vacate_record", "vacate") in actions and ("instalment", "due") in actions
    assert ("instalment", "create") in actions and ("attachment", "create") in actions


@pytest.mark.parametrize(("vacated_on", "reward"), [(IN_30_DAYS, 200_000), (TOO_LATE, 0)])
def test_the_reward_is_what_the_policy_gives_for_the_date(db: Session, vacated_on: date, reward: int) -> None:
    world = _world(db)
    hid = world.household_ids[1]
    a = _sign(db, hid)
    assert _independent_reward(agreement_service.get_snapshot(db, a), vacated_on) == reward
    result = _vacate(db, hid, vacated_on)
    kinds = [(i.kind, i.amount_fen, i.status) for i in agreement_service.instalments(db, a.id)]
    if reward:
        assert result.reward is not None and kinds[-1] == ("reward", reward, "due")
    else:
        assert result.reward is None and result.increases == {}
        assert [k for k, _amount, _status in kinds] == ["on_sign", "after_vacate"]
        assert result.record.reward_instalment_id is None


def test_refused_vacatings_write_nothing(db: Session) -> None:
    world = _world(db)
    hid, unsigned = world.household_ids[0], world.household_ids[1]
    a = _sign(db, hid)
    before, schedule = _rows(db), _schedule(db, a)
    with pytest.raises(Conflict) as caught:
        _vacate(db, hid, TODAY + timedelta(days=1))
    assert (caught.value.code, caught.value.message_zh) == (
        "vacate_date",
        "腾空日期不能晚于今天（2024-07-15）",
    )
    with pytest.raises(Conflict) as caught:
        _vacate(db, hid, SIGN_ON - timedelta(days=1))
    assert (caught.value.code, caught.value.message_zh) == (
        "vacate_date",
        "腾空日期不能早于签约日期（2024-04-20）",
    )
    with pytest.raises(Conflict) as caught:
        _vacate(db, unsigned, IN_15_DAYS)
    assert caught.value.code == "not_signed"
    with pytest.raises(ValidationFailed) as caught_v:
        _vacate(db, hid, IN_15_DAYS, checklist={"emptied": True, "painted": True})
    assert caught_v.value.details[0]["field"] == "checklist" and "painted" in caught_v.value.message_zh
    with pytest.raises(ValidationFailed) as caught_v:
        _vacate(db, hid, IN_15_DAYS, inspector="  ")
    assert caught_v.value.details == [{"field": "inspector", "message": "验收人必填"}]
    with pytest.raises(ValidationFailed) as caught_v:
        _vacate(
            db,
            hid,
            IN_15_DAYS,
            photos=[agreement_service.Photo("协议.pdf", "application/pdf", b"%PDF-1.4\n%%EOF\n")],
        )
    assert caught_v.value.details[0]["field"] == "photos"
    with pytest.raises(NotFound):
        _vacate(db, 10**12, IN_15_DAYS)
    # a photo of another household's file
    other_photo = household_service.add_attachment(
        db,
        actor=ACTOR,
        scope=EVERYTHING,
        household_id=unsigned,
        filename="x.png",
        content_type="image/png",
        content=PNG,
        kind="photo",
    )
    before = _rows(db)
    with pytest.raises(NotFound):
        _vacate(db, hid, IN_15_DAYS, photo_ids=[other_photo.id])
    assert _rows(db) == before and _schedule(db, a) == schedule
    h = household_service.get_household(db, scope=EVERYTHING, household_id=hid)
    assert (h.status, h.vacate_on) == ("signed", None)
    _vacate(db, hid, IN_15_DAYS)
    before = _rows(db)
    with pytest.raises(Conflict) as caught:
        _vacate(db, hid, IN_30_DAYS)
    assert caught.value.code == "already_vacated"
    assert _rows(db) == before


def test_a_pending_agreement_keeps_its_money_scheduled_until_it_takes_effect(db: Session) -> None:
    world = _world(db)
    hid = world.household_ids[0]
    a = _sign(db, hid)
    a.status, a.effective_on = "pending", None  # as a conditional signing leaves it
    for i in agreement_service.instalments(db, a.id):
        i.status, i.due_on = "scheduled", None
    db.flush()
    result = _vacate(db, hid, IN_15_DAYS)
    assert result.made_due == []
    assert [(i.kind, i.status) for i in agreement_service.instalments(db, a.id)] == [
        ("on_sign", "scheduled"),
        ("after_vacate", "scheduled"),
        ("reward", "scheduled"),
    ]
    a.status = "effective"  # the condition was met (the conditions part decides this)
    made = agreement_service.release_instalments(db, actor=OFFICER, agreement=a, on=date(2024, 6, 1))
    assert [(i.kind, i.status, i.due_on) for i in made] == [
        ("on_sign", "due", date(2024, 6, 1)),
        ("after_vacate", "due", date(2024, 6, 1)),
        ("reward", "due", date(2024, 6, 1)),
    ]


def test_voiding_a_vacating_undoes_it_explicitly_and_a_new_one_can_follow(db: Session) -> None:
    world = _world(db)
    hid = world.household_ids[0]
    a = _sign(db, hid)
    first = _vacate(db, hid, IN_15_DAYS)
    rec = agreement_service.void_vacating(
        db, actor=OFFICER, scope=EVERYTHING, household_id=hid, reason="日期录错"
    )
    assert (rec.void_reason, rec.voided_at is not None) == ("日期录错", True)
    on_sign = a.total_fen * 7000 // 10000 // 100 * 100
    assert _schedule(db, a) == [
        ("on_sign", on_sign, "due", SIGN_ON),
        ("after_vacate", a.total_fen - on_sign, "scheduled", None),
        ("reward", 500_000, "cancelled", IN_15_DAYS),
    ]
    h = household_service.get_household(db, scope=EVERYTHING, household_id=hid)
    assert (h.status, h.vacate_on, h.sign_on) == ("signed", None, SIGN_ON)
    last = campaign_service.stage_timeline(db, scope=EVERYTHING, household_id=hid).changes[-1]
    assert (last.from_stage, last.to_stage, last.reached_on, last.note) == (
        "vacated",
        "signed",
        SIGN_ON,
        "作废腾空验收：日期录错",
    )
    assert first.reward is not None
    # the corrected vacating: the reward for the new date
    second = _vacate(db, hid, IN_30_DAYS)
    assert second.reward is not None and second.reward.amount_fen == 200_000
    assert [(i.kind, i.status) for i in agreement_service.instalments(db, a.id)] == [
        ("on_sign", "due"),
        ("after_vacate", "due"),
        ("reward", "cancelled"),
        ("reward", "due"),
    ]
    with pytest.raises(Conflict) as caught:
        agreement_service.void_vacating(
            db, actor=OFFICER, scope=EVERYTHING, household_id=world.household_ids[1], reason="x"
        )
    assert caught.value.code == "no_vacate_record"


@pytest.mark.parametrize("money", ["paid_fen", "committed_fen"])
def test_a_vacating_whose_reward_was_paid_cannot_be_voided(db: Session, money: str) -> None:
    world = _world(db)
    hid = world.household_ids[0]
    a = _sign(db, hid)
    result = _vacate(db, hid, IN_15_DAYS)
    assert result.reward is not None
    setattr(result.reward, money, 100_000)  # as the payment domain records it
    db.flush()
    before, schedule = _rows(db), _schedule(db, a)
    with pytest.raises(Conflict) as caught:
        agreement_service.void_vacating(
            db, actor=OFFICER, scope=EVERYTHING, household_id=hid, reason="日期录错"
        )
    assert caught.value.code == "instalment_paid"
    assert caught.value.message_zh.startswith(
        "不能作废腾空验收：该笔款项（CL-0001 腾空奖励）已有支付或已批准待付的金额"
    )
    assert _rows(db) == before and _schedule(db, a) == schedule
    assert household_service.get_household(db, scope=EVERYTHING, household_id=hid).status == "vacated"
    assert db.get(VacateRecord, result.record.id).voided_at is None  # type: ignore[union-attr]


def test_demolition_follows_vacating(db: Session) -> None:
    world = _world(db)
    hid = world.household_ids[0]
    _sign(db, hid)
    before = _rows(db)
    demolish = {"contractor": "青溪拆除工程公司", "today": TODAY}
    with pytest.raises(Conflict) as caught:
        agreement_service.record_demolition(
            db, actor=OFFICER, scope=EVERYTHING, household_id=hid, demolished_on=IN_30_DAYS, **demolish
        )
    assert caught.value.code == "not_vacated"
    assert _rows(db) == before
    _vacate(db, hid, IN_15_DAYS)
    before = _rows(db)
    with pytest.raises(Conflict) as caught:
        agreement_service.record_demolition(
            db,
            actor=OFFICER,
            scope=EVERYTHING,
            household_id=hid,
            demolished_on=IN_15_DAYS - timedelta(days=1),
            **demolish,
        )
    assert (caught.value.code, caught.value.message_zh) == (
        "demolition_date",
        "拆除日期不能早于腾空日期（2024-05-25）",
    )
    assert _rows(db) == before
    done = agreement_service.record_demolition(
        db, actor=OFFICER, scope=EVERYTHING, household_id=hid, demolished_on=IN_30_DAYS, **demolish
    )
    assert done.record.contractor == "青溪拆除工程公司"
    h = household_service.get_household(db, scope=EVERYTHING, household_id=hid)
    assert (h.status, h.demolish_on, h.vacate_on) == ("demolished", IN_30_DAYS, IN_15_DAYS)
    # the vacating cannot be voided under a demolition ...
    with pytest.raises(Conflict) as caught:
        agreement_service.void_vacating(db, actor=OFFICER, scope=EVERYTHING, household_id=hid, reason="x")
    assert caught.value.code == "demolished" and "请先作废拆除登记" in caught.value.message_zh
    # ... until the demolition is voided
    agreement_service.void_demolition(
        db, actor=OFFICER, scope=EVERYTHING, household_id=hid, reason="登记错户"
    )
    h = household_service.get_household(db, scope=EVERYTHING, household_id=hid)
    assert (h.status, h.demolish_on, h.vacate_on) == ("vacated", None, IN_15_DAYS)
    f = agreement_service.clearance_file(db, scope=EVERYTHING, household_id=hid)
    assert f.demolition is None and [d.void_reason for d in f.demolitions] == ["登记错户"]
    assert f.vacate is not None and f.vacate.vacated_on == IN_15_DAYS
    agreement_service.void_vacating(db, actor=OFFICER, scope=EVERYTHING, household_id=hid, reason="日期录错")
    assert household_service.get_household(db, scope=EVERYTHING, household_id=hid).status == "signed"


def _tenant(db: Session, hid: int, name: str) -> int:
    return household_service.add_tenant(
        db,
        actor=ACTOR,
        scope=EVERYTHING,
        household_id=hid,
        data={"name": name, "kind": "enterprise", "area": "40.00"},
    ).id


def test_tenant_clearance_counts(db: Session) -> None:
    world = _world(db)
    h0, h1 = world.household_ids[0], world.household_ids[1]
    tenants = [
        _tenant(db, h0, "青溪五金厂"),
        _tenant(db, h0, "东风汽修"),
        _tenant(db, h1, "老李面馆"),
        _tenant(db, h1, "新华印刷"),
    ]
    listing = agreement_service.tenant_clearances(
        db, scope=EVERYTHING, project_id=world.project_id, today=TODAY
    )
    assert (listing.total, listing.cleared, listing.cleared_today, listing.daily) == (4, 0, 0, [])
    one = agreement_service.record_tenant_clearance(
        db,
        actor=OFFICER,
        scope=EVERYTHING,
        tenant_id=tenants[0],
        cleared_on=TODAY - timedelta(days=1),
        checklist={"rent_settled": True, "emptied": True},
        inspector="王验收",
        today=TODAY,
    )
    assert json.loads(one.checklist) == {
        "rent_settled": True,
        "license_moved": False,
        "emptied": True,
        "keys_handed": False,
    }
    agreement_service.record_tenant_clearances(
        db,
        actor=OFFICER,
        scope=EVERYTHING,
        project_id=world.project_id,
        tenant_ids=tenants[1:3],
        cleared_on=TODAY,
        checklist={"keys_handed": True},
        inspector="李验收",
        today=TODAY,
    )
    listing = agreement_service.tenant_clearances(
        db, scope=EVERYTHING, project_id=world.project_id, today=TODAY
    )
    assert (listing.total, listing.cleared, listing.open, listing.cleared_today) == (4, 3, 1, 2)
    assert listing.daily == [(TODAY - timedelta(days=1), 1), (TODAY, 2)]
    assert [(r.tenant.name, r.clearance is not None) for r in listing.rows] == [
        ("青溪五金厂", True),
        ("东风汽修", True),
        ("老李面馆", True),
        ("新华印刷", False),
    ]
    # refusals: cleared already (the bulk entry names it and writes nothing), a future date, another project's tenant
    before = _rows(db)
    with pytest.raises(Conflict) as caught:
        agreement_service.record_tenant_clearances(
            db,
            actor=OFFICER,
            scope=EVERYTHING,
            project_id=world.project_id,
            tenant_ids=[tenants[3], tenants[2]],
            cleared_on=TODAY,
            checklist={},
            inspector="李验收",
            today=TODAY,
        )
    assert (caught.value.code, caught.value.message_zh) == (
        "already_cleared",
        "承租人“老李面馆”已登记清退，如需更正请先作废原记录",
    )
    with pytest.raises(Conflict) as caught:
        agreement_service.record_tenant_clearance(
            db,
            actor=OFFICER,
            scope=EVERYTHING,
            tenant_id=tenants[3],
            cleared_on=TODAY + timedelta(days=1),
            checklist={},
            inspector="王",
            today=TODAY,
        )
    assert caught.value.code == "clearance_date"
    p2 = project_service.create_project(
        db, actor=ACTOR, code="CX", name="另一项目", kind="state_land", district="青溪街道"
    )
    h2 = household_service.create_household(
        db,
        actor=ACTOR,
        project_id=p2.id,
        block_id=None,
        data={"code": "Q1", "head_name": "赵德明", "address": "南溪路1号"},
    )
    stranger = _tenant(db, h2.id, "外项目企业")
    before = _rows(db)
    with pytest.raises(NotFound):
        agreement_service.record_tenant_clearances(
            db,
            actor=OFFICER,
            scope=EVERYTHING,
            project_id=world.project_id,
            tenant_ids=[tenants[3], stranger],
            cleared_on=TODAY,
            checklist={},
            inspector="王",
            today=TODAY,
        )
    assert _rows(db) == before
    # voiding one takes it off the count; it can be cleared again
    agreement_service.void_tenant_clearance(
        db, actor=OFFICER, scope=EVERYTHING, tenant_id=tenants[1], reason="未搬完"
    )
    listing = agreement_service.tenant_clearances(
        db, scope=EVERYTHING, project_id=world.project_id, today=TODAY
    )
    assert (listing.cleared, listing.cleared_today) == (2, 1)
    assert agreement_service.tenant_clearance_count(db, project_id=world.project_id) == 2
    with pytest.raises(Conflict) as caught:
        agreement_service.void_tenant_clearance(
            db, actor=OFFICER, scope=EVERYTHING, tenant_id=tenants[3], reason="x"
        )
    assert caught.value.code == "no_clearance"
