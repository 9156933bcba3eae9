"""The five-order loop over HTTP: a resident files without an account (multipart with a photo) and
follows with code and secret (no personal data in the public view); the desk accepts, the
department takes and publishes, the resident verifies; list filters and keyset paging; refusals
(wrong secret, another department, stale version, bad bodies) with Chinese messages."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from anju.db.session import unit_of_work
from anju.identity.models import User
from anju.service_request.models import Department, DepartmentMember, ServiceCategory
from tests.api.permission_calls import PNG
from tests.factories import World

ClientAs = Callable[[str], tuple[TestClient, str, World]]
API = "/api/v1/service-requests"
PUBLIC = "/api/v1/public/requests"


def _setup(*, member: bool = True) -> tuple[int, int]:
    """A department (the world's department user a member when ``member``) and a category of it."""
    with unit_of_work() as db:
        dep = Department(code="CG", name="城管科", created_at=datetime.now(UTC))
        db.add(dep)
        db.flush()
        if member:
            uid = db.scalar(select(User.id).where(User.username == "department"))
            db.add(DepartmentMember(department_id=dep.id, user_id=uid))
        cat = ServiceCategory(code="lamp", name="路灯不亮", department_id=dep.id)
        db.add(cat)
        db.flush()
        return cat.id, dep.id


def _file(client: TestClient, category_id: int, **extra: Any) -> dict[str, Any]:
    client.cookies.clear()
    r = client.post(
        PUBLIC,
        data={
            "category_id": category_id,
            "description": "3号楼门口路灯不亮",
            "lng": "118.780000",
            "lat": "32.040000",
            "address": "幸福路1号",
            "reporter_name": "王女士",
            "reporter_phone": "13800000000",
            **extra,
        },
        files=[("photos", ("现场.png", PNG, "image/png"))],
    )
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body


def test_a_resident_files_follows_and_verifies(client_as: ClientAs) -> None:
    category_id, department_id = _setup()
    client, _, _ = client_as("department")
    filed = _file(client, category_id)
    code, secret = filed["code"], filed["secret"]
    assert (filed["status"], filed["follow_url"], len(secret)) == ("submitted", f"{PUBLIC}/{code}", 8)

    near = client.get(
        f"{PUBLIC}/nearby", params={"category_id": category_id, "lng": "118.7801", "lat": "32.0400"}
    )
    assert [x["code"] for x in near.json()] == [code]

    view = client.get(f"{PUBLIC}/{code}", params={"secret": secret})
    assert view.status_code == 200, view.text
    v = view.json()
    assert (v["status"], v["status_label"], v["order_index"], v["open311_status"]) == (
        "submitted",
        "待定单",
        1,
        "open",
    )
    assert "reporter_name" not in v and "王女士" not in view.text and "13800000000" not in view.text
    assert [(h["action"], h["actor"]) for h in v["history"]] == [("submit", "居民")]
    [photo] = v["photos"]
    img = client.get(f"{PUBLIC}/{code}/photos/{photo}", params={"secret": secret})
    assert (img.status_code, img.headers["content-type"], img.content) == (200, "image/png", PNG)
    wrong = client.get(f"{PUBLIC}/{code}", params={"secret": "WRONG234"})
    assert (wrong.status_code, wrong.json()["message"]) == (404, "诉求编号或查询码不正确")

    client, csrf, _ = client_as("community")
    h = {"X-CSRF-Token": csrf}
    [row] = client.get(API, params={"status": "submitted"}).json()["items"]
    rid = row["id"]
    assert (row["reporter_name"], row["department_id"], row["version"]) == ("王女士", department_id, 1)
    r = client.post(f"{API}/{rid}/accept", json={"version": 1, "priority": "urgent"}, headers=h)
    assert r.status_code == 200, r.text
    assert (r.json()["status"], r.json()["priority"], r.json()["department"]) == (
        "dispatched",
        "urgent",
        "城管科",
    )
    stale = client.post(f"{API}/{rid}/reject", json={"version": 1, "reason": "重复"}, headers=h)
    assert (stale.status_code, stale.json()["code"]) == (409, "stale_version")

    client, csrf, _ = client_as("department")
    h = {"X-CSRF-Token": csrf}
    r = client.post(f"{API}/{rid}/take", json={"version": 2}, headers=h)
    assert (r.status_code, r.json()["status"]) == (200, "in_progress")
    r = client.post(
        f"{API}/{rid}/publish",
        data={"version": 3, "result": "已更换灯泡"},
        files=[("photos", ("修好了.png", PNG, "image/png"))],
        headers=h,
    )
    assert r.status_code == 200, r.text
    assert (r.json()["status"], len(r.json()["photos"])) == ("published", 2)

    client.cookies.clear()
    bad = client.post(f"{PUBLIC}/{code}/verify", json={"version": 4, "rating": 5, "secret": "WRONG234"})
    assert bad.status_code == 404
    r = client.post(
        f"{PUBLIC}/{code}/verify", json={"version": 4, "rating": 4, "resolution": "partly", "secret": secret}
    )
    assert r.status_code == 200, r.text
    v = r.json()
    assert (v["status"], v["order_index"], v["rating"], v["resolution"], v["result"]) == (
        "closed",
        5,
        4,
        "partly",
        "已更换灯泡",
    )
    assert [h["action"] for h in v["history"]] == ["submit", "accept", "take", "publish", "verify"]

    client, _, _ = client_as("auditor")
    detail = client.get(f"{API}/{rid}").json()
    assert [(h["action"], h["gb_step"]) for h in detail["history"]] == [
        ("submit", "信息收集"),
        ("accept", "立案派遣"),
        ("take", "处置"),
        ("publish", "反馈"),
        ("verify", "核查结案"),
    ]


def test_refusals_over_http(client_as: ClientAs) -> None:
    category_id, _ = _setup(member=False)
    client, _, _ = client_as("community")
    bad = client.post(PUBLIC, data={"category_id": category_id, "description": "路灯"})
    assert (bad.status_code, bad.json()["message"]) == (422, "请在地图上选点或填写地址")
    text = client.post(
        PUBLIC,
        data={"category_id": category_id, "description": "路灯", "address": "x"},
        files=[("photos", ("a.png", b"<script>", "image/png"))],
    )
    assert text.status_code == 422 and text.json()["message"].startswith("照片“a.png”：")
    filed = _file(client, category_id)
    client, csrf, _ = client_as("community")
    rid = client.get(API).json()["items"][0]["id"]
    h = {"X-CSRF-Token": csrf}
    assert client.post(f"{API}/{rid}/accept", json={"version": 1}, headers=h).status_code == 200
    no_reason = client.post(
        f"{API}/{rid}/merge", json={"version": 2, "into_id": rid, "reason": ""}, headers=h
    )
    assert no_reason.status_code == 422
    itself = client.post(
        f"{API}/{rid}/merge", json={"version": 2, "into_id": rid, "reason": "重复"}, headers=h
    )
    assert (itself.status_code, itself.json()["message"]) == (422, "不能合并到自身")
    late = client.post(f"{API}/{rid}/reject", json={"version": 2, "reason": "重复"}, headers=h)
    assert (late.status_code, late.json()["message"]) == (409, "诉求当前为“待接单”，不能不予受理")
    client, csrf, _ = client_as("department")  # not a member of 城管科
    r = client.post(f"{API}/{rid}/take", json={"version": 2}, headers={"X-CSRF-Token": csrf})
    assert (r.status_code, r.json()["code"]) == (404, "not_found")
    assert client.get(API).json()["items"] == []
    assert client.get(f"{API}/{rid}").status_code == 404
    client, csrf, _ = client_as("grid_worker")
    r = client.post(f"{API}/{rid}/take", json={"version": 2}, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 403
    client.cookies.clear()
    r = client.post(
        f"{PUBLIC}/{filed['code']}/verify", json={"version": 2, "rating": 5, "secret": filed["secret"]}
    )
    assert (r.status_code, r.json()["code"], r.json()["message"]) == (
        409,
        "illegal_transition",
        "诉求当前为“待接单”，不能群众验单",
    )


def test_list_filters_and_keyset_paging(client_as: ClientAs) -> None:
    category_id, department_id = _setup()
    client, _, _ = client_as("community")
    codes = [_file(client, category_id)["code"] for _ in range(5)]
    client, _, _ = client_as("community")
    seen: list[str] = []
    cursor = ""
    while True:
        page = client.get(API, params={"limit": 2, "cursor": cursor}).json()
        seen += [x["code"] for x in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == sorted(codes, reverse=True)
    assert (
        len(client.get(API, params={"category_id": category_id, "status": "submitted"}).json()["items"]) == 5
    )
    assert client.get(API, params={"department_id": department_id + 1}).json()["items"] == []
    assert client.get(API, params={"overdue": "true"}).json()["items"] == []
    bad = client.get(API, params={"status": "nope"})
    assert (bad.status_code, bad.json()["message"]) == (422, "状态“nope”不存在")
    bad = client.get(API, params={"cursor": "garbage"})
    assert (bad.status_code, bad.json()["message"]) == (422, "分页游标无效")
