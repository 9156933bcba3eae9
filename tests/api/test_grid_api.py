"""Grid routes through the app: communities, grids, buildings, the map's GeoJSON, the point lookup,
imports (422 naming feature and property), mediation, the pages and the public contact cards
(no login; no private phone on them)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient

from tests.api.conftest import page_csrf
from tests.factories import World

ClientAs = Callable[[str], tuple[TestClient, str, World]]


def square(x0: float, y0: float, d: float = 0.01) -> dict[str, Any]:
    return {
        "type": "Polygon",
        "coordinates": [[[x0, y0], [x0 + d, y0], [x0 + d, y0 + d], [x0, y0 + d], [x0, y0]]],
    }


def _setup(client: TestClient, csrf: str, world: World) -> dict[str, int]:
    h = {"X-CSRF-Token": csrf}
    c = client.post(
        "/api/v1/communities", json={"code": "DB", "name": "东埠社区", "phone": "0570-1"}, headers=h
    )
    assert c.status_code == 201, c.text
    g = client.post(
        "/api/v1/grids",
        json={
            "community_id": c.json()["id"],
            "code": "DB-01",
            "name": "东埠第1网格",
            "boundary": square(120.1, 30.2),
            "worker_user_id": world.users["grid_worker"],
            "public_phone": "0570-8888",
        },
        headers=h,
    )
    assert g.status_code == 201, g.text
    b = client.post(
        f"/api/v1/grids/{g.json()['id']}/buildings",
        json={
            "name": "幸福里 1 幢",
            "households": 30,
            "leader_name": "王红梅",
            "leader_phone": "13900001111",
            "leader_party_member": True,
        },
        headers=h,
    )
    assert b.status_code == 201, b.text
    return {"community": c.json()["id"], "grid": g.json()["id"], "building": b.json()["id"]}


def test_grids_through_the_api(client_as: ClientAs) -> None:
    client, csrf, world = client_as("community")
    ids = _setup(client, csrf, world)
    h = {"X-CSRF-Token": csrf}
    one = client.get(f"/api/v1/grids/{ids['grid']}").json()
    assert (one["code"], one["community"], one["worker"], one["building_households"], one["version"]) == (
        "DB-01",
        "东埠社区",
        "测试grid_worker",
        30,
        1,
    )
    assert [b["leader_name"] for b in one["buildings"]] == ["王红梅"]
    at = client.get("/api/v1/grids/at", params={"lng": "120.105", "lat": "30.205"})
    assert at.status_code == 200 and at.json()["code"] == "DB-01"
    assert client.get("/api/v1/grids/at", params={"lng": "121", "lat": "31"}).json() is None
    geo = client.get("/api/v1/grids/geojson").json()
    assert [f["properties"]["leaders"] for f in geo["features"]] == [
        [{"building": "幸福里 1 幢", "name": "王红梅", "party_member": True}]
    ]
    stale = client.patch(f"/api/v1/grids/{ids['grid']}", json={"version": 2, "name": "新名"}, headers=h)
    assert stale.status_code == 409 and stale.json()["code"] == "stale_version"
    ok = client.patch(f"/api/v1/grids/{ids['grid']}", json={"version": 1, "worker_user_id": None}, headers=h)
    assert ok.json() == {"changes": {"worker_user_id": [world.users["grid_worker"], None]}, "version": 2}
    gone = client.delete(f"/api/v1/grid-buildings/{ids['building']}", params={"version": 1}, headers=h)
    assert gone.status_code == 204


def test_import_refusal_names_features(client_as: ClientAs) -> None:
    client, csrf, _world = client_as("community")
    bad = {
        "type": "FeatureCollection",
        "features": [{"type": "Feature", "properties": {"code": "X1"}, "geometry": square(1, 1)}],
    }
    r = client.post(
        "/api/v1/grids/import",
        files={"file": ("g.geojson", json.dumps(bad).encode(), "application/geo+json")},
        headers={"X-CSRF-Token": csrf},
    )
    assert r.status_code == 422
    assert r.json()["details"] == [
        {"feature": 1, "property": "community", "message": "第 1 个要素 community：缺少社区"}
    ]
    assert client.get("/api/v1/grids").json() == []
    good = {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "properties": {"code": "X1", "community": "新社区"}, "geometry": square(1, 1)}
        ],
    }
    r = client.post(
        "/api/v1/grids/import",
        files={"file": ("g.geojson", json.dumps(good).encode(), "application/geo+json")},
        headers={"X-CSRF-Token": csrf},
    )
    assert r.status_code == 200, r.text
    assert (
        r.json()["message"]
        == "导入完成：新建网格 1 个，更新网格 0 个，新建社区 1 个，新建楼栋 0 个，更新楼栋 0 个"
    )


def test_roles_reading_and_writing(client_as: ClientAs) -> None:
    client, csrf, world = client_as("community")
    ids = _setup(client, csrf, world)
    client, csrf, _ = client_as("department")  # reads grids, writes nothing
    assert client.get("/api/v1/grids").status_code == 200
    refused = client.post(
        "/api/v1/mediation-cases",
        json={"grid_id": ids["grid"], "title": "x", "kind": "other"},
        headers={"X-CSRF-Token": csrf},
    )
    assert refused.status_code == 403
    client, csrf, _ = client_as("case_officer")  # no grid.read
    assert client.get("/api/v1/grids").status_code == 403
    client, csrf, _ = client_as("grid_worker")
    created = client.post(
        "/api/v1/mediation-cases",
        json={
            "grid_id": ids["grid"],
            "title": "楼道堆物",
            "kind": "neighbour",
            "opened_on": "2026-11-01",
            "household_ids": [world.household_ids[0]],
            "parties": [{"name": "周大海", "role": "applicant", "phone": "13912345678"}],
        },
        headers={"X-CSRF-Token": csrf},
    )
    assert created.status_code == 201, created.text
    case = client.get(f"/api/v1/mediation-cases/{created.json()['id']}").json()
    assert (case["code"], case["parties"][0]["phone"], case["household_ids"]) == (
        "TJ-2026-0001",
        "139****5678",
        [world.household_ids[0]],
    )
    assert (
        client.patch(
            f"/api/v1/grids/{ids['grid']}", json={"version": 1}, headers={"X-CSRF-Token": csrf}
        ).status_code
        == 403
    )


def test_pages_and_public_cards(client_as: ClientAs) -> None:
    client, csrf, world = client_as("community")
    ids = _setup(client, csrf, world)
    listing = client.get("/grids")
    assert listing.status_code == 200 and "东埠第1网格" in listing.text
    page = client.get(f"/grids/{ids['grid']}")
    assert "王红梅" in page.text and "党员" in page.text
    assert 'id="grid-map"' in client.get("/grids/map").text
    saved = client.post(
        f"/grids/{ids['grid']}",
        data={
            "csrf_token": page_csrf(page.text),
            "version": "1",
            "name": "东埠一网格",
            "public_phone": "0570-9",
            "households": "31",
            "worker_user_id": "",
            "public_note": "",
        },
        follow_redirects=False,
    )
    assert saved.status_code == 303
    case_form = client.get("/mediation/new")
    opened = client.post(
        "/mediation/new",
        data={
            "csrf_token": page_csrf(case_form.text),
            "grid_id": str(ids["grid"]),
            "title": "噪声扰民",
            "kind": "neighbour",
            "party1_name": "吴小川",
            "party1_role": "applicant",
            "party1_phone": "13800001234",
        },
        follow_redirects=False,
    )
    assert opened.status_code == 303, opened.text
    case_page = client.get(opened.headers["location"])
    assert (
        "吴小川" in case_page.text and "138****1234" in case_page.text and "13800001234" not in case_page.text
    )
    exported = client.get("/grids/export.geojson")
    assert exported.headers["content-type"] == "application/geo+json"
    assert [f["properties"]["code"] for f in exported.json()["features"]] == ["DB-01"]
    client.cookies.clear()  # the public cards need no login
    public = client.get("/public/grids/db-01")
    assert public.status_code == 200
    assert (
        "东埠一网格" in public.text
        and "0570-9" in public.text
        and "王红梅" in public.text
        and "党员" in public.text
    )
    assert "13900001111" not in public.text  # the leader's private phone is never public
    assert "东埠一网格" in client.get("/public/grids").text
    assert client.get("/public/grids/NOPE").status_code == 404
    assert client.get("/grids", follow_redirects=False).status_code == 303
