"""Time-bank JSON API and pages: the hours flow with two reviewers, redemption rules, refusals by
role (nothing written), the desk and activity pages and the public leaderboard with masked names."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from fastapi.testclient import TestClient

from anju.db.session import unit_of_work
from anju.grid.models import Community
from anju.identity import service as identity_service
from tests.api.conftest import login, page_csrf
from tests.factories import ACTOR, PASSWORD, World

API = "/api/v1/time-bank"
Client = Callable[[str], tuple[TestClient, str, World]]


def _setup() -> int:
    with unit_of_work() as db:
        c = Community(code="DB01", name="东埠社区", created_at=datetime(2026, 1, 1, tzinfo=UTC))
        db.add(c)
        db.flush()
        identity_service.create_user(
            db, actor=ACTOR, username="community2", display_name="复核员", password=PASSWORD, role="community"
        )
        return c.id


def _hours_claim(client: TestClient, token: str, community_id: int) -> tuple[int, int]:
    h = {"X-CSRF-Token": token}
    r = client.post(
        f"{API}/volunteers",
        headers=h,
        json={"community_id": community_id, "name": "王秀兰", "phone": "13900001111"},
    )
    assert r.status_code == 201, r.text
    vid = r.json()["id"]
    r = client.post(
        f"{API}/activities",
        headers=h,
        json={
            "community_id": community_id,
            "category": "环境整治",
            "title": "清理楼道",
            "place": "幸福里 3 幢",
            "starts_at": "2026-06-01T09:00:00+08:00",
            "ends_at": "2026-06-01T11:00:00+08:00",
            "capacity": 2,
            "minutes_offered": 120,
        },
    )
    assert r.status_code == 201, r.text
    aid = r.json()["id"]
    r = client.post(f"{API}/activities/{aid}/signups", headers=h, json={"volunteer_id": vid})
    assert r.status_code == 201, r.text
    sid = r.json()["id"]
    assert (
        client.post(
            f"{API}/signups/{sid}/check-in", headers=h, json={"at": "2026-06-01T09:02:00+08:00"}
        ).json()["status"]
        == "checked_in"
    )
    r = client.post(f"{API}/signups/{sid}/check-out", headers=h, json={"at": "2026-06-01T11:30:00+08:00"})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "pending"
    return vid, r.json()["id"]


def _balance(client: TestClient, vid: int) -> tuple[int, int]:
    body = client.get(f"{API}/volunteers/{vid}/accounts").json()
    return body[0]["account"]["balance"], body[0]["ledger_sum"]


def test_hours_need_two_different_reviewers(client_as: Client) -> None:
    cid = _setup()
    client, token, _ = client_as("community")
    vid, claim = _hours_claim(client, token, cid)
    h = {"X-CSRF-Token": token}
    r = client.post(f"{API}/claims/{claim}/review", headers=h, json={"approve": True})
    assert (r.status_code, r.json()["status"]) == (200, "first_approved")
    r = client.post(f"{API}/claims/{claim}/review", headers=h, json={"approve": True})
    assert (r.status_code, r.json()["code"]) == (409, "same_reviewer")
    assert _balance(client, vid) == (0, 0)
    client2, token2, _ = client_as("grid_worker")  # may manage, may not review
    r = client2.post(f"{API}/claims/{claim}/review", headers={"X-CSRF-Token": token2}, json={"approve": True})
    assert r.status_code == 403
    client.cookies.clear()
    token3 = login(client, "community2")
    r = client.post(f"{API}/claims/{claim}/review", headers={"X-CSRF-Token": token3}, json={"approve": True})
    assert (r.status_code, r.json()["status"]) == (200, "credited")
    assert _balance(client, vid) == (120, 120)
    assert client.get(f"{API}/claims").json() == []


def test_redemption_minimum_and_refusals_write_nothing(client_as: Client) -> None:
    cid = _setup()
    client, token, _ = client_as("community")
    h = {"X-CSRF-Token": token}
    vid, claim = _hours_claim(client, token, cid)
    client.post(f"{API}/claims/{claim}/review", headers=h, json={"approve": True})
    client.cookies.clear()
    h = {"X-CSRF-Token": login(client, "community2")}
    client.post(f"{API}/claims/{claim}/review", headers=h, json={"approve": True})
    item = client.post(
        f"{API}/catalogue",
        headers=h,
        json={"unit": "minutes", "kind": "service", "name": "上门理发", "price": 90},
    )
    assert item.status_code == 201, item.text
    r = client.post(f"{API}/redemptions", headers=h, json={"volunteer_id": vid, "item_id": item.json()["id"]})
    assert (r.status_code, r.json()["code"]) == (409, "below_minimum")
    assert _balance(client, vid) == (120, 120)
    assert client.put(f"{API}/settings/min_balance_minutes", headers=h, json={"value": 60}).status_code == 200
    r = client.post(f"{API}/redemptions", headers=h, json={"volunteer_id": vid, "item_id": item.json()["id"]})
    assert (r.status_code, r.json()["balance"]) == (201, 30)
    r = client.post(f"{API}/redemptions", headers=h, json={"volunteer_id": vid, "item_id": item.json()["id"]})
    assert (r.status_code, r.json()["code"]) == (409, "below_minimum")
    assert _balance(client, vid) == (30, 30)
    client2, token2, _ = client_as("auditor")
    r = client2.post(
        f"{API}/volunteers",
        headers={"X-CSRF-Token": token2},
        json={"community_id": cid, "name": "某", "phone": "13900002222"},
    )
    assert r.status_code == 403
    assert [v["phone"] for v in client2.get(f"{API}/volunteers").json()] == ["13900001111"]


def test_pages_and_public_board(client_as: Client) -> None:
    cid = _setup()
    client, token, _ = client_as("community")
    vid, claim = _hours_claim(client, token, cid)
    page = client.get("/time-bank")
    assert page.status_code == 200
    assert "待审核服务时长" in page.text and "王秀兰" in page.text and "初审通过" in page.text
    r = client.post(
        f"/time-bank/claims/{claim}/review",
        data={"csrf_token": page_csrf(page.text), "decision": "approve"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    page = client.get("/time-bank")
    assert "您已初审" in page.text and "复核通过并入账" not in page.text
    client.cookies.clear()
    login(client, "community2")
    page = client.get("/time-bank")
    r = client.post(
        f"/time-bank/claims/{claim}/review",
        data={"csrf_token": page_csrf(page.text), "decision": "approve"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    client.cookies.clear()
    public = client.get("/public/time-bank")
    assert public.status_code == 200
    assert "王**" in public.text and "王秀兰" not in public.text and "2.0 小时" in public.text
    assert _balance_anonymous_refused(client, vid)


def _balance_anonymous_refused(client: TestClient, vid: int) -> bool:
    return client.get(f"{API}/volunteers/{vid}/accounts").status_code == 401


def test_award_objection_decided_on_the_desk(client_as: Client) -> None:
    cid = _setup()
    client, token, _ = client_as("community")
    h = {"X-CSRF-Token": token}
    vid, _claim = _hours_claim(client, token, cid)
    rule = client.post(
        f"{API}/moral/rules", headers=h, json={"code": "LRWL", "name": "邻里互助", "points": 10}
    )
    assert rule.status_code == 201, rule.text
    award = client.post(
        f"{API}/moral/awards",
        headers=h,
        json={"volunteer_id": vid, "rule_id": rule.json()["id"], "deed": "代购药品"},
    )
    assert (award.status_code, award.json()["status"]) == (201, "publicity")
    aid = award.json()["id"]
    r = client.post(f"{API}/moral/awards/{aid}/objection", headers=h, json={"objection": "事迹不实"})
    assert r.json()["status"] == "objected"
    page = client.get("/time-bank")
    assert "异议成立，撤销" in page.text
    r = client.post(
        f"/time-bank/awards/{aid}/decision",
        data={"csrf_token": page_csrf(page.text), "decision": "uphold", "reason": "核实不实"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert [a["status"] for a in client.get(f"{API}/moral/awards").json()] == ["withdrawn"]
    assert client.post(f"{API}/moral/settle", headers=h).json() == {"counted": 0}
    assert client.get(f"{API}/volunteers/{vid}/accounts").json()[1]["account"]["balance"] == 0
