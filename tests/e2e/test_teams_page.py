"""Browser test of the teams page (专班与包户): the tree, the edit form, the selection list's
"select all" box, at 1366x768 and at 390 px (no sideways scroll). Read-only: the session's
shared server keeps its assignments for the other browser tests. Screenshots go to test-results/."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.e2e.conftest import Server
from tests.e2e.test_browser import login

pytestmark = pytest.mark.e2e

Page = Any


@pytest.mark.parametrize(("width", "height"), [(1366, 768), (390, 844)])
def test_teams_page_renders_and_selects_a_whole_page(
    server: Server,
    open_page: Callable[..., Page],
    shots: Callable[[Page, str], Any],
    width: int,
    height: int,
) -> None:
    page = open_page(width, height)
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    login(page, server, "commander")
    page.goto(f"{server.url}/projects/{server.world['project_id']}/teams")
    assert page.title().startswith("专班与包户")
    assert page.locator(".teams-tree tbody tr").count() == 1
    assert "第一专班" in page.locator(".teams-tree").inner_text()
    stats = page.locator(".teams-stats .stat .num").all_inner_texts()
    assert stats[:3] == ["6", "4", "2"]  # households, assigned, unassigned
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    boxes = page.locator("#select-form input[name=household_ids]")
    assert boxes.count() == 6
    page.check("[data-check-all=household_ids]")
    assert [boxes.nth(i).is_checked() for i in range(6)] == [True] * 6
    page.uncheck("[data-check-all=household_ids]")
    assert not any(boxes.nth(i).is_checked() for i in range(6))
    page.click("details.team-edit summary")
    assert page.locator("details.team-edit input[name=name]").input_value() == "第一专班"
    # Unticking the team member (who carries two households) says what saving would do, and the
    # form asks before it is sent; dismissed, nothing is sent.
    form = page.locator("form[data-members-form]")
    moves = form.locator("[data-members-moves]")
    assert moves.is_hidden()
    member = form.locator(f"input[name=user_ids][value='{server.world['users']['team_member']}']")
    member.uncheck()
    assert moves.inner_text() == "保存后：移出人员名下 2 户包户将留在本组、待重新落实到人。"
    asked: list[str] = []
    page.once("dialog", lambda d: (asked.append(d.message), d.dismiss()))
    form.locator("button[type=submit]").click()
    assert asked == ["移出人员名下 2 户包户将留在本组、待重新落实到人。确认保存成员？"]
    assert "ok=" not in page.url
    member.check()
    assert moves.is_hidden()
    # 解散专班 asks first (dismissed: the team stays).
    page.once("dialog", lambda d: (asked.append(d.message), d.dismiss()))
    page.locator("form.dissolve-form button[type=submit]").click()
    assert asked[-1] == "解散后专班“第一专班”将被删除，2 名成员不再属于任何专班。确认解散？"
    assert "ok=" not in page.url
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    shots(page, f"teams-{width}")
    assert errors == []
