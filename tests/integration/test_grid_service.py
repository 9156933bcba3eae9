"""The grid service on SQLite, PostgreSQL and MariaDB: communities, grids and buildings (versioned,
audited), the worker assignment, imports of GeoJSON and sheets (all or nothing, every problem named),
the GeoJSON export that imports again, and mediation cases."""

from __future__ import annotations

import io
import json
from datetime import date
from typing import Any

import pytest
import xlsxwriter
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from anju.audit.models import AuditRecord
from anju.core.actor import Actor
from anju.errors import Conflict, NotFound, ValidationFailed
from anju.grid import service as grid_service
from anju.grid.models import Community, Grid, GridBuilding, MediationCase, MediationParty, MediationSession
from anju.identity import service as identity_service

ACTOR = Actor(user_id=None, username="shequ", display_name="社区受理员", role="community")


def square(x0: float, y0: float, d: float = 0.01) -> dict[str, Any]:
    return {
        "type": "Polygon",
        "coordinates": [[[x0, y0], [x0 + d, y0], [x0 + d, y0 + d], [x0, y0 + d], [x0, y0]]],
    }


def _counts(db: Session) -> tuple[int, ...]:
    return tuple(
        int(db.scalar(select(func.count()).select_from(m)) or 0)
        for m in (Community, Grid, GridBuilding, AuditRecord)
    )


@pytest.fixture
def worker(db: Session) -> int:
    u = identity_service.create_user(
        db,
        actor=ACTOR,
        username="wg_li",
        display_name="李网格",
        password="x",
        role="grid_worker",
        check_strength=False,
    )
    return u.id


def feature(props: dict[str, Any], geometry: Any) -> dict[str, Any]:
    return {"type": "Feature", "properties": props, "geometry": geometry}


def collection(*features: dict[str, Any]) -> bytes:
    return json.dumps({"type": "FeatureCollection", "features": list(features)}, ensure_ascii=False).encode()


def sheet(rows: list[list[Any]]) -> bytes:
    out = io.BytesIO()
    wb = xlsxwriter.Workbook(out, {"in_memory": True, "strings_to_formulas": False})
    ws = wb.add_worksheet("网格")
    ws.write_row(
        0,
        0,
        [
            "社区",
            "网格编号",
            "网格名称",
            "网格员",
            "公开电话",
            "楼栋",
            "楼栋户数",
            "楼栋长",
            "楼栋长电话",
            "党员",
        ],
    )
    for i, r in enumerate(rows, start=1):
        ws.write_row(i, 0, r)
    wb.close()
    return out.getvalue()


def test_grids_and_buildings_are_versioned_and_audited(db: Session, worker: int) -> None:
    c = grid_service.create_community(db, actor=ACTOR, values={"code": "db", "name": "东埠社区"})
    g = grid_service.create_grid(
        db,
        actor=ACTOR,
        community_id=c.id,
        values={
            "code": "db-01",
            "name": "东埠一网格",
            "boundary": square(120.1, 30.2),
            "public_phone": "0571-8888",
        },
    )
    assert (g.code, str(g.min_lng), str(g.max_lat), str(g.centroid_lng), str(g.centroid_lat)) == (
        "DB-01",
        "120.100000",
        "30.210000",
        "120.105000",
        "30.205000",
    )
    with pytest.raises(Conflict) as dup:
        grid_service.create_grid(db, actor=ACTOR, community_id=c.id, values={"code": "DB-01", "name": "重复"})
    assert dup.value.message_zh == "网格编号 DB-01 已存在"
    with pytest.raises(ValidationFailed) as bad:
        grid_service.assign_worker(db, actor=ACTOR, grid_id=g.id, user_id=10**9, expected_version=g.version)
    assert bad.value.details == [{"field": "worker_user_id", "message": "该用户不存在或不是网格员"}]
    changes = grid_service.assign_worker(db, actor=ACTOR, grid_id=g.id, user_id=worker, expected_version=1)
    assert changes == {"worker_user_id": [None, worker]} and g.version == 2
    before = _counts(db)
    with pytest.raises(Conflict) as stale:
        grid_service.update_grid(db, actor=ACTOR, grid_id=g.id, values={"name": "改名"}, expected_version=1)
    assert stale.value.code == "stale_version" and g.name == "东埠一网格" and _counts(db) == before
    b = grid_service.add_building(
        db,
        actor=ACTOR,
        grid_id=g.id,
        values={
            "name": "幸福里 3 幢",
            "households": "24",
            "leader_name": "王红",
            "leader_party_member": "是",
        },
    )
    card = grid_service.grid_card(db, g.id)
    assert (card.worker_name, card.building_households, card.party_leaders) == ("李网格", 24, 1)
    grid_service.remove_building(db, actor=ACTOR, building_id=b.id, expected_version=b.version)
    assert grid_service.grid_card(db, g.id).buildings == []
    audited = db.scalars(
        select(AuditRecord.action + ":" + AuditRecord.entity)
        .where(AuditRecord.entity.in_(["community", "grid", "grid_building"]))
        .order_by(AuditRecord.seq)
    ).all()
    assert audited == [
        "create:community",
        "create:grid",
        "update:grid",
        "create:grid_building",
        "delete:grid_building",
    ]
    assert grid_service.grid_at(db, lng="120.105", lat="30.205") is g


def test_geojson_import_creates_and_updates_and_exports_again(db: Session, worker: int) -> None:
    content = collection(
        feature(
            {"community": "东埠社区", "code": "G1", "name": "一网格", "worker": "wg_li", "phone": "111"},
            square(120.1, 30.2),
        ),
        feature(
            {"community": "东埠社区", "code": "G2", "name": "二网格", "worker": "李网格"},
            square(120.11, 30.2),
        ),
    )
    result = grid_service.import_grids(db, actor=ACTOR, content=content, filename="grids.geojson")
    assert (result.kind, result.grids_created, result.grids_updated, result.communities_created) == (
        "geojson",
        2,
        0,
        1,
    )
    exported = grid_service.grids_geojson(db)
    props = [f["properties"] for f in exported["features"]]
    assert [(p["code"], p["name"], p["worker"], p["phone"], p["community"]) for p in props] == [
        ("G1", "一网格", "李网格", "111", "东埠社区"),
        ("G2", "二网格", "李网格", "", "东埠社区"),
    ]
    # The export imports again: nothing changes.
    again = grid_service.import_grids(
        db, actor=ACTOR, content=json.dumps(exported).encode(), filename="x.geojson"
    )
    assert (again.grids_created, again.grids_updated, again.communities_created) == (0, 0, 0)
    moved = collection(
        feature({"community": "东埠社区", "code": "G2", "name": "二网格（新）"}, square(121, 31))
    )
    assert grid_service.import_grids(db, actor=ACTOR, content=moved, filename="m.geojson").grids_updated == 1
    assert grid_service.grid_at(db, lng="121.005", lat="31.005") is grid_service.get_grid_by_code(db, "G2")


def test_a_bad_geojson_names_every_feature_and_imports_nothing(db: Session, worker: int) -> None:
    grid_service.create_community(db, actor=ACTOR, values={"code": "DB", "name": "东埠社区"})
    before = _counts(db)
    content = collection(
        feature({"community": "东埠社区", "code": "G1"}, square(120.1, 30.2)),
        feature({"code": "G2"}, square(120.2, 30.2)),
        feature(
            {"community": "东埠社区", "code": "G3", "worker": "张三"},
            {"type": "Point", "coordinates": [1, 2]},
        ),
        feature({"community": "东埠社区", "code": "G1"}, square(120.3, 30.2)),
        {"type": "Thing"},
    )
    with pytest.raises(grid_service.GridImportInvalid) as err:
        grid_service.import_grids(db, actor=ACTOR, content=content, filename="bad.geojson")
    assert [d["message"] for d in err.value.details] == [
        "第 2 个要素 community：缺少社区",
        "第 3 个要素 geometry：边界类型应为 Polygon 或 MultiPolygon，而不是 'Point'",
        "第 3 个要素 worker：网格员“张三”不存在或不是网格员",
        "第 5 个要素 type：应为 Feature",
        "第 4 个要素：网格编号 G1 与第 1 个要素重复",
    ]
    assert err.value.message_zh.startswith("文件有 5 处问题，未导入任何数据：")
    assert _counts(db) == before


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "文件“e.geojson”是空文件"),
        (b"{nope", "文件“e.geojson”不是有效的 JSON：第1行第2列有误"),
        (b'{"type": "Feature"}', "GeoJSON 文件应为 FeatureCollection"),
        (b'{"type": "FeatureCollection", "features": []}', "GeoJSON 文件中没有要素（features 为空）"),
    ],
)
def test_unreadable_geojson(db: Session, content: bytes, message: str) -> None:
    before = _counts(db)
    with pytest.raises(ValidationFailed) as err:
        grid_service.import_grids(db, actor=ACTOR, content=content, filename="e.geojson")
    assert err.value.message_zh == message
    assert _counts(db) == before


def test_sheet_import_of_grids_buildings_and_leaders(db: Session, worker: int) -> None:
    content = sheet(
        [
            ["西湾社区", "XW-01", "西湾一网格", "wg_li", "0571-1", "1 幢", 20, "赵敏", "13800000001", "是"],
            ["西湾社区", "XW-01", "", "", "", "2 幢", 18, "钱进", "13800000002", "否"],
            ["西湾社区", "XW-02", "西湾二网格", "", "", "", "", "", "", ""],
        ]
    )
    result = grid_service.import_grids(db, actor=ACTOR, content=content, filename="grids.xlsx")
    assert (result.kind, result.grids_created, result.buildings_created, result.communities_created) == (
        "sheet",
        2,
        2,
        1,
    )
    card = grid_service.grid_card(db, grid_service.get_grid_by_code(db, "XW-01").id)
    assert [(b.name, b.households, b.leader_name, b.leader_party_member) for b in card.buildings] == [
        ("1 幢", 20, "赵敏", True),
        ("2 幢", 18, "钱进", False),
    ]
    assert (card.worker_name, card.grid.public_phone, card.grid.boundary) == ("李网格", "0571-1", "")


def test_a_bad_sheet_names_row_and_column_and_imports_nothing(db: Session, worker: int) -> None:
    before = _counts(db)
    content = sheet(
        [
            ["西湾社区", "XW-01", "西湾一网格", "", "", "1 幢", 20, "赵敏", "", "是"],
            ["", "XW-02", "", "", "", "", "", "", "", ""],
            ["西湾社区", "XW 03", "", "", "", "", "", "", "", ""],
            ["西湾社区", "XW-01", "", "nobody", "", "1 幢", "二十", "", "", "也许"],
            ["西湾社区", "XW-04", "", "", "", "", "", "孙立", "", ""],
        ]
    )
    with pytest.raises(grid_service.GridImportInvalid) as err:
        grid_service.import_grids(db, actor=ACTOR, content=content, filename="grids.xlsx")
    assert [d["message"] for d in err.value.details] == [
        "第 3 行“社区”列：缺少社区",
        "第 4 行“网格编号”列：网格编号“XW 03”只能由字母、数字、- 和 _ 组成",
        "第 5 行“网格员”列：网格员“nobody”不存在或不是网格员",
        "第 5 行“楼栋户数”列：应为非负整数",
        "第 5 行“党员”列：应填“是”或“否”",
        "第 6 行“楼栋”列：填写了楼栋长或楼栋户数，但缺少楼栋名称",
        "第 5 行：楼栋“1 幢”在网格 XW-01 中重复",
    ]
    assert _counts(db) == before


def test_mediation_case_parties_sessions_outcome(db: Session) -> None:
    c = grid_service.create_community(db, actor=ACTOR, values={"code": "DB", "name": "东埠社区"})
    g = grid_service.create_grid(db, actor=ACTOR, community_id=c.id, values={"code": "G1", "name": "一网格"})
    case = grid_service.open_case(
        db,
        actor=ACTOR,
        values={
            "grid_id": g.id,
            "title": "楼上漏水纠纷",
            "kind": "邻里纠纷",
            "opened_on": "2026-11-02",
            "parties": [
                {"name": "周大海", "role": "申请人", "phone": "13912345678"},
                {"name": "吴小川", "role": "respondent", "phone": ""},
            ],
        },
    )
    assert (case.code, case.kind, case.status, case.version) == ("TJ-2026-0001", "neighbour", "open", 1)
    view = grid_service.case_view(db, case.id)
    assert view.parties == [
        {"name": "周大海", "role": "applicant", "role_label": "申请人", "phone": "139****5678"},
        {"name": "吴小川", "role": "respondent", "role_label": "被申请人", "phone": ""},
    ]
    with pytest.raises(Conflict) as early:
        grid_service.add_session(
            db,
            actor=ACTOR,
            case_id=case.id,
            values={"held_on": "2026-11-01", "mediator": "陈调解"},
            expected_version=1,
        )
    assert early.value.message_zh == "调解日期不能早于受理日期"
    grid_service.add_session(
        db,
        actor=ACTOR,
        case_id=case.id,
        values={
            "held_on": "2026-11-05",
            "place": "社区调解室",
            "mediator": "陈调解",
            "notes": "双方到场\n约定维修",
        },
        expected_version=1,
    )
    with pytest.raises(Conflict):
        grid_service.close_case(
            db, actor=ACTOR, case_id=case.id, values={"outcome": "success"}, expected_version=1
        )
    with pytest.raises(ValidationFailed) as no_note:
        grid_service.close_case(
            db, actor=ACTOR, case_id=case.id, values={"outcome": "转交"}, expected_version=2
        )
    assert no_note.value.message_zh == "转交时请写明转交去向"
    grid_service.close_case(
        db,
        actor=ACTOR,
        case_id=case.id,
        values={"outcome": "调解成功", "closed_on": "2026-11-06"},
        expected_version=2,
    )
    assert (case.status, case.outcome, case.closed_on, case.version) == (
        "closed",
        "success",
        date(2026, 11, 6),
        3,
    )
    with pytest.raises(Conflict) as closed:
        grid_service.add_session(
            db,
            actor=ACTOR,
            case_id=case.id,
            values={"held_on": "2026-11-07", "mediator": "陈"},
            expected_version=3,
        )
    assert closed.value.message_zh == "该调解案件已结案，不能再修改"
    assert (
        db.scalar(select(func.count()).select_from(MediationParty)),
        db.scalar(select(func.count()).select_from(MediationSession)),
    ) == (2, 1)
    actions = db.scalars(
        select(AuditRecord.action).where(AuditRecord.entity == "mediation_case").order_by(AuditRecord.seq)
    ).all()
    assert actions == ["create", "session", "close"]
    with pytest.raises(NotFound):
        grid_service.open_case(
            db,
            actor=ACTOR,
            values={"grid_id": g.id, "title": "x", "kind": "other", "household_ids": "999999"},
        )
    assert db.scalar(select(func.count()).select_from(MediationCase)) == 1
