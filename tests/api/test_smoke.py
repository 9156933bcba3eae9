"""The main page flow over HTTP: login form, list, detail, edit, history."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.api.conftest import page_csrf
from tests.factories import PASSWORD, World


def test_login_form_list_detail_edit_history(world_app: tuple[TestClient, World]) -> None:
    client, world = world_app
    r = client.get("/projects", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
    r = client.get("/login")
    token = page_csrf(r.text)
    r = client.post(
        "/login",
        data={"username": "case_officer", "password": PASSWORD, "csrf_token": token, "next": "/projects"},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    cookie = r.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie
    r = client.get(f"/projects/{world.project_id}/households?q=建国")
    assert r.status_code == 200 and "张建国" in r.text and "李秀英" not in r.text
    hid = world.household_ids[0]
    r = client.get(f"/households/{hid}?tab=members")
    assert r.status_code == 200 and "330102********" in r.text
    r = client.get(f"/members/{world.member_ids[0]}/edit")
    token = page_csrf(r.text)
    r = client.post(
        f"/members/{world.member_ids[0]}/edit",
        data={
            "csrf_token": token,
            "name": "张建国",
            "relation": "户主",
            "id_number": "",
            "phone": "13912340000",
            "reason": "户主更换手机",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    r = client.get(f"/households/{hid}?tab=history")
    assert "13912340000" in r.text and "户主更换手机" in r.text


def test_form_errors_name_fields_in_chinese(world_app: tuple[TestClient, World]) -> None:
    client, world = world_app
    r = client.get("/login")
    client.post(
        "/login", data={"username": "case_officer", "password": PASSWORD, "csrf_token": page_csrf(r.text)}
    )
    r = client.get(f"/households/{world.household_ids[0]}/buildings/new")
    r = client.post(
        f"/households/{world.household_ids[0]}/buildings",
        data={"csrf_token": page_csrf(r.text), "structure": "木头", "use": "住宅", "legal_area": "-3"},
    )
    assert r.status_code == 422
    assert "结构" in r.text and "应为 砖混 / 砖木 / 简易 / 钢混 之一" in r.text
    assert "不能小于0㎡" in r.text
