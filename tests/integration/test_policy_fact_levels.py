"""Building- and member-level facts a project's policy declares, kept per building and member on
SQLite, PostgreSQL and MariaDB: migration 0023, the household service (all or nothing, a building
of another household refused, audit in words naming the building or member, 409), the engine's
facts and the missing-required refusal naming the building."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, inspect, select
from sqlalchemy.orm import Session

from anju.audit.models import AuditRecord
from anju.compensation import service as compensation_service
from anju.db import migrate
from anju.errors import Conflict, ValidationFailed
from anju.household import census, ledger
from anju.household import service as household_service
from anju.household.models import Building, HouseholdFact
from anju.identity.service import DataScope
from tests.conftest import BACKENDS, new_database
from tests.factories import ACTOR, build_world, id_number

ALL = DataScope.everything()

POLICY = """\
policy:
  name: 证级事实测试
  effective_on: 2025-04-01
facts:
  frontage: {label: 临街位置, type: category, level: building, choices: [主街, 小巷], required: true}
  ac_units: {label: 空调数量, type: count, unit: 台, level: building}
  care_months: {label: 护理月数, type: count, unit: 月, level: member}
  wubao: {label: 五保户, type: yesno}
parameters:
  shop_rate: {label: 营业奖励单价, unit: 元/㎡, keys: [临街位置], table: {主街: 100, 小巷: 50}, default: 0}
items:
  - {id: shop, label: 营业奖励, per: certificate, formula: "building.legal_area * shop_rate[building.fact.frontage]"}
  - {id: care, label: 护理补助, formula: "sum(members, member.fact.care_months * 500元/月)"}
"""


def _world(db: Session, n: int = 2) -> Any:
    w = build_world(db, households=n)
    compensation_service.publish(db, actor=ACTOR, project_id=w.project_id, source=POLICY)
    return w


def _building_id(db: Session, household_id: int) -> int:
    return int(db.scalars(select(Building.id).where(Building.household_id == household_id)).one())


@pytest.mark.parametrize("backend", BACKENDS)
def test_migration_0023_up_and_down(backend: str, tmp_path: Path) -> None:
    url, handle = new_database(backend, tmp_path)
    try:
        migrate.upgrade(url)
        engine = create_engine(url)
        try:
            cols = {c["name"] for c in inspect(engine).get_columns("household_fact")}
            assert {"subject", "building_id", "member_id"} <= cols
            uniques = {
                tuple(u["column_names"]) for u in inspect(engine).get_unique_constraints("household_fact")
            }
            assert ("household_id", "fact_id", "subject") in uniques
            migrate.downgrade(url, "0019")
            cols = {c["name"] for c in inspect(engine).get_columns("household_fact")}
            assert cols == {"id", "household_id", "fact_id", "value", "version", "updated_at"}
            migrate.upgrade(url)
        finally:
            engine.dispose()
    finally:
        if handle is not None:
            handle.drop()


def test_building_and_member_facts_saved_audited_versioned_and_computed(db: Session) -> None:
    w = _world(db)
    h1, h2 = w.household_ids
    b1, b2 = _building_id(db, h1), _building_id(db, h2)
    m1 = w.member_ids[0]
    decls = compensation_service.declared_facts(db, w.project_id)
    version = household_service.version_of(db, kind="household", record_id=h1)
    # all or nothing: a bad value, a household-level spelling, and a building of another household
    with pytest.raises(ValidationFailed) as exc:
        household_service.set_policy_facts(
            db,
            actor=ACTOR,
            scope=ALL,
            household_id=h1,
            decls=decls,
            data={f"building.{b1}.fact.frontage": "大街", "fact.ac_units": "2", "wubao": "是"},
        )
    assert {d["field"]: d["message"] for d in exc.value.details} == {
        f"building.{b1}.fact.frontage": "临街位置只能是主街、小巷之一，却是“大街”",
        "fact.ac_units": "这是每证（每处房屋）的事实，应写成 building.房屋编号.fact.ac_units",
    }
    with pytest.raises(ValidationFailed) as exc:
        household_service.set_policy_facts(
            db,
            actor=ACTOR,
            scope=ALL,
            household_id=h1,
            decls=decls,
            data={f"building.{b2}.fact.frontage": "主街", "wubao": "是"},
        )
    assert [d["message"] for d in exc.value.details] == [f"该户没有编号为 {b2} 的房屋"]
    assert db.scalars(select(HouseholdFact)).all() == []  # nothing written
    assert household_service.version_of(db, kind="household", record_id=h1) == version

    changes = household_service.set_policy_facts(
        db,
        actor=ACTOR,
        scope=ALL,
        household_id=h1,
        decls=decls,
        data={
            f"building.{b1}.fact.frontage": "主街",
            f"building.{b1}.fact.ac_units": "2",
            f"member.{m1}.fact.care_months": "3",
            "wubao": "是",
        },
        reason="入户核实",
        expected_version=version,
    )
    assert changes == {
        "证 Z00001 临街位置": [None, "主街"],
        "证 Z00001 空调数量": [None, "2 台"],
        "成员 张建国 护理月数": [None, "3 月"],
        "fact.wubao": [None, "是"],
    }
    rec = db.scalars(select(AuditRecord).where(AuditRecord.entity == "household_fact")).one()
    assert json.loads(rec.changes) == changes
    # the household-level read is unchanged; the building's and member's are apart
    assert household_service.policy_facts_of(db, scope=ALL, household_id=h1) == {"wubao": "true"}
    assert household_service.element_policy_facts_of(db, scope=ALL, household_id=h1) == {
        "building": {b1: {"frontage": "主街", "ac_units": "2"}},
        "member": {m1: {"care_months": "3"}},
    }
    # a write based on the version read before is a 409
    with pytest.raises(Conflict):
        household_service.set_policy_facts(
            db,
            actor=ACTOR,
            scope=ALL,
            household_id=h1,
            decls=decls,
            data={f"building.{b1}.fact.frontage": "小巷"},
            expected_version=version,
        )
    # the engine reads them; the other household lacks its building's frontage, named by certificate
    _pv, r = compensation_service.calculate(db, scope=ALL, household_id=h1, option="cash")
    assert r.amounts() == {"shop": 885000, "care": 150000}  # 88.50 ㎡ × 100; 3 月 × 500
    with pytest.raises(compensation_service.NotComputable) as missing:
        compensation_service.calculate(db, scope=ALL, household_id=h2, option="cash")
    assert missing.value.message_zh == "缺少方案要求的事实：临街位置（证 Z00002）"
    # clearing keeps the row
    household_service.set_policy_facts(
        db, actor=ACTOR, scope=ALL, household_id=h1, decls=decls, data={f"building.{b1}.fact.ac_units": ""}
    )
    assert household_service.element_policy_facts_of(db, scope=ALL, household_id=h1)["building"] == {
        b1: {"frontage": "主街"}
    }


def _sheet(data: bytes, title: str) -> list[list[Any]]:
    from python_calamine import CalamineWorkbook

    return [
        list(r) for r in CalamineWorkbook.from_filelike(io.BytesIO(data)).get_sheet_by_name(title).to_python()
    ]


def test_census_and_ledger_carry_building_and_member_facts(db: Session) -> None:
    w = _world(db, n=1)
    decls = compensation_service.declared_facts(db, w.project_id)
    template = census.template_bytes(decls)
    assert _sheet(template, "户")[0][-1] == "五保户"
    assert _sheet(template, "房屋")[0][-2:] == ["临街位置*", "空调数量(台)"]
    assert _sheet(template, "成员")[0][-1] == "护理月数(月)"

    def xlsx(buildings: list[dict[str, Any]], members: list[dict[str, Any]]) -> bytes:
        buf = io.BytesIO()
        households = [{"code": "N001", "head_name": "周某", "address": "青溪路99号"}]
        census.write_workbook(
            buf, {"households": households, "buildings": buildings, "members": members}, policy_facts=decls
        )
        return buf.getvalue()

    b = {"household_code": "N001", "structure": "砖混", "use": "营业", "legal_area": "20.00"}
    m = {"household_code": "N001", "name": "周某", "relation": "户主", "id_number": id_number(97)}
    bad = xlsx(
        [
            {**b, "certificate_no": "A1", "fact.frontage": "大街"},
            {**b, "certificate_no": "A2", "fact.ac_units": "两台"},
        ],
        [{**m, "fact.care_months": "1.5"}],
    )
    before = db.scalars(select(HouseholdFact)).all()
    with pytest.raises(census.CensusInvalid) as exc:
        census.import_census(
            db, actor=ACTOR, project_id=w.project_id, source=bad, filename="t.xlsx", policy_facts=decls
        )
    header_b = _sheet(template, "房屋")[0]
    header_m = _sheet(template, "成员")[0]
    col = {h: census.column_letter(i) for i, h in enumerate(header_b)}
    mcol = census.column_letter(header_m.index("护理月数(月)"))
    assert sorted(e.text() for e in exc.value.errors) == sorted(
        [
            f"“房屋”表 第2行 {col['临街位置*']}列（临街位置）：临街位置只能是主街、小巷之一，却是“大街”",
            f"“房屋”表 第3行 {col['临街位置*']}列（临街位置）：缺少方案要求的事实：临街位置",
            f"“房屋”表 第3行 {col['空调数量(台)']}列（空调数量(台)）：空调数量应为数字，却是“两台”",
            f"“成员”表 第2行 {mcol}列（护理月数(月)）：护理月数应为整数，却是“1.5”",
        ]
    )
    assert db.scalars(select(HouseholdFact)).all() == before

    good = xlsx(
        [
            {**b, "certificate_no": "A1", "fact.frontage": "主街", "fact.ac_units": 2},
            {**b, "certificate_no": "A2", "fact.frontage": "小巷"},
        ],
        [{**m, "fact.care_months": 4}],
    )
    census.import_census(
        db, actor=ACTOR, project_id=w.project_id, source=good, filename="t.xlsx", policy_facts=decls
    )
    hid = next(
        h.id
        for h in household_service.project_files(db, scope=ALL, project_id=w.project_id).households
        if h.code == "N001"
    )
    stored = household_service.element_policy_facts_of(db, scope=ALL, household_id=hid)
    assert sorted(stored["building"].values(), key=str) == sorted(
        [{"frontage": "主街", "ac_units": "2"}, {"frontage": "小巷"}], key=str
    )
    assert list(stored["member"].values()) == [{"care_months": "4"}]
    _pv, r = compensation_service.calculate(db, scope=ALL, household_id=hid, option="cash")
    assert r.amounts() == {"shop": 300000, "care": 200000}  # 20×100 + 20×50; 4 月 × 500

    buf = io.BytesIO()
    ledger.export_ledger(db, scope=ALL, project_id=w.project_id, target=buf, policy_facts=decls)
    rows = _sheet(buf.getvalue(), "房屋")
    at = rows[1].index("临街位置")
    mine = [r for r in rows[2:] if r[0] == "N001"]
    assert [r[at : at + 2] for r in mine] == [["主街", 2], ["小巷", ""]]
    mrows = _sheet(buf.getvalue(), "家庭成员")
    assert [r[mrows[1].index("护理月数(月)")] for r in mrows[2:] if r[0] == "N001"] == [4]
    assert "临街位置" not in _sheet(buf.getvalue(), "台账")[1]
