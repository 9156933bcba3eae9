"""The flat stock through the service on SQLite, PostgreSQL and MariaDB: estates, the developer's
flat list imported all or nothing (bad rows reported with row and column, nothing written),
duplicates refused, the export that imports again, grids per building, status by hand."""

from __future__ import annotations

import io
import json
from decimal import Decimal
from typing import Any

import pytest
import xlsxwriter
from python_calamine import CalamineWorkbook
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from anju.audit.models import AuditRecord
from anju.core.actor import Actor
from anju.errors import Conflict, NotFound, ValidationFailed
from anju.housing import service as housing_service
from anju.housing.models import Estate, Flat, FlatType, HousingBuilding
from tests.factories import build_world

HEAD = ["楼栋", "单元", "楼层", "房号", "户型", "建筑面积", "套内面积", "公摊面积", "朝向", "价格档"]
OFFICER = Actor(user_id=None, username="jingban", display_name="经办人", role="case_officer")


def flat_list(rows: list[list[Any]], head: list[str] = HEAD) -> bytes:
    """A developer's flat list (.xlsx) with a title row, the header and ``rows``."""
    out = io.BytesIO()
    wb = xlsxwriter.Workbook(out, {"in_memory": True, "strings_to_formulas": False})
    ws = wb.add_worksheet("房源")
    ws.write_row(0, 0, ["青溪安置小区 房源表"])
    ws.write_row(1, 0, head)
    for i, r in enumerate(rows, start=2):
        ws.write_row(i, 0, r)
    wb.close()
    return out.getvalue()


def building_rows(building: str, *, units: int = 2, floors: int = 3, flat_type: str = "A") -> list[list[Any]]:
    return [
        [building, u, f, f"{f}0{u}", flat_type, 89.56, 72.3, 17.26, "南", "standard"]
        for f in range(1, floors + 1)
        for u in range(1, units + 1)
    ]


def _import(db: Session, estate_id: int, rows: list[list[Any]]) -> housing_service.FlatImportResult:
    sheet = housing_service.read_flat_sheet(flat_list(rows), "房源.xlsx")
    return housing_service.import_flats(db, actor=OFFICER, estate_id=estate_id, rows=sheet)


def _counts(db: Session) -> tuple[int, ...]:
    return tuple(
        int(db.scalar(select(func.count()).select_from(m)) or 0)
        for m in (Flat, HousingBuilding, FlatType, AuditRecord)
    )


@pytest.fixture
def estate(db: Session) -> Estate:
    world = build_world(db, households=1, code="HS")
    return housing_service.create_estate(
        db, actor=OFFICER, project_id=world.project_id, code="qx1", name="青溪安置小区", address="青溪路88号"
    )


def test_an_estate_is_created_once_per_code(db: Session, estate: Estate) -> None:
    assert (estate.code, estate.name, estate.address) == ("QX1", "青溪安置小区", "青溪路88号")
    with pytest.raises(Conflict) as exc:
        housing_service.create_estate(
            db, actor=OFFICER, project_id=estate.project_id, code=" Qx1 ", name="重复"
        )
    assert exc.value.code == "duplicate_code" and "QX1" in exc.value.message_zh
    with pytest.raises(NotFound):
        housing_service.create_estate(db, actor=OFFICER, project_id=10**9, code="X", name="不存在的项目")
    with pytest.raises(ValidationFailed) as bad:
        housing_service.create_estate(db, actor=OFFICER, project_id=estate.project_id, code="X", name="  ")
    assert bad.value.details == [{"field": "name", "message": "小区名称不能为空"}]
    listed = housing_service.list_estates(db, project_id=estate.project_id)
    assert [(s.estate.code, s.total, s.buildings) for s in listed] == [("QX1", 0, 0)]


def test_a_flat_list_is_imported_with_its_buildings_and_types(db: Session, estate: Estate) -> None:
    audits = _counts(db)[3]
    result = _import(
        db, estate.id, building_rows("3幢") + building_rows("10幢", units=1, floors=2, flat_type="B")
    )
    assert (result.flats, result.buildings, result.flat_types) == (8, 2, 2)
    flats = housing_service.flat_rows(db, estate_ids=[estate.id])
    assert [r.flat.code for r in flats] == [
        "3-1-101",
        "3-1-201",
        "3-1-301",
        "3-2-102",
        "3-2-202",
        "3-2-302",
        "10-1-101",
        "10-1-201",
    ]
    f = flats[0].flat
    assert (f.gross_area, f.inner_area, f.shared_area, f.status, f.price_tier, flats[0].flat_type) == (
        Decimal("89.56"),
        Decimal("72.30"),
        Decimal("17.26"),
        "available",
        "standard",
        "A",
    )
    view = housing_service.estate_view(db, estate_id=estate.id)
    assert [(g.building.code, g.floors, g.units) for g in view.grids] == [
        ("3幢", [3, 2, 1], [1, 2]),
        ("10幢", [2, 1], [1]),
    ]
    assert [c.flat.code for c in view.grids[0].cells[(3, 2)]] == ["3-2-302"]
    assert view.counts["available"] == 8 and view.grids[1].counts["available"] == 2
    [summary] = housing_service.list_estates(db, project_id=estate.project_id)
    assert (summary.total, summary.buildings, summary.counts["available"]) == (8, 2, 8)
    # one audit record for the import, naming every flat
    record = db.scalars(select(AuditRecord).where(AuditRecord.action == "import_flats")).one()
    assert _counts(db)[3] == audits + 1
    changes = json.loads(record.changes)
    assert changes["flats"] == [None, 8] and changes["codes"][1][:2] == [
        "3-1-101",
        "3-2-102",
    ]  # in the sheet's order
    assert changes["gross_area"] == [None, "716.48"]
    # a second list adds to the buildings it names
    _import(db, estate.id, [["3幢", 3, 4, "403", "A", 100, 80, 20, "南", "extra"]])
    b3 = db.scalars(select(HousingBuilding).where(HousingBuilding.code == "3幢")).one()
    assert (b3.floors, b3.units) == (4, 3)


def test_bad_rows_are_all_reported_and_nothing_is_written(db: Session, estate: Estate) -> None:
    _import(db, estate.id, building_rows("3幢", units=1, floors=1))
    before = _counts(db)
    rows = [
        ["3幢", 1, 2, "201", "A", 90, 75, "", "南", ""],  # good
        ["3幢", 1, 1, "101", "A", 90, 75, "", "南", ""],  # already in the estate
        ["5幢", "一", 2, "201", "A", 90, 95, "", "南", ""],  # bad unit, inner > gross
        ["3幢", 1, 2, "201", "A", 90, 75, "", "南", ""],  # twice in the sheet
    ]
    with pytest.raises(ValidationFailed) as exc:
        _import(db, estate.id, rows)
    assert exc.value.message_zh == "房源表有 4 处问题，未导入任何房源"
    assert exc.value.details == [
        {
            "row": 4,
            "column": "房号",
            "message": "第 4 行“房号”：房源 3-1-101 已在该小区的房源中，不能重复导入",
        },
        {"row": 5, "column": "单元", "message": "第 5 行“单元”：“一”不是 1 至 99 的单元号"},
        {
            "row": 5,
            "column": "套内面积",
            "message": "第 5 行“套内面积”：套内面积 95.00㎡ 大于建筑面积 90.00㎡",
        },
        {"row": 6, "column": "房号", "message": "第 6 行“房号”：房源 3-1-201 与第 3 行重复"},
    ]
    assert _counts(db) == before
    # the check alone says the same, without writing
    check = housing_service.check_flat_rows(
        db, estate_id=estate.id, rows=housing_service.read_flat_sheet(flat_list(rows), "房源.xlsx")
    )
    assert [p.row for p in check.problems] == [4, 5, 5, 6] and _counts(db) == before


def test_a_list_without_header_or_data_or_of_the_wrong_type_is_refused(db: Session, estate: Estate) -> None:
    with pytest.raises(ValidationFailed) as exc:
        housing_service.read_flat_sheet(flat_list([], head=["楼栋", "房号"]), "房源.xlsx")
    assert [d["message"] for d in exc.value.details] == [
        "第 2 行表头缺少“单元”列",
        "第 2 行表头缺少“楼层”列",
        "第 2 行表头缺少“建筑面积”列",
        "第 2 行表头缺少“套内面积”列",
    ]
    with pytest.raises(ValidationFailed) as exc:
        housing_service.read_flat_sheet(flat_list([]), "房源.xlsx")
    assert exc.value.message_zh == "房源表有 1 处问题，未导入任何房源：房源表中没有数据行"
    with pytest.raises(ValidationFailed) as exc:
        housing_service.read_flat_sheet(b"<html><body>not a workbook</body></html>", "房源.xlsx")
    assert exc.value.code == "upload_wrong_type" and "HTML" in exc.value.message_zh
    csv_text = "楼栋,单元,楼层,房号,建筑面积,套内面积\r\n7幢,1,1,101,60,50\r\n".encode("gb18030")
    rows = housing_service.read_flat_sheet(csv_text, "房源.csv")
    assert housing_service.import_flats(db, actor=OFFICER, estate_id=estate.id, rows=rows).flats == 1


def test_the_export_lists_every_flat_and_imports_again(db: Session, estate: Estate) -> None:
    _import(
        db,
        estate.id,
        [*building_rows("3幢", units=1, floors=2), ["9幢", 1, 1, "101", "", 60, 50, "", "=1+1", "extra"]],
    )
    # 楼型 set by the office for 3幢; 9幢 follows its floors count (blank in the export)
    b3 = db.scalars(
        select(HousingBuilding).where(HousingBuilding.estate_id == estate.id, HousingBuilding.code == "3幢")
    ).one()
    housing_service.set_building_rise(db, actor=OFFICER, building_id=b3.id, rise="高层")
    data = housing_service.export_flats(db, estate_id=estate.id)
    grid = CalamineWorkbook.from_filelike(io.BytesIO(data)).get_sheet_by_name("房源").to_python()
    assert grid[0][:3] == ["房源编号", "楼栋", "单元"] and grid[0][12] == "楼型"
    assert [r[0] for r in grid[1:]] == ["3-1-101", "3-1-201", "9-1-101"]
    assert grid[3][9] == "=1+1" and grid[3][13] == "可选"
    assert [r[12] for r in grid[1:]] == ["高层", "高层", ""]
    other = housing_service.create_estate(
        db, actor=OFFICER, project_id=estate.project_id, code="QX2", name="二期"
    )
    rows = housing_service.read_flat_sheet(data, "导出.xlsx")
    assert housing_service.import_flats(db, actor=OFFICER, estate_id=other.id, rows=rows).flats == 3
    codes = [r.flat.code for r in housing_service.flat_rows(db, estate_ids=[other.id])]
    assert codes == ["3-1-101", "3-1-201", "9-1-101"]
    rises = {
        code: rise
        for code, rise in db.execute(
            select(HousingBuilding.code, HousingBuilding.rise).where(HousingBuilding.estate_id == other.id)
        )
    }
    assert rises == {"3幢": "高层", "9幢": None}  # round trip: the set 楼型 kept, the default left unset


def test_status_by_hand_needs_a_reason_follows_the_table_and_is_audited(db: Session, estate: Estate) -> None:
    _import(db, estate.id, building_rows("3幢", units=1, floors=1))
    flat = housing_service.flat_rows(db, estate_ids=[estate.id])[0].flat
    v = flat.version
    with pytest.raises(ValidationFailed):
        housing_service.change_flat_status(db, actor=OFFICER, flat_id=flat.id, status="frozen", reason=" ")
    changed = housing_service.change_flat_status(
        db, actor=OFFICER, flat_id=flat.id, status="frozen", reason="开发商整改渗水", expected_version=v
    )
    assert (changed.status, changed.status_reason, changed.version) == ("frozen", "开发商整改渗水", v + 1)
    record = db.scalars(select(AuditRecord).where(AuditRecord.action == "flat_status")).one()
    assert (record.entity, record.entity_id, record.reason) == ("flat", str(flat.id), "开发商整改渗水")
    assert json.loads(record.changes)["status"] == ["available", "frozen"]
    # a stale version names who changed the flat; nothing changes
    with pytest.raises(Conflict) as stale:
        housing_service.change_flat_status(
            db, actor=OFFICER, flat_id=flat.id, status="available", reason="整改完成", expected_version=v
        )
    assert stale.value.message_zh.startswith("房源 3-1-101 已被 jingban 于 ")
    # frozen -> reserved is not allowed by hand; selected is the selection service's
    for target in ("reserved", "selected", "frozen"):
        with pytest.raises(Conflict) as exc:
            housing_service.change_flat_status(db, actor=OFFICER, flat_id=flat.id, status=target, reason="试")
        assert exc.value.code == "illegal_transition"
    assert housing_service.get_flat(db, flat_id=flat.id).status == "frozen"
    back = housing_service.change_flat_status(
        db, actor=OFFICER, flat_id=flat.id, status="available", reason="整改完成"
    )
    assert (back.status, back.version) == ("available", v + 2)
    with pytest.raises(NotFound):
        housing_service.change_flat_status(db, actor=OFFICER, flat_id=10**9, status="frozen", reason="试")
