"""Compensation domain: publishing policy versions and computing households from their files."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from anju.audit import service as audit_service
from anju.compensation import budget
from anju.compensation import service as compensation_service
from anju.demo.policies import POLICY_DIR
from anju.errors import NotFound, ValidationFailed
from anju.household import service as household_service
from anju.identity.rules import ScopeKind
from anju.identity.service import DataScope
from tests.factories import ACTOR, build_world

ALL = DataScope.everything()
SOURCE = (POLICY_DIR / "shantytown.yaml").read_text(encoding="utf-8")


def test_publish_versions_are_immutable_and_audited(db: Session) -> None:
    w = build_world(db, households=2)
    before = audit_service.count(db)
    pv = compensation_service.publish(
        db, actor=ACTOR, project_id=w.project_id, source=SOURCE, file_name="s.yaml"
    )
    assert pv.version == 1
    assert pv.content_hash == compensation_service.content_hash(SOURCE)
    assert audit_service.count(db) == before + 1
    with pytest.raises(ValidationFailed) as exc:
        compensation_service.publish(db, actor=ACTOR, project_id=w.project_id, source=SOURCE)
    assert "第 1 版完全相同" in exc.value.message_zh
    amended = SOURCE.replace(
        "relocation_rate: {label: 搬迁费, unit: 元/㎡, value: 15",
        "relocation_rate: {label: 搬迁费, unit: 元/㎡, value: 18",
    )
    assert amended != SOURCE
    pv2 = compensation_service.publish(db, actor=ACTOR, project_id=w.project_id, source=amended)
    assert pv2.version == 2
    assert compensation_service.get_version(db, w.project_id).version == 2
    assert compensation_service.get_version(db, w.project_id, 1).content_hash == pv.content_hash


def test_invalid_policy_lists_problems_with_line_and_column(db: Session) -> None:
    w = build_world(db, households=1)
    bad = SOURCE.replace("formula: house_value * cash_bonus_share", "formula: house_value + relocation_rate")
    with pytest.raises(ValidationFailed) as exc:
        compensation_service.publish(db, actor=ACTOR, project_id=w.project_id, source=bad)
    problems = exc.value.details
    assert problems and all(p["line"] > 0 and p["column"] > 0 for p in problems)
    assert compensation_service.versions(db, w.project_id) == []


def test_calculation_from_the_household_file(db: Session) -> None:
    w = build_world(db, households=2)
    compensation_service.publish(db, actor=ACTOR, project_id=w.project_id, source=SOURCE)
    # H0001: one 砖混 住宅 building of 88.50 ㎡ in block E (zone B), one member, no sign date.
    _pv, r = compensation_service.calculate(db, scope=ALL, household_id=w.household_ids[0], option="cash")
    amounts = r.amounts()
    assert amounts["house_value"] == 92_925_000  # 88.50 × 10,500
    assert amounts["cash_bonus"] == 9_292_500  # 10%
    assert amounts["relocation_cash"] == 132_750  # 88.50 × 15 (above the 1,000 floor)
    assert amounts["transition_cash"] == 637_200  # 88.50 × 12 × 6
    assert amounts["appliance"] == 200_000
    assert amounts["sign_reward"] == 0 and amounts["business_loss"] == 0
    assert r.total_fen == 103_187_450
    # a change to the file changes the result
    b = (
        household_service.get_household_file(db, scope=ALL, household_id=w.household_ids[0])
        .buildings[0]
        .building
    )
    household_service.update_building(
        db, actor=ACTOR, scope=ALL, building_id=b.id, data={"legal_area": "90.00"}
    )
    _, r2 = compensation_service.calculate(db, scope=ALL, household_id=w.household_ids[0], option="cash")
    assert r2.amounts()["house_value"] == 94_500_000


def test_calculation_respects_scope_and_needs_a_policy(db: Session) -> None:
    w = build_world(db, households=6)
    with pytest.raises(NotFound):
        compensation_service.calculate(db, scope=ALL, household_id=w.household_ids[0], option="cash")
    compensation_service.publish(db, actor=ACTOR, project_id=w.project_id, source=SOURCE)
    member_scope = DataScope(kind=ScopeKind.ASSIGNED, user_id=w.users["team_member"])
    with pytest.raises(NotFound):
        compensation_service.calculate(db, scope=member_scope, household_id=w.household_ids[5], option="cash")
    _, r = compensation_service.calculate(db, scope=member_scope, household_id=w.assigned[0], option="swap")
    assert r.option == "swap"
    with pytest.raises(ValidationFailed):
        compensation_service.calculate(db, scope=ALL, household_id=w.household_ids[0], option="rent")


def test_whatif_budget_matches_sum_of_scalar_results(db: Session) -> None:
    w = build_world(db, households=6)
    compensation_service.publish(db, actor=ACTOR, project_id=w.project_id, source=SOURCE)
    scalar_total = sum(
        compensation_service.calculate(db, scope=ALL, household_id=h, option="cash")[1].total_fen
        for h in w.household_ids
    )
    _pv, _entry, result = budget.run_whatif(db, project_id=w.project_id, option="cash", changes={})
    assert result.base_total == result.new_total == scalar_total
    _pv, _entry, raised = budget.run_whatif(
        db, project_id=w.project_id, option="cash", changes={"house_rate[brick_concrete,B]": "11000"}
    )
    # 6 households × 88.50 ㎡ × 500 元 more, plus the 10% cash bonus on it
    assert raised.new_total - raised.base_total == 6 * 8_850 * 500 * 110 // 100 * 100 // 100
    with pytest.raises(ValidationFailed):
        budget.run_whatif(db, project_id=w.project_id, option="cash", changes={"no_such": "1"})


def test_whatif_cache_sees_a_change_made_in_the_same_second(db: Session) -> None:
    w = build_world(db, households=3)
    compensation_service.publish(db, actor=ACTOR, project_id=w.project_id, source=SOURCE)
    _, _, first = budget.run_whatif(db, project_id=w.project_id, option="cash", changes={})
    b = (
        household_service.get_household_file(db, scope=ALL, household_id=w.household_ids[0])
        .buildings[0]
        .building
    )
    household_service.update_building(
        db, actor=ACTOR, scope=ALL, building_id=b.id, data={"legal_area": "98.50"}
    )
    _, _, second = budget.run_whatif(db, project_id=w.project_id, option="cash", changes={})
    # 10 ㎡ more at 10,500 元 plus 10% bonus, 15 元 relocation and 12 × 6 元 transition per ㎡
    assert second.base_total - first.base_total == 10 * (10_500 * 110 // 100 + 15 + 72) * 100


def test_group_facts_equal_those_built_from_full_files(db: Session) -> None:
    from datetime import date

    from anju.household.models import Household
    from anju.policy import GroupFacts

    w = build_world(db, households=6)
    for i, hid in enumerate(w.household_ids[:4]):
        h = db.get(Household, hid)
        assert h is not None
        h.sign_on = date(2026, 3, 1 + i)
        if i % 2:
            h.vacate_on = date(2026, 4, 1 + i)
    db.flush()
    everyone = compensation_service.project_facts(db, scope=ALL, project_id=w.project_id)
    expected = GroupFacts.from_households(h for _, h in everyone)
    got = compensation_service.group_facts(db, w.project_id)
    assert got == expected
    assert got.rate_ppm(None, date(2026, 3, 2), "sign") == 333_333  # 2 of 6 signed by 2 March
