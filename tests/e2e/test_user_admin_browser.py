"""Browser tests of issue 13 items 3 and 9: every role walks its navigation (no 403, no 404); an
administrator creates a user, changes its role and team, resets its password, deactivates and
reactivates it; the user logs in with the one-time password and changes it; the login page fits
1366x768 and a focused field is not drawn as an error. Works on a user of its own, so the session's
shared server keeps every other account as it was. Screenshots go to test-results/."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest

from anju.identity.rules import Role
from tests.e2e.conftest import Server
from tests.e2e.test_browser import login

pytestmark = pytest.mark.e2e

Page = Any
NEW_PASSWORD = "Own-Choice#2026"


def _nav_hrefs(page: Page) -> list[str]:
    return [
        h for h in page.locator("#sidenav a").evaluate_all("els => els.map(e => e.getAttribute('href'))") if h
    ]


def test_every_role_walks_its_navigation(
    server: Server, open_page: Callable[..., Page], shots: Callable[[Page, str], Any]
) -> None:
    page = open_page(1366, 768)
    project = server.world["project_id"]
    for role in Role:
        page.context.clear_cookies()
        login(page, server, role.value)
        page.goto(f"{server.url}/projects/{project}")
        hrefs = _nav_hrefs(page)
        assert hrefs, role
        shots(page, f"nav-{role.value}")
        for href in hrefs:
            if href.endswith(".xlsx"):  # a download, not a page
                r = page.request.get(server.url + href)
            else:
                r = page.goto(server.url + href)
            assert r is not None and r.status not in (403, 404) and r.status < 500, (
                f"{role.value}: {href} -> {r.status}"
            )


def test_login_page_fits_and_focus_is_not_an_error(
    server: Server, open_page: Callable[..., Page], shots: Callable[[Page, str], Any]
) -> None:
    page = open_page(1366, 768)
    page.goto(server.url + "/login")
    page.focus("#username")
    assert page.evaluate("document.documentElement.scrollHeight") <= 768
    assert page.evaluate("document.documentElement.scrollWidth") <= 1366
    border = page.eval_on_selector("#username", "e => getComputedStyle(e).borderTopColor")
    outline = page.eval_on_selector("#username", "e => getComputedStyle(e).outlineColor")
    err = page.evaluate("getComputedStyle(document.documentElement).getPropertyValue('--err').trim()")
    assert err == "#c4302b"
    assert border == "rgb(36, 91, 219)" and outline == "rgb(185, 205, 245)"  # blue, not the error red
    page.screenshot(path="test-results/login-1366x768.png")


def test_admin_manages_a_user_who_then_changes_the_password(
    server: Server, open_page: Callable[..., Page], shots: Callable[[Page, str], Any]
) -> None:
    page = open_page(1366, 768)
    login(page, server, "admin")
    page.goto(server.url + "/users")
    page.fill("#u-name", "e2e_clerk")
    page.fill("#u-display", "端到端文员")
    page.select_option("#u-role", "grid_worker")
    page.fill("#u-pw", "Initial-Pass#2026")
    with page.expect_navigation():
        page.click("form[action='/users'] button[type=submit]")
    row = page.locator("tr[data-username=e2e_clerk]")
    assert row.locator("td").nth(1).inner_text() == "端到端文员"
    row.locator("form.user-role select").select_option("team_member")
    with page.expect_navigation():
        row.locator("form.user-role button").click()
    assert page.locator("#user-done").inner_text() == "角色已修改"
    row = page.locator("tr[data-username=e2e_clerk]")
    assert row.locator("form.user-role select").input_value() == "team_member"
    row.locator("form.user-team select").select_option(index=1)
    with page.expect_navigation():
        row.locator("form.user-team button").click()
    assert page.locator("#user-done").inner_text() == "专班已修改"
    row = page.locator("tr[data-username=e2e_clerk]")
    with page.expect_navigation():
        row.locator("button.user-toggle").click()
    assert page.locator("tr[data-username=e2e_clerk] td[data-label=状态]").inner_text() == "停用"
    with page.expect_navigation():
        page.locator("tr[data-username=e2e_clerk] button.user-toggle").click()
    assert page.locator("tr[data-username=e2e_clerk] td[data-label=状态]").inner_text() == "启用"
    with page.expect_navigation():
        page.locator("tr[data-username=e2e_clerk] button.user-reset").click()
    shown = page.locator("#one-time-password strong").inner_text()
    assert re.fullmatch(r"[A-Za-z2-9@#%+]{12}", shown)
    assert page.evaluate("document.documentElement.scrollWidth") <= 1366
    shots(page, "users-after-reset")
    # the user logs in with the one-time password and chooses their own
    page.context.clear_cookies()
    page.goto(server.url + "/login")
    page.fill("#username", "e2e_clerk")
    page.fill("#password", shown)
    with page.expect_navigation(url=re.compile(r".*/account/password$")):  # nothing else opens yet
        page.click("form[action='/login'] button[type=submit]")
    assert page.locator("#password-required").is_visible()
    assert _nav_hrefs(page) == ["/account/password"]
    shots(page, "one-time-password-must-change")
    page.fill("#old-pw", shown)
    page.fill("#new-pw", NEW_PASSWORD)
    page.fill("#confirm-pw", NEW_PASSWORD)
    with page.expect_navigation():
        page.click("#password-form button[type=submit]")
    assert page.locator("#password-done").inner_text() == "密码已修改。您在其他设备上的登录已退出。"
    shots(page, "own-password-changed")
    page.context.clear_cookies()
    page.goto(server.url + "/login")
    page.fill("#username", "e2e_clerk")
    page.fill("#password", NEW_PASSWORD)
    with page.expect_navigation(url=re.compile(r".*/projects$")):
        page.click("form[action='/login'] button[type=submit]")
    # the audit page tells the story in words (as the case officer, who may read it)
    page.context.clear_cookies()
    login(page, server, "case_officer")
    page.goto(server.url + "/audit?entity=user")
    text = page.locator("#audit-table").inner_text()
    assert "重置密码" in text and "修改密码" in text and "用户 端到端文员" in text
    assert "password_reset" not in text and "#" not in text
    shots(page, "audit-users")
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(server.url + "/audit?entity=user")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    shots(page, "audit-users-390")
