"""Project set-up services on a real database: audit records, stale versions, GeoJSON all or nothing."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from anju.audit.models import AuditRecord
from anju.campaign import service as campaign_service
from anju.core.actor import Actor
from anju.errors import Conflict, DomainError, NotFound, ValidationFailed
from anju.household import service as household_service
from anju.household.models import Household
from anju.identity.service import DataScope
from anju.project import service as project_service
from anju.project.models import Block, Parcel, Project
from tests.factories import ACTOR, build_world

RING = [[120.1, 30.1], [120.102, 30.1], [120.102, 30.102], [120.1, 30.1]]
CLERK = Actor(user_id=None, username="clerk", display_name="经办人", role="case_officer")


def fc(*features: dict[str, Any]) -> bytes:
    return json.dumps({"type": "FeatureCollection", "features": list(features)}, ensure_ascii=False).encode()


def feature(props: dict[str, Any], ring: list[list[float]] = RING) -> dict[str, Any]:
    return {"type": "Feature", "properties": props, "geometry": {"type": "Polygon", "coordinates": [ring]}}


def audits(db: Session, entity: str) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (r.action, r.entity_id, json.loads(r.changes))
        for r in db.scalars(select(AuditRecord).where(AuditRecord.entity == entity).order_by(AuditRecord.seq))
    ]


def state(db: Session) -> tuple[Any, ...]:
    """What a refused write must leave as it was."""
    db.expire_all()
    return (
        sorted((p.code, p.block_id, p.land_area, p.geometry) for p in db.scalars(select(Parcel))),
        sorted((h.code, h.parcel_id, h.version) for h in db.scalars(select(Household))),
        sorted((b.code, b.name, b.parent_id, b.version, b.geometry) for b in db.scalars(select(Block))),
        db.scalar(select(func.count()).select_from(AuditRecord)),
    )


def test_a_project_is_created_with_its_targets_and_audited(db: Session) -> None:
    p = project_service.create_project(
        db,
        actor=CLERK,
        code="QX-9",
        name="青溪九号项目",
        kind="state_land",
        legal_basis="《国有土地上房屋征收与补偿条例》",
        signing_start_on=date(2026, 3, 1),
        signing_end_on="2026-04-30",
        deadline_on="2026-05-31",
        launched_on="2026-03-01",
        target_sign_rate=95,
        target_households="300",
        alert_no_visit_days=5,
        reason="征收决定公告",
    )
    assert (p.version, p.deadline_on, p.target_households, p.alert_no_visit_days) == (
        1,
        date(2026, 5, 31),
        300,
        5,
    )
    [(action, entity_id, changes)] = audits(db, "project")
    assert (action, entity_id) == ("create", str(p.id))
    assert changes["legal_basis"] == [None, "《国有土地上房屋征收与补偿条例》"]
    assert changes["target_sign_rate"] == [None, 95] and changes["deadline_on"] == [None, "2026-05-31"]
    with pytest.raises(Conflict) as dup:
        project_service.create_project(db, actor=CLERK, code="QX-9", name="重名", kind="shantytown")
    assert dup.value.code == "duplicate_project"
    with pytest.raises(ValidationFailed) as bad:
        project_service.create_project(
            db, actor=CLERK, code="QX-10", name="x", kind="shantytown", colour="red"
        )
    assert bad.value.message_zh == "不认识的字段：colour"


def test_an_edit_is_a_diff_and_a_stale_one_names_who_changed_the_project(db: Session) -> None:
    world = build_world(db)
    p = db.get(Project, world.project_id)
    assert p is not None
    changes = project_service.update_project(
        db,
        actor=CLERK,
        project_id=p.id,
        data={"target_sign_rate": "90", "deadline_on": "2026-12-31", "name": "测试征收项目"},
        expected_version=1,
        reason="调度会",
    )
    assert changes == {"deadline_on": [None, "2026-12-31"], "target_sign_rate": [100, 90]}
    assert p.version == 2
    action, _, recorded = audits(db, "project")[-1]
    assert (action, recorded) == ("update", changes)
    before = state(db)
    with pytest.raises(Conflict) as stale:
        project_service.update_project(
            db, actor=ACTOR, project_id=p.id, data={"name": "改"}, expected_version=1
        )
    assert stale.value.code == "stale_version"
    assert stale.value.message_zh.startswith("项目信息已被 clerk 于 ")
    assert stale.value.details[0]["current_version"] == 2
    with pytest.raises(Conflict) as late:
        project_service.update_project(
            db, actor=ACTOR, project_id=p.id, data={"launched_on": "2027-01-05"}, expected_version=2
        )
    assert late.value.code == "date_order"
    assert late.value.details == [
        {
            "field": "deadline_on",
            "message": "签约截止日：2026-12-31 不能早于攻坚启动日（2027-01-05）",
        }
    ]
    assert state(db) == before and p.name == "测试征收项目" and p.version == 2
    assert (
        project_service.update_project(
            db, actor=ACTOR, project_id=p.id, data={"target_sign_rate": 90}, expected_version=2
        )
        == {}
    )


def test_blocks_nest_move_and_refuse_cycles_and_other_projects(db: Session) -> None:
    world = build_world(db)
    other = project_service.create_project(db, actor=ACTOR, code="P9", name="另一项目", kind="shantytown")
    foreign = project_service.add_block(
        db, actor=ACTOR, project_id=other.id, code="F", name="外片区", level="area"
    )
    east = world.block_ids["E"]
    g1 = project_service.add_block(
        db, actor=CLERK, project_id=world.project_id, code="E-1", name="一组", level="组", parent_id=east
    )
    g2 = project_service.add_block(
        db,
        actor=CLERK,
        project_id=world.project_id,
        code="E-1-a",
        name="一组甲",
        level="group",
        parent_id=g1.id,
    )
    assert [b.code for b in project_service.blocks(db, world.project_id)] == ["E", "E-1", "E-1-a", "W"]
    before = state(db)
    for parent, code in ((g2.id, "block_cycle"), (east, "block_cycle"), (foreign.id, "not_found")):
        with pytest.raises(DomainError) as refused:
            project_service.update_block(
                db, actor=CLERK, block_id=east, data={"parent_id": parent}, expected_version=1
            )
        assert refused.value.code == code and refused.value.details[0]["field"] == "parent_id"
    with pytest.raises(NotFound):
        project_service.add_block(
            db,
            actor=CLERK,
            project_id=world.project_id,
            code="X",
            name="x",
            level="area",
            parent_id=foreign.id,
        )
    with pytest.raises(Conflict) as dup:
        project_service.update_block(db, actor=CLERK, block_id=g2.id, data={"code": "W"}, expected_version=1)
    assert dup.value.code == "duplicate_block"
    assert state(db) == before
    changes = project_service.update_block(
        db,
        actor=CLERK,
        block_id=g2.id,
        data={"parent_id": world.block_ids["W"], "level": "村"},
        expected_version=1,
    )
    assert changes == {"level": ["group", "village"], "parent_id": [g1.id, world.block_ids["W"]]}
    assert project_service.block_paths(db, world.project_id)[g2.id] == "西片区 / 一组甲"
    assert audits(db, "block")[-1] == ("update", str(g2.id), changes)
    with pytest.raises(Conflict) as stale:
        project_service.update_block(db, actor=ACTOR, block_id=g2.id, data={"name": "乙"}, expected_version=1)
    assert stale.value.code == "stale_version" and "区块信息已被 clerk 于" in stale.value.message_zh


def test_parcels_import_all_or_nothing_then_update_by_code(db: Session) -> None:
    world = build_world(db)
    pid = world.project_id
    versions = {h.code: h.version for h in db.scalars(select(Household).where(Household.project_id == pid))}
    first = fc(
        feature(
            {"code": "ZD-1", "block_code": "E", "land_area": "100.5", "household_code": ["H0001", "H0003"]}
        ),
        feature({"宗地号": "ZD-2", "区块编号": "W", "户号": "H0002"}),
        feature({"类型": "村", "block_code": "W"}),
    )
    result = project_service.import_parcels(
        db, actor=CLERK, project_id=pid, content=first, filename="宗地.geojson"
    )
    assert (
        result.created,
        result.updated,
        result.unchanged,
        result.boundaries,
        result.households_linked,
    ) == (2, 0, 0, 1, 3)
    parcels = {p.code: p for p in db.scalars(select(Parcel).where(Parcel.project_id == pid))}
    assert parcels["ZD-1"].land_area == Decimal("100.50") and parcels["ZD-1"].block_id == world.block_ids["E"]
    assert json.loads(parcels["ZD-2"].geometry or "") == {"type": "Polygon", "coordinates": [RING]}
    links = {
        h.code: (h.parcel_id, h.version)
        for h in db.scalars(select(Household).where(Household.project_id == pid))
    }
    assert (
        links["H0001"] == (parcels["ZD-1"].id, versions["H0001"] + 1)
        and links["H0003"][0] == parcels["ZD-1"].id
    )
    assert links["H0002"] == (parcels["ZD-2"].id, versions["H0002"] + 1) and links["H0004"] == (
        None,
        versions["H0004"],
    )
    west = db.get(Block, world.block_ids["W"])
    assert west is not None and west.version == 2 and west.geometry is not None
    created = audits(db, "parcel")
    assert [(a, c["code"]) for a, _, c in created] == [("create", [None, "ZD-1"]), ("create", [None, "ZD-2"])]
    assert created[0][2]["geometry"][1].startswith("sha256:")
    household_audit = [
        json.loads(r.changes)
        for r in db.scalars(
            select(AuditRecord).where(AuditRecord.entity == "household", AuditRecord.action == "update")
        )
    ]
    assert household_audit == [{"parcel_id": [None, parcels[c].id]} for c in ("ZD-1", "ZD-2", "ZD-1")]

    before = state(db)
    broken = fc(
        feature({"code": "ZD-1", "block_code": "W"}),  # would be a valid update
        feature({"code": "ZD-3", "household_code": "H0404"}),
        feature({"code": "ZD-4", "land_area": "很大"}),
    )
    with pytest.raises(ValidationFailed) as invalid:
        project_service.import_parcels(db, actor=CLERK, project_id=pid, content=broken, filename="b.geojson")
    assert invalid.value.code == "geojson_invalid"
    assert invalid.value.message_zh.startswith("GeoJSON 文件有 2 处错误，未导入任何宗地。")
    assert [d["message"] for d in invalid.value.details] == [
        "第2个要素（属性“household_code”）：户号“H0404”在本项目中不存在",
        "第3个要素（属性“land_area”）：宗地面积应为数字",
    ]
    assert state(db) == before

    # Re-import: ZD-1 moves to W with a new shape, H0003 moves to ZD-2, ZD-2 otherwise unchanged.
    moved = [[120.2, 30.2], [120.202, 30.2], [120.202, 30.202], [120.2, 30.2]]
    again = fc(
        feature({"code": "ZD-1", "block_code": "W", "land_area": "100.50", "household_code": "H0001"}, moved),
        feature({"宗地号": "ZD-2", "区块编号": "W", "户号": "H0002,H0003"}),
    )
    result = project_service.import_parcels(
        db, actor=CLERK, project_id=pid, content=again, filename="c.geojson"
    )
    assert (result.created, result.updated, result.unchanged, result.removed) == (0, 1, 1, 0)
    assert (result.households_linked, result.households_relinked, result.households_unlinked) == (0, 1, 0)
    action, entity_id, changes = audits(db, "parcel")[-1]
    assert (action, entity_id) == ("update", str(parcels["ZD-1"].id))
    assert set(changes) == {"block_id", "geometry"} and changes["block_id"] == [
        world.block_ids["E"],
        world.block_ids["W"],
    ]
    h3 = db.scalar(select(Household).where(Household.project_id == pid, Household.code == "H0003"))
    assert h3 is not None and h3.parcel_id == parcels["ZD-2"].id
    assert project_service.parcel_count(db, pid) == 2


def _links(db: Session, project_id: int) -> dict[str, str | None]:
    """``household code -> parcel code`` of the project (None: on no parcel)."""
    db.expire_all()
    codes = {p.id: p.code for p in db.scalars(select(Parcel).where(Parcel.project_id == project_id))}
    return {
        h.code: codes[h.parcel_id] if h.parcel_id is not None else None
        for h in db.scalars(select(Household).where(Household.project_id == project_id))
    }


def test_a_reimport_replaces_the_parcels_and_their_links(db: Session) -> None:
    world = build_world(db, households=8)
    pid = world.project_id
    first = fc(
        feature({"code": "ZD-1", "block_code": "E", "household_code": "H0001,H0003"}),
        feature({"code": "ZD-2", "block_code": "W", "household_code": "H0002,H0005"}),
        feature({"code": "ZD-3", "household_code": "H0004"}),
        feature({"code": "ZD-9", "household_code": "H0007"}),
    )
    project_service.import_parcels(db, actor=CLERK, project_id=pid, content=first, filename="a.geojson")
    old_ids = {p.code: p.id for p in db.scalars(select(Parcel).where(Parcel.project_id == pid))}
    h7 = db.scalar(select(Household).where(Household.project_id == pid, Household.code == "H0007"))
    assert h7 is not None
    household_service.void_household(
        db, actor=CLERK, scope=DataScope.everything(), household_id=h7.id, reason="重复登记"
    )
    versions = {h.code: h.version for h in db.scalars(select(Household).where(Household.project_id == pid))}
    audit_count = len(audits(db, "household"))

    # ZD-1 now lists H0001 only; ZD-2 and ZD-9 are gone; ZD-3 names nobody; ZD-4 is new.
    second = fc(
        feature({"code": "ZD-1", "block_code": "E", "household_code": "H0001"}),
        feature({"code": "ZD-3"}),
        feature({"code": "ZD-4", "block_code": "W", "household_code": ["H0005", "H0006"]}),
    )
    result = project_service.import_parcels(
        db, actor=CLERK, project_id=pid, content=second, filename="b.geojson", reason="宗地图更新"
    )
    assert (result.created, result.updated, result.unchanged, result.removed) == (1, 0, 2, 2)
    assert (result.households_linked, result.households_relinked, result.households_unlinked) == (1, 1, 3)
    assert result.summary() == (
        "共 3 个要素：新增宗地 1 宗，更新 0 宗，未变 2 宗，删除 2 宗（新文件中已没有）；区块边界 0 个；"
        "被征收户新关联 1 户，改关联 1 户，解除关联 3 户"
    )
    parcels = {p.code: p.id for p in db.scalars(select(Parcel).where(Parcel.project_id == pid))}
    assert sorted(parcels) == ["ZD-1", "ZD-3", "ZD-4"]
    assert (parcels["ZD-1"], parcels["ZD-3"]) == (old_ids["ZD-1"], old_ids["ZD-3"])  # same code, same parcel
    assert _links(db, pid) == {
        "H0001": "ZD-1",
        "H0002": None,  # its parcel is gone
        "H0003": None,  # ZD-1 no longer lists it
        "H0004": "ZD-3",  # ZD-3 names nobody: its household stays
        "H0005": "ZD-4",
        "H0006": "ZD-4",
        "H0007": None,  # voided, on a parcel that is gone
        "H0008": None,
    }
    after = {h.code: h.version for h in db.scalars(select(Household).where(Household.project_id == pid))}
    assert {c for c in after if after[c] != versions[c]} == {"H0002", "H0003", "H0005", "H0006", "H0007"}
    changes = [
        (r.entity_id, json.loads(r.changes), r.reason)
        for r in db.scalars(
            select(AuditRecord).where(AuditRecord.entity == "household").order_by(AuditRecord.seq)
        )
    ][audit_count:]
    hid = {h.code: str(h.id) for h in db.scalars(select(Household).where(Household.project_id == pid))}
    assert changes == [
        (hid["H0002"], {"parcel_id": [old_ids["ZD-2"], None]}, "宗地图更新"),
        (hid["H0003"], {"parcel_id": [old_ids["ZD-1"], None]}, "宗地图更新"),
        (hid["H0005"], {"parcel_id": [old_ids["ZD-2"], parcels["ZD-4"]]}, "宗地图更新"),
        (hid["H0006"], {"parcel_id": [None, parcels["ZD-4"]]}, "宗地图更新"),
        (hid["H0007"], {"parcel_id": [old_ids["ZD-9"], None]}, "宗地图更新"),
    ]
    deleted = [
        (r.entity_id, json.loads(r.changes), r.reason)
        for r in db.scalars(
            select(AuditRecord).where(AuditRecord.entity == "parcel", AuditRecord.action == "delete")
        )
    ]
    assert [(e, c["code"], r) for e, c, r in deleted] == [
        (str(old_ids["ZD-2"]), ["ZD-2", None], "宗地图更新"),
        (str(old_ids["ZD-9"]), ["ZD-9", None], "宗地图更新"),
    ]
    assert deleted[0][1]["block_id"] == [world.block_ids["W"], None] and "block_id" not in deleted[1][1]
    assert deleted[0][1]["geometry"][0].startswith("sha256:") and deleted[0][1]["geometry"][1] is None

    # The battle map shows the new set only: no feature for a parcel that is gone.
    shown = campaign_service.battle_map(db, scope=DataScope.everything(), project_id=pid)
    assert [
        (f["properties"]["parcel_code"], [c["code"] for c in f["properties"]["households"]])
        for f in shown["features"]
    ] == [("ZD-1", ["H0001"]), ("ZD-3", ["H0004"]), ("ZD-4", ["H0005", "H0006"])]
    assert sorted(c["code"] for c in shown["unmapped"]) == ["H0002", "H0003", "H0008"]
    assert [f["properties"]["code"] for f in project_service.parcels_geojson(db, pid)["features"]] == [
        "ZD-1",
        "ZD-3",
        "ZD-4",
    ]

    # The same file again changes nothing.
    before = state(db)
    again = project_service.import_parcels(
        db, actor=CLERK, project_id=pid, content=second, filename="b.geojson"
    )
    assert (again.created, again.updated, again.unchanged, again.removed) == (0, 0, 3, 0)
    assert (again.households_linked, again.households_relinked, again.households_unlinked) == (0, 0, 0)
    assert state(db) == before


def test_a_file_of_block_boundaries_only_keeps_the_parcels(db: Session) -> None:
    world = build_world(db)
    pid = world.project_id
    project_service.import_parcels(
        db,
        actor=CLERK,
        project_id=pid,
        content=fc(feature({"code": "ZD-1", "household_code": "H0001"})),
        filename="a.geojson",
    )
    links = _links(db, pid)
    result = project_service.import_parcels(
        db,
        actor=CLERK,
        project_id=pid,
        content=fc(feature({"kind": "村", "block_code": "E"})),
        filename="b.geojson",
    )
    assert (result.boundaries, result.removed, result.households_unlinked) == (1, 0, 0)
    assert project_service.parcel_count(db, pid) == 1 and _links(db, pid) == links


@pytest.mark.parametrize(
    ("content", "code", "fragment"),
    [
        (b"", "upload_empty", "是空文件"),
        (b"PK\x03\x04" + b"\x00" * 40, "upload_wrong_type", "不是 GeoJSON 文件"),
        (b"[" * 100 + b"]" * 100, "upload_too_large", "的嵌套层数为 65，超过上限 64"),
        (b'{"type": "FeatureCollection", "features": [NaN]}', "geojson_invalid", "含 NaN"),
        (b'{"type": "FeatureCollection",', "geojson_invalid", "不是有效的 JSON：第1行第30列有误"),
    ],
)
def test_an_upload_is_inspected_before_it_is_parsed(
    db: Session, content: bytes, code: str, fragment: str
) -> None:
    world = build_world(db)
    before = state(db)
    with pytest.raises(DomainError) as refused:
        project_service.import_parcels(
            db, actor=CLERK, project_id=world.project_id, content=content, filename="x.geojson"
        )
    assert refused.value.code == code and fragment in refused.value.message_zh
    assert state(db) == before
