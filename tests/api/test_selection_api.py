"""Running a selection event over HTTP: open, select (201), a taken flat and a broken entitlement
rule answered 409 with a Chinese message naming the flat or the rule, skip (过号), finish, and an
undo refused to a case officer (403) but done by a supervisor with a reason."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient

from anju.agreement import service as agreement_service
from anju.compensation import service as compensation_service
from anju.db.session import unit_of_work
from anju.household import service as household_service
from anju.housing import service as housing_service
from anju.identity.service import DataScope
from tests.api.conftest import page_csrf
from tests.api.permission_calls import audit_count
from tests.factories import ACTOR, World
from tests.integration.selection_world import OFFICER, RURAL, TODAY, flat_list

ClientAs = Callable[[str], tuple[TestClient, str, World]]
ALL = DataScope.everything()
FLATS = [
    ("1幢", 1, 1, "101", "A", 70, 60),
    ("1幢", 1, 2, "201", "A", 70, 60),
    ("1幢", 1, 3, "301", "B", 88, 75),
]


def _event(world: World) -> tuple[int, dict[str, int], list[int]]:
    """Three one-person swap households, an estate with FLATS, an event with its order fixed."""
    with unit_of_work() as db:
        for mid in world.member_ids:
            household_service.update_member(
                db, actor=ACTOR, scope=ALL, member_id=mid, data={"resettlement_counted": True}
            )
        compensation_service.publish(
            db, actor=ACTOR, project_id=world.project_id, source=RURAL, file_name="rural.yaml"
        )
        for hid in world.household_ids[:3]:
            agreement_service.sign(
                db, actor=OFFICER, scope=ALL, household_id=hid, option="swap", sign_on=TODAY, today=TODAY
            )
        estate = housing_service.create_estate(
            db, actor=OFFICER, project_id=world.project_id, code="E1", name="安置一期"
        )
        rows = housing_service.read_flat_sheet(flat_list(FLATS), "房源.xlsx")
        housing_service.import_flats(db, actor=OFFICER, estate_id=estate.id, rows=rows)
        event = housing_service.create_event(
            db,
            actor=OFFICER,
            project_id=world.project_id,
            name="第一批选房",
            order_kind="sign_order",
            estate_ids=[estate.id],
        )
        order = [e.household_id for e in housing_service.fix_order(db, actor=OFFICER, event_id=event.id)]
        flats = {r.flat.code: r.flat.id for r in housing_service.event_flats(db, event_id=event.id)}
        return int(event.id), flats, order


def test_a_selection_event_over_http(client_as: ClientAs) -> None:
    client, csrf, world = client_as("case_officer")
    event_id, flats, (first, second, third) = _event(world)
    h = {"X-CSRF-Token": csrf}
    base = f"/api/v1/selection-events/{event_id}"
    r = client.post(
        f"{base}/selections", json={"household_id": first, "flat_id": flats["1-1-101"]}, headers=h
    )
    assert (r.status_code, r.json()["code"]) == (409, "event_not_open")
    r = client.post(f"{base}/open", headers=h)
    assert r.status_code == 200, r.text
    assert (r.json()["status"], r.json()["current_position"]) == ("open", 1)

    # A rule broken: refused with the rule named, nothing written.
    before = audit_count()
    r = client.post(
        f"{base}/selections", json={"household_id": first, "flat_id": flats["1-1-301"]}, headers=h
    )
    assert r.status_code == 409
    body = r.json()
    assert body["code"] == "selection_rule"
    assert "应安置面积60㎡及以下的，所选房源每套不超过75㎡" in body["message"]
    assert audit_count() == before

    r = client.post(
        f"{base}/selections", json={"household_id": first, "flat_id": flats["1-1-101"]}, headers=h
    )
    assert r.status_code == 201, r.text
    sel = r.json()
    assert (sel["flat_code"], sel["household_id"], sel["status"], sel["position"]) == (
        "1-1-101",
        first,
        "confirmed",
        1,
    )
    r = client.post(f"{base}/finish", json={"household_id": first}, headers=h)
    assert (r.status_code, r.json()["status"], r.json()["current_position"]) == (200, "done", 2)

    # The next household cannot take the same flat.
    r = client.post(
        f"{base}/selections", json={"household_id": second, "flat_id": flats["1-1-101"]}, headers=h
    )
    assert (r.status_code, r.json()["code"], r.json()["message"]) == (
        409,
        "flat_taken",
        "该房源已被选定：1-1-101",
    )
    r = client.post(f"{base}/skip", json={"household_id": second}, headers=h)
    assert (r.status_code, r.json()["status"], r.json()["call_order"], r.json()["current_position"]) == (
        200,
        "skipped",
        4,
        3,
    )
    r = client.post(f"{base}/finish", json={"household_id": second}, headers=h)
    assert (r.status_code, r.json()["code"]) == (409, "not_current")

    # Undo: a case officer may not; a supervisor may, with a reason.
    r = client.post(f"/api/v1/selections/{sel['id']}/undo", json={"reason": "户主改选"}, headers=h)
    assert r.status_code == 403
    client, csrf, _ = client_as("commander")
    r = client.post(
        f"/api/v1/selections/{sel['id']}/undo", json={"reason": "户主改选"}, headers={"X-CSRF-Token": csrf}
    )
    assert r.status_code == 200, r.text
    assert (r.json()["status"], r.json()["undo_reason"]) == ("undone", "户主改选")
    r = client.get(f"{base}/flats", params={"status": "available"})
    assert [f["code"] for f in r.json()] == ["1-1-101", "1-1-201", "1-1-301"]
    assert third


def test_the_operator_console(client_as: ClientAs) -> None:
    client, _csrf, world = client_as("case_officer")
    event_id, flats, (first, _second, _third) = _event(world)
    url = f"/selection-events/{event_id}/console"
    page = client.get(url)
    assert page.status_code == 200 and "开始选房（叫第一户）" in page.text
    token = page_csrf(page.text)
    r = client.post(url, data={"csrf_token": token, "action": "open"}, follow_redirects=False)
    assert (r.status_code, r.headers["location"]) == (303, f"{url}?ok=opened")
    page = client.get(url)
    assert "正在选房：第 1 号 H0001" in page.text
    assert "确认选定 1-1-101" in page.text and "确认选定 1-1-201" in page.text
    assert '<td data-label="小区">安置一期</td>' in page.text  # flat codes repeat across estates
    assert "确认选定 1-1-301" not in page.text
    assert "不可选：应安置面积60㎡及以下的，所选房源每套不超过75㎡" in page.text
    form = {"csrf_token": token, "action": "select", "household_id": str(first)}
    r = client.post(url, data={**form, "flat_id": str(flats["1-1-301"])}, follow_redirects=False)
    assert r.status_code == 409 and "不符合选房规则“应安置面积60㎡及以下的，所选房源每套不超过75㎡”" in r.text
    r = client.post(url, data={**form, "flat_id": str(flats["1-1-101"])}, follow_redirects=False)
    assert (r.status_code, r.headers["location"]) == (303, f"{url}?ok=selected")
    assert "已选：1-1-101（70.00㎡）" in client.get(url).text
    r = client.post(
        url,
        data={"csrf_token": token, "action": "finish", "household_id": str(first)},
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert "正在选房：第 2 号 H0002" in client.get(url).text
    client, _csrf, _ = client_as("finance")
    assert client.get(url).status_code == 403


def test_the_event_page_links_the_console_for_an_operator(client_as: ClientAs) -> None:
    client, _csrf, world = client_as("case_officer")
    event_id, _flats, _order = _event(world)
    link = f'href="/selection-events/{event_id}/console"'
    assert link in client.get(f"/selection-events/{event_id}").text
    client, _csrf, _ = client_as("finance")
    page = client.get(f"/selection-events/{event_id}")
    assert page.status_code == 200 and link not in page.text
