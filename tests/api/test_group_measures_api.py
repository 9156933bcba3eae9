"""Office-set group measures over HTTP (#12 item 3): the JSON API lists and records values, the
policy page shows them and records from its form, bad input is a Chinese message naming the
field, and a household's calculation says which measure is missing until it is recorded."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.api.conftest import login, page_csrf
from tests.factories import World
from tests.integration.test_group_measures import SOURCE


def _publish(client: TestClient, world: World) -> str:
    token = login(client, "case_officer")
    r = client.post(
        f"/api/v1/projects/{world.project_id}/policies",
        json={"source": SOURCE, "file_name": "measures.yaml"},
        headers={"X-CSRF-Token": token},
    )
    assert r.status_code == 201, r.text
    return token


def test_api_lists_records_and_the_calculation_reads_it(world_app: tuple[TestClient, World]) -> None:
    client, world = world_app
    token = _publish(client, world)
    url = f"/api/v1/projects/{world.project_id}/group-measures"
    listed = client.get(url).json()
    assert [m["id"] for m in listed["measures"]] == ["整片腾空率", "验收得分"]
    assert {"block_id": None, "name": "全项目"} in listed["measures"][0]["blocks"]
    assert listed["values"] == []

    hid = world.household_ids[0]  # in block E
    r = client.get(f"/api/v1/households/{hid}/calculation", params={"option": "cash"})
    assert r.status_code == 422 and "整片腾空率" in r.json()["message"]

    body = {
        "measure_id": "整片腾空率",
        "block_id": world.block_ids["E"],
        "effective_on": "2024-06-01",
        "value": "92.5",
        "reason": "街道认定文件",
    }
    r = client.post(url, json=body, headers={"X-CSRF-Token": token})
    assert r.status_code == 201, r.text
    assert r.json()["value"] == "92.5000" and r.json()["recorded_by"] == "case_officer"
    r = client.get(f"/api/v1/households/{hid}/calculation", params={"option": "cash"})
    assert {i["id"]: i["amount_fen"] for i in r.json()["items"]}["whole"] == 200_000

    r = client.post(url, json={**body, "value": "101"}, headers={"X-CSRF-Token": token})
    assert r.status_code == 422 and r.json()["details"][0]["field"] == "value"
    assert "百分比不能超过 100" in r.json()["message"]
    r = client.post(url, json={**body, "reason": ""}, headers={"X-CSRF-Token": token})
    assert r.status_code == 422
    assert len(client.get(url).json()["values"]) == 1

    # a role without policy.publish may read but not record
    login(client, "finance")
    assert client.get(url).status_code == 200
    assert client.post(url, json=body, headers={"X-CSRF-Token": token}).status_code == 403


def test_policy_page_section_records_from_its_form(world_app: tuple[TestClient, World]) -> None:
    client, world = world_app
    _publish(client, world)
    page = client.get(f"/projects/{world.project_id}/policy")
    assert page.status_code == 200
    assert 'id="group-measures"' in page.text and "整片腾空率 — 全项目" in page.text
    r = client.post(
        f"/projects/{world.project_id}/group-measures",
        data={
            "csrf_token": page_csrf(page.text),
            "target": f"整片腾空率|{world.block_ids['W']}",
            "effective_on": "2024-06-02",
            "value": "88",
            "reason": "现场核查",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303
    page = client.get(f"/projects/{world.project_id}/policy")
    assert "现场核查" in page.text and "88%" in page.text and "2024-06-02" in page.text
    r = client.post(
        f"/projects/{world.project_id}/group-measures",
        data={
            "csrf_token": page_csrf(page.text),
            "target": "整片腾空率|project",
            "effective_on": "x",
            "value": "88",
            "reason": "r",
        },
    )
    assert r.status_code == 422 and "生效日期应为日期" in r.text
    # a reader sees the values but not the form
    login(client, "auditor")
    page = client.get(f"/projects/{world.project_id}/policy")
    assert "现场核查" in page.text and 'name="target"' not in page.text
