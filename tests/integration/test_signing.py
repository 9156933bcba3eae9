"""Signing through the service on SQLite, PostgreSQL and MariaDB: the frozen snapshot, the sign order
number, the schedule, the stage; every refusal leaves nothing written; the project's signing terms."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from anju.agreement import service as agreement_service
from anju.agreement.models import Agreement, AgreementSnapshot, Instalment, SignCounter, SigningTerms
from anju.audit.models import AuditRecord
from anju.campaign import service as campaign_service
from anju.compensation import service as compensation_service
from anju.core.actor import Actor
from anju.demo.policies import POLICY_DIR
from anju.errors import Conflict, NotFound, ValidationFailed
from anju.household import service as household_service
from anju.identity.service import DataScope
from anju.project import service as project_service
from tests.factories import ACTOR, World, build_world

SOURCE = (POLICY_DIR / "shantytown.yaml").read_text(encoding="utf-8")
EVERYTHING = DataScope.everything()
TODAY = date(2024, 4, 20)  # in the demo policy's signing period: the 300 元/㎡ signing reward applies
OFFICER = Actor(user_id=None, username="jingban", display_name="经办人", role="case_officer")


def _world(db: Session, *, households: int = 4, code: str = "SG") -> World:
    world = build_world(db, households=households, code=code)
    compensation_service.publish(db, actor=ACTOR, project_id=world.project_id, source=SOURCE)
    return world


def _sign(db: Session, hid: int, **kw: object) -> Agreement:
    args: dict[str, object] = {"option": "cash", "sign_on": TODAY, "today": TODAY}
    args.update(kw)
    return agreement_service.sign(db, actor=OFFICER, scope=EVERYTHING, household_id=hid, **args)  # type: ignore[arg-type]


def _counts(db: Session) -> tuple[int, ...]:
    """Rows that a signing writes: agreements, snapshots, instalments, audit records, counters."""
    return tuple(
        int(db.scalar(select(func.count()).select_from(m)) or 0)
        for m in (Agreement, AgreementSnapshot, Instalment, AuditRecord, SignCounter)
    )


def test_sign_freezes_the_calculation_and_issues_numbers_in_order(db: Session) -> None:
    world = _world(db)
    hid = world.household_ids[0]
    expected = compensation_service.signing_calculation(
        db, scope=EVERYTHING, household_id=hid, option="cash", sign_on=TODAY
    )
    a = _sign(db, hid, payee=agreement_service.Payee(bank=" 青溪农商行 ", account="6222 0202-0001 2345"))
    assert (a.sign_no, a.agreement_no, a.status, a.option) == (1, "SG-0001", "effective", "cash")
    assert a.total_fen == expected.result.total_fen > 0
    assert (a.payee_name, a.payee_bank, a.payee_account) == ("张建国", "青溪农商行", "6222020200012345")
    assert a.effective_on == TODAY and a.sign_on == TODAY
    snap = agreement_service.get_snapshot(db, a)
    assert (snap.revision, snap.total_fen, snap.policy_version, snap.as_of) == (1, a.total_fen, 1, TODAY)
    assert snap.policy_hash == compensation_service.content_hash(SOURCE)
    items = agreement_service.items_of(snap)
    assert [i["id"] for i in items] == [i.id for i in expected.result.items]
    assert sum(i["amount_fen"] for i in items) == a.total_fen
    assert agreement_service.snapshot_facts(snap).sign_on == TODAY
    # 70% on signing rounded down to the yuan and due now; the rest after vacating.
    inst = agreement_service.instalments(db, a.id)
    on_sign = a.total_fen * 7000 // 10000 // 100 * 100
    assert [(i.kind, i.amount_fen, i.status, i.due_on) for i in inst] == [
        ("on_sign", on_sign, "due", TODAY),
        ("after_vacate", a.total_fen - on_sign, "scheduled", None),
    ]
    h = household_service.get_household(db, scope=EVERYTHING, household_id=hid)
    assert (h.status, h.sign_on) == ("signed", TODAY)
    record = db.scalars(
        select(AuditRecord).where(AuditRecord.entity == "agreement", AuditRecord.action == "sign")
    ).one()
    changes = json.loads(record.changes)
    assert changes["sign_no"] == [None, 1] and changes["total_fen"] == [None, a.total_fen]
    assert changes["payee_account"] == [None, "************2345"]  # the audit log never holds the full number
    b = _sign(db, world.household_ids[1], option="swap")
    assert (b.sign_no, b.agreement_no) == (2, "SG-0002")
    assert [
        x.sign_no
        for x in agreement_service.list_agreements(db, scope=EVERYTHING, project_id=world.project_id)
    ] == [
        1,
        2,
    ]


def test_editing_the_household_after_signing_leaves_the_snapshot_as_signed(db: Session) -> None:
    world = _world(db)
    hid = world.household_ids[0]
    a = _sign(db, hid)
    signed_total, snap = a.total_fen, agreement_service.get_snapshot(db, a)
    facts_before = snap.facts
    f = household_service.get_household_file(db, scope=EVERYTHING, household_id=hid)
    b = f.buildings[0].building
    household_service.update_building(
        db,
        actor=ACTOR,
        scope=EVERYTHING,
        building_id=b.id,
        data={"legal_area": "120.00"},
        expected_version=b.version,
        reason="复测",
    )
    # The file changed, and the same calculation now gives more ...
    now = compensation_service.signing_calculation(
        db, scope=EVERYTHING, household_id=hid, option="cash", sign_on=TODAY
    )
    assert now.result.total_fen > signed_total
    # ... but the agreement and its snapshot are what was signed.
    db.expire_all()
    again = agreement_service.get_agreement(db, scope=EVERYTHING, agreement_id=a.id)
    snap = agreement_service.get_snapshot(db, again)
    assert (again.total_fen, snap.total_fen, snap.facts) == (signed_total, signed_total, facts_before)
    assert str(agreement_service.snapshot_facts(snap).buildings[0].legal_area) == "88.50"


def test_refusals_write_nothing(db: Session) -> None:
    world = _world(db)
    hid, other = world.household_ids[0], world.household_ids[1]
    _sign(db, hid)
    before = _counts(db)
    with pytest.raises(Conflict) as caught:
        _sign(db, hid)
    assert caught.value.code == "already_signed"
    assert caught.value.message_zh == "该户已签订协议（协议编号 SG-0001，签约顺序号 1），不能重复签约"
    with pytest.raises(Conflict) as caught:
        _sign(db, other, sign_on=TODAY + timedelta(days=1))
    assert (caught.value.code, caught.value.message_zh) == (
        "sign_date",
        "签约日期（2024-04-21）不能晚于今天（2024-04-20）",
    )
    with pytest.raises(ValidationFailed) as caught_v:
        _sign(db, other, option="rent")
    assert caught_v.value.details == [
        {"field": "option", "message": "安置方式应为 cash（货币补偿） / swap（产权调换）"}
    ]
    with pytest.raises(ValidationFailed) as caught_v:
        _sign(
            db,
            other,
            payee=agreement_service.Payee(name="李\u202e秀英", bank="x" * 129, account="12345"),
        )
    assert [d["field"] for d in caught_v.value.details] == ["payee_name", "payee_bank", "payee_account"]
    assert caught_v.value.details[1]["message"] == "开户行不能超过128个字（现有129个字）"
    assert caught_v.value.details[2]["message"].startswith("收款账号应为 6 至 32 位数字")
    for bad in ("62220202000123456789012345678901234", "6222-abc-0001", "１２３４５６７８"):
        with pytest.raises(ValidationFailed):
            _sign(db, other, payee=agreement_service.Payee(account=bad))
    with pytest.raises(NotFound):
        _sign(db, 10**12)
    with pytest.raises(Conflict) as caught:
        _sign(db, other, sign_on=date(2024, 3, 31))
    assert (caught.value.code, caught.value.message_zh) == (
        "sign_date",
        "签约日期（2024-03-31）早于现行补偿方案（第 1 版）的生效日期（2024-04-01）",
    )
    assert _counts(db) == before
    h = household_service.get_household(db, scope=EVERYTHING, household_id=other)
    assert h.status == "surveyed"


def test_the_sign_date_before_the_stage_was_reached_gives_the_number_back(db: Session) -> None:
    world = _world(db)
    hid = world.household_ids[0]
    campaign_service.move_stage(
        db,
        actor=OFFICER,
        scope=EVERYTHING,
        household_id=hid,
        to_stage="negotiating",
        on=date(2024, 4, 10),
        today=TODAY,
    )
    before = _counts(db)
    # The calculation is fine for that date; the stage move refuses it after the number was taken,
    # and the transaction (here its savepoint) ends with the error: the counter bump goes with it.
    with pytest.raises(Conflict) as caught, db.begin_nested():
        _sign(db, hid, sign_on=date(2024, 4, 5))
    assert caught.value.code == "stage_date"
    assert _counts(db) == before
    assert _sign(db, hid).sign_no == 1
    assert _sign(db, world.household_ids[1]).sign_no == 2


def test_no_policy_and_a_household_that_cannot_sign_are_409(db: Session) -> None:
    world = build_world(db, households=2, code="NP")
    with pytest.raises(Conflict) as caught:
        _sign(db, world.household_ids[0])
    assert (caught.value.code, caught.value.message_zh) == ("no_policy", "本项目尚未发布补偿方案，不能签约")
    compensation_service.publish(db, actor=ACTOR, project_id=world.project_id, source=SOURCE)
    hid = world.household_ids[1]
    household_service.void_household(db, actor=ACTOR, scope=EVERYTHING, household_id=hid, reason="重复登记")
    with pytest.raises(NotFound):
        _sign(db, hid)


def test_conditional_terms_make_agreements_pending(db: Session) -> None:
    world = _world(db)
    terms = agreement_service.set_signing_terms(
        db,
        actor=OFFICER,
        project_id=world.project_id,
        agreement_prefix="青征协-2024",
        on_sign_share_bp=5000,
        condition_kind="block_rate",
        condition_rate_bp=8000,
        condition_deadline_on=date(2024, 5, 31),
        expected_version=0,
        reason="指挥部会议决定",
        today=TODAY,
    )
    assert (terms.version, terms.condition_rate_bp) == (1, 8000)
    a = _sign(db, world.household_ids[0])
    assert (a.agreement_no, a.status, a.effective_on) == ("青征协-2024-0001", "pending", None)
    assert (a.condition_kind, a.condition_rate_bp, a.condition_block_id) == (
        "block_rate",
        8000,
        world.block_ids["E"],
    )
    assert a.condition_deadline_on == date(2024, 5, 31)
    half = a.total_fen * 5000 // 10000 // 100 * 100
    assert [(i.kind, i.amount_fen, i.status, i.due_on) for i in agreement_service.instalments(db, a.id)] == [
        ("on_sign", half, "scheduled", None),
        ("after_vacate", a.total_fen - half, "scheduled", None),
    ]


def test_signing_terms_are_validated_versioned_and_audited(db: Session) -> None:
    world = _world(db)
    pid = world.project_id
    defaults = agreement_service.signing_terms(db, pid)
    assert (defaults.id, defaults.version, defaults.agreement_prefix, defaults.on_sign_share_bp) == (
        None,
        0,
        "SG",
        7000,
    )

    def put(**kw: object) -> SigningTerms:
        args: dict[str, object] = {
            "actor": OFFICER,
            "project_id": pid,
            "agreement_prefix": "SG",
            "on_sign_share_bp": 6000,
            "condition_kind": "none",
            "expected_version": 0,
            "today": TODAY,
        }
        args.update(kw)
        return agreement_service.set_signing_terms(db, **args)  # type: ignore[arg-type]

    audits = int(db.scalar(select(func.count()).select_from(AuditRecord)) or 0)
    with pytest.raises(ValidationFailed) as caught:
        put(
            agreement_prefix="A B", on_sign_share_bp=10001, condition_kind="project_rate", condition_rate_bp=0
        )
    assert [d["field"] for d in caught.value.details] == [
        "agreement_prefix",
        "on_sign_share_bp",
        "condition_rate_bp",
        "condition_deadline_on",
    ]
    with pytest.raises(ValidationFailed) as caught:
        put(condition_kind="later")
    assert caught.value.details[0]["field"] == "condition_kind"
    with pytest.raises(ValidationFailed) as caught:
        put(condition_deadline_on=date(2024, 5, 1))
    assert caught.value.details == [
        {"field": "condition_deadline_on", "message": "无附生效条件时不填截止日期"}
    ]
    with pytest.raises(Conflict) as caught_c:
        put(condition_kind="all_signed", condition_deadline_on=TODAY - timedelta(days=1))
    assert caught_c.value.code == "deadline_passed"
    with pytest.raises(Conflict) as caught_c:
        put(expected_version=3)
    assert caught_c.value.code == "stale_version"
    assert int(db.scalar(select(func.count()).select_from(AuditRecord)) or 0) == audits
    assert db.scalar(select(SigningTerms).where(SigningTerms.project_id == pid)) is None

    t = put(condition_kind="all_signed", condition_deadline_on=TODAY)
    assert (t.version, t.condition_rate_bp, t.on_sign_share_bp) == (1, 10000, 6000)
    t2 = put(on_sign_share_bp=10000, condition_kind="none", expected_version=1, reason="全额支付")
    assert t2.id == t.id and t2.version == 2
    assert (t2.condition_kind, t2.condition_rate_bp, t2.condition_deadline_on) == ("none", 0, None)
    # the deadline stays in the past once it passed: only a new one must not lie before today
    same = put(on_sign_share_bp=10000, condition_kind="none", expected_version=2)
    assert same.version == 2  # nothing changed: no new version, no audit record
    with pytest.raises(Conflict) as caught_c:
        put(expected_version=1)
    assert caught_c.value.code == "stale_version"
    assert caught_c.value.message_zh.startswith(
        "本项目的签约设置已被 jingban 于 "
    ) or caught_c.value.message_zh.startswith("本项目的签约设置已被 经办人 于 ")
    records = db.scalars(
        select(AuditRecord).where(AuditRecord.entity == "signing_terms").order_by(AuditRecord.seq)
    ).all()
    assert [(r.action, json.loads(r.changes)) for r in records] == [
        (
            "create",
            {
                "agreement_prefix": ["SG", "SG"],
                "on_sign_share_bp": [7000, 6000],
                "condition_kind": ["none", "all_signed"],
                "condition_rate_bp": [0, 10000],
                "condition_deadline_on": [None, "2024-04-20"],
            },
        ),
        (
            "update",
            {
                "on_sign_share_bp": [6000, 10000],
                "condition_kind": ["all_signed", "none"],
                "condition_rate_bp": [10000, 0],
                "condition_deadline_on": ["2024-04-20", None],
            },
        ),
    ]
    assert records[1].reason == "全额支付"
    # A prefix another project numbers its agreements with is taken (its code, while it has no terms).
    other = project_service.create_project(
        db, actor=ACTOR, code="OT", name="另一项目", kind="state_land", district="青溪街道"
    )
    with pytest.raises(Conflict) as caught_c:
        put(agreement_prefix="OT", expected_version=2)
    assert (caught_c.value.code, caught_c.value.message_zh) == (
        "prefix_taken",
        "协议编号前缀“OT”已被项目 OT 使用，请换一个",
    )
    assert agreement_service.signing_terms(db, other.id).agreement_prefix == "OT"
    with pytest.raises(NotFound):
        agreement_service.signing_terms(db, 10**12)
