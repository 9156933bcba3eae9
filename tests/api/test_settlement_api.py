"""The settlement of chosen flats and transition fees over HTTP: GET /api/v1/households/{id}/settlement
with exact fen, the settlement page in Chinese, delivery dates by PATCH (version, 409 stale, 422 in the
future, audited) and on the estate page, receivables on the agreement tab and finance's receipt
(API and page), refused to a case officer (403)."""

from __future__ import annotations

from collections.abc import Callable

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


def _finished(world: World) -> tuple[int, int]:
    """The first household chooses 1-1-101 (70 ㎡ for an entitled 60 ㎡) and finishes: it owes 60,800 元."""
    event_id, flats, order = _event(world)
    with unit_of_work() as db:
        housing_service.open_event(db, actor=OFFICER, event_id=event_id)
        housing_service.select_flat(
            db, actor=OFFICER, event_id=event_id, household_id=order[0], flat_id=flats["1-1-101"]
        )
        housing_service.finish_household(db, actor=OFFICER, event_id=event_id, household_id=order[0])
        estate_id = housing_service.get_flat(db, flat_id=flats["1-1-101"]).estate_id
    return order[0], int(estate_id)


def test_settlement_json_and_page(client_as: ClientAs) -> None:
    client, _csrf, world = client_as("case_officer")
    hid, _estate = _finished(world)
    r = client.get(f"/api/v1/households/{hid}/settlement")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["flats"] == ["1-1-101"]
    assert [(x["area"], x["unit_price"], x["amount_fen"]) for x in body["lines"]] == [
        ("60.00", "2200", 13_200_000),
        ("10.00", "3500", 3_500_000),
    ]
    assert (body["entitled_area"], body["selected_area"]) == ("60.00", "70.00")
    assert (body["credit_fen"], body["refund_fen"], body["balance_fen"], body["balance_text"]) == (
        10_620_000,
        0,
        6_080_000,
        "该户应补交 60,800.00 元",
    )
    rec = body["record"]
    assert (rec["kind"], rec["amount_fen"], rec["settled_fen"], rec["status"], rec["status_label"]) == (
        "receivable",
        6_080_000,
        0,
        "open",
        "待收",
    )
    assert body["transition"]["error"] == "补偿方案未规定按月支付过渡费"
    page = client.get(f"/households/{hid}/settlement")
    assert page.status_code == 200
    assert "选房结算（多退少补）" in page.text and "该户应补交 60,800.00 元" in page.text
    assert "应收款：选房结算补交差价（1-1-101），60,800.00 元，待收" in page.text
    tab = client.get(f"/households/{hid}/agreement")
    assert "应收款（该户应交）" in tab.text and f'href="/households/{hid}/settlement"' in tab.text
    # another household without flats
    r = client.get(f"/api/v1/households/{world.household_ids[1]}/settlement")
    assert (r.json()["error"], r.json()["balance_fen"], r.json()["record"]) == (
        "该户尚未选定房源",
        None,
        None,
    )


def test_delivery_dates_by_patch_and_by_the_estate_page(client_as: ClientAs) -> None:
    client, csrf, world = client_as("case_officer")
    _hid, estate_id = _finished(world)
    h = {"X-CSRF-Token": csrf}
    before = audit_count()
    r = client.patch(
        f"/api/v1/estates/{estate_id}", json={"planned_delivery_on": "2027-06-30", "version": 1}, headers=h
    )
    assert r.status_code == 200, r.text
    assert (r.json()["planned_delivery_on"], r.json()["actual_delivery_on"], r.json()["version"]) == (
        "2027-06-30",
        None,
        2,
    )
    assert audit_count() == before + 1
    r = client.patch(
        f"/api/v1/estates/{estate_id}", json={"planned_delivery_on": "2027-07-31", "version": 1}, headers=h
    )
    assert (r.status_code, r.json()["code"]) == (409, "stale_version")
    tomorrow = today_shanghai().toordinal() + 1
    from datetime import date

    r = client.patch(
        f"/api/v1/estates/{estate_id}",
        json={"actual_delivery_on": date.fromordinal(tomorrow).isoformat(), "version": 2},
        headers=h,
    )
    assert (r.status_code, r.json()["code"]) == (409, "delivery_date")
    assert r.json()["message"] == f"实际交房日期不能晚于今天（{today_shanghai().isoformat()}）"
    assert audit_count() == before + 1
    page = client.get(f"/estates/{estate_id}")
    assert 'name="planned_delivery_on" value="2027-06-30"' in page.text
    r = client.post(
        f"/estates/{estate_id}/delivery",
        data={
            "csrf_token": page_csrf(page.text),
            "planned_delivery_on": "2027-08-31",
            "actual_delivery_on": "",
            "version": "2",
        },
        follow_redirects=False,
    )
    assert (r.status_code, r.headers["location"]) == (303, f"/estates/{estate_id}?ok=delivery#delivery")
    assert client.get(f"/api/v1/estates/{estate_id}").json()["planned_delivery_on"] == "2027-08-31"
    # finance may not change delivery dates
    fin, fin_csrf, _ = client_as("finance")
    r = fin.patch(
        f"/api/v1/estates/{estate_id}",
        json={"planned_delivery_on": "2027-09-30", "version": 3},
        headers={"X-CSRF-Token": fin_csrf},
    )
    assert r.status_code == 403


def test_finance_records_receipts_of_a_receivable(client_as: ClientAs) -> None:
    client, csrf, world = client_as("case_officer")
    hid, _ = _finished(world)
    receivable_id = client.get(f"/api/v1/households/{hid}/settlement").json()["record"]["id"]
    r = client.post(
        f"/api/v1/receivables/{receivable_id}/receipts",
        json={"amount_fen": 100, "received_on": "2026-12-01", "receipt_ref": "R1"},
        headers={"X-CSRF-Token": csrf},
    )
    assert r.status_code == 403
    client, csrf, _ = client_as("finance")
    rows = client.get(f"/api/v1/projects/{world.project_id}/receivables").json()
    assert [(x["id"], x["outstanding_fen"]) for x in rows] == [(receivable_id, 6_080_000)]
    r = client.post(
        f"/api/v1/receivables/{receivable_id}/receipts",
        json={"amount_fen": 6_080_001, "received_on": "2026-12-01", "receipt_ref": "R1"},
        headers={"X-CSRF-Token": csrf},
    )
    assert (r.status_code, r.json()["message"]) == (422, "收款金额应大于 0 且不超过待收金额 60,800.00 元")
    r = client.post(
        f"/api/v1/receivables/{receivable_id}/receipts",
        json={"amount_fen": 80_000, "received_on": "2026-12-01", "receipt_ref": "回单001", "version": 1},
        headers={"X-CSRF-Token": csrf},
    )
    assert r.status_code == 200, r.text
    assert (r.json()["received_fen"], r.json()["outstanding_fen"], r.json()["version"]) == (
        80_000,
        6_000_000,
        2,
    )
    page = client.get(f"/projects/{world.project_id}/receivables")
    assert "待收 1 笔，共 60,000.00 元" in page.text
    r = client.post(
        f"/receivables/{receivable_id}/receipt",
        data={
            "csrf_token": page_csrf(page.text),
            "amount": "60000.00",
            "received_on": "2026-12-02",
            "receipt_ref": "回单002",
            "version": "2",
        },
        follow_redirects=False,
    )
    assert (r.status_code, r.headers["location"]) == (
        303,
        f"/projects/{world.project_id}/receivables?ok=receipt",
    )
    page = client.get(f"/projects/{world.project_id}/receivables?ok=receipt")
    assert "收款已登记" in page.text and "没有待收款项" in page.text
    assert client.get(f"/api/v1/projects/{world.project_id}/receivables").json() == []
