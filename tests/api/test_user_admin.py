"""User administration (pages and /api/v1/users), own password change, the last-administrator guard,
and the navigation walk: every role follows every link it is offered and gets neither 403 nor 404."""

from __future__ import annotations

import re
from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from anju.audit.models import AuditRecord
from anju.db.session import unit_of_work
from anju.identity.models import User
from anju.identity.rules import Role
from tests.api.conftest import login, page_csrf
from tests.factories import PASSWORD, World

ClientAs = Callable[[str], tuple[TestClient, str, World]]
NEW_PASSWORD = "Fresh-Start#2026"


def _user(username: str) -> User:
    with unit_of_work() as db:
        u = db.scalar(select(User).where(User.username == username))
        assert u is not None
        db.expunge(u)
        return u


def _audit(entity_id: int) -> list[tuple[str, str]]:
    with unit_of_work() as db:
        rows = db.execute(
            select(AuditRecord.action, AuditRecord.changes)
            .where(AuditRecord.entity == "user", AuditRecord.entity_id == str(entity_id))
            .order_by(AuditRecord.seq)
        ).all()
        return [(a, c) for a, c in rows]


def _audit_count() -> int:
    with unit_of_work() as db:
        return int(db.scalar(select(func.count()).select_from(AuditRecord)) or 0)


def test_admin_resets_a_password_once_and_the_old_one_stops_working(client_as: ClientAs) -> None:
    client, token, world = client_as("admin")
    target = world.users["finance"]
    r = client.post(f"/api/v1/users/{target}/password-reset", headers={"X-CSRF-Token": token})
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
    one_time = r.json()["password"]
    assert len(one_time) == 12
    assert _audit(target)[-1][0] == "password_reset"
    assert one_time not in _audit(target)[-1][1]  # never the password in the log
    client.cookies.clear()
    assert (
        client.post("/api/v1/auth/login", json={"username": "finance", "password": PASSWORD}).status_code
        == 401
    )
    token = login(client, "finance", one_time)
    # the one-time password opens only the password form, until the user sets their own
    r = client.get(f"/api/v1/projects/{world.project_id}")
    assert r.status_code == 403 and r.json()["code"] == "password_change_required"
    r = client.get("/projects", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/account/password"
    page = client.get("/account/password")
    assert "一次性密码" in page.text
    assert 'data-nav="account"' in page.text and 'data-nav="projects"' not in page.text
    r = client.post(
        "/api/v1/auth/password",
        json={"old_password": one_time, "new_password": NEW_PASSWORD},
        headers={"X-CSRF-Token": token},
    )
    assert r.status_code == 200
    assert client.get(f"/api/v1/projects/{world.project_id}").status_code == 200
    assert '"must_change_password":[true,false]' in _audit(target)[-1][1].replace(" ", "")


def test_reset_through_the_page_shows_the_password_once(client_as: ClientAs) -> None:
    client, _token, world = client_as("admin")
    page = client.get("/users")
    target = world.users["auditor"]
    r = client.post(
        f"/users/{target}/password-reset",
        data={"csrf_token": page_csrf(page.text), "version": str(_user("auditor").version)},
    )
    assert r.status_code == 200
    shown = re.search(r'一次性密码：<strong class="mono"[^>]*>([^<]+)</strong>', r.text)
    assert shown is not None
    client.cookies.clear()
    login(client, "auditor", shown.group(1))
    r = client.get("/users", follow_redirects=False)  # nothing is shown again; the form comes first
    assert r.status_code == 303 and r.headers["location"] == "/account/password"


def test_role_and_team_changes_are_audited_and_move_the_data_scope(client_as: ClientAs) -> None:
    client, token, world = client_as("admin")
    uid = world.users["grid_worker"]
    before = _user("grid_worker")
    r = client.post(
        f"/api/v1/users/{uid}/role",
        json={"role": "team_member", "version": before.version},
        headers={"X-CSRF-Token": token},
    )
    assert r.status_code == 200 and r.json()["role"] == "team_member"
    team = _user("team_leader").team_id
    r = client.post(f"/api/v1/users/{uid}/team", json={"team_id": team}, headers={"X-CSRF-Token": token})
    assert r.status_code == 200 and r.json()["team_id"] == team
    assert [a for a, _c in _audit(uid)][-2:] == ["update", "update"]
    assert '"role":["grid_worker","team_member"]' in _audit(uid)[-2][1].replace(" ", "")
    # a stale version is refused and changes nothing
    r = client.post(
        f"/api/v1/users/{uid}/role",
        json={"role": "finance", "version": before.version},
        headers={"X-CSRF-Token": token},
    )
    assert r.status_code == 409 and _user("grid_worker").role == "team_member"
    r = client.post(f"/api/v1/users/{uid}/role", json={"role": "king"}, headers={"X-CSRF-Token": token})
    assert r.status_code == 422 and r.json()["message"] == "未知角色：king"


def test_the_last_active_admin_cannot_be_removed(client_as: ClientAs) -> None:
    client, token, world = client_as("admin")
    admin = world.users["admin"]
    count = _audit_count()
    r = client.post(f"/api/v1/users/{admin}/role", json={"role": "auditor"}, headers={"X-CSRF-Token": token})
    assert r.status_code == 409 and r.json()["code"] == "last_admin"
    assert (
        r.json()["message"] == "“测试admin”是唯一启用的系统管理员，不能改为其他角色：请先指定另一位系统管理员"
    )
    assert _user("admin").role == "admin" and _audit_count() == count
    # a second admin: now the first may be demoted, and the second cannot then be deactivated
    second = world.users["department"]
    assert (
        client.post(
            f"/api/v1/users/{second}/role", json={"role": "admin"}, headers={"X-CSRF-Token": token}
        ).status_code
        == 200
    )
    assert (
        client.post(
            f"/api/v1/users/{admin}/role", json={"role": "auditor"}, headers={"X-CSRF-Token": token}
        ).status_code
        == 200
    )
    client.cookies.clear()
    token2 = login(client, "department")
    r = client.post(
        f"/api/v1/users/{second}/active", json={"active": False}, headers={"X-CSRF-Token": token2}
    )
    assert r.status_code == 409 and r.json()["message"] == "不能停用自己的账号"
    # the page shows the refusal next to the row
    page = client.get("/users")
    r = client.post(f"/users/{second}/role", data={"csrf_token": page_csrf(page.text), "role": "finance"})
    assert r.status_code == 409 and "是唯一启用的系统管理员" in r.text and _user("department").role == "admin"


def test_deactivate_and_reactivate(client_as: ClientAs) -> None:
    client, token, world = client_as("admin")
    uid = world.users["commander"]
    assert (
        client.post(
            f"/api/v1/users/{uid}/active", json={"active": False}, headers={"X-CSRF-Token": token}
        ).json()["is_active"]
        is False
    )
    client.cookies.clear()
    assert (
        client.post("/api/v1/auth/login", json={"username": "commander", "password": PASSWORD}).status_code
        == 401
    )
    token = login(client, "admin")
    assert (
        client.post(
            f"/api/v1/users/{uid}/active", json={"active": True}, headers={"X-CSRF-Token": token}
        ).json()["is_active"]
        is True
    )
    client.cookies.clear()
    login(client, "commander")


def test_every_user_changes_their_own_password(client_as: ClientAs) -> None:
    client, token, _world = client_as("team_member")
    form = client.get("/account/password")
    assert form.status_code == 200
    csrf = page_csrf(form.text)
    count = _audit_count()
    r = client.post(
        "/account/password",
        data={
            "csrf_token": csrf,
            "old_password": "wrong",
            "new_password": NEW_PASSWORD,
            "confirm_password": NEW_PASSWORD,
        },
    )
    assert r.status_code == 422 and "原密码不正确" in r.text and _audit_count() == count
    r = client.post(
        "/account/password",
        data={
            "csrf_token": csrf,
            "old_password": PASSWORD,
            "new_password": "short",
            "confirm_password": "short",
        },
    )
    assert r.status_code == 422 and "密码至少 10 位" in r.text and _audit_count() == count
    r = client.post(
        "/account/password",
        data={
            "csrf_token": csrf,
            "old_password": PASSWORD,
            "new_password": NEW_PASSWORD,
            "confirm_password": "x",
        },
    )
    assert r.status_code == 422 and "两次输入的新密码不一致" in r.text and _audit_count() == count
    r = client.post(
        "/account/password",
        data={
            "csrf_token": csrf,
            "old_password": PASSWORD,
            "new_password": NEW_PASSWORD,
            "confirm_password": NEW_PASSWORD,
        },
    )
    assert r.status_code == 200 and "密码已修改" in r.text
    assert _audit_count() == count + 1
    assert client.get("/api/v1/auth/me").status_code == 200  # this session stays
    client.cookies.clear()
    assert (
        client.post("/api/v1/auth/login", json={"username": "team_member", "password": PASSWORD}).status_code
        == 401
    )
    token = login(client, "team_member", NEW_PASSWORD)
    r = client.post(
        "/api/v1/auth/password",
        json={"old_password": NEW_PASSWORD, "new_password": PASSWORD},
        headers={"X-CSRF-Token": token},
    )
    assert r.status_code == 200 and r.json() == {"ok": True}


def _nav_links(html: str) -> list[str]:
    nav = re.search(r'<nav class="sidenav".*?</nav>', html, re.S)
    assert nav is not None
    return re.findall(r'href="([^"]+)"', nav.group(0))


def test_every_role_follows_every_nav_link_without_403_or_404(client_as: ClientAs) -> None:
    offered: dict[str, list[str]] = {}
    for role in Role:
        client, _token, world = client_as(role.value)
        links: list[str] = []
        for start in ("/projects", f"/projects/{world.project_id}"):
            r = client.get(start)
            if r.status_code != 200:
                continue
            links += [link for link in _nav_links(r.text) if link not in links]
        assert links, role
        for link in links:
            r = client.get(link, follow_redirects=False)
            assert r.status_code not in (403, 404), f"{role.value}: {link} -> {r.status_code}"
            assert r.status_code < 500, f"{role.value}: {link} -> {r.status_code}"
        offered[role.value] = [re.sub(r"/projects/\d+", "/projects/P", link) for link in links]
    assert "/audit" not in offered["admin"]  # admin verifies through the API; the page needs audit.read
    assert "/users" in offered["admin"] and "/users" not in offered["commander"]
    assert offered["grid_worker"] == [
        "/projects",
        "/grids",
        "/grids/map",
        "/mediation",
        "/service-requests",
        "/service-requests/dashboard",
        "/time-bank",
        "/account/password",
        "/api/docs",
        "/projects/P",
        "/projects/P/housing",
    ]
    assert "/projects/P/payments" in offered["finance"] and "/projects/P/signing" not in offered["finance"]
    assert all("/account/password" in links for links in offered.values())


def test_household_history_and_audit_page_name_records_in_words(client_as: ClientAs) -> None:
    client, csrf, world = client_as("case_officer")
    hid = world.household_ids[0]
    r = client.post(
        f"/api/v1/households/{hid}/tenants",
        json={"name": "青溪小卖部", "kind": "enterprise", "reason": "补登"},
        headers={"X-CSRF-Token": csrf},
    )
    assert r.status_code == 201
    html = client.get(f"/households/{hid}?tab=history").text
    table = re.search(r'<table class="data responsive" id="history-table">.*?</table>', html, re.S)
    assert table is not None
    cells = re.findall(r'<td data-label="对象">([^<]*)</td>', table.group(0))
    assert "户 H0001 张建国" in cells and "承租人 · 户 H0001 张建国" in cells
    assert not any("#" in c for c in cells)
    actions = re.findall(r'<td data-label="操作">([^<]*)</td>', table.group(0))
    assert actions[0] == "新增" and all(a and a.isascii() is False for a in actions)
    page = client.get("/audit?entity=tenant").text
    assert re.findall(r'<td data-label="对象">([^<]*)</td>', page) == ["承租人 · 户 H0001 张建国"]
    assert "符合条件的记录 1 条" in page
    export = client.get("/audit/export.xlsx?entity=tenant")
    assert export.status_code == 200
    assert export.headers["content-type"].startswith("application/vnd.openxmlformats")
    import io

    from python_calamine import CalamineWorkbook

    rows = (
        CalamineWorkbook.from_filelike(io.BytesIO(export.content)).get_sheet_by_name("审计日志").to_python()
    )
    assert [r[3:5] for r in rows[1:]] == [["新增", "承租人 · 户 H0001 张建国"]]
    r = client.get("/audit?date_from=2026-13-01")
    assert r.status_code == 422 and "开始日期应为日期，如 2026-01-31" in r.text
