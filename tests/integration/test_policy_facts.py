"""Facts a project's policy declares, kept per household: migration, the household service (all or
nothing, audit in words, 409), engine facts and the missing-required refusal, the census template,
import and correction, and the ledger."""

from __future__ import annotations

import io
import json
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from python_calamine import CalamineWorkbook
from sqlalchemy import create_engine, inspect, select
from sqlalchemy.orm import Session

from anju.audit.models import AuditRecord
from anju.compensation import service as compensation_service
from anju.db import migrate
from anju.errors import Conflict, ValidationFailed
from anju.household import census, ledger
from anju.household import service as household_service
from anju.household.models import HouseholdFact
from anju.identity.service import DataScope
from tests.conftest import BACKENDS, new_database
from tests.factories import ACTOR, build_world

ALL = DataScope.everything()

POLICY = """\
policy:
  name: 方案事实测试
  effective_on: 2025-04-01
facts:
  ac_units: {label: 空调数量, type: count, unit: 台, required: true, max: 20, ref: 第十二条}
  reward_area: {label: 认定奖励面积, type: number, unit: ㎡}
  grade: {label: 装修档次, type: category, choices: [普通, 精装]}
parameters:
  ac_fee: {label: 空调移机费, unit: 元, value: 300}
items:
  - {id: ac, label: 空调移机费, formula: fact.ac_units * ac_fee}
  - {id: reward, label: 认定面积奖励, formula: fact.reward_area * 1000元/㎡, when: known(fact.reward_area)}
"""


def _world(db: Session, n: int = 2) -> Any:
    w = build_world(db, households=n)
    compensation_service.publish(db, actor=ACTOR, project_id=w.project_id, source=POLICY)
    return w


def _decls(db: Session, w: Any) -> Any:
    return compensation_service.declared_facts(db, w.project_id)


@pytest.mark.parametrize("backend", BACKENDS)
def test_migration_0019_up_and_down(backend: str, tmp_path: Path) -> None:
    url, handle = new_database(backend, tmp_path)
    try:
        migrate.upgrade(url)
        engine = create_engine(url)
        try:
            cols = {c["name"] for c in inspect(engine).get_columns("household_fact")}
            # (0023 adds subject, building_id and member_id: see test_policy_fact_levels)
            assert {"id", "household_id", "fact_id", "value", "version", "updated_at"} <= cols
            migrate.downgrade(url, "0020")  # the revision before it
            assert "household_fact" not in inspect(engine).get_table_names()
            migrate.upgrade(url)
            assert "household_fact" in inspect(engine).get_table_names()
        finally:
            engine.dispose()
    finally:
        if handle is not None:
            handle.drop()


def test_declared_facts_come_from_the_published_policy_else_the_newest_draft(db: Session) -> None:
    w = build_world(db, households=1)
    assert compensation_service.declared_facts(db, w.project_id) == {}
    from anju.compensation import drafts

    drafts.save_yaml(db, actor=ACTOR, project_id=w.project_id, source=POLICY, parent_number=None)
    assert list(compensation_service.declared_facts(db, w.project_id)) == ["ac_units", "reward_area", "grade"]
    compensation_service.publish(
        db,
        actor=ACTOR,
        project_id=w.project_id,
        source=POLICY.replace("  grade: {label: 装修档次, type: category, choices: [普通, 精装]}\n", ""),
    )
    assert list(compensation_service.declared_facts(db, w.project_id)) == ["ac_units", "reward_area"]


def test_set_facts_all_or_nothing_audited_in_words_and_versioned(db: Session) -> None:
    w = _world(db)
    hid = w.household_ids[0]
    decls = _decls(db, w)
    version = household_service.version_of(db, kind="household", record_id=hid)
    with pytest.raises(ValidationFailed) as exc:
        household_service.set_policy_facts(
            db,
            actor=ACTOR,
            scope=ALL,
            household_id=hid,
            decls=decls,
            data={"ac_units": "2.5", "reward_area": "12.5", "grade": "豪装", "nope": "1"},
        )
    assert {d["field"]: d["message"] for d in exc.value.details} == {
        "fact.ac_units": "空调数量应为整数，却是“2.5”",
        "fact.grade": "装修档次只能是普通、精装之一，却是“豪装”",
        "fact.nope": "方案没有声明这一事实",
    }
    assert db.scalars(select(HouseholdFact)).all() == []  # nothing written
    assert household_service.version_of(db, kind="household", record_id=hid) == version

    changes = household_service.set_policy_facts(
        db,
        actor=ACTOR,
        scope=ALL,
        household_id=hid,
        decls=decls,
        data={"fact.ac_units": "3", "reward_area": "12.5", "grade": ""},
        reason="入户核实",
        expected_version=version,
    )
    assert changes == {"fact.ac_units": [None, "3 台"], "fact.reward_area": [None, "12.50 ㎡"]}
    assert household_service.policy_facts_of(db, scope=ALL, household_id=hid) == {
        "ac_units": "3",
        "reward_area": "12.50",
    }
    rec = db.scalars(select(AuditRecord).where(AuditRecord.entity == "household_fact")).one()
    assert (rec.action, rec.household_id, rec.reason) == ("update", hid, "入户核实")
    assert json.loads(rec.changes) == {
        "fact.ac_units": [None, "3 台"],
        "fact.reward_area": [None, "12.50 ㎡"],
    }
    # a write based on the version read before that change is a 409 naming who changed it
    with pytest.raises(Conflict) as conflict:
        household_service.set_policy_facts(
            db,
            actor=ACTOR,
            scope=ALL,
            household_id=hid,
            decls=decls,
            data={"ac_units": "4"},
            expected_version=version,
        )
    assert "已被" in conflict.value.message_zh
    # clearing keeps the row (and its history)
    household_service.set_policy_facts(
        db, actor=ACTOR, scope=ALL, household_id=hid, decls=decls, data={"reward_area": ""}
    )
    assert household_service.policy_facts_of(db, scope=ALL, household_id=hid) == {"ac_units": "3"}
    row = db.scalars(select(HouseholdFact).where(HouseholdFact.fact_id == "reward_area")).one()
    assert row.value is None and row.version == 2


def test_engine_reads_the_facts_and_refuses_a_household_lacking_a_required_one(db: Session) -> None:
    w = _world(db)
    h1, h2 = w.household_ids
    household_service.set_policy_facts(
        db,
        actor=ACTOR,
        scope=ALL,
        household_id=h1,
        decls=_decls(db, w),
        data={"ac_units": "3", "reward_area": "10"},
    )
    _pv, r = compensation_service.calculate(db, scope=ALL, household_id=h1, option="cash")
    assert r.amounts() == {"ac": 90000, "reward": 1000000}
    assert {i.id: i.basis for i in r.items}["ac"] == ["空调数量 3 台 × 空调移机费 300 元 = 900.00 元"]
    with pytest.raises(compensation_service.NotComputable) as exc:
        compensation_service.calculate(db, scope=ALL, household_id=h2, option="cash")
    assert exc.value.message_zh == "缺少方案要求的事实：空调数量"
    # signing computes the same way: refused with the same words
    with pytest.raises(compensation_service.NotComputable) as signing:
        compensation_service.signing_calculation(
            db, scope=ALL, household_id=h2, option="cash", sign_on=date(2025, 5, 1)
        )
    assert signing.value.message_zh == "缺少方案要求的事实：空调数量"
    ok = compensation_service.signing_calculation(
        db, scope=ALL, household_id=h1, option="cash", sign_on=date(2025, 5, 1)
    )
    assert ok.result.total_fen == 1090000 and ok.household.facts == {"ac_units": "3", "reward_area": "10.00"}
    from anju.compensation import budget

    _pv2, entry = budget.project_table(db, project_id=w.project_id)
    res = budget.base_result(entry, "cash")
    i1, i2 = entry.table.codes.index("H0001"), entry.table.codes.index("H0002")
    assert res.row(i1) == {"ac": 90000, "reward": 1000000}
    assert [d.label for d in res.missing[i2]] == ["空调数量"] and i1 not in res.missing


def _read_sheet(data: bytes, title: str) -> list[list[Any]]:
    return [
        list(r) for r in CalamineWorkbook.from_filelike(io.BytesIO(data)).get_sheet_by_name(title).to_python()
    ]


def test_census_template_import_and_correction_carry_the_facts(db: Session) -> None:
    w = _world(db, n=1)
    decls = _decls(db, w)
    template = census.template_bytes(decls)
    header = _read_sheet(template, "户")[0]
    assert header[-3:] == ["空调数量(台)*", "认定奖励面积(㎡)", "装修档次"]

    def xlsx(rows: list[dict[str, Any]]) -> bytes:
        buf = io.BytesIO()
        census.write_workbook(buf, {"households": rows}, policy_facts=decls)
        return buf.getvalue()

    base = {"head_name": "周某", "address": "青溪路99号"}
    bad = xlsx(
        [
            {"code": "N001", **base, "fact.ac_units": 2, "fact.reward_area": "8.5"},
            {"code": "N002", **base, "fact.reward_area": "1.234"},
            {"code": "N003", **base, "fact.ac_units": "两台", "fact.grade": "豪装"},
        ]
    )
    before = db.scalars(select(HouseholdFact)).all()
    with pytest.raises(census.CensusInvalid) as exc:
        census.import_census(
            db, actor=ACTOR, project_id=w.project_id, source=bad, filename="t.xlsx", policy_facts=decls
        )
    texts = sorted(e.text() for e in exc.value.errors)
    letters = {h: census.column_letter(i) for i, h in enumerate(header)}
    assert texts == sorted(
        [
            f"“户”表 第3行 {letters['空调数量(台)*']}列（空调数量(台)）：缺少方案要求的事实：空调数量",
            f"“户”表 第3行 {letters['认定奖励面积(㎡)']}列（认定奖励面积(㎡)）：认定奖励面积应为最多 2 位小数的数，却是“1.234”",
            f"“户”表 第4行 {letters['空调数量(台)*']}列（空调数量(台)）：空调数量应为数字，却是“两台”",
            f"“户”表 第4行 {letters['装修档次']}列（装修档次）：装修档次只能是普通、精装之一，却是“豪装”",
        ]
    )
    assert db.scalars(select(HouseholdFact)).all() == before

    # a file without the required column: every household is named with the column
    plain = io.BytesIO()
    census.write_workbook(plain, {"households": [{"code": "N001", **base}]})
    with pytest.raises(census.CensusInvalid) as exc:
        census.import_census(
            db,
            actor=ACTOR,
            project_id=w.project_id,
            source=plain.getvalue(),
            filename="t.xlsx",
            policy_facts=decls,
        )
    assert sorted(e.text() for e in exc.value.errors) == [
        "“户”表 第1行（空调数量(台)）：缺少方案要求的事实列“空调数量(台)”",
        "“户”表 第2行（空调数量(台)）：缺少方案要求的事实：空调数量",
    ]

    good = xlsx(
        [
            {"code": "N001", **base, "fact.ac_units": 2, "fact.reward_area": "8.5", "fact.grade": "精装"},
            {"code": "N002", **base, "fact.ac_units": "0"},
        ]
    )
    census.import_census(
        db, actor=ACTOR, project_id=w.project_id, source=good, filename="t.xlsx", policy_facts=decls
    )
    ids = {
        h.code: h.id
        for h in household_service.project_files(db, scope=ALL, project_id=w.project_id).households
    }
    assert household_service.policy_facts_of(db, scope=ALL, household_id=ids["N001"]) == {
        "ac_units": "2",
        "reward_area": "8.50",
        "grade": "精装",
    }
    assert household_service.policy_facts_of(db, scope=ALL, household_id=ids["N002"]) == {"ac_units": "0"}
    rec = db.scalars(
        select(AuditRecord).where(
            AuditRecord.entity == "household_fact", AuditRecord.household_id == ids["N001"]
        )
    ).one()
    assert rec.action == "import" and json.loads(rec.changes)["fact.ac_units"] == [None, "2 台"]

    # correction (--update): filled cells change, blank ones stay
    fix = xlsx([{"code": "N001", **base, "fact.ac_units": 4}, {"code": "N002", **base, "fact.grade": "普通"}])
    plan, summary = census.correct_census(
        db,
        actor=ACTOR,
        scope=ALL,
        project_id=w.project_id,
        source=fix,
        filename="fix.xlsx",
        policy_facts=decls,
    )
    assert summary is not None
    changes = {
        h.code: [
            (c.label, c.before, c.after) for r in h.records if r.entity == "household_fact" for c in r.changes
        ]
        for h in plan.households
    }
    assert changes == {"N001": [("空调数量", "2 台", "4 台")], "N002": [("装修档次", "（空）", "普通")]}
    assert household_service.policy_facts_of(db, scope=ALL, household_id=ids["N001"]) == {
        "ac_units": "4",
        "reward_area": "8.50",
        "grade": "精装",
    }
    assert household_service.policy_facts_of(db, scope=ALL, household_id=ids["N002"])["grade"] == "普通"


def test_ledger_exports_the_facts(db: Session) -> None:
    w = _world(db)
    decls = _decls(db, w)
    household_service.set_policy_facts(
        db,
        actor=ACTOR,
        scope=ALL,
        household_id=w.household_ids[0],
        decls=decls,
        data={"ac_units": "3", "reward_area": "12.5", "grade": "精装"},
    )
    household_service.set_policy_facts(
        db, actor=ACTOR, scope=ALL, household_id=w.household_ids[1], decls=decls, data={"ac_units": "2"}
    )
    buf = io.BytesIO()
    ledger.export_ledger(db, scope=ALL, project_id=w.project_id, target=buf, policy_facts=decls)
    rows = _read_sheet(buf.getvalue(), "台账")
    header = rows[1]
    at = header.index("空调数量(台)")
    assert header[at : at + 3] == ["空调数量(台)", "认定奖励面积(㎡)", "装修档次"]
    assert rows[2][at : at + 3] == [3, 12.5, "精装"]
    assert rows[3][at : at + 3] == [2, "", ""]
    assert rows[4][at] == 5  # the 合计 row sums the counts
    assert Decimal(str(rows[2][at + 1])) == Decimal("12.5")


def test_amendment_check_names_changed_declared_facts_by_label() -> None:
    from anju.agreement.service.amendment_flag import fact_changes

    signed = {"code": "H1", "facts": {"ac_units": 2, "reward_area": "8.50"}}
    current = {"code": "H1", "facts": {"ac_units": 3, "grade": "精装"}}
    changes = fact_changes(signed, current, {"ac_units": "空调数量", "reward_area": "认定奖励面积"})
    assert [(c.label, c.signed, c.current) for c in changes] == [
        ("空调数量", "2", "3"),
        ("认定奖励面积", "8.50", "（无）"),
        ("方案事实 grade", "（无）", "精装"),
    ]
