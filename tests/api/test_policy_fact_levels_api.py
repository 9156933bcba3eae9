"""Building- and member-level facts the policy declares, over HTTP: the JSON twin's ``buildings`` and
``members`` groups and their ``building.<id>.fact.ID`` keys, the household page's section per
certificate and member, the form and its inline check, and the history in words."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from tests.api.conftest import login, page_csrf
from tests.factories import World

POLICY = """\
policy:
  name: 证级事实测试
  effective_on: 2025-04-01
facts:
  frontage: {label: 临街位置, type: category, level: building, choices: [主街, 小巷], required: true}
  care_months: {label: 护理月数, type: count, unit: 月, level: member}
  wubao: {label: 五保户, type: yesno}
parameters:
  shop_rate: {label: 营业奖励单价, unit: 元/㎡, keys: [临街位置], table: {主街: 100, 小巷: 50}, default: 0}
items:
  - {id: shop, label: 营业奖励, per: certificate, formula: "building.legal_area * shop_rate[building.fact.frontage]"}
"""


def _publish(client: TestClient, world: World) -> str:
    token = login(client, "case_officer")
    r = client.post(
        f"/api/v1/projects/{world.project_id}/policies",
        json={"source": POLICY, "file_name": "levels.yaml"},
        headers={"X-CSRF-Token": token},
    )
    assert r.status_code == 201, r.text
    return token


def test_json_groups_per_building_and_member(world_app: tuple[TestClient, World]) -> None:
    client, world = world_app
    token = _publish(client, world)
    hid = world.household_ids[0]
    body = client.get(f"/api/v1/households/{hid}/policy-facts").json()
    assert [f["id"] for f in body["facts"]] == ["wubao"]
    ((b,),) = [body["buildings"]]
    ((m,),) = [body["members"]]
    assert b["place"] == "证 Z00001" and [(f["id"], f["missing"]) for f in b["facts"]] == [("frontage", True)]
    assert m["place"] == "成员 张建国" and m["id"] == world.member_ids[0]
    bad = client.put(
        f"/api/v1/households/{hid}/policy-facts",
        json={"values": {f"building.{b['id']}.fact.frontage": "大街"}, "version": body["version"]},
        headers={"X-CSRF-Token": token},
    )
    assert bad.status_code == 422
    assert bad.json()["details"] == [
        {
            "field": f"building.{b['id']}.fact.frontage",
            "label": "临街位置",
            "message": "临街位置只能是主街、小巷之一，却是“大街”",
        }
    ]
    ok = client.put(
        f"/api/v1/households/{hid}/policy-facts",
        json={
            "values": {f"building.{b['id']}.fact.frontage": "主街", f"member.{m['id']}.fact.care_months": 2},
            "version": body["version"],
        },
        headers={"X-CSRF-Token": token},
    )
    assert ok.status_code == 200, ok.text
    assert ok.json()["changes"] == {
        "证 Z00001 临街位置": [None, "主街"],
        "成员 张建国 护理月数": [None, "2 月"],
    }
    again = client.get(f"/api/v1/households/{hid}/policy-facts").json()
    assert again["buildings"][0]["facts"][0]["shown"] == "主街"
    assert again["members"][0]["facts"][0]["value"] == "2"
    stale = client.put(
        f"/api/v1/households/{hid}/policy-facts",
        json={"values": {f"building.{b['id']}.fact.frontage": "小巷"}, "version": body["version"]},
        headers={"X-CSRF-Token": token},
    )
    assert stale.status_code == 409


def test_page_section_form_and_history(world_app: tuple[TestClient, World]) -> None:
    client, world = world_app
    token = _publish(client, world)
    hid = world.household_ids[0]
    bid = client.get(f"/api/v1/households/{hid}/policy-facts").json()["buildings"][0]["id"]
    del token
    page = client.get(f"/households/{hid}").text
    assert "缺少方案要求的事实：临街位置（证 Z00001）" in page
    form = client.get(f"/households/{hid}/policy-facts/edit")
    assert form.status_code == 200
    assert f'name="building.{bid}.fact.frontage"' in form.text and "<legend>证 Z00001</legend>" in form.text
    csrf = page_csrf(form.text)
    check = client.post(
        f"/households/{hid}/policy-facts/check",
        data={f"building.{bid}.fact.frontage": "大街", "csrf_token": csrf},
    )
    assert check.status_code == 200 and check.text == "临街位置只能是主街、小巷之一，却是“大街”"
    version = re.search(r'name="version" value="(\d+)"', form.text)
    assert version
    done = client.post(
        f"/households/{hid}/policy-facts",
        data={f"building.{bid}.fact.frontage": "小巷", "csrf_token": csrf, "version": version[1]},
        follow_redirects=False,
    )
    assert done.status_code == 303, done.text
    page = client.get(f"/households/{hid}").text
    assert "小巷" in page and "缺少方案要求的事实" not in page
    history = re.sub(r"<[^>]+>", " ", client.get(f"/households/{hid}?tab=history").text)
    assert "证 Z00001 临街位置" in history and "小巷" in history
