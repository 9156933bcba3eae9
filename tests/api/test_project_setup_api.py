"""Project set-up through the JSON API and the pages: create, edit (stale versions), blocks, GeoJSON parcels."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import text

from anju.db.session import unit_of_work
from tests.api.conftest import page_csrf
from tests.factories import World

ClientAs = Callable[[str], tuple[TestClient, str, World]]
RING = [[120.1, 30.1], [120.102, 30.1], [120.102, 30.102], [120.1, 30.1]]


def fc(*features: dict[str, Any]) -> bytes:
    return json.dumps({"type": "FeatureCollection", "features": list(features)}, ensure_ascii=False).encode()


def feature(props: dict[str, Any], geometry: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "type": "Feature",
        "properties": props,
        "geometry": geometry or {"type": "Polygon", "coordinates": [RING]},
    }


def audit_rows(entity: str) -> list[tuple[str, str, str]]:
    with unit_of_work() as db:
        return [
            (r[0], r[1], r[2])
            for r in db.execute(
                text("SELECT action, entity_id, changes FROM audit_record WHERE entity = :e ORDER BY seq"),
                {"e": entity},
            )
        ]


def count(table: str) -> int:
    with unit_of_work() as db:
        return int(db.scalar(text(f"SELECT COUNT(*) FROM {table}")) or 0)


def test_create_edit_and_read_a_project_through_the_api(client_as: ClientAs) -> None:
    client, csrf, _ = client_as("commander")
    h = {"X-CSRF-Token": csrf}
    body = {
        "code": "QX-2026-01",
        "name": "青溪南片征收项目",
        "kind": "state_land",
        "district": "青溪街道",
        "legal_basis": "《国有土地上房屋征收与补偿条例》",
        "signing_start_on": "2026-03-01",
        "signing_end_on": "2026-04-30",
        "deadline_on": "2026-05-31",
        "launched_on": "2026-03-01",
        "target_sign_rate": 95,
        "target_households": 120,
        "alert_no_visit_days": 5,
    }
    r = client.post("/api/v1/projects", json=body, headers=h)
    assert r.status_code == 201, r.text
    pid = r.json()["id"]
    assert r.json()["version"] == 1
    got = client.get(f"/api/v1/projects/{pid}").json()
    for k in ("legal_basis", "signing_end_on", "deadline_on", "target_sign_rate", "target_households"):
        assert got[k] == body[k]
    assert got["alert_no_visit_days"] == 5 and got["version"] == 1

    r = client.patch(
        f"/api/v1/projects/{pid}",
        json={"deadline_on": "2026-06-15", "version": 1, "reason": "调度会决定"},
        headers=h,
    )
    assert r.status_code == 200, r.text
    assert r.json() == {"changes": {"deadline_on": ["2026-05-31", "2026-06-15"]}, "version": 2}
    action, entity_id, changes = audit_rows("project")[-1]
    assert (action, entity_id) == ("update", str(pid))
    assert json.loads(changes) == {"deadline_on": ["2026-05-31", "2026-06-15"]}

    # The same edit based on version 1 again: a 409 naming who changed the project; nothing written.
    r = client.patch(f"/api/v1/projects/{pid}", json={"name": "改名", "version": 1}, headers=h)
    assert r.status_code == 409
    assert r.json()["code"] == "stale_version"
    assert r.json()["message"].startswith("项目信息已被 测试commander 于 ")
    assert r.json()["details"][0]["changed_by"] == "测试commander"
    assert r.json()["details"][0]["current_version"] == 2
    assert client.get(f"/api/v1/projects/{pid}").json()["name"] == "青溪南片征收项目"

    # Dates out of order and a rate over 100: 422 naming the fields; nothing written.
    r = client.patch(
        f"/api/v1/projects/{pid}", json={"signing_end_on": "2026-07-01", "version": 2}, headers=h
    )
    assert r.status_code == 409 and r.json()["code"] == "date_order"
    assert r.json()["details"][0]["field"] == "deadline_on"
    assert "签约截止日：2026-06-15 不能早于签约期结束日（2026-07-01）" in r.json()["message"]
    r = client.post("/api/v1/projects", json={**body, "code": "X2", "target_sign_rate": 101}, headers=h)
    assert r.status_code == 422
    r = client.post("/api/v1/projects", json=body, headers=h)
    assert r.status_code == 409 and r.json()["code"] == "duplicate_project"
    assert client.get(f"/api/v1/projects/{pid}").json()["version"] == 2


def test_blocks_are_added_nested_and_moved_without_cycles(client_as: ClientAs) -> None:
    client, csrf, world = client_as("case_officer")
    h = {"X-CSRF-Token": csrf}
    pid = world.project_id
    r = client.post(
        f"/api/v1/projects/{pid}/blocks",
        json={"code": "E-01", "name": "东一组", "level": "group", "parent_id": world.block_ids["E"]},
        headers=h,
    )
    assert r.status_code == 201, r.text
    group = r.json()["id"]
    blocks = {b["code"]: b for b in client.get(f"/api/v1/projects/{pid}").json()["blocks"]}
    assert blocks["E-01"]["parent_id"] == world.block_ids["E"]
    # E under its own child: refused.
    r = client.patch(
        f"/api/v1/blocks/{world.block_ids['E']}", json={"parent_id": group, "version": 1}, headers=h
    )
    assert r.status_code == 409 and r.json()["code"] == "block_cycle"
    assert r.json()["details"][0]["field"] == "parent_id"
    # Move the group under W and rename it.
    r = client.patch(
        f"/api/v1/blocks/{group}",
        json={"parent_id": world.block_ids["W"], "name": "西一组", "version": 1},
        headers=h,
    )
    assert r.status_code == 200, r.text
    assert r.json()["changes"] == {
        "name": ["东一组", "西一组"],
        "parent_id": [world.block_ids["E"], world.block_ids["W"]],
    }
    assert r.json()["version"] == 2
    r = client.patch(f"/api/v1/blocks/{group}", json={"sort": 3, "version": 1}, headers=h)
    assert r.status_code == 409 and r.json()["code"] == "stale_version"
    r = client.post(
        f"/api/v1/projects/{pid}/blocks", json={"code": "E", "name": "重复", "level": "area"}, headers=h
    )
    assert r.status_code == 409 and r.json()["code"] == "duplicate_block"
    assert client.get(f"/api/v1/blocks/{group}").json()["version"] == 2


def test_parcels_import_links_households_and_is_all_or_nothing(client_as: ClientAs) -> None:
    client, csrf, world = client_as("case_officer")
    h = {"X-CSRF-Token": csrf}
    pid = world.project_id
    good = fc(
        feature({"code": "ZD-1", "block_code": "E", "land_area": 321.5, "household_code": "H0001, H0003"}),
        feature({"宗地号": "ZD-2", "区块编号": "W", "户号": "H0002"}),
        feature({"kind": "片区", "block_code": "E"}),
    )
    r = client.post(
        f"/api/v1/projects/{pid}/parcels/import",
        files={"file": ("宗地.geojson", good, "application/geo+json")},
        headers=h,
    )
    assert r.status_code == 200, r.text
    assert r.json() == {
        "features": 3,
        "created": 2,
        "updated": 0,
        "unchanged": 0,
        "boundaries": 1,
        "removed": 0,
        "households_linked": 3,
        "households_relinked": 0,
        "households_unlinked": 0,
        "message": "共 3 个要素：新增宗地 2 宗，更新 0 宗，未变 0 宗，删除 0 宗（新文件中已没有）；区块边界 1 个；"
        "被征收户新关联 3 户，改关联 0 户，解除关联 0 户",
    }
    collection = client.get(f"/api/v1/projects/{pid}/parcels").json()
    assert collection["type"] == "FeatureCollection"
    props = {f["properties"]["code"]: f["properties"] for f in collection["features"]}
    assert props["ZD-1"]["land_area"] == "321.50" and props["ZD-1"]["block_code"] == "E"
    assert collection["features"][0]["geometry"] == {"type": "Polygon", "coordinates": [RING]}
    with unit_of_work() as db:
        links = dict(
            db.execute(text("SELECT code, parcel_id FROM household WHERE parcel_id IS NOT NULL")).all()
        )
    ids = {p["code"]: p["id"] for p in props.values()}
    assert links == {"H0001": ids["ZD-1"], "H0003": ids["ZD-1"], "H0002": ids["ZD-2"]}

    before = (count("parcel"), count("audit_record"))
    bad = fc(
        feature({"code": "ZD-1", "block_code": "E", "land_area": "12.345"}),
        feature({"code": "ZD-9", "block_code": "NOPE"}),
        feature({"code": "ZD-10", "household_code": "H9999"}),
        feature({"code": "ZD-1"}),
        feature({"code": "ZD-11"}, {"type": "Point", "coordinates": [120.1, 30.1]}),
    )
    r = client.post(f"/api/v1/projects/{pid}/parcels/import", files={"file": ("b.geojson", bad)}, headers=h)
    assert r.status_code == 422
    body = r.json()
    assert body["code"] == "geojson_invalid"
    assert [(d["feature"], d["property"]) for d in body["details"]] == [
        (1, "land_area"),
        (2, "block_code"),
        (3, "household_code"),
        (4, "code"),
        (5, "geometry"),
    ]
    assert body["details"][1]["message"] == "第2个要素（属性“block_code”）：区块编号“NOPE”在本项目中不存在"
    assert body["details"][3]["message"] == "第4个要素（属性“code”）：宗地号“ZD-1”与第1个要素重复"
    assert (count("parcel"), count("audit_record")) == before

    # Re-import: ZD-1 moves to W, ZD-2 stays; the update is audited as a diff.
    again = fc(
        feature({"code": "ZD-1", "block_code": "W", "land_area": 321.5}),
        feature({"宗地号": "ZD-2", "区块编号": "W"}),
    )
    r = client.post(f"/api/v1/projects/{pid}/parcels/import", files={"file": ("c.geojson", again)}, headers=h)
    assert r.status_code == 200, r.text
    assert (r.json()["created"], r.json()["updated"], r.json()["unchanged"]) == (0, 1, 1)
    action, entity_id, changes = audit_rows("parcel")[-1]
    assert (action, entity_id) == ("update", str(ids["ZD-1"]))
    assert json.loads(changes) == {"block_id": [world.block_ids["E"], world.block_ids["W"]]}

    # A file without ZD-2 replaces the set: ZD-2 is deleted and H0002 let go; ZD-1 keeps its households.
    r = client.post(
        f"/api/v1/projects/{pid}/parcels/import",
        files={"file": ("d.geojson", fc(feature({"code": "ZD-1", "block_code": "W", "land_area": 321.5})))},
        headers=h,
    )
    assert r.status_code == 200, r.text
    got = r.json()
    assert (
        got["removed"],
        got["households_linked"],
        got["households_relinked"],
        got["households_unlinked"],
    ) == (
        1,
        0,
        0,
        1,
    )
    assert [
        f["properties"]["code"] for f in client.get(f"/api/v1/projects/{pid}/parcels").json()["features"]
    ] == ["ZD-1"]
    with unit_of_work() as db:
        links = dict(
            db.execute(text("SELECT code, parcel_id FROM household WHERE parcel_id IS NOT NULL")).all()
        )
    assert links == {"H0001": ids["ZD-1"], "H0003": ids["ZD-1"]}

    # Not GeoJSON at all: refused by the upload inspection before parsing.
    r = client.post(
        f"/api/v1/projects/{pid}/parcels/import",
        files={"file": ("x.geojson", b"<html><body>x</body></html>")},
        headers=h,
    )
    assert r.status_code == 422 and r.json()["code"] == "upload_wrong_type"


def test_team_roles_cannot_set_up_projects(client_as: ClientAs) -> None:
    client, csrf, _world = client_as("team_leader")
    r = client.post(
        "/api/v1/projects",
        json={"code": "T1", "name": "x", "kind": "shantytown"},
        headers={"X-CSRF-Token": csrf},
    )
    assert r.status_code == 403
    assert client.get("/projects").text.count('href="/projects/new"') == 0
    assert count("project") == 1


def test_setup_pages_create_edit_and_import(client_as: ClientAs) -> None:
    client, _, _world = client_as("commander")
    listing = client.get("/projects")
    assert 'href="/projects/new"' in listing.text
    page = client.get("/projects/new")
    assert page.status_code == 200 and "新建征收项目" in page.text
    csrf = page_csrf(page.text)
    form = {
        "csrf_token": csrf,
        "code": "NEW-1",
        "name": "新区征收项目",
        "kind": "collective_land",
        "status": "survey",
        "signing_start_on": "2026-05-01",
        "signing_end_on": "2026-04-01",
        "target_sign_rate": "100",
        "alert_no_visit_days": "7",
    }
    r = client.post("/projects/new", data=form, follow_redirects=False)
    assert r.status_code == 409
    assert "签约期结束日：2026-04-01 不能早于签约期开始日（2026-05-01）" in r.text
    assert 'value="新区征收项目"' in r.text  # what was typed is kept
    r = client.post("/projects/new", data={**form, "signing_end_on": "2026-06-30"}, follow_redirects=False)
    assert r.status_code == 303
    location = r.headers["location"]
    assert re.fullmatch(r"/projects/\d+/setup\?done=created", location)
    pid = int(location.split("/")[2])
    setup = client.get(location)
    assert "项目已建立" in setup.text and "尚未建立区块" in setup.text

    r = client.post(
        f"/projects/{pid}/blocks",
        data={
            "csrf_token": csrf,
            "code": "LJ",
            "name": "李家村",
            "level": "village",
            "parent_id": "",
            "sort": "0",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303
    r = client.post(
        f"/projects/{pid}/blocks",
        data={"csrf_token": csrf, "code": "LJ", "name": "再来", "level": "group", "sort": "0"},
        follow_redirects=False,
    )
    assert r.status_code == 409 and "区块编号“LJ”在本项目中已存在" in r.text

    r = client.post(
        f"/projects/{pid}/setup",
        data={**form, "signing_end_on": "2026-06-30", "target_sign_rate": "98", "version": "1"},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"].endswith("done=project")
    r = client.post(
        f"/projects/{pid}/setup",
        data={**form, "signing_end_on": "2026-06-30", "name": "旧版", "version": "1"},
    )
    assert r.status_code == 409 and "项目信息已被" in r.text

    upload = fc(feature({"code": "Z1", "block_code": "LJ"}), feature({"code": "Z2", "block_code": "XX"}))
    r = client.post(
        f"/projects/{pid}/parcels", data={"csrf_token": csrf}, files={"file": ("a.geojson", upload)}
    )
    assert r.status_code == 422
    assert "第2个要素（属性“block_code”）：区块编号“XX”在本项目中不存在" in r.text
    upload = fc(feature({"code": "Z1", "block_code": "LJ"}))
    r = client.post(
        f"/projects/{pid}/parcels", data={"csrf_token": csrf}, files={"file": ("a.geojson", upload)}
    )
    assert r.status_code == 200
    assert "导入完成：共 1 个要素：新增宗地 1 宗" in r.text
    assert "<script>" not in r.text and " onclick=" not in r.text
