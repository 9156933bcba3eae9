"""The battle map (战果图): GET /api/v1/projects/{id}/map and the page /projects/{id}/map.

The standard world (tests.factories.build_world) gets a parcel per household except the last,
two households sharing one parcel, a hard case, block boundaries, and a second team holding
households 5 and 6; the map must show what each role reaches, filtered by team and block.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient

from anju.campaign.models import HouseholdCampaign
from anju.db.session import unit_of_work
from anju.household import service as household_service
from anju.identity import service as identity_service
from anju.project import service as project_service
from anju.project.models import Block
from tests.api.permission_calls import assign_to_another_team
from tests.factories import ACTOR, World

HEADS = ["张建国", "李秀英", "王志强", "刘桂兰", "陈国华", "杨丽娟"]
ORIGIN = (120.1500, 30.2800)  # lon, lat


def square(i: int, size: float = 0.0004) -> str:
    """A small square parcel, the i-th along a row east of ORIGIN."""
    x0, y0 = ORIGIN[0] + i * size * 1.5, ORIGIN[1]
    ring = [[x0, y0], [x0 + size, y0], [x0 + size, y0 + size], [x0, y0 + size], [x0, y0]]
    return json.dumps({"type": "Polygon", "coordinates": [ring]})


def mapped_world(world: World) -> dict[str, int]:
    """Parcels P1..P4 for households 1-4, households 5 and 6 on a shared parcel P5... except that
    household 6 is linked to parcel P6 whose text is not GeoJSON (so it is listed as unmapped).

    Household 5 (second team) is a level-2 hard case and household 1 was visited; block E gets a
    boundary. Returns the parcel ids by code."""
    hids = world.household_ids
    with unit_of_work() as db:
        east, west = world.block_ids["E"], world.block_ids["W"]
        parcels = {}
        for i in range(5):
            parcels[f"P{i + 1}"] = project_service.add_parcel(
                db,
                actor=ACTOR,
                project_id=world.project_id,
                block_id=east if i % 2 == 0 else west,
                code=f"P{i + 1}",
                geometry=square(i),
            ).id
        parcels["P6"] = project_service.add_parcel(
            db, actor=ACTOR, project_id=world.project_id, block_id=west, code="P6", geometry="not geojson"
        ).id
        household_service.link_parcels(
            db,
            actor=ACTOR,
            project_id=world.project_id,
            parcel_of={
                hids[0]: parcels["P1"],
                hids[1]: parcels["P2"],
                hids[2]: parcels["P3"],
                hids[3]: parcels["P4"],
                hids[4]: parcels["P5"],
                hids[5]: parcels["P6"],
            },
        )
        ring = [[120.149, 30.279], [120.160, 30.279], [120.160, 30.282], [120.149, 30.282], [120.149, 30.279]]
        block = db.get(Block, east)
        block.geometry = json.dumps(
            {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [ring]}}
        )
        now = datetime(2026, 11, 20, 2, 30, tzinfo=UTC)  # 10:30 office time
        db.add(
            HouseholdCampaign(household_id=hids[4], project_id=world.project_id, difficulty=2, updated_at=now)
        )
        db.add(
            HouseholdCampaign(
                household_id=hids[0],
                project_id=world.project_id,
                attitude="wait",
                last_visit_at=now,
                visit_count=3,
                updated_at=now,
            )
        )
        household_service.set_stage(
            db,
            actor=ACTOR,
            scope=identity_service.DataScope.everything(),
            household_id=hids[0],
            stage="valued",
            on=None,
        )
    assign_to_another_team(world, [4, 5])
    return parcels


@pytest.fixture
def map_client(
    client_as: Callable[[str], tuple[TestClient, str, World]],
) -> Callable[[str], tuple[TestClient, World]]:
    _client, _csrf, world = client_as("commander")
    mapped_world(world)

    def _as(role: str) -> tuple[TestClient, World]:
        client, _csrf, w = client_as(role)
        return client, w

    return _as


def codes(body: dict[str, Any]) -> list[str]:
    return [h["code"] for f in body["features"] for h in f["properties"]["households"]]


def test_commander_sees_every_parcel_coloured_by_stage(
    map_client: Callable[[str], tuple[TestClient, World]],
) -> None:
    client, world = map_client("commander")
    r = client.get(f"/api/v1/projects/{world.project_id}/map")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["type"] == "FeatureCollection"
    assert [f["properties"]["parcel_code"] for f in body["features"]] == ["P1", "P2", "P3", "P4", "P5"]
    assert codes(body) == ["H0001", "H0002", "H0003", "H0004", "H0005"]
    assert [h["code"] for h in body["unmapped"]] == ["H0006"]
    assert body["totals"] == {"households": 6, "mapped": 5, "unmapped": 1, "parcels": 5, "hard": 1}
    first = body["features"][0]
    assert first["type"] == "Feature" and first["id"] == first["properties"]["parcel_id"]
    assert first["geometry"]["type"] == "Polygon"
    assert first["geometry"]["coordinates"][0][0] == [120.15, 30.28]
    props = first["properties"]
    assert (props["stage"], props["stage_label"], props["colour"], props["hard"]) == (
        "valued",
        "已评估",
        "#7b61ff",
        False,
    )
    assert props["block"] == "东片区"
    assert props["households"] == [
        {
            "id": world.household_ids[0],
            "code": "H0001",
            "head_name": "张建国",
            "block": "东片区",
            "stage": "valued",
            "stage_label": "已评估",
            "attitude": "wait",
            "attitude_label": "观望",
            "difficulty": 0,
            "difficulty_label": "一般户",
            "team": "第一专班",
            "person": "测试team_member",
            "last_visit_on": "2026-11-20",
            "visit_count": 3,
            "url": f"/households/{world.household_ids[0]}",
        }
    ]
    fifth = body["features"][4]["properties"]
    assert (fifth["hard"], fifth["difficulty"], fifth["households"][0]["team"]) == (True, 2, "第二专班")
    assert fifth["households"][0]["difficulty_label"] == "难点户（较难）"
    assert fifth["households"][0]["person"] == "" and fifth["households"][0]["last_visit_on"] is None
    legend = {item["stage"]: (item["label"], item["count"]) for item in body["legend"]}
    assert legend["surveyed"] == ("已调查", 5) and legend["valued"] == ("已评估", 1)
    assert legend["signed"] == ("已签约", 0) and "archived" not in legend
    assert [b["properties"]["name"] for b in body["blocks"]] == ["东片区"]
    assert body["blocks"][0]["geometry"]["type"] == "Polygon"
    assert body["filters"] == {"team_id": None, "block_id": None}


def test_a_team_member_sees_only_their_households(
    map_client: Callable[[str], tuple[TestClient, World]],
) -> None:
    client, world = map_client("team_member")
    r = client.get(f"/api/v1/projects/{world.project_id}/map")
    assert r.status_code == 200, r.text
    assert codes(r.json()) == ["H0001", "H0002"]
    assert r.json()["unmapped"] == []
    assert r.json()["totals"]["households"] == 2
    for name in HEADS[2:]:
        assert name not in r.text


def test_a_team_leader_sees_the_team(map_client: Callable[[str], tuple[TestClient, World]]) -> None:
    client, world = map_client("team_leader")
    body = client.get(f"/api/v1/projects/{world.project_id}/map").json()
    assert codes(body) == ["H0001", "H0002", "H0003", "H0004"]
    assert "陈国华" not in json.dumps(body, ensure_ascii=False)


def test_filter_by_team_and_block(map_client: Callable[[str], tuple[TestClient, World]]) -> None:
    client, world = map_client("commander")
    teams = {t["name"]: t["id"] for t in _teams(client, world)}
    second = client.get(
        f"/api/v1/projects/{world.project_id}/map", params={"team_id": teams["第二专班"]}
    ).json()
    assert codes(second) == ["H0005"] and [h["code"] for h in second["unmapped"]] == ["H0006"]
    assert second["filters"]["team_id"] == teams["第二专班"]
    east = client.get(
        f"/api/v1/projects/{world.project_id}/map", params={"block_id": world.block_ids["E"]}
    ).json()
    assert codes(east) == ["H0001", "H0003", "H0005"]
    assert [b["properties"]["code"] for b in east["blocks"]] == ["E"]
    both = client.get(
        f"/api/v1/projects/{world.project_id}/map",
        params={"block_id": world.block_ids["W"], "team_id": teams["第一专班"]},
    ).json()
    assert codes(both) == ["H0002", "H0004"] and both["blocks"] == []
    # the team member filtering on the second team gets nothing of it
    client, _ = map_client("team_member")
    r = client.get(f"/api/v1/projects/{world.project_id}/map", params={"team_id": teams["第二专班"]})
    assert r.status_code == 200 and r.json()["features"] == [] and r.json()["unmapped"] == []


def _teams(client: TestClient, world: World) -> list[dict[str, Any]]:
    with unit_of_work() as db:
        names = identity_service.team_names(db, world.project_id)
    return [{"id": i, "name": n} for i, n in names.items()]


def test_households_sharing_a_parcel_take_the_least_advanced_stage(
    map_client: Callable[[str], tuple[TestClient, World]],
) -> None:
    client, world = map_client("commander")
    body = client.get(f"/api/v1/projects/{world.project_id}/map").json()
    p1 = body["features"][0]["properties"]["parcel_id"]
    with unit_of_work() as db:
        household_service.link_parcels(
            db, actor=ACTOR, project_id=world.project_id, parcel_of={world.household_ids[1]: p1}
        )
    body = client.get(f"/api/v1/projects/{world.project_id}/map").json()
    shared = body["features"][0]["properties"]
    assert [h["code"] for h in shared["households"]] == ["H0001", "H0002"]
    assert (shared["stage"], shared["stage_label"]) == (
        "surveyed",
        "已调查",
    )  # H0002 is behind H0001 (已评估)
    assert [f["properties"]["parcel_code"] for f in body["features"]] == ["P1", "P3", "P4", "P5"]


@pytest.mark.parametrize("param", ["team_id", "block_id"])
def test_unknown_or_foreign_filters_are_404(
    map_client: Callable[[str], tuple[TestClient, World]], param: str
) -> None:
    client, world = map_client("commander")
    with unit_of_work() as db:
        other = build_world_p2(db)
    for value in (999_999, other[param]):
        r = client.get(f"/api/v1/projects/{world.project_id}/map", params={param: value})
        assert r.status_code == 404, r.text
        assert r.json()["code"] == "not_found"
        assert r.json()["message"] == ("专班不存在" if param == "team_id" else "区块不存在")
    r = client.get(f"/api/v1/projects/{world.project_id}/map", params={param: 0})
    assert r.status_code == 422


def build_world_p2(db: Any) -> dict[str, int]:
    """A second project with a block and a team (filters naming them are foreign to P1)."""
    p = project_service.create_project(db, actor=ACTOR, code="P2", name="第二项目", kind="state_land")
    block = project_service.add_block(db, actor=ACTOR, project_id=p.id, code="N", name="北片区", level="area")
    team = identity_service.create_team(db, actor=ACTOR, project_id=p.id, name="外项目专班")
    return {"team_id": team.id, "block_id": block.id}


def test_unknown_project_is_404(map_client: Callable[[str], tuple[TestClient, World]]) -> None:
    client, _world = map_client("commander")
    r = client.get("/api/v1/projects/999999/map")
    assert r.status_code == 404 and r.json()["code"] == "not_found"


def test_roles_without_campaign_read_are_refused(
    map_client: Callable[[str], tuple[TestClient, World]],
) -> None:
    client, world = map_client("grid_worker")
    r = client.get(f"/api/v1/projects/{world.project_id}/map")
    assert r.status_code == 403 and r.json()["code"] == "permission_denied"
    assert client.get(f"/projects/{world.project_id}/map").status_code == 403


def test_a_project_without_parcels_lists_every_household(
    client_as: Callable[[str], tuple[TestClient, str, World]],
) -> None:
    client, _csrf, world = client_as("commander")
    body = client.get(f"/api/v1/projects/{world.project_id}/map").json()
    assert body["features"] == [] and body["blocks"] == []
    assert [h["code"] for h in body["unmapped"]] == ["H0001", "H0002", "H0003", "H0004", "H0005", "H0006"]


# --------------------------------------------------------------- the page


def test_map_page_renders_filters_legend_and_the_unmapped_list(
    map_client: Callable[[str], tuple[TestClient, World]],
) -> None:
    client, world = map_client("commander")
    r = client.get(f"/projects/{world.project_id}/map")
    assert r.status_code == 200, r.text
    html = r.text
    assert "战果图" in html
    assert 'src="/static/vendor/leaflet.js"' in html and 'href="/static/vendor/leaflet.css"' in html
    assert 'src="/static/app/map.js"' in html
    assert f'data-src="/api/v1/projects/{world.project_id}/map"' in html
    assert "第一专班" in html and "第二专班" in html and "东片区" in html
    for label in ["未入户", "已调查", "已评估", "协商中", "已签约", "已腾空", "已拆除"]:
        assert label in html
    assert "H0006" in html and "杨丽娟" in html  # unmapped household listed without JS
    assert "<script>" not in html and " onclick=" not in html


def test_map_page_keeps_the_filters_and_the_scope(
    map_client: Callable[[str], tuple[TestClient, World]],
) -> None:
    client, world = map_client("team_member")
    r = client.get(f"/projects/{world.project_id}/map", params={"block_id": world.block_ids["E"]})
    assert r.status_code == 200
    assert f'data-src="/api/v1/projects/{world.project_id}/map?block_id={world.block_ids["E"]}"' in r.text
    for name in HEADS[2:]:
        assert name not in r.text
    r = client.get(f"/projects/{world.project_id}/map", params={"block_id": 999999})
    assert r.status_code == 404 and "不存在" in r.text


def test_map_page_uses_the_tile_url_when_set(
    map_client: Callable[[str], tuple[TestClient, World]], monkeypatch: pytest.MonkeyPatch
) -> None:
    from anju.config import get_settings

    client, world = map_client("commander")
    assert "data-tiles=" not in client.get(f"/projects/{world.project_id}/map").text
    monkeypatch.setattr(get_settings(), "map_tile_url", "https://tiles.example.cn/{z}/{x}/{y}.png")
    html = client.get(f"/projects/{world.project_id}/map").text
    assert 'data-tiles="https://tiles.example.cn/{z}/{x}/{y}.png"' in html
