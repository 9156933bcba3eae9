"""更正导入: corrected census rows for existing households — preview per household, all-or-nothing
apply through the audited household service, refusal of a household changed since the preview."""

from __future__ import annotations

import copy
import io
import random
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from anju.audit.models import AuditRecord
from anju.demo.generator import census_rows
from anju.errors import Conflict
from anju.household import census
from anju.household import service as household_service
from anju.household.models import Building, Household, Member
from anju.identity.service import DataScope
from anju.project import service as project_service
from tests.factories import ACTOR

EVERYTHING = DataScope.everything()


def _world(db: Session) -> tuple[int, dict[str, list[dict[str, Any]]]]:
    p = project_service.create_project(db, actor=ACTOR, code="GZ1", name="更正测试项目", kind="state_land")
    project_service.add_block(db, actor=ACTOR, project_id=p.id, code="DP", name="东埠片区", level="area")
    project_service.add_block(db, actor=ACTOR, project_id=p.id, code="XC", name="西村片区", level="area")
    rows = census_rows(random.Random(7), 4, prefix="G", blocks=["DP"], kind="state_land")
    census.import_rows(db, actor=ACTOR, project_id=p.id, rows=rows, label="原始调查")
    db.flush()
    return p.id, rows


def _file(rows: dict[str, list[dict[str, Any]]]) -> bytes:
    buf = io.BytesIO()
    census.write_workbook(buf, rows)
    return buf.getvalue()


def _state(db: Session, project_id: int) -> list[tuple[Any, ...]]:
    """Every fact the corrections may touch, to check that nothing changed."""
    db.expire_all()
    hs = db.execute(
        select(Household.code, Household.head_name, Household.address, Household.block_id, Household.version)
        .where(Household.project_id == project_id)
        .order_by(Household.code)
    ).all()
    ms = db.execute(
        select(Member.household_id, Member.name, Member.relation, Member.dibao, Member.version).order_by(
            Member.id
        )
    ).all()
    bs = db.execute(
        select(Building.household_id, Building.legal_area, Building.structure, Building.version).order_by(
            Building.id
        )
    ).all()
    audits = db.scalar(select(func.count()).select_from(AuditRecord))
    return [*map(tuple, hs), *map(tuple, ms), *map(tuple, bs), (audits,)]


def _corrected(rows: dict[str, list[dict[str, Any]]]) -> dict[str, list[dict[str, Any]]]:
    fixed = copy.deepcopy(rows)
    h1, h2, h3 = fixed["households"][:3]
    h1["head_name"] = "段平安"
    h1["block"] = "XC"
    b2 = next(b for b in fixed["buildings"] if b["household_code"] == h2["code"])
    b2["legal_area"] = Decimal("88.88")
    fixed["members"].append(
        {
            "household_code": h3["code"],
            "name": "新生儿",
            "relation": "孙子女",
            "id_number": "110101202401010019",
            "dibao": "否",
            "resettlement_counted": "是",
        }
    )
    return fixed


def test_preview_lists_each_change_and_apply_writes_and_audits(db: Session) -> None:
    project_id, rows = _world(db)
    codes = [h["code"] for h in rows["households"]]
    before = _state(db, project_id)
    plan = census.plan_corrections(
        db, scope=EVERYTHING, project_id=project_id, source=_file(_corrected(rows)), filename="更正.xlsx"
    )
    assert _state(db, project_id) == before  # the preview writes nothing
    assert [h.code for h in plan.households] == codes[:3]
    assert plan.unchanged == [codes[3]]
    h1, h2, h3 = plan.households
    old_name = rows["households"][0]["head_name"]
    assert [(r.entity, r.action, r.title) for r in h1.records] == [("household", "update", "户")]
    assert [(c.label, c.before, c.after) for c in h1.records[0].changes] == [
        ("户主姓名", old_name, "段平安"),
        ("所属区块", "东埠片区", "西村片区"),
    ]
    old_area = next(b for b in rows["buildings"] if b["household_code"] == codes[1])["legal_area"]
    assert [(c.label, c.before, c.after) for r in h2.records for c in r.changes] == [
        ("合法面积(㎡)", f"{old_area:.2f}", "88.88")
    ]
    assert [(r.entity, r.action, r.title) for r in h3.records] == [("member", "add", "新增成员 新生儿")]
    assert ("身份证号", "", "110101********0019") in [
        (c.label, c.before, c.after) for c in h3.records[0].changes
    ]
    n = len(rows["valuations"])
    assert n > 0 and plan.notes == [f"“评估”表的 {n} 行未处理：更正导入只处理“户”“成员”“房屋”三张表"]

    summary = census.apply_corrections(
        db, actor=ACTOR, scope=EVERYTHING, project_id=project_id, plan=plan, seen=plan.versions()
    )
    assert (summary.households, summary.fields, summary.added) == (3, 3, 1)
    db.flush()
    db.expire_all()
    first = db.scalar(select(Household).where(Household.project_id == project_id, Household.code == codes[0]))
    assert first is not None and first.head_name == "段平安" and first.version == h1.version + 1
    history = household_service.history(db, scope=EVERYTHING, household_id=first.id)
    assert history[0].reason == "更正导入：更正.xlsx" and history[0].entity == "household"
    last = db.scalar(select(AuditRecord).order_by(AuditRecord.seq.desc()).limit(1))
    assert last is not None and last.action == "census_correction" and last.seq == summary.audit_seq
    untouched = db.scalar(
        select(Household).where(Household.project_id == project_id, Household.code == codes[3])
    )
    assert untouched is not None and untouched.version == 1
    names = db.scalars(select(Member.name).where(Member.household_id == h3.household_id)).all()
    assert "新生儿" in names


def test_a_bad_cell_is_reported_by_row_and_column_and_nothing_is_written(db: Session) -> None:
    project_id, rows = _world(db)
    fixed = _corrected(rows)
    fixed["members"][1]["id_number"] = "110101199001011234"  # wrong check digit
    fixed["households"].append({**fixed["households"][0], "code": "NOPE1", "address": "无此户"})
    before = _state(db, project_id)
    with pytest.raises(census.CensusInvalid) as caught:
        census.correct_census(
            db, actor=ACTOR, scope=EVERYTHING, project_id=project_id, source=_file(fixed), filename="坏.xlsx"
        )
    texts = [e.text() for e in caught.value.errors]
    assert (
        "“户”表 第6行 A列（户号）：户号“NOPE1”不在本项目中（或不在您的权限范围内）；更正导入只修改已有的户"
        in texts
    )
    assert any(t.startswith("“成员”表 第3行 D列（身份证号）：") for t in texts), texts
    assert _state(db, project_id) == before


def test_a_household_changed_since_the_preview_refuses_the_whole_file(db: Session) -> None:
    project_id, rows = _world(db)
    plan = census.plan_corrections(
        db, scope=EVERYTHING, project_id=project_id, source=_file(_corrected(rows)), filename="更正.xlsx"
    )
    seen = plan.versions()
    changed = plan.households[1]
    household_service.update_household(
        db, actor=ACTOR, scope=EVERYTHING, household_id=changed.household_id, data={"remark": "别人改了"}
    )
    db.flush()
    before = _state(db, project_id)
    with pytest.raises(Conflict) as caught:
        census.correct_census(
            db,
            actor=ACTOR,
            scope=EVERYTHING,
            project_id=project_id,
            source=_file(_corrected(rows)),
            filename="更正.xlsx",
            seen=seen,
        )
    assert caught.value.message_zh == (
        f"预览之后这些户已被修改：{changed.code}。未写入任何数据，请重新上传预览后再确认"
    )
    assert _state(db, project_id) == before


def test_a_renamed_member_is_not_added_twice(db: Session) -> None:
    project_id, rows = _world(db)
    fixed = copy.deepcopy(rows)
    fixed["members"][0]["name"] = "改了名"
    with pytest.raises(census.CensusInvalid) as caught:
        census.plan_corrections(db, scope=EVERYTHING, project_id=project_id, source=_file(fixed))
    old = rows["members"][0]["name"]
    assert [e.text() for e in caught.value.errors] == [
        f"“成员”表 第2行 D列（身份证号）：该身份证号已登记为本户成员“{old}”；更正姓名请在户档中修改"
    ]


def test_status_and_sign_dates_are_not_corrected(db: Session) -> None:
    project_id, rows = _world(db)
    fixed = copy.deepcopy(rows)
    fixed["households"][0]["status"] = "已拆除"
    fixed["households"][0]["sign_on"] = "2025-05-01"
    with pytest.raises(census.CensusInvalid) as caught:
        census.plan_corrections(db, scope=EVERYTHING, project_id=project_id, source=_file(fixed))
    assert [e.text() for e in caught.value.errors] == [
        "“户”表 第2行 F列（状态）：更正导入不修改状态、签约日期和腾空日期（由征迁流程登记），请清空或改回原值",
        "“户”表 第2行 G列（签约日期）：更正导入不修改状态、签约日期和腾空日期（由征迁流程登记），请清空或改回原值",
    ]
