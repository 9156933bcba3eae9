"""Group measures on SQLite, PostgreSQL and MariaDB (#12 items 3 and 8): office-set measure values
recorded, audited and read as of a date; group facts from the database equal the engine's count;
the per-version cache is refreshed by every write that changes its inputs and by nothing else,
incrementally for one household's change."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from anju.agreement import service as agreement_service
from anju.audit.models import AuditRecord
from anju.compensation import group_cache, group_measures
from anju.compensation import service as compensation_service
from anju.core.actor import Actor
from anju.errors import NotFound, ValidationFailed
from anju.household import service as household_service
from anju.identity.service import DataScope
from anju.policy import facts
from anju.project import service as project_service
from tests.factories import ACTOR, build_world

EVERYTHING = DataScope.everything()
OFFICER = Actor(user_id=None, username="jingban", display_name="经办人", role="case_officer")
SIGN_ON = date(2024, 4, 20)
TODAY = date(2024, 7, 15)

SOURCE = """
policy:
  name: 片区指标测试
  effective_on: 2024-01-01
  rounding: {mode: half_up, unit: fen}
  block_levels: [片区, 地块]
options: {cash: 货币补偿}
measures:
  整片腾空率: {label: 整片腾空率, unit: '%', set_by: office, levels: [片区, project], ref: 第十二条}
  验收得分: {label: 验收得分, unit: '1', set_by: office, levels: [片区]}
items:
  - id: base
    label: 房屋补偿
    options: [cash]
    formula: "sum(buildings, building.legal_area) * 1000元/㎡"
  - id: area_sign
    label: 按面积签约奖励
    options: [cash]
    formula: "sign_rate('片区', date('2024-06-30'), basis='area') * 10000元"
  - id: whole
    label: 整片腾空奖励
    options: [cash]
    formula: "if measure('整片腾空率', '片区', date('2024-06-30')) >= 90% then 2000元 else 0元"
"""


def _world(db: Session, households: int = 4) -> Any:
    world = build_world(db, households=households, code="GM")
    compensation_service.publish(db, actor=ACTOR, project_id=world.project_id, source=SOURCE)
    return world


def _record(db: Session, world: Any, value: str, on: date, block: str | None = "E", **kw: Any) -> Any:
    args: dict[str, Any] = {
        "measure_id": "整片腾空率",
        "block_id": world.block_ids[block] if block else None,
        "effective_on": on,
        "value": value,
        "reason": "街道认定文件〔2024〕12号",
    }
    args.update(kw)
    return group_measures.record(db, actor=OFFICER, project_id=world.project_id, **args)


def _truth(db: Session, project_id: int) -> facts.GroupFacts:
    hs = [h for _, h in compensation_service.project_facts(db, scope=EVERYTHING, project_id=project_id)]
    return facts.GroupFacts.from_households(hs)


def test_recorded_values_are_read_as_of_a_date_audited_and_kept(db: Session) -> None:
    world = _world(db)
    east = world.household_ids[0]  # even households are in E
    first = _record(db, world, "85", date(2024, 6, 1))
    _record(db, world, "92.5", date(2024, 6, 20))
    fix = _record(db, world, "95", date(2024, 6, 20), reason="更正：复核后")
    _record(db, world, "60", date(2024, 7, 1))  # after the date the item asks for
    assert first.block_name.endswith("东片区") and first.value == Decimal("85.0000")

    g = compensation_service.group_facts(db, world.project_id)
    assert g.measure_value("整片腾空率", "E", date(2024, 6, 30)) == Decimal("95")  # the correction counts
    assert g.measure_value("整片腾空率", "E", date(2024, 6, 19)) == Decimal("85")
    _pv, r = compensation_service.calculate(db, scope=EVERYTHING, household_id=east, option="cash")
    assert r.amounts()["whole"] == 200_000

    rows = group_measures.history(db, project_id=world.project_id)
    assert [(x.effective_on, x.value) for x in rows] == [
        (date(2024, 7, 1), Decimal("60.0000")),
        (date(2024, 6, 20), Decimal("95.0000")),
        (date(2024, 6, 20), Decimal("92.5000")),
        (date(2024, 6, 1), Decimal("85.0000")),
    ]
    assert rows[1].reason == "更正：复核后" and rows[1].recorded_by == "jingban"
    audit = db.scalars(
        select(AuditRecord).where(
            AuditRecord.entity == "group_measure_value", AuditRecord.entity_id == str(fix.id)
        )
    ).one()
    assert audit.reason == "更正：复核后"


def test_a_missing_value_names_the_measure_for_the_household(db: Session) -> None:
    world = _world(db)
    west = world.household_ids[1]
    _record(db, world, "95", date(2024, 6, 1))  # E only
    with pytest.raises(compensation_service.NotComputable) as exc:
        compensation_service.calculate(db, scope=EVERYTHING, household_id=west, option="cash")
    assert "整片腾空率" in exc.value.message_zh and "W" in exc.value.message_zh
    _pv, r = compensation_service.calculate(
        db, scope=EVERYTHING, household_id=world.household_ids[0], option="cash"
    )
    assert r.amounts()["whole"] == 200_000


@pytest.mark.parametrize(
    ("kw", "field"),
    [
        ({"measure_id": "没有这个"}, "measure_id"),
        ({"measure_id": "验收得分", "block": None}, "block_id"),
        ({"value": "100.5"}, "value"),
        ({"value": "85.12345"}, "value"),
        ({"value": "八十五"}, "value"),
        ({"value": "-1"}, "value"),
        ({"reason": "  "}, "reason"),
        ({"reason": "x" * 501}, "reason"),
    ],
)
def test_bad_input_names_the_field_and_writes_nothing(db: Session, kw: dict[str, Any], field: str) -> None:
    world = _world(db)
    kw = dict(kw)  # the parameters are shared by the backends
    block = kw.pop("block", "E")
    with pytest.raises(ValidationFailed) as exc:
        _record(db, world, kw.pop("value", "90"), date(2024, 6, 1), block=block, **kw)
    assert exc.value.details[0]["field"] == field
    assert group_measures.history(db, project_id=world.project_id) == []


def test_a_block_of_another_project_or_level_is_refused(db: Session) -> None:
    world = _world(db)
    other = project_service.create_project(db, actor=ACTOR, code="GX", name="别的项目", kind="state_land")
    foreign = project_service.add_block(
        db, actor=ACTOR, project_id=other.id, code="X", name="外片区", level="area"
    )
    with pytest.raises(NotFound):
        _record(db, world, "90", date(2024, 6, 1), block=None, block_id=foreign.id)
    sub = project_service.add_block(
        db,
        actor=ACTOR,
        project_id=world.project_id,
        code="E1",
        name="东一地块",
        level="block",
        parent_id=world.block_ids["E"],
    )
    with pytest.raises(ValidationFailed) as exc:
        _record(db, world, "90", date(2024, 6, 1), block=None, block_id=sub.id)
    assert exc.value.details[0]["field"] == "block_id"
    listed = group_measures.declared(db, project_id=world.project_id)
    assert [m.id for m in listed] == ["整片腾空率", "验收得分"]
    assert (None, "全项目") in listed[0].blocks and all(b[0] != sub.id for b in listed[0].blocks)


def test_group_facts_from_the_database_equal_the_engine_count(db: Session) -> None:
    world = _world(db, households=6)
    hid = world.household_ids[0]
    household_service.add_building(
        db,
        actor=ACTOR,
        scope=EVERYTHING,
        household_id=hid,
        data={"certificate_no": "", "structure": "砖混", "use": "住宅", "legal_area": "10.25"},
    )
    household_service.add_building(
        db,
        actor=ACTOR,
        scope=EVERYTHING,
        household_id=hid,
        data={"certificate_no": "Z00001", "structure": "砖混", "use": "住宅", "legal_area": "3.10"},
    )
    household_service.set_stage(
        db, actor=ACTOR, scope=EVERYTHING, household_id=hid, stage="signed", on=SIGN_ON
    )
    g = compensation_service.group_facts(db, world.project_id)
    truth = _truth(db, world.project_id)
    assert g.blocks == truth.blocks and dict(g.parents) == dict(truth.parents)
    assert (
        g.blocks["E"].total_certificates == 4
    )  # Z00001 twice counts once, a building without a number alone
    assert g.rate_ppm("E", SIGN_ON, "sign", "area") == (8850 + 1025 + 310) * 1_000_000 // (
        3 * 8850 + 1025 + 310
    )


def _commit(db: Session) -> None:
    # The test's session runs inside a savepoint: committing it ends the transaction as a request
    # does (a new one starts), while the test's outer transaction still rolls everything back.
    db.commit()


def _same(db: Session, project_id: int, before: facts.GroupFacts | None) -> facts.GroupFacts:
    g = compensation_service.group_facts(db, project_id)
    truth = _truth(db, project_id)
    assert g.blocks == truth.blocks and dict(g.parents) == dict(truth.parents)
    if before is not None:
        assert g is not before  # a write that changes the inputs refreshes the cached facts
    return g


def test_the_cache_is_refreshed_by_every_write_that_changes_its_inputs(db: Session) -> None:
    world = _world(db, households=6)
    pid = world.project_id
    h = world.household_ids
    _record(db, world, "95", date(2024, 6, 1))
    _record(db, world, "95", date(2024, 6, 1), block="W")
    _commit(db)
    group_cache.STATS.clear()
    g = _same(db, pid, None)
    assert compensation_service.group_facts(db, pid) is g  # nothing changed: the same object
    assert group_cache.STATS["rebuild"] == 1 and group_cache.STATS["hit"] >= 1

    steps: list[tuple[str, Any]] = [
        (
            "sign",
            lambda: agreement_service.sign(
                db,
                actor=OFFICER,
                scope=EVERYTHING,
                household_id=h[0],
                option="cash",
                sign_on=SIGN_ON,
                today=SIGN_ON,
            ),
        ),
        (
            "vacate",
            lambda: agreement_service.record_vacating(
                db,
                actor=OFFICER,
                scope=EVERYTHING,
                household_id=h[0],
                vacated_on=date(2024, 6, 1),
                checklist={"utilities_settled": True, "emptied": True, "keys_handed": True},
                keys_handed=1,
                inspector="王验收",
                today=TODAY,
            ),
        ),
        (
            "stage",
            lambda: household_service.set_stage(
                db, actor=ACTOR, scope=EVERYTHING, household_id=h[1], stage="signed", on=SIGN_ON
            ),
        ),
        (
            "area",
            lambda: household_service.update_building(
                db,
                actor=ACTOR,
                scope=EVERYTHING,
                building_id=_building(db, h[0]),
                data={"legal_area": "120.00"},
                reason="复测",
            ),
        ),
        (
            "certificate",
            lambda: household_service.update_building(
                db,
                actor=ACTOR,
                scope=EVERYTHING,
                building_id=_building(db, h[1]),
                data={"certificate_no": "Z00001"},
                reason="证号更正",
            ),
        ),
        (
            "new building",
            lambda: household_service.add_building(
                db,
                actor=ACTOR,
                scope=EVERYTHING,
                household_id=h[2],
                data={"certificate_no": "N1", "structure": "砖混", "use": "住宅", "legal_area": "20.00"},
            ),
        ),
        (
            "void building",
            lambda: household_service.void_building(
                db, actor=ACTOR, scope=EVERYTHING, building_id=_building(db, h[3]), reason="重复登记"
            ),
        ),
        (
            "move",
            lambda: household_service.update_household(
                db,
                actor=ACTOR,
                scope=EVERYTHING,
                household_id=h[4],
                data={"block_id": world.block_ids["W"]},
                reason="划错片区",
            ),
        ),
        (
            "void household",
            lambda: household_service.void_household(
                db, actor=ACTOR, scope=EVERYTHING, household_id=h[5], reason="重复登记"
            ),
        ),
        (
            "new household",
            lambda: household_service.create_household(
                db,
                actor=ACTOR,
                project_id=pid,
                block_id=world.block_ids["E"],
                data={"code": "H9999", "head_name": "新户", "address": "青溪路99号"},
            ),
        ),
        (
            "revert stage",
            lambda: household_service.revert_stage(
                db, actor=ACTOR, scope=EVERYTHING, household_id=h[1], stage="signed", reason="登记有误"
            ),
        ),
    ]
    for name, write in steps:
        before = group_cache.STATS["incremental"]
        write()
        _commit(db)
        g = _same(db, pid, g)
        assert group_cache.STATS["incremental"] == before + 1, name  # one household re-read, not all

    # the block tree: everything is recounted
    before = group_cache.STATS["rebuild"]
    project_service.add_block(db, actor=ACTOR, project_id=pid, code="S", name="南片区", level="area")
    _commit(db)
    g = _same(db, pid, g)
    assert group_cache.STATS["rebuild"] == before + 1

    # an office-set value: only the measures are read again
    before = group_cache.STATS["measures"]
    _record(db, world, "80", date(2024, 6, 25))
    _commit(db)
    g2 = compensation_service.group_facts(db, pid)
    assert g2 is not g and g2.measure_value("整片腾空率", "E", date(2024, 6, 30)) == Decimal("80")
    assert group_cache.STATS["measures"] == before + 1


def test_an_uncommitted_write_is_never_shared(db: Session) -> None:
    world = _world(db)
    pid = world.project_id
    _commit(db)
    shared = compensation_service.group_facts(db, pid)
    household_service.set_stage(
        db, actor=ACTOR, scope=EVERYTHING, household_id=world.household_ids[0], stage="signed", on=SIGN_ON
    )
    own = compensation_service.group_facts(db, pid)  # this transaction sees its own signing
    assert own.rate_ppm(None, SIGN_ON, "sign") == 250_000
    db.rollback()
    after = compensation_service.group_facts(db, pid)
    assert after.rate_ppm(None, SIGN_ON, "sign") == 0
    assert after.blocks == shared.blocks


def _building(db: Session, household_id: int) -> int:
    file = household_service.get_household_file(db, scope=EVERYTHING, household_id=household_id)
    return int(file.buildings[0].building.id)
