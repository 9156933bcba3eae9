"""A resettlement building's 楼型 on the estate page: shown (set, or by its floors count), set by a
case officer through the page form (audited), a wrong value refused with the field named, and
refused to finance (403)."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy import select

from anju.db.session import unit_of_work
from anju.housing.models import Flat, HousingBuilding
from tests.api.conftest import page_csrf
from tests.api.permission_calls import audit_count
from tests.api.test_selection_api import _event
from tests.factories import World

ClientAs = Callable[[str], tuple[TestClient, str, World]]


def _building(world: World) -> tuple[int, int]:
    _event_id, flats, _order = _event(world)
    with unit_of_work() as db:
        flat = db.get(Flat, flats["1-1-101"])
        assert flat is not None
        return int(flat.estate_id), int(flat.building_id)


def _rise(building_id: int) -> str | None:
    with unit_of_work() as db:
        return db.scalar(select(HousingBuilding.rise).where(HousingBuilding.id == building_id))


def test_the_estate_page_shows_and_sets_a_buildings_rise(client_as: ClientAs) -> None:
    client, _csrf, world = client_as("case_officer")
    estate_id, building_id = _building(world)
    page = client.get(f"/estates/{estate_id}")
    assert page.status_code == 200
    assert "楼型：多层（按层数推定：10 层及以上为高层）" in page.text
    before = audit_count()
    url = f"/estates/{estate_id}/buildings/{building_id}/rise"
    r = client.post(url, data={"csrf_token": page_csrf(page.text), "rise": "高层"}, follow_redirects=False)
    assert (r.status_code, r.headers["location"]) == (
        303,
        f"/estates/{estate_id}?ok=rise#building-{building_id}",
    )
    assert _rise(building_id) == "高层" and audit_count() == before + 1
    page = client.get(f"/estates/{estate_id}?ok=rise")
    assert "楼型已保存" in page.text and "楼型：高层" in page.text and "按层数推定：10" not in page.text
    r = client.post(url, data={"csrf_token": page_csrf(page.text), "rise": "超高层"})
    assert r.status_code == 422 and "楼型应为 多层 或 高层" in r.text
    assert _rise(building_id) == "高层"
    fin, _fin_csrf, _ = client_as("finance")
    page = fin.get(f"/estates/{estate_id}")
    r = fin.post(url, data={"csrf_token": page_csrf(page.text), "rise": ""}, follow_redirects=False)
    assert r.status_code == 403 and _rise(building_id) == "高层"
