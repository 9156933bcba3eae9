"""The key handover (交钥匙) and a household's key dates over HTTP: POST
/api/v1/selections/{id}/handover (happy path, audited, each refusal with its Chinese message and
nothing written, 403 for a role without housing.manage), GET /api/v1/households/{id}/event-dates
(sources, nulls), the 交钥匙登记 form on the settlement page and the 关键日期 block of the household file."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta

from fastapi.testclient import TestClient

from anju.core.dates import today_shanghai
from anju.db.session import unit_of_work
from anju.housing import service as housing_service
from tests.api.conftest import page_csrf
from tests.api.permission_calls import audit_count
from tests.api.test_selection_api import _event
from tests.factories import World
from tests.integration.selection_world import OFFICER

ClientAs = Callable[[str], tuple[TestClient, str, World]]


def _chosen(world: World) -> tuple[int, int, int]:
    """The first household chooses 1-1-101 and finishes: (household, selection, estate)."""
    event_id, flats, order = _event(world)
    with unit_of_work() as db:
        housing_service.open_event(db, actor=OFFICER, event_id=event_id)
        sel = housing_service.select_flat(
            db, actor=OFFICER, event_id=event_id, household_id=order[0], flat_id=flats["1-1-101"]
        )
        housing_service.finish_household(db, actor=OFFICER, event_id=event_id, household_id=order[0])
        estate_id = housing_service.get_flat(db, flat_id=flats["1-1-101"]).estate_id
        return order[0], int(sel.id), int(estate_id)


def _deliver(estate_id: int, planned: date | None, actual: date | None) -> None:
    with unit_of_work() as db:
        e = housing_service.get_estate(db, estate_id=estate_id)
        housing_service.update_estate_delivery(
            db,
            actor=OFFICER,
            estate_id=estate_id,
            expected_version=e.version,
            changes={"planned_delivery_on": planned, "actual_delivery_on": actual},
            today=today_shanghai(),
        )


def _dates(client: TestClient, hid: int) -> dict[str, tuple[str | None, str | None]]:
    r = client.get(f"/api/v1/households/{hid}/event-dates")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["household_id"] == hid
    return {d["key"]: (d["on"], d["source"]) for d in body["dates"]}


def test_handover_refusals_then_recorded_and_shown_as_the_move_back(client_as: ClientAs) -> None:
    client, csrf, world = client_as("case_officer")
    hid, sel_id, estate_id = _chosen(world)
    h = {"X-CSRF-Token": csrf}
    today = today_shanghai()
    url = f"/api/v1/selections/{sel_id}/handover"
    dates = _dates(client, hid)
    assert list(dates) == [
        "sign_on",
        "agreement_effective_on",
        "vacate_on",
        "delivery_planned_on",
        "delivery_actual_on",
        "move_back_on",
    ]
    assert dates["delivery_actual_on"] == (None, None) and dates["move_back_on"] == (None, None)
    assert dates["sign_on"][1] in ("household", None)
    before = audit_count()

    def refused(on: str, message: str) -> None:
        r = client.post(url, json={"handed_over_on": on}, headers=h)
        assert r.status_code == 409, r.text
        assert (r.json()["code"], r.json()["message"]) == ("handover_date", message)
        assert r.json()["details"] == [{"field": "handed_over_on", "message": message}]
        assert audit_count() == before

    refused(today.isoformat(), "安置小区尚未交房，不能登记交钥匙")
    delivered = today - timedelta(days=10)
    _deliver(estate_id, today - timedelta(days=30), delivered)
    before = audit_count()
    refused((today + timedelta(days=1)).isoformat(), f"交钥匙日期不能晚于今天（{today.isoformat()}）")
    refused(
        (delivered - timedelta(days=1)).isoformat(),
        f"交钥匙日期不能早于小区实际交房日期（{delivered.isoformat()}）",
    )
    assert _dates(client, hid)["move_back_on"] == (None, None)
    # a bad body is a 422 naming the field
    r = client.post(url, json={"handed_over_on": "2026-13-01"}, headers=h)
    assert r.status_code == 422
    assert "handed_over_on" in r.text
    # recorded
    on = (delivered + timedelta(days=2)).isoformat()
    r = client.post(url, json={"handed_over_on": on}, headers=h)
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["selection_id"], body["household_id"], body["flat_code"], body["handed_over_on"]) == (
        sel_id,
        hid,
        "1-1-101",
        on,
    )
    assert body["actual_delivery_on"] == delivered.isoformat()
    assert audit_count() == before + 1
    dates = _dates(client, hid)
    assert dates["move_back_on"] == (on, "handover")
    assert dates["delivery_actual_on"] == (delivered.isoformat(), "estate")
    assert dates["delivery_planned_on"] == ((today - timedelta(days=30)).isoformat(), "estate")
    # the same date again writes nothing
    assert client.post(url, json={"handed_over_on": on}, headers=h).status_code == 200
    assert audit_count() == before + 1
    # the household file shows the key dates
    page = client.get(f"/households/{hid}")
    assert page.status_code == 200
    assert "关键日期" in page.text and "交钥匙回迁" in page.text
    assert f'<dd id="event-move_back_on">{on} <span class="small muted">（交钥匙）</span></dd>' in page.text
    assert f'<dd id="event-delivery_actual_on">{delivered.isoformat()} ' in page.text
    assert '<dd id="event-vacate_on">—</dd>' in page.text or "（一户一档）" in page.text
    # cleared with null
    r = client.post(url, json={"handed_over_on": None}, headers=h)
    assert (r.status_code, r.json()["handed_over_on"]) == (200, None)
    assert _dates(client, hid)["move_back_on"] == (None, None)
    assert audit_count() == before + 2
    # an unknown selection
    r = client.post("/api/v1/selections/999999999/handover", json={"handed_over_on": on}, headers=h)
    assert (r.status_code, r.json()["code"]) == (404, "not_found")


def test_an_undone_selection_is_refused(client_as: ClientAs) -> None:
    client, csrf, world = client_as("case_officer")
    _hid, sel_id, estate_id = _chosen(world)
    today = today_shanghai()
    _deliver(estate_id, None, today - timedelta(days=5))
    with unit_of_work() as db:
        from tests.api.permission_housing import SUPERVISOR

        housing_service.undo_selection(db, actor=SUPERVISOR, selection_id=sel_id, reason="户主改选")
    r = client.post(
        f"/api/v1/selections/{sel_id}/handover",
        json={"handed_over_on": today.isoformat()},
        headers={"X-CSRF-Token": csrf},
    )
    assert (r.status_code, r.json()["code"], r.json()["message"]) == (
        409,
        "handover_date",
        "选房已撤销，不能登记交钥匙",
    )


def test_a_role_without_housing_manage_is_refused(client_as: ClientAs) -> None:
    client, csrf, world = client_as("case_officer")
    hid, sel_id, estate_id = _chosen(world)
    _deliver(estate_id, None, today_shanghai() - timedelta(days=5))
    client, csrf, _ = client_as("finance")
    before = audit_count()
    r = client.post(
        f"/api/v1/selections/{sel_id}/handover",
        json={"handed_over_on": today_shanghai().isoformat()},
        headers={"X-CSRF-Token": csrf},
    )
    assert r.status_code == 403
    assert audit_count() == before
    # reading the key dates needs only household.read
    assert _dates(client, hid)["delivery_actual_on"] == (
        (today_shanghai() - timedelta(days=5)).isoformat(),
        "estate",
    )


def test_the_handover_form_on_the_settlement_page(client_as: ClientAs) -> None:
    client, _csrf, world = client_as("case_officer")
    hid, sel_id, estate_id = _chosen(world)
    page = client.get(f"/households/{hid}/settlement")
    assert page.status_code == 200
    assert "交钥匙登记" in page.text and f'action="/selections/{sel_id}/handover"' in page.text
    token = page_csrf(page.text)
    before = audit_count()
    # the estate is not delivered: refused on the page, in Chinese, nothing written
    r = client.post(
        f"/selections/{sel_id}/handover",
        data={"csrf_token": token, "handed_over_on": today_shanghai().isoformat()},
        follow_redirects=False,
    )
    assert r.status_code == 409
    assert "安置小区尚未交房，不能登记交钥匙" in r.text and "交钥匙登记" in r.text
    r = client.post(
        f"/selections/{sel_id}/handover",
        data={"csrf_token": token, "handed_over_on": "2026-02-30"},
        follow_redirects=False,
    )
    assert r.status_code == 422 and "交钥匙日期“2026-02-30”应为 YYYY-MM-DD" in r.text
    assert audit_count() == before
    delivered = today_shanghai() - timedelta(days=3)
    _deliver(estate_id, None, delivered)
    r = client.post(
        f"/selections/{sel_id}/handover",
        data={"csrf_token": token, "handed_over_on": delivered.isoformat()},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    assert r.headers["location"] == f"/households/{hid}/settlement?ok=handover#handover"
    page = client.get(r.headers["location"])
    assert "交钥匙日期已保存" in page.text
    assert f'name="handed_over_on" aria-label="交钥匙日期" value="{delivered.isoformat()}"' in page.text
    file = client.get(f"/households/{hid}")
    assert "关键日期" in file.text and "（交钥匙）" in file.text
