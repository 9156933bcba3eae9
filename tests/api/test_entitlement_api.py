"""GET /api/v1/households/{household_id}/entitlement over HTTP: the body, scope, roles and errors."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from fastapi.testclient import TestClient

import anju
from anju.db.session import unit_of_work
from anju.demo.policies import POLICY_DIR
from anju.household import service as household_service
from anju.identity.service import DataScope
from tests.factories import ACTOR, World, id_number

RURAL = (POLICY_DIR / "rural.yaml").read_text(encoding="utf-8")
STATE_LAND = (Path(anju.__file__).parent / "policy" / "examples" / "state_land.yaml").read_text(
    encoding="utf-8"
)

ClientAs = Callable[[str], tuple[TestClient, str, World]]


def _publish(client: TestClient, token: str, world: World, source: str) -> None:
    r = client.post(
        f"/api/v1/projects/{world.project_id}/policies",
        json={"source": source},
        headers={"X-CSRF-Token": token},
    )
    assert r.status_code == 201, r.text


def _four_persons(household_id: int, head_member_id: int) -> None:
    """The head counted as a resettlement person plus three more: 4 × 40 + 10 = 170 ㎡."""
    scope = DataScope.everything()
    with unit_of_work() as db:
        household_service.update_member(
            db, actor=ACTOR, scope=scope, member_id=head_member_id, data={"resettlement_counted": True}
        )
        for i in range(3):
            household_service.add_member(
                db,
                actor=ACTOR,
                scope=scope,
                household_id=household_id,
                data={
                    "name": f"家人{i}",
                    "relation": "子女",
                    "id_number": id_number(500 + i),
                    "resettlement_counted": True,
                },
            )


def test_entitlement_body(client_as: ClientAs) -> None:
    client, token, world = client_as("case_officer")
    hid = world.household_ids[0]
    r = client.get(f"/api/v1/households/{hid}/entitlement")
    assert (r.status_code, r.json()["code"]) == (404, "not_found")  # no policy yet
    _publish(client, token, world, RURAL)
    _four_persons(hid, world.member_ids[0])
    r = client.get(f"/api/v1/households/{hid}/entitlement")
    assert r.status_code == 200, r.text
    body = r.json()
    assert len(body.pop("policy_hash")) == 64
    assert body == {
        "household_id": hid,
        "household_code": "H0001",
        "policy_version": 1,
        "as_of": "2024-05-10",
        "entitled_area": "170.00",
        "max_area": "200.00",
        "max_flats": 3,
        "extra_limit": "15",
        "max_extra": "30",
        "rules": [
            {
                "id": "big_flat",
                "label": "应安置面积超过60㎡的，须至少选择一套60㎡及以上的房源",
                "kind": "min_flat_area",
                "applies": True,
                "area": "60.00",
                "count": 1,
                "flat_types": [],
                "description": "至少 1 套 60.00㎡ 及以上的房源",
            },
            {
                "id": "small_household_flat",
                "label": "应安置面积60㎡及以下的，所选房源每套不超过75㎡",
                "kind": "max_flat_area",
                "applies": False,
                "area": "75.00",
                "count": 1,
                "flat_types": [],
                "description": "每套房源不超过 75.00㎡",
            },
        ],
    }
    dated = client.get(f"/api/v1/households/{hid}/entitlement", params={"as_of": "2024-06-01"})
    assert dated.status_code == 200 and dated.json()["as_of"] == "2024-06-01"
    # H0002 has no resettlement person determined: only the 10 ㎡ improvement area
    other = client.get(f"/api/v1/households/{world.household_ids[1]}/entitlement").json()
    assert (other["entitled_area"], other["max_area"], other["max_flats"]) == ("10.00", "40.00", 1)
    assert [x["applies"] for x in other["rules"]] == [False, True]


def test_entitlement_needs_a_swap_settlement(client_as: ClientAs) -> None:
    client, token, world = client_as("case_officer")
    _publish(client, token, world, STATE_LAND)
    r = client.get(f"/api/v1/households/{world.household_ids[0]}/entitlement")
    assert r.status_code == 409
    body = r.json()
    assert (body["code"], body["message"]) == (
        "entitlement_unavailable",
        "无法计算安置资格：本方案没有产权调换结算规则",
    )


def test_entitlement_follows_roles_and_household_scope(client_as: ClientAs) -> None:
    client, token, world = client_as("case_officer")
    _publish(client, token, world, RURAL)
    client, _, _ = client_as("team_member")
    assert client.get(f"/api/v1/households/{world.assigned[0]}/entitlement").status_code == 200
    r = client.get(f"/api/v1/households/{world.household_ids[5]}/entitlement")
    assert (r.status_code, r.json()["code"]) == (404, "not_found")
    client, _, _ = client_as("grid_worker")
    r = client.get(f"/api/v1/households/{world.household_ids[0]}/entitlement")
    assert (r.status_code, r.json()["code"]) == (403, "permission_denied")
    client.cookies.clear()
    assert client.get(f"/api/v1/households/{world.household_ids[0]}/entitlement").status_code == 401
