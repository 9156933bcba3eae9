"""Ledger (台账) export: reopen the xlsx with python-calamine and check values, masking and scope."""

from __future__ import annotations

import io
import random
from decimal import Decimal
from typing import Any

from python_calamine import CalamineWorkbook
from sqlalchemy import select
from sqlalchemy.orm import Session

from anju.core.money import yuan_to_fen
from anju.demo.generator import census_rows
from anju.household import census, ledger, rules
from anju.household.models import Household
from anju.identity.rules import ScopeKind
from anju.identity.service import DataScope
from anju.project import service as project_service
from tests.factories import ACTOR, build_world


def export(
    db: Session, project_id: int, scope: DataScope, reveal: bool = False
) -> dict[str, list[list[Any]]]:
    buf = io.BytesIO()
    ledger.export_ledger(db, scope=scope, project_id=project_id, target=buf, reveal=reveal)
    wb = CalamineWorkbook.from_filelike(io.BytesIO(buf.getvalue()))
    return {name: wb.get_sheet_by_name(name).to_python() for name in wb.sheet_names}


def test_ledger_values_and_masking(db: Session) -> None:
    p = project_service.create_project(db, actor=ACTOR, code="L1", name="台账测试项目", kind="shantytown")
    project_service.add_block(db, actor=ACTOR, project_id=p.id, code="DP", name="东埠片区", level="area")
    rows = census_rows(random.Random(11), 25, prefix="L", blocks=["DP"], kind="shantytown")
    census.import_rows(db, actor=ACTOR, project_id=p.id, rows=rows, label="ledger test")
    book = export(db, p.id, DataScope.everything())
    assert list(book) == ["台账", "家庭成员", "房屋"]
    sheet = book["台账"]
    assert sheet[0][0].startswith("台账测试项目（L1） 被征收户台账（共 25 户）")
    header = sheet[1]
    assert header[:7] == ["户号", "户主", "房屋坐落", "所属区块", "状态", "家庭人口", "安置人口"]
    body = sheet[2:]
    assert [r[0] for r in body] == sorted(h["code"] for h in rows["households"])
    col = {name: i for i, name in enumerate(header)}
    for h in rows["households"]:
        r = next(r for r in body if r[0] == h["code"])
        members = [m for m in rows["members"] if m["household_code"] == h["code"]]
        buildings = [b for b in rows["buildings"] if b["household_code"] == h["code"]]
        values = [v for v in rows["valuations"] if v["household_code"] == h["code"]]
        assert r[col["户主"]] == h["head_name"]
        assert r[col["所属区块"]] == "东埠片区"
        assert r[col["状态"]] == rules.STATUSES[h["status"]]
        assert r[col["家庭人口"]] == len(members)
        assert r[col["安置人口"]] == sum(1 for m in members if m["resettlement_counted"] == "是")
        assert r[col["低保(人)"]] == sum(1 for m in members if m["dibao"] == "是")
        assert Decimal(repr(r[col["合法面积(㎡)"]])) == sum(
            (Decimal(b["legal_area"]) for b in buildings), Decimal(0)
        )
        value_fen = sum(yuan_to_fen(v["assessed_value"]) for v in values)
        assert yuan_to_fen(Decimal(repr(r[col["评估金额(元)"]]))) == value_fen
    people = book["家庭成员"][2:]
    assert len(people) == len(rows["members"])
    ids = {m["id_number"] for m in rows["members"]}
    assert all(r[5] not in ids and "********" in r[5] for r in people)
    revealed = export(db, p.id, DataScope.everything(), reveal=True)["家庭成员"][2:]
    assert {r[5] for r in revealed} == ids
    assert len(book["房屋"][2:]) == len(rows["buildings"])


def test_ledger_respects_the_callers_scope(db: Session) -> None:
    w = build_world(db, households=6)
    scope = DataScope(kind=ScopeKind.ASSIGNED, user_id=w.users["team_member"])
    book = export(db, w.project_id, scope)
    codes = [r[0] for r in book["台账"][2:]]
    expected = sorted(db.scalars(select(Household.code).where(Household.id.in_(w.assigned))))
    assert codes == expected
    assert {r[0] for r in book["家庭成员"][2:]} == set(expected)
    assert {r[0] for r in book["房屋"][2:]} == set(expected)
    assert export(db, w.project_id, DataScope(kind=ScopeKind.NONE))["台账"][2:] == []
