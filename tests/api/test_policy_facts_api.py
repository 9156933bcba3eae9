"""The household file's section of facts the policy declares, over HTTP: the JSON twin, the form
generated from the policy with inline validation, the refusal of a calculation lacking a required
fact, and the history in words."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from tests.api.conftest import login, page_csrf
from tests.factories import World

POLICY = """\
policy:
  name: 方案事实测试
  effective_on: 2025-04-01
facts:
  ac_units: {label: 空调数量, type: count, unit: 台, required: true, max: 20, ref: 第十二条}
  reward_area: {label: 认定奖励面积, type: number, unit: ㎡}
  business: {label: 实际经营, type: yesno}
parameters:
  ac_fee: {label: 空调移机费, unit: 元, value: 300}
items:
  - {id: ac, label: 空调移机费, formula: fact.ac_units * ac_fee}
"""


def _publish(client: TestClient, world: World) -> str:
    token = login(client, "case_officer")
    r = client.post(
        f"/api/v1/projects/{world.project_id}/policies",
        json={"source": POLICY, "file_name": "facts.yaml"},
        headers={"X-CSRF-Token": token},
    )
    assert r.status_code == 201, r.text
    return token


def test_json_twin_reads_and_writes_all_or_nothing(world_app: tuple[TestClient, World]) -> None:
    client, world = world_app
    token = _publish(client, world)
    hid = world.household_ids[0]
    r = client.get(f"/api/v1/households/{hid}/policy-facts")
    assert r.status_code == 200
    body = r.json()
    assert [(f["id"], f["label"], f["unit"], f["required"], f["missing"]) for f in body["facts"]] == [
        ("ac_units", "空调数量", "台", True, True),
        ("reward_area", "认定奖励面积", "㎡", False, False),
        ("business", "实际经营", "", False, False),
    ]
    version = body["version"]
    bad = client.put(
        f"/api/v1/households/{hid}/policy-facts",
        json={"values": {"ac_units": 30, "reward_area": "5"}, "version": version},
        headers={"X-CSRF-Token": token},
    )
    assert bad.status_code == 422
    assert bad.json()["details"] == [
        {"field": "fact.ac_units", "label": "空调数量", "message": "空调数量不能大于 20 台，却是“30”"}
    ]
    assert (
        client.get(f"/api/v1/households/{hid}/policy-facts").json()["version"] == version
    )  # nothing written
    ok = client.put(
        f"/api/v1/households/{hid}/policy-facts",
        json={
            "values": {"ac_units": 3, "reward_area": "5", "business": True},
            "version": version,
            "reason": "入户核实",
        },
        headers={"X-CSRF-Token": token},
    )
    assert ok.status_code == 200, ok.text
    assert ok.json()["changes"] == {
        "fact.ac_units": [None, "3 台"],
        "fact.reward_area": [None, "5.00 ㎡"],
        "fact.business": [None, "是"],
    }
    stale = client.put(
        f"/api/v1/households/{hid}/policy-facts",
        json={"values": {"ac_units": 4}, "version": version},
        headers={"X-CSRF-Token": token},
    )
    assert stale.status_code == 409
    shown = {
        f["id"]: f["shown"] for f in client.get(f"/api/v1/households/{hid}/policy-facts").json()["facts"]
    }
    assert shown == {"ac_units": "3 台", "reward_area": "5.00 ㎡", "business": "是"}
    # the calculation of a household lacking the required fact says so, instead of a number
    other = world.household_ids[1]
    r = client.get(f"/api/v1/households/{other}/calculation", params={"option": "cash"})
    assert r.status_code == 422 and r.json()["message"] == "缺少方案要求的事实：空调数量"
    r = client.get(f"/api/v1/households/{hid}/calculation", params={"option": "cash"})
    assert r.status_code == 200 and r.json()["total_fen"] == 90000


def test_household_page_section_form_and_history(world_app: tuple[TestClient, World]) -> None:
    client, world = world_app
    _publish(client, world)
    hid = world.household_ids[0]
    page = client.get(f"/households/{hid}").text
    assert "方案要求的事实" in page and "缺少方案要求的事实：空调数量" in page
    form = client.get(f"/households/{hid}/policy-facts/edit")
    assert form.status_code == 200
    assert (
        "空调数量（台）" in form.text
        and 'name="fact.ac_units"' in form.text
        and "依据：第十二条" in form.text
    )
    csrf = page_csrf(form.text)
    # inline validation while typing: the Chinese message naming the field, nothing written
    check = client.post(
        f"/households/{hid}/policy-facts/check", data={"fact.ac_units": "2.5", "csrf_token": csrf}
    )
    assert check.status_code == 200 and check.text == "空调数量应为整数，却是“2.5”"
    version = re.search(r'name="version" value="(\d+)"', form.text)
    assert version
    bad = client.post(
        f"/households/{hid}/policy-facts",
        data={"fact.ac_units": "两台", "fact.reward_area": "8", "csrf_token": csrf, "version": version[1]},
    )
    assert bad.status_code == 422
    assert 'id="err-pf-ac_units">空调数量应为数字，却是“两台”' in bad.text
    assert 'value="8"' in bad.text  # what was typed stays
    done = client.post(
        f"/households/{hid}/policy-facts",
        data={
            "fact.ac_units": "2",
            "fact.reward_area": "8",
            "fact.business": "false",
            "csrf_token": csrf,
            "version": version[1],
            "reason": "入户核实",
        },
        follow_redirects=False,
    )
    assert done.status_code == 303, done.text
    page = client.get(f"/households/{hid}").text
    assert "2 台" in page and "8.00 ㎡" in page and "缺少方案要求的事实" not in page
    history = client.get(f"/households/{hid}?tab=history").text
    text = re.sub(r"<[^>]+>", " ", history)
    assert "空调数量" in text and "2 台" in text and "认定奖励面积" in text and "入户核实" in text


def test_whatif_names_the_households_not_computed(world_app: tuple[TestClient, World]) -> None:
    client, world = world_app
    token = _publish(client, world)
    for hid in world.household_ids[1:]:
        r = client.put(
            f"/api/v1/households/{hid}/policy-facts",
            json={"values": {"ac_units": 1}},
            headers={"X-CSRF-Token": token},
        )
        assert r.status_code == 200, r.text
    page = client.get(f"/projects/{world.project_id}/whatif")
    assert page.status_code == 200
    text = re.sub(r"\s+", "", re.sub(r"<[^>]+>", "", page.text))
    assert "以下各户缺少方案要求的事实，未计入测算（1）：H0001（缺少方案要求的事实：空调数量）" in text
    # five households of 1 air conditioner at 300 yuan each
    assert re.search(r'id="whatif-new-total">1,500\.00<', page.text)
