"""Entitlement (安置资格) of households from their files, and selections checked against it
(compensation service, on SQLite, PostgreSQL and MariaDB)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

import anju
from anju.audit import service as audit_service
from anju.compensation import service as compensation_service
from anju.demo.policies import POLICY_DIR
from anju.errors import NotFound
from anju.household import service as household_service
from anju.identity.rules import ScopeKind
from anju.identity.service import DataScope
from anju.policy import facts
from anju.policy.swap import Flat
from tests.factories import ACTOR, build_world, id_number

ALL = DataScope.everything()
RURAL = (POLICY_DIR / "rural.yaml").read_text(encoding="utf-8")


def add_members(db: Session, household_id: int, n: int, serial: int) -> None:
    for i in range(n):
        household_service.add_member(
            db,
            actor=ACTOR,
            scope=ALL,
            household_id=household_id,
            data={
                "name": f"家人{serial + i}",
                "relation": "子女",
                "id_number": id_number(serial + i),
                "resettlement_counted": True,
            },
        )


def count_heads(db: Session, member_ids: list[int]) -> None:
    """The factory's heads of household are not yet determined as resettlement persons: count them."""
    for mid in member_ids:
        household_service.update_member(
            db, actor=ACTOR, scope=ALL, member_id=mid, data={"resettlement_counted": True}
        )


def flat(code: str, area: str, flat_type: str = "") -> Flat:
    return Flat(code, Decimal(area), flat_type)


def test_entitlement_from_the_household_file(db: Session) -> None:
    w = build_world(db, households=2)
    count_heads(db, w.member_ids)
    pv = compensation_service.publish(
        db, actor=ACTOR, project_id=w.project_id, source=RURAL, file_name="rural.yaml"
    )
    small, large = w.household_ids
    add_members(db, large, 3, 100)  # 4 persons: 4 × 40 + 10 = 170 ㎡
    before = audit_service.count(db)
    one = compensation_service.entitlement(db, scope=ALL, household_id=small)
    assert (one.version.id, one.household_id, one.as_of) == (
        pv.id,
        small,
        date(2024, 5, 10),
    )  # effective date
    e = one.entitlement
    assert (e.household, e.entitled_area, e.max_area, e.max_flats) == (
        "H0001",
        Decimal("60.00"),
        Decimal("90.00"),
        1,
    )
    assert [(r.id, r.applies) for r in e.rules] == [("big_flat", False), ("small_household_flat", True)]
    four = compensation_service.entitlement(db, scope=ALL, household_id=large).entitlement
    assert (four.entitled_area, four.max_area, four.max_flats) == (Decimal("170.00"), Decimal("200.00"), 3)
    assert [r.id for r in four.applicable_rules] == ["big_flat"]
    assert audit_service.count(db) == before  # reading writes nothing
    # the file changes, the entitlement follows: a fifth person (5 × 40 + 10 = 210 ㎡)
    add_members(db, large, 1, 200)
    five = compensation_service.entitlement(db, scope=ALL, household_id=large).entitlement
    assert (five.entitled_area, five.max_area) == (Decimal("210.00"), Decimal("240.00"))


def test_a_selection_breaking_a_rule_is_refused_with_the_rule_named(db: Session) -> None:
    w = build_world(db, households=2)
    count_heads(db, w.member_ids)
    compensation_service.publish(db, actor=ACTOR, project_id=w.project_id, source=RURAL)
    small, large = w.household_ids
    add_members(db, large, 3, 100)
    refused = compensation_service.check_selection(
        db, scope=ALL, household_id=large, flats=[flat("1-101", "45.00"), flat("1-102", "55.00")]
    )
    assert [(v.rule_id, v.label, v.message_zh) for v in refused] == [
        (
            "big_flat",
            "应安置面积超过60㎡的，须至少选择一套60㎡及以上的房源",
            "须至少 1 套 60.00㎡ 及以上的房源，所选只有 0 套",
        )
    ]
    ok = [flat("3-502", "90.00"), flat("3-601", "80.00")]
    assert compensation_service.check_selection(db, scope=ALL, household_id=large, flats=ok) == []
    # one small flat first is fine while two more may follow; as the whole selection it is not
    first = [flat("2-101", "45.00")]
    assert (
        compensation_service.check_selection(db, scope=ALL, household_id=large, flats=first, complete=False)
        == []
    )
    assert [
        v.rule_id
        for v in compensation_service.check_selection(db, scope=ALL, household_id=large, flats=first)
    ] == ["big_flat"]
    # the one-person household: one flat of at most 75 ㎡ and 90 ㎡ in all
    big = compensation_service.check_selection(
        db, scope=ALL, household_id=small, flats=[flat("5-101", "88.00")]
    )
    assert [(v.rule_id, v.flats) for v in big] == [("small_household_flat", ("5-101",))]
    two = compensation_service.check_selection(
        db, scope=ALL, household_id=small, flats=[flat("1-201", "45.00"), flat("1-202", "45.00")]
    )
    assert [v.rule_id for v in two] == ["max_flats"]


def test_scope_policy_and_swap_settlement_are_required(db: Session) -> None:
    w = build_world(db, households=6)
    count_heads(db, w.member_ids)
    with pytest.raises(NotFound):
        compensation_service.entitlement(db, scope=ALL, household_id=w.household_ids[0])
    state_land = (Path(anju.__file__).parent / "policy" / "examples" / "state_land.yaml").read_text(
        encoding="utf-8"
    )
    compensation_service.publish(
        db, actor=ACTOR, project_id=w.project_id, source=state_land
    )  # no swap settlement
    with pytest.raises(compensation_service.EntitlementUnavailable) as exc:
        compensation_service.entitlement(db, scope=ALL, household_id=w.household_ids[0])
    assert exc.value.http_status == 409 and exc.value.code == "entitlement_unavailable"
    assert exc.value.message_zh == "无法计算安置资格：本方案没有产权调换结算规则"
    compensation_service.publish(db, actor=ACTOR, project_id=w.project_id, source=RURAL)
    member = DataScope(kind=ScopeKind.ASSIGNED, user_id=w.users["team_member"])
    with pytest.raises(NotFound):
        compensation_service.entitlement(db, scope=member, household_id=w.household_ids[5])
    with pytest.raises(NotFound):
        compensation_service.check_selection(db, scope=member, household_id=w.household_ids[5], flats=[])
    mine = compensation_service.entitlement(db, scope=member, household_id=w.assigned[0])
    assert mine.entitlement.entitled_area == Decimal("60.00")


def test_frozen_facts_and_the_sign_date(db: Session) -> None:
    w = build_world(db, households=1)
    count_heads(db, w.member_ids)
    pv = compensation_service.publish(db, actor=ACTOR, project_id=w.project_id, source=RURAL)
    hid = w.household_ids[0]
    ((_, hf),) = compensation_service.project_facts(
        db, scope=ALL, project_id=w.project_id, household_ids=[hid]
    )
    group = compensation_service.group_facts(db, w.project_id)
    frozen = replace(hf, members=(*hf.members, facts.Member("家人"), facts.Member("家人2")))  # 3 persons
    e = compensation_service.entitlement_for_facts(pv, frozen, as_of=date(2024, 6, 1), group=group)
    assert (e.entitled_area, e.max_area, e.max_flats) == (
        Decimal("145.00"),
        Decimal("175.00"),
        2,
    )  # 3 × 45 + 10
    # signing sets the date (agreement domain); here it is set on the row as signing would
    household_service.get_household_file(db, scope=ALL, household_id=hid).household.sign_on = date(
        2024, 5, 20
    )
    db.flush()
    assert compensation_service.entitlement(db, scope=ALL, household_id=hid).as_of == date(2024, 5, 20)
    assert compensation_service.entitlement(
        db, scope=ALL, household_id=hid, as_of=date(2024, 7, 1)
    ).as_of == date(2024, 7, 1)
