"""The desk calculator over HTTP: GET /api/v1/households/{id}/calculator (body, scope, roles, errors)
and the page /households/{id}/calculator with its links from the agreement tab and the desk."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient

from anju.db.session import unit_of_work
from anju.household import service as household_service
from anju.housing import service as housing_service
from anju.identity.service import DataScope
from tests.api.test_entitlement_api import RURAL, _four_persons, _publish
from tests.factories import ACTOR, World
from tests.integration.test_housing_calculator import SMALL_RULE, _rows
from tests.integration.test_housing_stock import OFFICER, flat_list

ClientAs = Callable[[str], tuple[TestClient, str, World]]


def _estate(world: World) -> int:
    with unit_of_work() as db:
        estate = housing_service.create_estate(
            db, actor=OFFICER, project_id=world.project_id, code="qx", name="青溪苑"
        )
        sheet = housing_service.read_flat_sheet(flat_list(_rows()), "房源.xlsx")
        housing_service.import_flats(db, actor=OFFICER, estate_id=estate.id, rows=sheet)
        return estate.id


def _count_head(member_id: int) -> None:
    """The head alone as a resettlement person: 1 × 50 + 10 = 60 ㎡, one flat of at most 75 ㎡."""
    with unit_of_work() as db:
        household_service.update_member(
            db,
            actor=ACTOR,
            scope=DataScope.everything(),
            member_id=member_id,
            data={"resettlement_counted": True},
        )


def test_calculator_body(client_as: ClientAs) -> None:
    client, token, world = client_as("case_officer")
    small, large = world.household_ids[0], world.household_ids[1]
    r = client.get(f"/api/v1/households/{small}/calculator")
    assert (r.status_code, r.json()["code"]) == (404, "not_found")  # no policy yet
    _publish(client, token, world, RURAL)
    _four_persons(large, world.member_ids[1])
    _count_head(world.member_ids[0])
    estate_id = _estate(world)
    r = client.get(f"/api/v1/households/{large}/calculator")
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["household_code"], body["policy_version"], body["as_of"], body["available_flats"]) == (
        "H0002",
        1,
        "2024-05-10",
        6,
    )
    assert [o["option"] for o in body["options"]] == ["cash", "swap"]
    assert all(isinstance(o["total_fen"], int) and o["error"] == "" for o in body["options"])
    assert body["entitlement"]["entitled_area"] == "170.00" and body["entitlement"]["max_flats"] == 3
    groups = [
        (o["estate_id"], o["flat_type"], o["gross_area"], o["count"], o["allowed"]) for o in body["offers"]
    ]
    assert groups == [
        (estate_id, "B", "59.80", 2, True),
        (estate_id, "A", "89.56", 3, True),
        (estate_id, "C", "120.00", 1, True),
    ]
    b = body["offers"][0]
    # 59.80 ㎡ against 170 ㎡: the 110.20 ㎡ not taken is refunded at the cost price (2200 元/㎡)
    assert b["refund_fen"] == 110_20 * 2200
    assert b["balance_fen"] == b["flats_cost_fen"] - b["credit_fen"] - b["refund_fen"]
    assert b["balance_fen"] < 0  # the family is refunded

    # the small household (60 ㎡, one flat of at most 75 ㎡) is refused the 89.56 ㎡ flats by the rule's label
    r = client.get(f"/api/v1/households/{small}/calculator")
    a = r.json()["offers"][1]
    assert (a["flat_type"], a["allowed"], [(v["rule_id"], v["label"]) for v in a["violations"]]) == (
        "A",
        False,
        [("small_household_flat", SMALL_RULE)],
    )


def test_calculator_follows_roles_and_household_scope(client_as: ClientAs) -> None:
    client, token, world = client_as("case_officer")
    _publish(client, token, world, RURAL)
    client, _, _ = client_as("team_member")
    assert client.get(f"/api/v1/households/{world.assigned[0]}/calculator").status_code == 200
    r = client.get(f"/api/v1/households/{world.household_ids[5]}/calculator")
    assert (r.status_code, r.json()["code"]) == (404, "not_found")
    assert client.get(f"/households/{world.household_ids[5]}/calculator").status_code == 404
    client, _, _ = client_as("grid_worker")
    r = client.get(f"/api/v1/households/{world.household_ids[0]}/calculator")
    assert (r.status_code, r.json()["code"]) == (403, "permission_denied")
    client.cookies.clear()
    assert client.get(f"/api/v1/households/{world.household_ids[0]}/calculator").status_code == 401


def test_calculator_page_and_its_links(client_as: ClientAs) -> None:
    client, token, world = client_as("case_officer")
    small = world.household_ids[0]
    r = client.get(f"/households/{small}/calculator")
    assert r.status_code == 200 and "本项目尚未发布补偿方案" in r.text
    _publish(client, token, world, RURAL)
    _count_head(world.member_ids[0])
    _estate(world)
    r = client.get(f"/households/{small}/calculator")
    assert r.status_code == 200, r.text
    assert "安置资格" in r.text and "应安置面积" in r.text and "60.00 ㎡" in r.text
    assert r.text.count('class="calc-offer ') == 3
    assert r.text.count("✕ " + SMALL_RULE) == 2  # the 89.56 ㎡ and 120 ㎡ groups
    r = client.get(f"/households/{small}/calculator?only_allowed=true")
    assert r.text.count('class="calc-offer ') == 1  # only the 59.80 ㎡ group
    link = f'href="/households/{small}/calculator"'
    assert link in client.get(f"/households/{small}/agreement").text
    assert link in client.get(f"/projects/{world.project_id}/signing?household_id={small}").text


def test_calculator_at_any_date_is_never_a_server_error(client_as: ClientAs) -> None:
    client, token, world = client_as("case_officer")
    _publish(client, token, world, RURAL)
    _count_head(world.member_ids[0])
    _estate(world)
    hid = world.household_ids[0]
    for as_of in ("0001-01-01", "1970-01-01", "2024-05-10", "9999-12-31"):
        r = client.get(f"/api/v1/households/{hid}/calculator", params={"as_of": as_of})
        assert r.status_code == 200, (as_of, r.status_code, r.text)
        assert r.json()["as_of"] == as_of and len(r.json()["offers"]) == 3
        p = client.get(f"/households/{hid}/calculator", params={"as_of": as_of})
        assert p.status_code == 200, (as_of, p.status_code)
